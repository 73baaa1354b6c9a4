"""Flat dense index: top-k equals a brute-force stable sort, ties by doc index."""
import numpy as np
import pytest

from sparselab.indexes.dense import FlatIndex, topk_rows, topk_rows_reference


@pytest.mark.parametrize("n,k", [(1, 1), (7, 3), (50, 50), (50, 80), (200, 17)])
def test_search_matches_brute_force(n, k):
    rng = np.random.default_rng(n + k)
    docs = rng.normal(size=(n, 8)).astype(np.float32)
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    scores, ids = FlatIndex.build(docs).search(queries, k, batch_size=2)
    ref_s, ref_i = topk_rows_reference(queries @ docs.T, k)
    np.testing.assert_array_equal(ids, ref_i)
    np.testing.assert_allclose(scores, ref_s, rtol=1e-5, atol=1e-5)
    assert scores.dtype == np.float32 and ids.dtype == np.int64


@pytest.mark.parametrize("k", [1, 2, 4, 6, 9])
def test_ties_broken_by_doc_index(k):
    # quantised scores: many exact ties, including at the k-th position
    rng = np.random.default_rng(k)
    scores = rng.integers(0, 3, size=(6, 9)).astype(np.float32)
    got_s, got_i = topk_rows(scores, k)
    ref_s, ref_i = topk_rows_reference(scores, k)
    np.testing.assert_array_equal(got_i, ref_i)
    np.testing.assert_array_equal(got_s, ref_s)


def test_hand_computed():
    docs = np.array([[1, 0], [0, 1], [1, 1], [1, 0]], np.float32)
    s, i = FlatIndex(docs).search(np.array([1, 0], np.float32), 3)
    assert i.tolist() == [[0, 2, 3]] and s.tolist() == [[1, 1, 1]]


def test_bad_input():
    index = FlatIndex(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="shape"):
        index.search(np.zeros((2, 5), np.float32), 2)
    with pytest.raises(ValueError, match="k must"):
        index.search(np.zeros((2, 4), np.float32), 0)
    with pytest.raises(ValueError, match="2-D"):
        FlatIndex(np.zeros(3, np.float32))
