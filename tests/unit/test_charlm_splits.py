"""The char LM's held-out test split (issue 15): train and the default val are unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from sparselab.tasks import charlm


@pytest.fixture
def text(monkeypatch):
    body = "".join(chr(97 + (i * 7) % 26) for i in range(1000))
    monkeypatch.setattr(charlm, "read_text", lambda name: body)
    return body


def test_default_splits_are_train_and_val_only(text):
    s = charlm.text_splits("any")
    assert set(s) == {"train", "val"} and (len(s["train"]), len(s["val"])) == (900, 100)


def test_test_split_halves_the_held_out_text(text):
    old, new = charlm.text_splits("any"), charlm.text_splits("any", test=True)
    assert set(new) == {"train", "val", "test"}
    np.testing.assert_array_equal(new["train"], old["train"])  # training text unchanged
    np.testing.assert_array_equal(new["val"], old["val"][:50])  # val: a prefix of the old val
    np.testing.assert_array_equal(new["test"], old["val"][50:])
    assert len(new["val"]) + len(new["test"]) == len(old["val"])
