"""A tiny decoder-only transformer whose inference attention goes through the method interface.

Training uses torch's fused causal SDPA. Inference (`prefill`, `generate`) calls a
`PrefillMethod` and a `DecodeMethod` (see `sparselab.attention.base`), so any sparse method can
replace dense attention without touching the model. Linear layers are built by a
`linear_factory(in_features, out_features, bias)` so N:M sparse layers can replace them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..attention.base import DecodeMethod, PrefillMethod, repeat_kv
from ..registry import Registry

LinearFactory = Callable[[int, int, bool], nn.Module]


def default_linear(in_features: int, out_features: int, bias: bool) -> nn.Module:
    return nn.Linear(in_features, out_features, bias=bias)


@dataclass(frozen=True)
class LMConfig:
    """Shape of a model. `n_kv_heads < n_heads` gives grouped-query attention."""

    vocab_size: int = 304
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 4
    mlp_ratio: float = 4.0
    mlp: str = "gelu"  # "gelu" or "swiglu"
    norm: str = "rms"  # "rms" or "layer"
    tied: bool = True
    rope_base: float = 10000.0
    max_len: int = 8192
    shift: bool = False  # token shift: keys/values also see the previous position (see Attention)

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads={self.n_heads} is not divisible by n_kv_heads={self.n_kv_heads}")
        if self.mlp not in ("gelu", "swiglu"):
            raise ValueError(f"mlp must be 'gelu' or 'swiglu', got {self.mlp!r}")
        if self.norm not in ("rms", "layer"):
            raise ValueError(f"norm must be 'rms' or 'layer', got {self.norm!r}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def d_mlp(self) -> int:
        return round(self.d_model * self.mlp_ratio)


# The family spans ~10x in non-embedding parameters (99k, 306k, 543k, 1.03M), sized so that all
# four train for the same number of steps on one CPU core each: minutes for xs, ~25 minutes for
# l on the loaded 2-core machine (per-step cost grows with parameters). xs spends its budget on
# depth and attention rather than MLP width (3 layers, full multi-head K/V, MLP ratio 2): the
# aggregation tasks (cwe, filter) need a third layer and wider K/V far more than MLP width
# (probes in scripts/probe_suite.py; the issue 5 notes give the numbers).
CONFIGS: Registry[LMConfig] = Registry("model config")
CONFIGS.add("xs", LMConfig(d_model=64, n_layers=3, n_heads=4, n_kv_heads=4, mlp_ratio=2.0, shift=True))
CONFIGS.add("s", LMConfig(d_model=96, n_layers=3, n_heads=4, n_kv_heads=2, shift=True))
CONFIGS.add("m", LMConfig(d_model=128, n_layers=3, n_heads=4, n_kv_heads=2, shift=True))
CONFIGS.add("l", LMConfig(d_model=176, n_layers=3, n_heads=4, n_kv_heads=2, shift=True))

# The long-context family of study 01's issue-14 design (L up to 4096): six sizes spanning 16x in
# non-embedding parameters (66k ... 1.05M untied), width 64 / 96 / 128 and two depths per width,
# head_dim 32 everywhere (LLMs use 64-128; xs has 16), xs's recipe otherwise (full K/V heads,
# MLP ratio 2, token shift). Deeper and narrower rather than wider, so that attention is >= 50 %
# of every member's dense prefill FLOPs from L = 1024 on except the d = 128 pair (48-49 % there;
# 65-76 % at 2048, 79-87 % at 4096: `studies.sparse_attention.design.attention_shares`).
LONG_FAMILY = ("d64_l2", "d64_l4", "d96_l3", "d96_l6", "d128_l4", "d128_l8")
CONFIGS.add("d64_l2", LMConfig(d_model=64, n_layers=2, n_heads=2, n_kv_heads=2, mlp_ratio=2.0, shift=True))
CONFIGS.add("d64_l4", LMConfig(d_model=64, n_layers=4, n_heads=2, n_kv_heads=2, mlp_ratio=2.0, shift=True))
CONFIGS.add("d96_l3", LMConfig(d_model=96, n_layers=3, n_heads=3, n_kv_heads=3, mlp_ratio=2.0, shift=True))
CONFIGS.add("d96_l6", LMConfig(d_model=96, n_layers=6, n_heads=3, n_kv_heads=3, mlp_ratio=2.0, shift=True))
CONFIGS.add("d128_l4", LMConfig(d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, mlp_ratio=2.0, shift=True))
CONFIGS.add("d128_l8", LMConfig(d_model=128, n_layers=8, n_heads=4, n_kv_heads=4, mlp_ratio=2.0, shift=True))


def rope_tables(positions: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables (T, D) for integer positions (T,)."""
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    ang = positions.float()[:, None] * inv[None]  # (T, D/2)
    ang = torch.cat([ang, ang], dim=-1)  # (T, D)
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, T, D) by position (rotate-half convention)."""
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rot * sin


class Attention(nn.Module):
    """Grouped-query self-attention; layers `q`, `k`, `v`, `o`.

    With `cfg.shift`, the query, key and value inputs are per-channel mixes of the current and
    the previous position's input, `x + mu * (x_prev - x)` (RWKV's token shift). A key then
    knows which token preceded it, so one layer can do associative recall; tiny models trained
    on CPU budgets learn retrieval far sooner with it. Attention itself is unchanged.
    """

    def __init__(self, cfg: LMConfig, linear: LinearFactory):
        super().__init__()
        self.cfg = cfg
        d, hd = cfg.d_model, cfg.head_dim
        self.q = linear(d, cfg.n_heads * hd, False)
        self.k = linear(d, cfg.n_kv_heads * hd, False)
        self.v = linear(d, cfg.n_kv_heads * hd, False)
        self.o = linear(cfg.n_heads * hd, d, False)
        if cfg.shift:
            self.mu_q = nn.Parameter(torch.full((d,), 0.5))
            self.mu_k = nn.Parameter(torch.full((d,), 0.5))
            self.mu_v = nn.Parameter(torch.zeros(d))

    def qkv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, prev: torch.Tensor | None = None):
        """Projected, rotated q (B, H, T, D) and k, v (B, Hkv, T, D) of inputs x (B, T, d_model).

        `prev` (B, 1, d_model) is the input at the position before x[:, 0] (token shift only;
        zeros when None).
        """
        b, t, _ = x.shape
        c = self.cfg
        xq = xk = xv = x
        if c.shift:
            first = torch.zeros_like(x[:, :1]) if prev is None else prev
            delta = torch.cat([first, x[:, :-1]], dim=1) - x  # (B, T, d_model): previous - current
            xq, xk, xv = x + self.mu_q * delta, x + self.mu_k * delta, x + self.mu_v * delta
        q = self.q(xq).view(b, t, c.n_heads, c.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = self.k(xk).view(b, t, c.n_kv_heads, c.head_dim).transpose(1, 2)  # (B, Hkv, T, D)
        v = self.v(xv).view(b, t, c.n_kv_heads, c.head_dim).transpose(1, 2)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def out(self, y: torch.Tensor) -> torch.Tensor:
        b, h, t, d = y.shape
        return self.o(y.transpose(1, 2).reshape(b, t, h * d))  # (B, T, H*D) -> (B, T, d_model)

    def forward(self, x, cos, sin):
        q, k, v = self.qkv(x, cos, sin)
        rep = self.cfg.n_heads // self.cfg.n_kv_heads
        y = F.scaled_dot_product_attention(q, repeat_kv(k, rep), repeat_kv(v, rep), is_causal=True)
        return self.out(y)


class MLP(nn.Module):
    """GELU MLP (`up`, `down`) or SwiGLU (`gate`, `up`, `down`)."""

    def __init__(self, cfg: LMConfig, linear: LinearFactory):
        super().__init__()
        self.swiglu = cfg.mlp == "swiglu"
        if self.swiglu:
            self.gate = linear(cfg.d_model, cfg.d_mlp, False)
        self.up = linear(cfg.d_model, cfg.d_mlp, False)
        self.down = linear(cfg.d_mlp, cfg.d_model, False)

    def forward(self, x):
        h = F.silu(self.gate(x)) * self.up(x) if self.swiglu else F.gelu(self.up(x))
        return self.down(h)


class Block(nn.Module):
    def __init__(self, cfg: LMConfig, linear: LinearFactory):
        super().__init__()
        norm = nn.RMSNorm if cfg.norm == "rms" else nn.LayerNorm
        self.norm1, self.norm2 = norm(cfg.d_model), norm(cfg.d_model)
        self.attn = Attention(cfg, linear)
        self.mlp = MLP(cfg, linear)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


@dataclass
class PrefillResult:
    """Output of `TinyLM.prefill`.

    logits (B, T, V); kv: per layer (k, v), each (B, Hkv, T, D) after RoPE; q_obs: per layer the
    last `obs_window` queries (B, H, w, D); stats: per layer the method's `AttentionOutput`
    sparsities; last_input: what decoding needs for the token shift.
    """

    logits: torch.Tensor
    kv: list[tuple[torch.Tensor, torch.Tensor]]
    q_obs: list[torch.Tensor]
    stats: list[dict[str, float]]
    last_input: list[torch.Tensor]  # per layer the last normed attention input (B, 1, d_model)


class TinyLM(nn.Module):
    """Decoder-only transformer; see the module docstring.

    Args:
        cfg: the shape (`CONFIGS.get("xs")` etc.).
        linear_factory: builds every attention and MLP projection (not the embedding or head).
    """

    def __init__(self, cfg: LMConfig, linear_factory: LinearFactory = default_linear):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, linear_factory) for _ in range(cfg.n_layers))
        self.norm = nn.RMSNorm(cfg.d_model) if cfg.norm == "rms" else nn.LayerNorm(cfg.d_model)
        self.head = None if cfg.tied else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    # ----- bookkeeping -------------------------------------------------------------------
    def linear_layers(self) -> list[tuple[str, nn.Module]]:
        """(name, module) of every factory-built projection, e.g. `blocks.0.attn.q`, `blocks.1.mlp.up`."""
        names = ("attn.q", "attn.k", "attn.v", "attn.o", "mlp.gate", "mlp.up", "mlp.down")
        mods = dict(self.named_modules())
        return [(f"blocks.{i}.{n}", mods[f"blocks.{i}.{n}"]) for i in range(self.cfg.n_layers)
                for n in names if f"blocks.{i}.{n}" in mods]

    def n_params(self, embedding: bool = False) -> int:
        """Parameter count; non-embedding by default (the usual scaling-law N: without the token
        embedding and, when untied, the output head)."""
        total = sum(p.numel() for p in self.parameters())
        if embedding:
            return total
        head = 0 if self.head is None else self.head.weight.numel()
        return total - self.embed.weight.numel() - head

    def flops_per_token(self, context: int, attention_density: float = 1.0) -> float:
        """Forward FLOPs for one token attending to `context` keys (matmuls only).

        Linear: 2 per weight of every projection and of the output head. Attention: QK^T and AV,
        2 * 2 * n_layers * context * H * D, scaled by `attention_density` for sparse methods.
        """
        return flops_per_token(self.cfg, context, attention_density)

    def _rope(self, positions: torch.Tensor):
        return rope_tables(positions, self.cfg.head_dim, self.cfg.rope_base)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        return x @ self.embed.weight.T if self.head is None else self.head(x)

    # ----- training ----------------------------------------------------------------------
    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """Last residual stream (B, T, d_model) for int64 tokens (B, T); dense causal SDPA."""
        if tokens.shape[1] > self.cfg.max_len:
            raise ValueError(f"sequence of {tokens.shape[1]} tokens exceeds max_len={self.cfg.max_len}")
        cos, sin = self._rope(torch.arange(tokens.shape[1]))
        x = self.embed(tokens)
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Output logits (..., V) of residual states (..., d_model)."""
        return self._logits(x)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for int64 tokens (B, T), causal dense attention (fused SDPA)."""
        return self._logits(self.hidden(tokens))

    @torch.no_grad()
    def greedy(self, tokens: torch.Tensor, n_new: int, eos: int | None = None) -> torch.Tensor:
        """Reference greedy decoding by full dense recomputation at every step: ids (B, <= n_new)."""
        seq, out = tokens, []
        for _ in range(n_new):
            nxt = self.forward(seq)[:, -1].argmax(-1)
            out.append(nxt)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            if eos is not None and bool((torch.stack(out, 1) == eos).any(1).all()):
                break
        return torch.stack(out, dim=1)

    # ----- inference ---------------------------------------------------------------------
    @torch.no_grad()
    def prefill(self, tokens: torch.Tensor, method: PrefillMethod, obs_window: int = 256) -> PrefillResult:
        """Run the prompt tokens (B, T) with `method.prefill` in every layer; keep the KV cache."""
        cos, sin = self._rope(torch.arange(tokens.shape[1]))
        x = self.embed(tokens)
        kv, q_obs, stats, last = [], [], [], []
        for blk in self.blocks:
            h = blk.norm1(x)
            last.append(h[:, -1:])
            q, k, v = blk.attn.qkv(h, cos, sin)
            res = method.prefill(q, k, v)
            x = x + blk.attn.out(res.out)
            x = x + blk.mlp(blk.norm2(x))
            kv.append((k, v))
            q_obs.append(q[:, :, -obs_window:])
            stats.append(_stats(res))
        return PrefillResult(self._logits(x), kv, q_obs, stats, last)

    @torch.no_grad()
    def generate(
        self,
        tokens: torch.Tensor,
        n_new: int,
        prefill: PrefillMethod,
        decode: DecodeMethod,
        obs_window: int = 256,
        eos: int | None = None,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Greedy decoding of `n_new` tokens after the prompt `tokens` (B, T).

        The first new token comes from the prefill logits; then every layer's cache is
        `decode.compress`ed once and each step `append`s and `decode`s one token. Stops early when
        every row has produced `eos`. Returns new ids (B, <= n_new) and per-phase mean sparsities.
        """
        pre = self.prefill(tokens, prefill, obs_window)
        ids, dec_stats = self.continue_decoding(pre, tokens.shape[1], n_new, decode, eos)
        info = {"prefill": _mean_stats(pre.stats), "decode": _mean_stats(dec_stats)}
        return ids, info

    @torch.no_grad()
    def continue_decoding(
        self, pre: PrefillResult, length: int, n_new: int, decode: DecodeMethod,
        eos: int | None = None,
    ) -> tuple[torch.Tensor, list[dict[str, float]]]:
        """Greedy ids (B, <= n_new) after a `prefill` result of a `length`-token prompt.

        Every layer's cache is `decode.compress`ed once, then each step `append`s and `decode`s
        one token. One prefill can serve many decode methods. Stops early only when `eos` is
        given and every row has produced it. Returns ids and per-step, per-layer sparsities.
        """
        states = [decode.compress(k, v, qo) for (k, v), qo in zip(pre.kv, pre.q_obs)]
        nxt = pre.logits[:, -1].argmax(-1)  # (B,)
        out, dec_stats = [nxt], []
        done = nxt == eos if eos is not None else torch.zeros_like(nxt, dtype=torch.bool)
        pos, prev = length, list(pre.last_input)
        for _ in range(n_new - 1):
            if bool(done.all()):
                break
            x, results = self._decode_step(nxt, pos, states, prev, decode)
            dec_stats += [_stats(res) for res in results]
            nxt = self._logits(x)[:, -1].argmax(-1)
            out.append(nxt)
            if eos is not None:
                done = done | (nxt == eos)
            pos += 1
        return torch.stack(out, dim=1), dec_stats

    def _decode_step(self, nxt: torch.Tensor, pos: int, states: list, prev: list,
                     decode: DecodeMethod) -> tuple[torch.Tensor, list]:
        """One token (B,) at position `pos` through every layer with `decode`; updates the
        per-layer KV `states` and token-shift inputs `prev` in place. Returns the last hidden
        state (B, 1, d) and each layer's attention result."""
        cos, sin = self._rope(torch.tensor([pos]))
        x = self.embed(nxt[:, None])  # (B, 1, d)
        results = []
        for i, blk in enumerate(self.blocks):
            h = blk.norm1(x)
            q, k, v = blk.attn.qkv(h, cos, sin, prev[i])
            prev[i] = h
            states[i] = decode.append(states[i], k, v)
            res = decode.decode(q, states[i])
            x = x + blk.attn.out(res.out)
            x = x + blk.mlp(blk.norm2(x))
            results.append(res)
        return x, results

    @torch.no_grad()
    def continue_forced(
        self, pre: PrefillResult, length: int, forced: torch.Tensor, n_new: int,
        decode: DecodeMethod,
    ) -> tuple[torch.Tensor, list[dict[str, float]]]:
        """Greedy answer ids (B, n_new) after feeding `forced` (B, Q >= 1) token by token.

        `pre` is the prefill of the first `length` prompt tokens; the forced tokens (the rest of
        the prompt, e.g. the question and `<a>`) are decoded one at a time with `decode`, then
        the answer: the first answer token comes from the last forced token's logits, so every
        answer token is produced by `decode` (`continue_decoding` takes the first from the
        prefill). Returns ids and per-step, per-layer sparsities (Q + n_new - 1 steps).
        """
        if forced.dim() != 2 or forced.shape[1] < 1 or forced.shape[0] != pre.logits.shape[0]:
            raise ValueError(f"forced must be (B, Q >= 1) with B = {pre.logits.shape[0]}, "
                             f"got {tuple(forced.shape)}")
        states = [decode.compress(k, v, qo) for (k, v), qo in zip(pre.kv, pre.q_obs)]
        prev, stats, out = list(pre.last_input), [], []
        q_len = forced.shape[1]
        nxt = forced[:, 0]
        for step in range(q_len + n_new - 1):
            x, results = self._decode_step(nxt, length + step, states, prev, decode)
            stats += [_stats(res) | {"density_per_row": _row_density(res)} for res in results]
            if step + 1 < q_len:
                nxt = forced[:, step + 1]
            else:
                nxt = self._logits(x)[:, -1].argmax(-1)
                out.append(nxt)
        return torch.stack(out, dim=1), stats


