"""Notebook parameters are validated against the study Config, however the notebook runs."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sparselab
from sparselab import cli
from sparselab.reports import execute
from sparselab.studies import base
from sparselab.studies.base import CheckoutMismatch, ParameterError, StudyConfig

ROOT = Path(sparselab.__file__).resolve().parents[2]


@dataclasses.dataclass
class Cfg(StudyConfig):
    datasets: list = dataclasses.field(default_factory=lambda: ["cranfield"])
    normalize: bool = True
    cv_folds: int = 5
    alpha: float = 0.5
    splits: dict = dataclasses.field(default_factory=dict)
    name: str = "x"
    depths: list[int] = dataclasses.field(default_factory=lambda: [1])
    grid: str | None = None


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ParameterError, match=r"unknown parameter 'dataset' \(did you mean 'datasets'\?\)"):
        Cfg.from_overrides(dataset=["scifact"])
    with pytest.raises(ParameterError, match=r"unknown parameter 'zzz'; known: datasets"):
        Cfg.from_overrides(zzz=1)


@pytest.mark.parametrize("text, value", [("false", False), ("False", False), ("no", False),
                                         ("0", False), ("true", True), ("yes", True)])
def test_booleans_given_as_strings_are_parsed(text, value):
    assert Cfg(normalize=text).normalize is value


def test_lists_and_dicts_given_as_strings_are_parsed():
    assert Cfg(datasets="scifact,nfcorpus").datasets == ["scifact", "nfcorpus"]
    assert Cfg(datasets="[scifact, nfcorpus]").datasets == ["scifact", "nfcorpus"]
    assert Cfg(datasets="scifact").datasets == ["scifact"]  # one item, never its characters
    assert Cfg(depths="1,3,5").depths == [1, 3, 5]
    assert Cfg(splits="{scifact: train}").splits == {"scifact": "train"}
    assert Cfg(cv_folds="5").cv_folds == 5 and Cfg(alpha="0.25").alpha == 0.25


@pytest.mark.parametrize("field, value, message", [
    ("cv_folds", "five", "'cv_folds' expects int, got 'five' (str)"),
    ("normalize", "maybe", "'normalize' expects bool, got 'maybe' (str)"),
    ("alpha", "high", "'alpha' expects float, got 'high' (str)"),
    ("cv_folds", True, "'cv_folds' expects int, got True (bool)"),
    ("splits", "[1, 2]", "'splits' expects dict, got '[1, 2]' (str)"),
    ("name", 3, "'name' expects str, got 3 (int)"),
    ("depths", "1,x", "'depths[1]' expects int, got 'x' (str)"),
    ("datasets", 3, "'datasets' expects list, got 3 (int)"),
    ("grid", 2.5, "'grid' expects str | None, got 2.5 (float)"),
])
def test_wrong_type_names_parameter_type_and_value(field, value, message):
    with pytest.raises(ParameterError, match="parameter " + re.escape(message)):
        Cfg(**{field: value})


def test_injected_cell_names_are_checked_in_a_kernel_namespace():
    history = ["x = 1", "# Parameters\ndataset = ['scifact']\n", "cfg = ..."]
    ns = {"get_ipython": object, "_ih": history, **Cfg().to_dict(), "dataset": ["scifact"]}
    with pytest.raises(ParameterError, match="did you mean 'datasets'"):
        Cfg.from_params(ns)
    ns["_ih"] = ["# Parameters\nnormalize = \"false\"\n"]
    ns["normalize"] = "false"
    assert Cfg.from_params(ns).normalize is False
    assert base.injected_names(["# Parameters\na = 1\nb: int = 2\n"]) == ["a", "b"]


def test_a_package_from_another_checkout_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "sparselab"\n')
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(CheckoutMismatch, match=f"lies in the checkout {tmp_path}"):
        base.check_checkout(tmp_path / "notebooks")
    base.check_checkout(ROOT / "notebooks")  # this checkout: fine
    base.check_checkout(tmp_path.parent)  # not inside a checkout: nothing to compare


def test_report_run_checks_overrides_before_any_kernel_starts(capsys):
    assert cli.main(["report", "run", "00", "-p", "collection", "[adi]"]) == 2
    assert "did you mean 'collections'?" in capsys.readouterr().err
    assert cli.main(["report", "run", "00", "-p", "max_length", "five"]) == 2
    assert "parameter 'max_length' expects int, got 'five' (str)" in capsys.readouterr().err


def test_every_notebook_declares_the_sparselab_kernel():
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        spec = json.loads(nb.read_text())["metadata"]["kernelspec"]
        assert spec["name"] == execute.KERNEL, nb.name


def test_papermill_parses_every_parameter_line():
    """papermill's own parser (`papermill inspect`, `-p` help) reads every line of each
    notebook's parameters cell; a comment with `=` makes it drop that parameter with a
    warning ("Unable to parse line ...")."""
    import nbformat
    from papermill.translators import PythonTranslator

    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in nbformat.read(nb, as_version=4).cells
                 if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1, nb.name
        lines = [ln for ln in cells[0].source.splitlines() if ln.strip() and not ln.startswith("#")]
        parsed = [p.name for p in PythonTranslator.inspect(cells[0])]
        assert len(parsed) == len(lines), (nb.name, sorted({ln.split(":")[0] for ln in lines}
                                                           - set(parsed)))


def test_setup_installs_nothing_user_wide_and_lab_uses_the_venv_kernel():
    make = (ROOT / "Makefile").read_text()
    assert "--user" not in make and "ipykernel install --sys-prefix --name sparselab" in make
    assert "JUPYTER_PATH=$(abspath $(VENV))/share/jupyter $(VENV)/bin/jupyter lab" in make


def _papermill(tmp_path, env, *args):
    out = tmp_path / "out.ipynb"
    cmd = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "00_datasets.ipynb"),
           str(out), "--cwd", str(ROOT / "notebooks"), *args]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=300)
    return proc, out.read_text() if out.exists() else ""


def _jupyter_env(tmp_path, **extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "JUPYTER_DATA_DIR": str(tmp_path / "ud"),
           "SPARSELAB_DATA": str(tmp_path / "nodata"), **extra}
    env.pop("SPARSELAB_ROOT", None)
    return env


def test_plain_papermill_typo_fails_with_a_suggestion(tmp_path):
    """`.venv/bin/papermill -p collection ...` (a typo for collections) must not run defaults."""
    prefix = tmp_path / "venv-share"  # what `make setup` installs with --sys-prefix
    execute.kernelspec(prefix)
    env = _jupyter_env(tmp_path, JUPYTER_PATH=str(prefix))
    proc, executed = _papermill(tmp_path, env, "-p", "collection", "adi")
    assert proc.returncode != 0
    assert "unknown parameter 'collection' (did you mean 'collections'?)" in proc.stderr + executed


def test_plain_papermill_with_another_clones_kernel_fails_clearly(tmp_path):
    """A `sparselab` kernel that another clone registered in the user dir is caught at start-up."""
    other = tmp_path / "other-clone"
    shutil.copytree(ROOT / "src" / "sparselab", other / "src" / "sparselab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (other / "pyproject.toml").write_text('[project]\nname = "sparselab"\n')
    spec = execute.kernelspec(tmp_path / "ud")
    kj = json.loads((spec / "kernel.json").read_text())
    kj["env"] = {"PYTHONPATH": str(other / "src")}
    (spec / "kernel.json").write_text(json.dumps(kj))
    env = _jupyter_env(tmp_path, JUPYTER_PREFER_ENV_PATH="0")
    env.pop("JUPYTER_PATH", None)
    proc, executed = _papermill(tmp_path, env)
    assert proc.returncode != 0
    assert "CheckoutMismatch" in executed and f"lies in the checkout {ROOT}" in proc.stderr + executed
