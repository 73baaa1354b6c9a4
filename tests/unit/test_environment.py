"""environment.yml stays in sync with pyproject.toml."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = env["dependencies"]
    py = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert py == ["python=3.11"]
    major, minor = 3, 11
    lo = re.search(r">=(\d+)\.(\d+)", project["requires-python"]).groups()
    assert (major, minor) >= tuple(map(int, lo))
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e .[dev]" in pip
    torch_pin = [d for d in project["dependencies"] if d.startswith("torch")]
    assert torch_pin == ["torch==2.13.0"], "torch must stay pinned to the local CPU wheel"
    assert "torch==2.13.0" in pip


def test_makefile_installs_pinned_torch_first():
    text = (ROOT / "Makefile").read_text()
    assert text.index("torch==2.13.0") < text.index("-e '.[dev]'")
