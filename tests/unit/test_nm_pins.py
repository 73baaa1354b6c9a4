"""Pins taken before study 04's plateau design (issue 15) was added: today's profiles must keep
their results byte for byte.

- The full profile's runs artifact (`04_nm_training/runs`) is accepted only while the
  fingerprint of its producing config is unchanged, so every new design feature is opt-in.
- The smoke profile's sweep cells keep their keys (cached cells stay valid).
- The text splits of tinyshakespeare (train, val) and study 01's haystack task samples are
  unchanged by the held-out test split.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml

from sparselab.artifacts import fingerprint
from sparselab.paths import repo_root
from sparselab.studies import nm_training as study
from sparselab.studies.nm_training import pipeline
from sparselab.sweeps.cells import cell_key

FULL_FINGERPRINT = "2f7ebf7057f425333afb6f3e41de9e6a69ee2a7467febfc1b8bdae9b099102f5"
SMOKE_FINGERPRINT = "78da70a0ac6e5ba41988b6dcda1e27e466c3551806ca7fa743dccf4a98b7e026"
FULL_CELLS_DIGEST = "720a336ee20cb1f3aeed68b3cd0af96ac7cf868f70219f5465028b30ed9ce02f"
SMOKE_CELL_KEYS = [  # run_specs order: seed-major, then recipe
    "ea4a966afb87b15e", "21a2030a48db4b9f", "c5d969c16321ec7f", "70e450b248eb7ec9",
    "dca1389a9ab2a2a3", "3540a4daae405af6", "2484229ed25c7c46", "7e9e13aa1901b297",
]
SPLITS = {  # tinyshakespeare, task-suite vocabulary: (length, sha256 of the int64 ids)
    "train": (1003854, "b87cffafc4a1edc0dc4fe9e5a15d12e6e85a18a3fcf8e92b9d2c29b123e85f48"),
    "val": (111540, "939fae15fbb7fbfac9a129596148c64749041f4c3e48699811cd98395d0d1d84"),
}
STUDY01_SAMPLES = "2bbf7ff7e9a20d940ce3fc110e4168989aa2406a90342b6ce1748ecf2e265d3f"


def _specs(profile: str):
    params = yaml.safe_load((repo_root() / "notebooks" / "params" /
                             f"04_nm_training.{profile}.yaml").read_text())
    cfg = study.Config.from_params(params)
    return cfg, study.run_specs(cfg) + study.iso_flops_specs(cfg)


def _digest(keys) -> str:
    return hashlib.sha256(",".join(keys).encode()).hexdigest()


def test_full_profile_artifact_fingerprint_is_unchanged():
    _, specs = _specs("full")
    assert len(specs) == 117
    assert sorted({s.steps for s in specs}) == [400, 633, 662, 678]  # SR-STE at matched FLOPs
    assert fingerprint(pipeline.artifact_config(specs), pipeline.VERSION) == FULL_FINGERPRINT
    keys = [cell_key(pipeline.spec_cell(s), pipeline.STAGE, pipeline.VERSION) for s in specs]
    assert _digest(keys) == FULL_CELLS_DIGEST


def test_smoke_profile_cells_are_unchanged():
    _, specs = _specs("smoke")
    assert fingerprint(pipeline.artifact_config(specs), pipeline.VERSION) == SMOKE_FINGERPRINT
    keys = [cell_key(pipeline.spec_cell(s), pipeline.STAGE, pipeline.VERSION) for s in specs]
    assert keys == SMOKE_CELL_KEYS


def _sha(ids: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(ids, np.int64).tobytes()).hexdigest()


def test_text_splits_and_study01_samples_are_unchanged():
    from sparselab.data import DataError
    from sparselab.tasks.charlm import text_splits
    from sparselab.tasks.suite import build_tasks

    try:
        splits = text_splits("tinyshakespeare")
    except DataError as err:
        pytest.skip(f"tinyshakespeare is not here: {err}")
    got = {k: (len(v), _sha(v)) for k, v in splits.items()}
    assert got == SPLITS
    h = hashlib.sha256()
    for task in build_tasks("all", length=128):
        for split in ("train", "test"):
            for i in range(20):
                s = task.sample(i, split)
                h.update(s.prompt.astype(np.int64).tobytes())
                h.update(s.answer.astype(np.int64).tobytes())
    assert h.hexdigest() == STUDY01_SAMPLES