def _row_density(res) -> Any:
    """Attended fraction per batch row (B,) of one attention call (the batch mean if the method
    does not report rows)."""
    rows = res.extra.get("density_per_row")
    if rows is None:
        return torch.full((res.out.shape[0],), 1.0 - float(res.effective_sparsity)).numpy()
    return rows


def _stats(res) -> dict[str, float]:
    return {"nominal_sparsity": float(res.nominal_sparsity), "effective_sparsity": float(res.effective_sparsity)}


def _mean_stats(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


def flops_per_token(cfg: LMConfig, context: int, attention_density: float = 1.0) -> float:
    """Forward FLOPs of one token over `context` keys for a model of shape `cfg` (see TinyLM)."""
    hd, d = cfg.head_dim, cfg.d_model
    per_layer = d * cfg.n_heads * hd * 2 + d * cfg.n_kv_heads * hd * 2  # q, o and k, v
    per_layer += (3 if cfg.mlp == "swiglu" else 2) * d * cfg.d_mlp
    linear = 2 * (cfg.n_layers * per_layer + d * cfg.vocab_size)
    attention = 2 * 2 * cfg.n_layers * context * cfg.n_heads * hd * attention_density
    return float(linear + attention)


def prefill_flops(cfg: LMConfig, length: int, attention_density: float = 1.0) -> float:
    """Forward FLOPs of a causal prefill of `length` tokens (query t sees t + 1 keys)."""
    linear = flops_per_token(cfg, 0) * length
    pairs = length * (length + 1) / 2
    return float(linear + 2 * 2 * cfg.n_layers * cfg.n_heads * cfg.head_dim * pairs * attention_density)


def build_model(name_or_cfg: str | LMConfig, linear_factory: LinearFactory = default_linear, **overrides) -> TinyLM:
    """`TinyLM` from a family name (`xs`, `s`, `m`, `l`) or a config, with field overrides."""
    cfg = CONFIGS.get(name_or_cfg) if isinstance(name_or_cfg, str) else name_or_cfg
    return TinyLM(replace(cfg, **overrides) if overrides else cfg, linear_factory)


def config_dict(cfg: LMConfig) -> dict[str, Any]:
    return asdict(cfg)


__all__ = ["CONFIGS", "LONG_FAMILY", "LMConfig", "PrefillResult", "TinyLM", "build_model", "config_dict",
           "flops_per_token", "prefill_flops"]
