"""Running a report from the terminal: this checkout's kernel, progress, one-line failures, Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import sparselab
from sparselab import cli, progress
from sparselab.reports import execute, runner

SRC = Path(sparselab.__file__).resolve().parents[1]  # this checkout's src/


def _toy(root: Path, *cells: str, params: str = "x: 3\n") -> Path:
    (root / "pyproject.toml").write_text("")
    nbdir = root / "notebooks"
    (nbdir / "params").mkdir(parents=True, exist_ok=True)
    head = new_code_cell("x: int = 1  # value")
    head.metadata["tags"] = ["parameters"]
    book = new_notebook(cells=[head, *(new_code_cell(c) for c in cells)])
    book.metadata["language_info"] = {"name": "python"}
    book.metadata["kernelspec"] = {"name": "sparselab", "display_name": "Python (sparselab)",
                                   "language": "python"}
    nbformat.write(book, nbdir / "99_toy.ipynb")
    (nbdir / "params" / "99_toy.smoke.yaml").write_text(params)
    return nbdir / "99_toy.ipynb"


@pytest.fixture
def toy_root(tmp_path, monkeypatch):
    """A toy checkout, and a Jupyter user dir holding a decoy `sparselab` kernel (another clone)."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setenv("SPARSELAB_ROOT", str(root))
    monkeypatch.setenv("SPARSELAB_DATA", str(tmp_path / "nodata"))
    decoy = tmp_path / "userdata"
    spec = execute.kernelspec(decoy)
    kj = json.loads((spec / "kernel.json").read_text())
    kj["env"] = {"PYTHONPATH": str(tmp_path / "other-clone" / "src")}
    (spec / "kernel.json").write_text(json.dumps(kj))
    (tmp_path / "other-clone" / "src" / "sparselab").mkdir(parents=True)
    (tmp_path / "other-clone" / "src" / "sparselab" / "__init__.py").write_text("OTHER = True\n")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(decoy))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")  # the user dir first, as outside a venv
    monkeypatch.setenv("PYTHONPATH", str(SRC))
    return root


def test_progress_bar_writes_to_the_side_channel_only(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv(progress.ENV, str(tmp_path / "chan.log"))
    for _ in progress.bar(range(3), desc="stage-x"):
        pass
    progress.note("a note")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    text = (tmp_path / "chan.log").read_text()
    assert "stage-x" in text and "3/3" in text and text.endswith("a note\n")


def test_progress_bar_is_plain_tqdm_interactively(monkeypatch, capfd):
    monkeypatch.delenv(progress.ENV, raising=False)
    for _ in progress.bar(range(2), desc="plain"):
        pass
    assert "plain" in capfd.readouterr().err


def test_runner_uses_this_checkout_and_relays_progress(toy_root, capfd):
    """Executed through Jupyter with a user dir whose `sparselab` kernel is another clone's."""
    _toy(toy_root, "import sparselab\nprint('pkg:', sparselab.__file__)",
         "from sparselab import progress\nfor _ in progress.bar(range(5), desc='stage-y'):\n"
         "    pass")
    out = runner.run_report("99", "smoke")
    err = capfd.readouterr().err
    html = (out / "index.html").read_text()
    assert f"pkg: {SRC / 'sparselab' / '__init__.py'}" in html
    assert "stage-y" in err and "5/5" in err  # the bar reached the terminal ...
    assert "[4/4] from sparselab import progress" in err  # ... with the stage
    assert "[2/4] (the run's parameters)" in err
    executed = toy_root / "build" / "executed" / "99_toy.smoke.ipynb"
    outputs = json.dumps([c.get("outputs") for c in json.loads(executed.read_text())["cells"]])
    assert "5/5" not in html and "it/s" not in outputs  # ... not the report


def test_named_kernel_is_honoured(toy_root, tmp_path, monkeypatch):
    spec = execute.kernelspec(tmp_path / "jp", name="marked")
    kj = json.loads((spec / "kernel.json").read_text())
    kj["env"] = {"KERNEL_MARK": "the marked kernel"}
    (spec / "kernel.json").write_text(json.dumps(kj))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jp"))
    _toy(toy_root, "import os\nprint('ran in', os.environ.get('KERNEL_MARK'))")
    assert cli.main(["report", "run", "99", "--kernel", "marked"]) == 0
    html = (toy_root / "build" / "reports" / "99_toy" / "index.html").read_text()
    assert "ran in the marked kernel" in html


def test_unknown_kernel_is_refused(toy_root, capsys):
    _toy(toy_root, "print(1)")
    assert cli.main(["report", "run", "99", "--kernel", "no-such-kernel"]) == 2
    assert "unknown Jupyter kernel 'no-such-kernel'" in capsys.readouterr().err
    assert not (toy_root / "build" / "reports" / "99_toy").exists()


def test_failure_is_one_line_naming_error_cell_and_executed_notebook(toy_root, capsys):
    _toy(toy_root, "y = x + 1", "raise RuntimeError('boom at ' + str(y))")
    assert cli.main(["report", "run", "99", "-p", "x", "41"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("sparselab:")]
    executed = toy_root / "build" / "executed" / "99_toy.smoke.ipynb"
    assert err == [(f"sparselab: error: 99_toy: RuntimeError: boom at 42 (cell [4]: "
                    f"`raise RuntimeError('boom at ' + str(y))`); executed notebook: {executed}")]
    assert "RuntimeError" in executed.read_text()  # the full traceback is kept there


def test_overrides_reach_the_notebook(toy_root):
    _toy(toy_root, "print('x is', x)")
    assert cli.main(["report", "run", "99", "-y", "{x: 5}", "-p", "x", "7"]) == 0
    assert "x is 7" in (toy_root / "build" / "reports" / "99_toy" / "index.html").read_text()


def test_ctrl_c_prints_one_line_and_exits_130(toy_root, tmp_path):
    pidfile = tmp_path / "kernel.pid"
    _toy(toy_root, f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
                   "time.sleep(120)")
    # A shell without job control starts background jobs with SIGINT ignored, and Python then
    # keeps it ignored: restore the default so the run sees Ctrl-C as a terminal would send it.
    proc = subprocess.Popen([sys.executable, "-m", "sparselab", "report", "run", "99"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not pidfile.exists() or not pidfile.read_text():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("sparselab: interrupted")
    assert [ln for ln in err.splitlines() if ln.startswith("sparselab:")] == [err.splitlines()[-1]]
    kernel = int(pidfile.read_text())
    for _ in range(50):  # the kernel is shut down with the run
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(kernel, signal.SIGKILL)
        pytest.fail("the kernel outlived the interrupted run")
    assert not (toy_root / "build" / "reports" / "99_toy").exists()
    assert not list((toy_root / "build" / "reports").glob(".*.tmp"))
