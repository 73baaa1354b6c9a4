"""Training-free sparse attention methods behind one interface (see `base`).

Importing the package registers every method under its key:
    prefill (`PREFILL`): dense, vertical_slash, block_sparse, flexprefill, sliding_window, oracle_topk
    decode (`DECODE`):   dense, quest, snapkv, ada_snapkv, sliding_window, oracle_topk

    m = PREFILL.get("vertical_slash")(compression=4, **params_for_length("prefill", "vertical_slash", L))
    out = m.prefill(q, k, v)          # AttentionOutput: out, nominal/effective sparsity, extra
    d = DECODE.get("quest")(compression=8)
    state = d.compress(k, v, q_obs); state = d.append(state, k1, v1); d.decode(q1, state)

Budgets: `compression` C = 1 / (1 - sparsity) for every method except flexprefill (`alpha`,
its coverage target; the budget adapts). C = 1 (alpha = 1) is exactly dense. Window sizes
default to METHODS §2; scale them with `params_for_length` for 256-2048-token sequences.
Prefill methods build a `SparseLayout` (key blocks + key columns per query block) executed by
`backend`: "torch" (SDPA with the layout's mask; autograd; default), "kernel" (numba CPU
kernel, fp32, no autograd, fast) or "reference" (fp64). `extra["layout"]` holds the layout,
`extra["flops"]` the executed attention FLOPs per sequence.
"""
from . import (  # noqa: F401
           block_sparse,
           dense,
           flexprefill,
           oracle_topk,
           quest,
           sliding_window,
           snapkv,
           vertical_slash,
)
from .base import DECODE, PREFILL, AttentionOutput, DecodeMethod, PrefillMethod, repeat_kv
from .defaults import params_for_length
from .kvcache import KVState
from .layout import SparseLayout

__all__ = ["DECODE", "PREFILL", "AttentionOutput", "DecodeMethod", "KVState", "PrefillMethod",
           "SparseLayout", "params_for_length", "repeat_kv"]
