"""Study 02: grid rows -> law rows, coefficient table on synthetic data with known signs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sparselab.studies import scaling_laws as study


def _cells(rng):
    rows = []
    for model, n in (("a", 1e5), ("b", 1e6)):
        for length in (64, 256):
            for task, d in (("t1", 1.0), ("t2", 0.0)):
                z = 0.5 * np.log(n) - 0.6 * np.log(length) + d
                for method in ("dense", "quest", "oracle_topk"):
                    for level in ((1.0,) if method == "dense" else (1.0, 4.0, 16.0)):
                        zz = z - 0.4 * np.log(level) + rng.normal(0, 0.05)
                        rows.append({"phase": "decode", "model": model, "n_params": n, "length": length,
                                     "task": task, "method": method, "level": level,
                                     "accuracy": 1 / (1 + np.exp(-(zz - 4)))})
    return pd.DataFrame(rows)


def test_law_data_averages_real_methods_and_drops_unlearned_tasks():
    cells = _cells(np.random.default_rng(0))
    d = study.law_data(cells, ["dense", "oracle_topk"])
    assert len(d) == 2 * 2 * 2 * 3  # models x lengths x tasks x levels, methods averaged
    assert set(d.columns) >= {"n_params", "length", "compression", "task", "accuracy", "phase"}
    d2 = study.law_data(cells, ["dense", "oracle_topk"], min_dense=2.0)
    assert d2.empty


def test_coefficients_recover_signs_and_flag_constant_axes():
    cells = _cells(np.random.default_rng(1))
    cfg = study.Config(n_boot=50)
    res = study.Results(study.law_data(cells, ["dense", "oracle_topk"]), None)
    co = study.table_coefficients(res, cfg).set_index("coef")
    assert co.loc["alpha", "estimate"] > 0 and co.loc["beta", "estimate"] < 0 and co.loc["gamma", "estimate"] < 0
    one_len = study.Results(res.data[res.data.length == 64], None)
    co1 = study.table_coefficients(one_len, cfg).set_index("coef")
    assert np.isnan(co1.loc["beta", "estimate"])
    out, _ = study.claims.evaluate(one_len, cfg, n_boot=100)
    beta = next(r for r in out if r.claim.id == "02.beta_negative/decode")
    assert beta.verdict == "untestable" and "distinct values of L = 1" in beta.reason
    assert set(study.table_holdout(one_len, cfg).axis) == {"N", "C"}
