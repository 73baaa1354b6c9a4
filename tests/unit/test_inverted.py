"""Inverted index top-k against the brute-force sparse reference (ties, shapes, edge cases)."""
import numpy as np
import pytest
import scipy.sparse as sp

from sparselab.indexes.inverted import InvertedIndex, brute_force_topk


def _random_sparse(rng, n_rows, n_cols, density, integer):
    m = sp.random(n_rows, n_cols, density=density, format="csr", random_state=rng, dtype=np.float32)
    if integer:  # small integer weights force many exactly tied scores
        m.data = rng.integers(1, 4, size=m.nnz).astype(np.float32)
    return m


@pytest.mark.parametrize(
    "n_docs,n_terms,n_q,density,k,integer",
    [
        (50, 20, 7, 0.2, 5, True),
        (200, 60, 11, 0.05, 10, True),
        (300, 500, 9, 0.02, 50, False),
        (40, 10, 5, 0.5, 100, True),  # k > n_docs
        (1, 3, 4, 0.9, 3, True),
    ],
)
@pytest.mark.parametrize("threads,strategy", [(1, "auto"), (1, "dense"), (1, "sparse"), (2, "auto")])
def test_search_equals_brute_force(n_docs, n_terms, n_q, density, k, integer, threads, strategy):
    rng = np.random.default_rng(n_docs * 7 + n_terms)
    docs = _random_sparse(rng, n_docs, n_terms, density, integer)
    queries = _random_sparse(rng, n_q, n_terms, min(1.0, density * 2), integer)
    index = InvertedIndex.from_csr(docs)
    got_s, got_d = index.search(queries, k, threads=threads, strategy=strategy)
    ref_s, ref_d = brute_force_topk(queries, docs, k)
    np.testing.assert_array_equal(got_d, ref_d)
    np.testing.assert_array_equal(got_s, ref_s)


def test_mixed_sign_weights_equal_brute_force():
    # weights <= 0: a matched document may score 0 or less, so only the sparse path is exact
    rng = np.random.default_rng(3)
    docs = _random_sparse(rng, 120, 30, 0.1, True)
    docs.data -= 2.0  # values in {-1, 0, 1}; explicit zeros are dropped by the index
    queries = _random_sparse(rng, 8, 30, 0.3, True)
    index = InvertedIndex.from_csr(docs)
    assert not index.positive
    for strategy in ("auto", "dense"):
        got_s, got_d = index.search(queries, 20, strategy=strategy)
        ref_s, ref_d = brute_force_topk(queries, docs, 20)
        np.testing.assert_array_equal(got_d, ref_d)
        np.testing.assert_array_equal(got_s, ref_s)


def test_block_boundaries_and_large_k():
    # more docs than one block, many tied scores across blocks, k both below and above n_blocks
    rng = np.random.default_rng(5)
    docs = _random_sparse(rng, 1000, 12, 0.3, True)
    queries = _random_sparse(rng, 6, 12, 0.5, True)
    index = InvertedIndex.from_csr(docs)
    for k in (1, 7, 40, 500, 2000):
        got_s, got_d = index.search(queries, k, strategy="dense")
        ref_s, ref_d = brute_force_topk(queries, docs, k)
        np.testing.assert_array_equal(got_d, ref_d)
        np.testing.assert_array_equal(got_s, ref_s)


def test_ties_break_by_lower_doc_index():
    # docs 0..5 all contain term 0 with weight 1: every score ties
    docs = sp.csr_matrix(np.array([[1, 0], [1, 0], [1, 1], [1, 0], [1, 1], [1, 0]], dtype=np.float32))
    index = InvertedIndex.from_csr(docs)
    s, d = index.search(sp.csr_matrix(np.array([[1, 0]], dtype=np.float32)), 4)
    assert d[0].tolist() == [0, 1, 2, 3]
    s, d = index.search(sp.csr_matrix(np.array([[1, 1]], dtype=np.float32)), 4)
    assert d[0].tolist() == [2, 4, 0, 1]
    assert s[0].tolist() == [2.0, 2.0, 1.0, 1.0]


def test_hand_computed_scores_and_padding():
    docs = sp.csr_matrix(np.array([[0.5, 0, 2.0], [0, 1.0, 0], [1.5, 0, 0]], dtype=np.float32))
    index = InvertedIndex.from_csr(docs)
    s, d = index.search_one(np.array([0, 2]), np.array([2.0, 1.0]), k=5)
    assert d.tolist() == [0, 2, -1, -1, -1]  # doc 1 shares no term: not a candidate
    np.testing.assert_allclose(s[:2], [3.0, 3.0])
    assert np.all(np.isneginf(s[2:]))


def test_empty_query_and_empty_batch():
    docs = sp.csr_matrix(np.eye(4, dtype=np.float32))
    index = InvertedIndex.from_csr(docs)
    s, d = index.search(sp.csr_matrix((2, 4), dtype=np.float32), 3)
    assert (d == -1).all() and np.isneginf(s).all()
    s, d = index.search(sp.csr_matrix((0, 4), dtype=np.float32), 3)
    assert s.shape == (0, 3) and d.shape == (0, 3)


def test_bad_input_raises():
    index = InvertedIndex.from_csr(sp.csr_matrix(np.eye(3, dtype=np.float32)))
    with pytest.raises(ValueError, match="k must be positive"):
        index.search(sp.csr_matrix(np.eye(3, dtype=np.float32)), 0)
    with pytest.raises(ValueError, match="columns"):
        index.search(sp.csr_matrix(np.eye(2, dtype=np.float32)), 1)
    with pytest.raises(ValueError, match="strategy"):
        index.search(sp.csr_matrix(np.eye(3, dtype=np.float32)), 1, strategy="fast")
    with pytest.raises(TypeError, match="scipy.sparse"):
        index.search(np.eye(3, dtype=np.float32), 1)


def test_top_k_agreement_hand_computed():
    from sparselab.indexes.bench_bm25 import top_k_agreement

    a = np.array([[1, 2, 3], [4, -1, -1], [-1, -1, -1]])
    b = np.array([[3, 2, 9], [4, 5, -1], [-1, -1, -1]])
    # 2/3 shared; 1 of max(1, 2); two empty lists agree
    assert top_k_agreement(a, b) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
