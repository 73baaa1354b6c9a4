"""Notebook contract: parameters equal the study Config, no outputs, thin cells, profiles."""
from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CELL_LINES = 16


def cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text())["cells"]


def source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def parameters_cell(nb_path: Path) -> dict:
    tagged = [c for c in cells(nb_path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{nb_path.name}: expected one cell tagged 'parameters', got {len(tagged)}"
    return tagged[0]


def parameter_names(nb_path: Path) -> list[str]:
    names = []
    for node in ast.parse(source(parameters_cell(nb_path))).body:
        if isinstance(node, ast.AnnAssign):
            names.append(node.target.id)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets]
        else:
            raise AssertionError(f"{nb_path.name}: parameters cell holds a non-assignment")
    return names


def study_module(nb_path: Path):
    text = "\n".join(source(c) for c in cells(nb_path) if c["cell_type"] == "code")
    m = re.search(r"from sparselab\.studies import (\w+) as study", text)
    assert m, f"{nb_path.name}: imports no study module as `study`"
    return importlib.import_module(f"sparselab.studies.{m.group(1)}")


def test_there_are_notebooks():
    assert NOTEBOOKS, "no numbered notebooks found"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_equal_config_fields(nb):
    study = study_module(nb)
    assert parameter_names(nb) == study.Config.field_names()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameter_defaults_equal_config_defaults(nb):
    study = study_module(nb)
    ns: dict = {}
    exec(source(parameters_cell(nb)), ns)  # plain literals only
    assert study.Config.from_params(ns) == study.Config()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_says_why(nb):
    for line in source(parameters_cell(nb)).splitlines():
        if line.strip():
            assert "  # " in line, f"{nb.name}: parameter line without a comment: {line!r}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_profiles_name_exactly_the_config_fields(nb, profile):
    study = study_module(nb)
    path = nb.parent / "params" / f"{nb.stem}.{profile}.yaml"
    assert path.exists(), f"missing {path.relative_to(ROOT)}"
    params = yaml.safe_load(path.read_text())
    assert sorted(params) == sorted(study.Config.field_names())
    study.Config.from_params(params)  # types construct


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(nb):
    for c in cells(nb):
        if c["cell_type"] == "code":
            assert not c.get("outputs") and c.get("execution_count") is None, f"{nb.name} has outputs"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_stay_thin(nb):
    for c in cells(nb):
        if c["cell_type"] != "code":
            continue
        src = source(c)
        # the parameters cell lists every Config field, one per line: it is as long as that
        is_params = "parameters" in c.get("metadata", {}).get("tags", [])
        assert is_params or len(src.splitlines()) <= MAX_CELL_LINES, (
            f"{nb.name}: cell too long:\n{src}")
        tree = ast.parse(src)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), (
                f"{nb.name}: define functions in the study module, not the notebook")
        assert "sys.path" not in src and not re.search(r"['\"]/(work|home|tmp|root)/", src), (
            f"{nb.name}: no sys.path edits or absolute paths")
