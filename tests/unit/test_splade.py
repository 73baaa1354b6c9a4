"""SPLADE-max: chunked and fast kernels equal the naive reference; the bf16 bound holds."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sparselab.encoders.hf_models import pad_batch
from sparselab.encoders.splade import (
    SpladeEncoder,
    bf16_error_bound,
    reachable,
    screen_offset,
    splade_max_chunked,
    splade_max_fast,
    splade_max_naive,
)

TEXTS = ["sparse retrieval with learned term weights",
         "cats", "", "the quick brown fox jumps over the lazy dog " * 3,
         "Vitamin D deficiency and bone density in older adults."]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/unit/conftest.py


@pytest.fixture(scope="module")
def encoder():
    return SpladeEncoder(progress=False, batch_size=2)


@pytest.fixture(scope="module")
def batch(encoder):
    tok = encoder._load()[0]
    ids = [tok(t, truncation=True, max_length=16)["input_ids"] for t in TEXTS]
    return pad_batch(ids, tok.pad_token_id)  # rows of different lengths: padding


@pytest.fixture(scope="module")
def reference(encoder, batch):
    with torch.inference_mode():
        return splade_max_naive(encoder._load()[1], *batch)


def _sub(weights, cols):
    """The encoder weights restricted to vocabulary columns `cols`."""
    _, model, dt, bias, dt16, norms = weights
    return model, dt[:, cols].contiguous(), bias[cols], dt16[:, cols].contiguous(), norms[cols]


@pytest.mark.parametrize("impl", ["chunked", "fast"])
@pytest.mark.parametrize("chunk", [3, 7, 4096, 40000])
def test_kernels_equal_naive(encoder, batch, reference, impl, chunk):
    weights = encoder._load()
    cols = torch.arange(reference.shape[1])
    if chunk < 10:  # tiny chunks are slow: the active columns and a few others
        cols = torch.cat([torch.nonzero(reference.amax(0) > 0)[:, 0], torch.arange(1000, 1040)])
    model, dt, bias, dt16, norms = _sub(weights, cols)
    with torch.inference_mode():
        if impl == "chunked":
            got = splade_max_chunked(model, *batch, dt, bias, chunk)
        else:
            got = splade_max_fast(model, *batch, dt, bias, dt16, norms, chunk)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, reference[:, cols], rtol=1e-5, atol=1e-5)
    assert (got > 0).sum() > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bf16_bound_holds(seed):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(64, 128, generator=g) * (1 + 10 * seed)
    w = torch.randn(128, 300, generator=g) * torch.rand(300, generator=g)
    exact = h.double() @ w.double()
    approx = (h.to(torch.bfloat16) @ w.to(torch.bfloat16)).double()
    bound = bf16_error_bound(h.norm(dim=1, keepdim=True), w.norm(dim=0)).double()
    assert ((approx - exact).abs() <= bound).all()
    assert ((approx - exact).abs() > bound / 64).any()  # the bound is not absurdly loose


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("chunk", [5, 64])
def test_screen_keeps_every_positive_column(seed, chunk):
    # biases put the exact max logit of many columns a hair above (or below) zero
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(3, 7, 128, generator=g) * 6  # (B, S, D)
    w = torch.randn(128, 200, generator=g) * 0.1
    exact = (h.double() @ w.double()).amax(dim=1)  # (B, V)
    eps = torch.tensor([-1e-4, 1e-6, 1e-4]).repeat(67)[:200].double()
    bias = (-exact[0] + eps).float()
    truth = exact + bias.double() > 0
    got = reachable(h, w.to(torch.bfloat16), screen_offset(bias, h.norm(dim=-1).max(),
                                                           w.norm(dim=0)), chunk)
    assert got.shape == truth.shape and not (truth & ~got).any()
    assert (~got).any()  # the screen does prune


def test_encoder_impls_agree_and_restore_order(encoder):
    fast = encoder.encode_docs(TEXTS)
    assert sp.isspmatrix_csr(fast) and fast.dtype == np.float32
    assert fast.shape == (len(TEXTS), 30522)
    assert not np.any(fast.data == 0)  # zeros dropped
    for impl in ("naive", "chunked"):
        other = SpladeEncoder(progress=False, batch_size=3, impl=impl)
        other._loaded = encoder._load()  # same weights, no second load
        np.testing.assert_allclose(other.encode_docs(TEXTS).toarray(), fast.toarray(), atol=1e-5)
    single = encoder.encode_docs([TEXTS[3]])
    np.testing.assert_allclose(single.toarray()[0], fast.toarray()[3], atol=1e-5)
    vocab = encoder.vocabulary()
    assert {"cat", "cats"} & {vocab[j] for j in fast[1].indices}


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
    with pytest.raises(ValueError, match="vocab_chunk"):
        SpladeEncoder(vocab_chunk=0)
