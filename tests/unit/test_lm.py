"""Tiny LM: shapes, causality, GQA, method-driven prefill/decode equal the training forward."""
import pytest
import torch
from torch import nn

from sparselab.attention.base import AttentionOutput, DecodeMethod, PrefillMethod, repeat_kv
from sparselab.models.lm import CONFIGS, LMConfig, build_model, flops_per_token, prefill_flops


def _attend(q, k, v, causal):
    """Plain softmax attention in fp64 with GQA; q (B, H, T, D), k/v (B, Hkv, S, D)."""
    rep = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, rep).double(), repeat_kv(v, rep).double()
    s = q.double() @ k.transpose(-1, -2) / q.shape[-1] ** 0.5  # (B, H, T, S)
    if causal:
        t, n = s.shape[-2:]
        allowed = torch.ones(t, n, dtype=torch.bool).tril(n - t)
        s = s.masked_fill(~allowed, float("-inf"))
    return (s.softmax(-1) @ v).to(q.dtype)


class DensePrefill(PrefillMethod):
    key = "test_dense"

    def prefill(self, q, k, v):
        return AttentionOutput(_attend(q, k, v, causal=True))


class DenseDecode(DecodeMethod):
    key = "test_dense"

    def compress(self, k, v, q_obs):
        return (k, v)

    def append(self, state, k_new, v_new):
        return (torch.cat([state[0], k_new], 2), torch.cat([state[1], v_new], 2))

    def decode(self, q, state):
        return AttentionOutput(_attend(q, *state, causal=False), nominal_sparsity=0.0)


def tiny(linear_factory=None, **kw):
    cfg = LMConfig(vocab_size=40, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, max_len=64, **kw)
    torch.manual_seed(0)
    m = build_model(cfg, linear_factory=linear_factory) if linear_factory else build_model(cfg)
    for blk in m.blocks if cfg.shift else ():  # non-trivial mixing so the test can fail
        torch.nn.init.uniform_(blk.attn.mu_q)
        torch.nn.init.uniform_(blk.attn.mu_k)
        torch.nn.init.uniform_(blk.attn.mu_v)
    return m.eval()


def test_family_spans_ten_times_parameters():
    counts = {k: build_model(k).n_params() for k in CONFIGS}
    assert max(counts.values()) / min(counts.values()) >= 10
    assert counts["xs"] < counts["s"] < counts["m"] < counts["l"]


def test_shapes_and_gqa_kv_heads():
    m = tiny()
    x = torch.randint(0, 40, (3, 11))
    assert m(x).shape == (3, 11, 40)
    assert m.blocks[0].attn.k.weight.shape == (2 * 4, 16)  # Hkv * D rows
    pre = m.prefill(x, DensePrefill(), obs_window=4)
    assert pre.kv[0][0].shape == (3, 2, 11, 4) and pre.q_obs[0].shape == (3, 4, 4, 4)


def test_future_tokens_do_not_change_past_logits():
    m = tiny()
    x = torch.randint(0, 40, (2, 12))
    y = x.clone()
    y[:, 8:] = torch.randint(0, 40, (2, 4))
    torch.testing.assert_close(m(x)[:, :8], m(y)[:, :8])
    assert not torch.allclose(m(x)[:, 8:], m(y)[:, 8:])


@pytest.mark.parametrize("mlp,norm,tied,shift", [("gelu", "rms", True, False), ("swiglu", "layer", False, True)])
def test_prefill_with_dense_method_equals_training_forward(mlp, norm, tied, shift):
    m = build_model(LMConfig(vocab_size=40, d_model=16, n_layers=2, n_heads=4, n_kv_heads=1,
                             mlp=mlp, norm=norm, tied=tied, shift=shift)).eval()
    x = torch.randint(0, 40, (2, 13))
    torch.testing.assert_close(m.prefill(x, DensePrefill()).logits, m(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shift", [False, True])
def test_generate_with_dense_decode_equals_full_recomputation(shift):
    m = tiny(shift=shift)
    x = torch.randint(0, 40, (3, 9))
    ids, info = m.generate(x, 6, prefill=DensePrefill(), decode=DenseDecode())
    ref = m.greedy(x, 6)
    assert torch.equal(ids, ref)
    seq = torch.cat([x, ref], 1)  # greedy must be argmax of the forward on its own output
    assert torch.equal(m(seq)[:, x.shape[1] - 1 : -1].argmax(-1), ref)
    assert info["decode"]["nominal_sparsity"] == 0.0


def test_generate_stops_at_eos():
    m = tiny()
    x = torch.randint(0, 40, (1, 5))
    first = int(m.greedy(x, 1)[0, 0])
    ids, _ = m.generate(x, 5, prefill=DensePrefill(), decode=DenseDecode(), eos=first)
    assert ids.shape == (1, 1)


def test_linear_factory_is_honoured():
    made = []

    class Tagged(nn.Linear):
        pass

    def factory(i, o, bias):
        made.append((i, o))
        return Tagged(i, o, bias=bias)

    m = tiny(linear_factory=factory)
    names = [n for n, _ in m.linear_layers()]
    assert len(made) == len(names) == 2 * 6  # q k v o up down per layer
    assert names[:6] == [f"blocks.0.{n}" for n in ("attn.q", "attn.k", "attn.v", "attn.o", "mlp.up", "mlp.down")]
    assert all(isinstance(mod, Tagged) for _, mod in m.linear_layers())


def test_flops_hand_count():
    cfg = LMConfig(vocab_size=10, d_model=8, n_layers=1, n_heads=2, n_kv_heads=1, mlp_ratio=2)
    # q,o: 8*8 each; k,v: 8*4 each; mlp: 2*8*16; head 8*10 -> weights 64+64+32+32+256+80 = 528
    assert flops_per_token(cfg, 0) == 2 * 528
    assert flops_per_token(cfg, 5) == 2 * 528 + 2 * 2 * 1 * 5 * 8
    assert flops_per_token(cfg, 5, attention_density=0.5) == 2 * 528 + 2 * 2 * 5 * 8 * 0.5
    assert prefill_flops(cfg, 3) == 3 * 2 * 528 + 4 * 8 * 6
    assert build_model(cfg).n_params() == 528 - 80 + 2 * 8 + 8  # tied head; two block norms + final


def test_bad_config_raises():
    with pytest.raises(ValueError, match="n_kv_heads"):
        LMConfig(d_model=16, n_heads=4, n_kv_heads=3)
    with pytest.raises(KeyError, match="model config"):
        build_model("xxl")


def test_non_embedding_count_excludes_an_untied_head():
    tied, untied = build_model("xs", vocab_size=304), build_model("xs", vocab_size=304, tied=False)
    assert tied.n_params() == untied.n_params()
    assert untied.n_params(embedding=True) == tied.n_params(embedding=True) + 304 * 64
