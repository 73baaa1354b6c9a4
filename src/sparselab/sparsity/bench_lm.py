"""Generation tokens/s of an N:M `TinyLM` served packed against its dense twin, in one run.

The model has the study 04 layer type (`NMLinear` through `nm_linear_factory`) at a width
where the linear layers dominate decoding (d_model 1024, 4 layers: 192 MiB of fp32 weights,
6x the L3, so every token streams them from DRAM). Weights are random: speed does not depend
on what they learned. `pack_model` converts it; `dense_twin` gives the masked dense model with
plain `nn.Linear`s. Both decode the same prompt greedily, alternating, and must emit the same
ids.
"""
from __future__ import annotations

import time


def generation_speed(pattern: str = "2:4", threads: int = 1, d_model: int = 1024,
                     n_layers: int = 4, prompt: int = 16, n_new: int = 32, repeats: int = 3,
                     seed: int = 0) -> dict:
    """Median decode tokens/s (batch 1) of the packed model and of its dense twin.

    Returns {"pattern", "threads", "d_model", "n_layers", "packed_tok_s", "dense_tok_s",
    "speedup", "same_ids", "weight_mb_dense", "weight_mb_packed"}.
    """
    import numba
    import torch

    from ..models.lm import LMConfig, build_model
    from .inference import PackedLinear, dense_twin, pack_model
    from .layers import nm_linear_factory
    from .recipes import make_recipe

    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    torch.manual_seed(seed)
    cfg = LMConfig(vocab_size=304, d_model=d_model, n_layers=n_layers, n_heads=16,
                   n_kv_heads=16, mlp="gelu", max_len=prompt + n_new + 8)
    model = build_model(cfg, nm_linear_factory(make_recipe("sr_ste", pattern))).eval()
    twin = dense_twin(model)
    packed = pack_model(model, keep_dense=False)  # batch 1 only: the packed bytes alone
    tokens = torch.randint(0, cfg.vocab_size, (1, prompt),
                           generator=torch.Generator().manual_seed(seed))

    rates = compare_decoding(packed, twin, tokens, n_new, repeats)
    p_tok, d_tok, same = rates["packed_tok_s"], rates["dense_tok_s"], rates["same_ids"]
    layers = [m for m in packed.modules() if isinstance(m, PackedLinear)]
    return {"pattern": pattern, "threads": threads, "d_model": d_model, "n_layers": n_layers,
            "n_new": n_new, "packed_tok_s": p_tok, "dense_tok_s": d_tok,
            "speedup": p_tok / d_tok, "same_ids": same,
            "weight_mb_dense": sum(4 * m.in_features * m.out_features for m in layers) / 2**20,
            "weight_mb_packed": sum(m.packed.nbytes for m in layers) / 2**20}


def compare_decoding(packed, twin, tokens, n_new: int, repeats: int = 3) -> dict:
    """Greedy decode tokens/s (median of `repeats`, batch of `tokens`) of a packed model and
    its dense twin, alternating so both see the same machine state; the first new id comes
    from the prefill and is not timed. Returns {"packed_tok_s", "dense_tok_s", "speedup",
    "same_ids"} (`same_ids`: both emitted the same ids in every repeat)."""
    import numpy as np

    from ..attention import DECODE, PREFILL

    length = int(tokens.shape[1])

    def decode(m):
        pre = m.prefill(tokens, PREFILL.get("dense")())
        t0 = time.perf_counter()
        ids, _ = m.continue_decoding(pre, length, n_new, DECODE.get("dense")())
        return ids, (n_new - 1) * int(tokens.shape[0]) / (time.perf_counter() - t0)

    decode(packed), decode(twin)  # compile / warm up
    rates_p, rates_d, same = [], [], True
    for _ in range(repeats):
        ids_p, r = decode(packed)
        rates_p.append(r)
        ids_d, r = decode(twin)
        rates_d.append(r)
        same = same and bool(ids_p.shape == ids_d.shape and (ids_p == ids_d).all())
    p_tok, d_tok = float(np.median(rates_p)), float(np.median(rates_d))
    return {"packed_tok_s": p_tok, "dense_tok_s": d_tok, "speedup": p_tok / d_tok,
            "same_ids": same}
