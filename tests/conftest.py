"""Options shared by every test folder."""


def pytest_addoption(parser):
    parser.addoption(
        "--pages", action="append", default=None, metavar="DIR",
        help="reports folder whose pages tests/browser renders (repeatable; default reports/; "
             "or $SPARSELAB_PAGES, ':'-separated), e.g. --pages build/reports")
