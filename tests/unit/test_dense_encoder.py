"""Dense encoder: pooling by hand, order restored after length sorting, unit norms."""
import numpy as np
import pytest
import torch

from sparselab.encoders.dense import MiniLMEncoder, mean_pool
from sparselab.encoders.hf_models import length_sorted_batches, resolve_model

TEXTS = ["cats", "a much longer sentence about cats, dogs and the weather today",
         "", "dogs bark", "cats"]


def test_mean_pool_hand_computed():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


def test_length_sorted_batches_cover_all_longest_first():
    batches = list(length_sorted_batches([3, 9, 1, 9, 4], 2))
    assert [b.tolist() for b in batches] == [[1, 3], [4, 0], [2]]
    with pytest.raises(ValueError, match="batch_size"):
        list(length_sorted_batches([1], 0))


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder(progress=False, batch_size=2)


def test_order_and_batching_invariant(encoder):
    a = encoder.encode_docs(TEXTS)
    one = MiniLMEncoder(progress=False, batch_size=1).encode_docs(TEXTS)
    rev = encoder.encode_docs(TEXTS[::-1])[::-1]
    assert a.shape == (5, 384) and a.dtype == np.float32
    np.testing.assert_allclose(a, one, atol=1e-5)
    np.testing.assert_allclose(a, rev, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a[0], a[4])  # same text, same batch position pattern
    sims = a @ a.T
    assert sims[0, 1] > sims[0, 3]  # "cats" closer to the cat sentence than to "dogs bark"


def test_truncation(encoder):
    long = "word " * 1000
    short = MiniLMEncoder(progress=False, max_length=8).encode_queries([long, long + "tail"])
    np.testing.assert_allclose(short[0], short[1], atol=1e-6)  # tail cut off


def test_bad_model_and_settings():
    with pytest.raises(ValueError, match="neither"):
        MiniLMEncoder(model="no such model")
    with pytest.raises(FileNotFoundError, match="config.json"):
        resolve_model("/", {})
    with pytest.raises(ValueError, match="max_length"):
        MiniLMEncoder(max_length=1)
    assert MiniLMEncoder(progress=False).settings()["max_length"] == 256
