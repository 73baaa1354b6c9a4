"""Study 01's existing profiles keep their artifacts: names, config fingerprints, sweep cell keys.

The full profile's checkpoints (`01_sparse_attention/models/<slug>`) and grid table are built
and committed with the code these numbers were taken from (main at 8fb9653). The long design of
issue 14 is opt-in through new Config fields whose defaults reproduce today's behaviour; if
one of these pins changes, the committed artifacts would no longer load (or cached cells would
be recomputed), so a change here must be deliberate and come with rebuilt artifacts.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sparselab.artifacts import fingerprint
from sparselab.cache import stable_hash
from sparselab.studies import sparse_attention as study
from sparselab.studies.sparse_attention import grid
from sparselab.studies.sparse_attention import pipeline as P
from sparselab.sweeps.cells import cell_key
from sparselab.tasks.suite import build_tasks

ROOT = Path(__file__).resolve().parents[2]

PINS = {
    "smoke": {
        "01_sparse_attention/models/xs-L64-150steps-seed0":
            "656fdca862af09f919ff3ced4f64980069ac5e1c6c81b1394878840be1de0665",
        "01_sparse_attention/models/s-L64-100steps-seed0":
            "3aa25851781381ea53bf558f2f487ed00326c03505900a3ab6734ce26967d1fb",
        "01_sparse_attention/grid":
            "5161b9c00ff603fb492f1ec244dd7a3dbe5c4eb5eb507d11d4c0a00b15197541",
    },
    "full": {
        "01_sparse_attention/models/xs-L64_128_256-4000steps-seed0":
            "78c915efbf854ede0704ace54fae2bcab3ae7b4d1999acd435b62b72fc82b499",
        "01_sparse_attention/models/s-L64_128_256-4000steps-seed0":
            "c3f249a1a89d86cc05cd34e66b6932c122ba5ead20528780d007a0f3a9c773dd",
        "01_sparse_attention/models/m-L64_128_256-4000steps-seed0":
            "30d61b4be8fa064067cb170460457d0fa0a4e8ecf18b7483c2f8fb2e3b1441ae",
        "01_sparse_attention/models/l-L64_128_256-4000steps-seed0":
            "5f63e3336ca89c98618fd6c7dd1392e775781433ac7ebe9b8f3b3e1b78eda795",
        "01_sparse_attention/grid":
            "c1f48528567ebc3173706956813ecd4b087e8fc67b2eddd914a8c2b702b26068",
    },
}
# (number of sweep cells, hash of their keys) with the weights' sha replaced by "W"
CELL_PINS = {"smoke": (36, "67bf9c2c6d7cb5de"), "full": (3672, "c03692b8836a4151")}


def _cfg(profile: str) -> study.Config:
    path = ROOT / "notebooks" / "params" / f"01_sparse_attention_tradeoffs.{profile}.yaml"
    return study.Config.from_overrides(**yaml.safe_load(path.read_text()))


def _model_keys(cfg: study.Config) -> dict:
    return {n: P.recipe_for(cfg, n).to_dict() | {"weights": P.MODEL_DTYPE} for n in cfg.models}


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_profile_artifact_names_and_fingerprints_are_unchanged(profile):
    cfg = _cfg(profile)
    got = {}
    for n in cfg.models:
        recipe = P.recipe_for(cfg, n)
        got[f"01_sparse_attention/models/{recipe.slug()}"] = fingerprint(
            recipe.to_dict(), P.MODEL_ARTIFACT_VERSION)
    models = {n: (None, None, k) for n, k in _model_keys(cfg).items()}
    got[P.GRID_ARTIFACT] = fingerprint(P.grid_config(cfg, models), P.GRID_ARTIFACT_VERSION)
    assert got == PINS[profile]


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_profile_sweep_cell_keys_are_unchanged(profile):
    cfg = _cfg(profile)
    keys = []
    for n, key in _model_keys(cfg).items():
        for length in cfg.model_lengths.get(n, cfg.lengths):
            for task in build_tasks(list(cfg.tasks), int(length)):
                for c in grid.unit_cells(n, key, "W", task, int(cfg.n_samples[n]),
                                         P.grid_cells(cfg), cfg.flex_alpha, P.PREFILL_BACKEND):
                    keys.append(cell_key(c, grid.STAGE, grid.VERSION))
    assert (len(keys), stable_hash(keys, n=16)) == CELL_PINS[profile]
