"""SPLADE-max: fast kernel equals the naive reference; CSR output in input order."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sparselab.encoders.hf_models import pad_batch
from sparselab.encoders.splade import SpladeEncoder, splade_max_fast, splade_max_naive

TEXTS = ["sparse retrieval with learned term weights",
         "cats", "", "the quick brown fox jumps over the lazy dog " * 3,
         "Vitamin D deficiency and bone density in older adults."]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def encoder():
    return SpladeEncoder(progress=False, batch_size=2)


@pytest.mark.parametrize("chunk", [3, 7, 4096, 40000])
def test_fast_kernel_equals_naive(encoder, chunk):
    tok, model, decoder_t, bias = encoder._load()
    ids = [tok(t, truncation=True, max_length=16)["input_ids"] for t in TEXTS]
    input_ids, mask = pad_batch(ids, tok.pad_token_id)  # rows of different lengths: padding
    with torch.inference_mode():
        ref = splade_max_naive(model, input_ids, mask)
        if chunk < 10:  # tiny chunks are slow: check the active columns and a few others
            cols = torch.cat([torch.nonzero(ref.amax(0) > 0)[:, 0], torch.arange(1000, 1040)])
            got = splade_max_fast(model, input_ids, mask, decoder_t[:, cols].contiguous(),
                                  bias[cols], chunk)
            ref = ref[:, cols]
        else:
            got = splade_max_fast(model, input_ids, mask, decoder_t, bias, chunk)
    assert got.shape == ref.shape and got.dtype == torch.float32
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    assert (ref > 0).sum() > 0


def test_encoder_fast_equals_naive_and_restores_order(encoder):
    fast = encoder.encode_docs(TEXTS)
    naive = SpladeEncoder(progress=False, batch_size=3, impl="naive")
    naive._loaded = encoder._load()  # same weights, no second load
    ref = naive.encode_docs(TEXTS)
    assert sp.isspmatrix_csr(fast) and fast.dtype == np.float32
    assert fast.shape == (len(TEXTS), 30522)
    assert not np.any(fast.data == 0)  # zeros dropped
    np.testing.assert_allclose(fast.toarray(), ref.toarray(), atol=1e-5)
    single = encoder.encode_docs([TEXTS[3]])
    np.testing.assert_allclose(single.toarray()[0], fast.toarray()[3], atol=1e-5)
    cat_cols = fast[1].indices
    vocab = encoder.vocabulary()
    assert "cats" in [vocab[j] for j in cat_cols] or "cat" in [vocab[j] for j in cat_cols]


def test_query_length_limit(encoder):
    q = SpladeEncoder(progress=False, query_max_length=4)
    q._loaded = encoder._load()
    a = q.encode_queries(["alpha beta gamma delta epsilon", "alpha beta gamma zeta eta"])
    np.testing.assert_allclose(a[0].toarray(), a[1].toarray(), atol=1e-6)  # same first 2 pieces


def test_bad_settings():
    with pytest.raises(ValueError, match="impl"):
        SpladeEncoder(impl="quick")
    with pytest.raises(ValueError, match="doc_max_length"):
        SpladeEncoder(doc_max_length=0)
