"""Sparse prefill (selection + layout + kernel) of one model forward vs dense prefill, side by side.

For each model shape (random init: the weights' values do not change the work of dense or
Block-Sparse; for Vertical-Slash they decide how scattered the kept diagonals are, see the
effective density column), each length and each thread count, the wall time of
`TinyLM.prefill` with `dense` and with `block_sparse` / `vertical_slash` at compression C
(`params_for_length` windows, numba kernel backend), best of interleaved repeats in one process;
reported as ratios to dense. A second pass times the attention calls alone on the layers'
captured q, k, v: dense SDPA, the method's selection (`select`) and its execution
(`run_layout`), summed over layers.
Writes benchmarks/results/sparse_prefill.md and .json.

    python benchmarks/sparse_prefill.py [--models xs s m l hd64] [--lengths 1024 2048 4096]
        [--compressions 2 4 8 16] [--threads 2 1] [--repeats 5] [--batch 1]
        [--trained notebooks/params/01_sparse_attention_tradeoffs.long.yaml]

With --trained, each model is the one study 01 trained with that design's recipe (read from the
model cache; `scripts/pilot_study01.py --train-full` or the study's training stage makes it)
and the prompts are the design's task samples at each length: with trained weights the
attention has structure, which decides how many blocks Vertical-Slash executes.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from importlib import metadata
from pathlib import Path

import numba
import numpy as np
import torch

from sparselab.attention import PREFILL
from sparselab.attention.defaults import params_for_length
from sparselab.attention.execute import dense_prefill, run_layout
from sparselab.cache import atomic_write_json, atomic_write_text
from sparselab.models.lm import CONFIGS, build_model, prefill_flops
from sparselab.reports.provenance import cpu_model

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("block_sparse", "vertical_slash")
NOISE = 0.1  # ratios within 1 +- NOISE are reported as ties (run-to-run drift on the shared host)
# head_dim 64, as in LLMs (the registry's shapes have head_dim 16 / 24 / 32 / 44)
EXTRA_SHAPES = {"hd64": {"d_model": 128, "n_layers": 3, "n_heads": 2, "n_kv_heads": 1, "shift": True}}


def build(name: str, length: int, seed: int = 0):
    """Random-init `TinyLM` of a registry shape or an `EXTRA_SHAPES` one."""
    torch.manual_seed(seed)
    if name in EXTRA_SHAPES:
        base = CONFIGS.get("xs")
        return build_model(base, max_len=max(8192, length), **EXTRA_SHAPES[name]).eval()
    return build_model(name, max_len=max(8192, length)).eval()


def configs(length: int, compressions: list[float]) -> list[tuple[str, float, object]]:
    out = [("dense", 1.0, PREFILL.get("dense")())]
    for key in METHODS:
        kw = params_for_length("prefill", key, length)
        out += [(key, c, PREFILL.get(key)(compression=c, backend="kernel", **kw)) for c in compressions]
    return out


def _best_times(fns: list, repeats: int) -> list[float]:
    """Best of `repeats` interleaved runs of each function (the least disturbed on a shared host)."""
    times = [[] for _ in fns]
    for r in range(repeats):  # interleaved, rotating the order so no method always runs first
        for j in range(len(fns)):
            i = (j + r) % len(fns)
            t0 = time.perf_counter()
            fns[i]()
            times[i].append(time.perf_counter() - t0)
    return [min(t) for t in times]


class _Capture(PREFILL.get("dense")):
    """Dense prefill that keeps every layer's q, k, v."""

    def __init__(self):
        self.qkv = []

    def prefill(self, q, k, v):
        self.qkv.append((q, k, v))
        return super().prefill(q, k, v)


def trained(name: str, length: int, batch: int, params: Path):
    """(trained model, (batch, L) task prompts) of family member `name` under the study 01
    design `params`; exits naming the command when the model is not trained yet."""
    import yaml

    from sparselab.cache import is_complete
    from sparselab.models.recipe import load_model, suite_model_path
    from sparselab.studies import sparse_attention as study
    from sparselab.studies.sparse_attention.pipeline import recipe_for
    from sparselab.tasks.suite import build_tasks

    cfg = study.Config.from_overrides(**yaml.safe_load(params.read_text()))
    folder = suite_model_path(recipe_for(cfg, name))
    if not is_complete(folder):
        raise SystemExit(f"--trained: model {name!r} of {params} is not trained yet ({folder}); "
                         f"train it: python scripts/pilot_study01.py --params {params} "
                         f"--model {name} --train-full")
    model, _ = load_model(folder)
    tasks = build_tasks(list(cfg.tasks), length)
    prompts = [tasks[i % len(tasks)].sample(i // len(tasks), "test").prompt for i in range(batch)]
    n = min(len(p) for p in prompts)
    return model.eval(), torch.as_tensor(np.stack([p[-n:] for p in prompts]), dtype=torch.long)


@torch.no_grad()
def measure(name: str, length: int, compressions: list[float], batch: int, repeats: int,
            params: Path | None = None) -> list[dict]:
    """Rows for one model and length at the current thread count (random init and random
    tokens, or with `params` the design's trained model and task prompts)."""
    if params is None:
        model = build(name, length)
        x = torch.randint(0, model.cfg.vocab_size, (batch, length),
                          generator=torch.Generator().manual_seed(1))
    else:
        model, x = trained(name, length, batch, params)
    cells = configs(length, compressions)
    density = []
    for _, _, m in cells:  # warm-up (numba compiles on first call) and the layouts' densities
        stats = model.prefill(x, m).stats
        density.append(float(np.mean([1 - s["effective_sparsity"] for s in stats])))
    full = _best_times([lambda m=m: model.prefill(x, m) for _, _, m in cells], repeats)
    cap = _Capture()
    model.prefill(x, cap)
    layouts = [[m.select(q, k)[0] for q, k, _ in cap.qkv] if key != "dense" else None
               for key, _, m in cells]
    parts = [lambda: [dense_prefill(q, k, v) for q, k, v in cap.qkv]]
    for (key, _, m), lays in zip(cells[1:], layouts[1:]):
        parts.append(lambda m=m: [m.select(q, k) for q, k, _ in cap.qkv])
        parts.append(lambda lays=lays: [run_layout(q, k, v, lay, "kernel")
                                        for (q, k, v), lay in zip(cap.qkv, lays)])
    part_t = _best_times(parts, repeats)
    cfg = model.cfg
    share = 1 - prefill_flops(cfg, length, 0.0) / prefill_flops(cfg, length, 1.0)
    rows = []
    for i, (key, c, _) in enumerate(cells):
        row = {"model": name, "length": length, "prompt_tokens": int(x.shape[1]), "batch": batch, "method": key, "C": c,
               "head_dim": cfg.head_dim, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
               "n_kv_heads": cfg.n_kv_heads, "attention_flop_share": share,
               "effective_density": density[i], "prefill_s": full[i], "ratio_to_dense": full[i] / full[0],
               "dense_attention_s": part_t[0]}
        if i:
            row["select_s"], row["execute_s"] = part_t[2 * i - 1], part_t[2 * i]
        rows.append(row)
    return rows


def table(rows: list[dict], compressions: list[float]) -> list[str]:
    head = "| model | d_head | L | att. share | dense s | " + " | ".join(
        f"{'BS' if k == 'block_sparse' else 'VS'} C={c:g}" for k in METHODS for c in compressions) + " |"
    out = [head, "|---|---:|---:|---:|---:|" + "---:|" * (len(METHODS) * len(compressions))]
    for (model, length), grp in _groups(rows):
        by = {(r["method"], r["C"]): r for r in grp}
        cells = [f"{by[(k, c)]['ratio_to_dense']:.2f}" for k in METHODS for c in compressions]
        out.append(f"| {model} | {grp[0]['head_dim']} | {length} | {grp[0]['attention_flop_share']:.2f} | "
                   f"{by[('dense', 1.0)]['prefill_s']:.3f} | "
                   + " | ".join(cells) + " |")
    return out


def breakdown(rows: list[dict]) -> list[str]:
    out = [("| model | L | method | C | effective density | select / dense attn | execute / dense attn "
           "| prefill / dense prefill |"), "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["method"] == "dense":
            continue
        out.append(f"| {r['model']} | {r['length']} | {r['method']} | {r['C']:g} | "
                   f"{r['effective_density']:.3f} | {r['select_s'] / r['dense_attention_s']:.2f} | "
                   f"{r['execute_s'] / r['dense_attention_s']:.2f} | {r['ratio_to_dense']:.2f} |")
    return out


def _groups(rows: list[dict]):
    keys = list(dict.fromkeys((r["model"], r["length"]) for r in rows))
    return [(k, [r for r in rows if (r["model"], r["length"]) == k]) for k in keys]


def verdicts(rows: list[dict]) -> list[str]:
    """The goal at the longest length: sparse (selection included) faster than dense at C >= 4."""
    top = max(r["length"] for r in rows)
    out = []
    for r in rows:
        if r["length"] != top or r["method"] == "dense" or r["C"] < 4:
            continue
        ratio = r["ratio_to_dense"]
        word = "faster" if ratio < 1 - NOISE else "slower" if ratio > 1 + NOISE else \
            f"within +-{NOISE:.0%} of dense: not told apart on a shared machine"
        out.append(f"- {r['model']} {r['method']} C={r['C']:g}: {ratio:.2f} x dense "
                   f"({word}; executed density {r['effective_density']:.2f})")
    return out


NOTE = ("Vertical-Slash executes each kept diagonal as the 64 x 64 key blocks it crosses. With "
        "random-init weights the attention has no structure, so the top diagonals are scattered, "
        "those blocks cover most of the causal triangle, and the executed density (column "
        "`effective density`) stays far above the nominal 1 / C: the method cannot beat dense "
        "there, however cheap its selection. In a trained model the kept diagonals may cluster "
        "(local attention) and fewer blocks run; that needs a trained checkpoint to measure. "
        "Block-Sparse executes exactly its budget whatever the weights.")


NOTE_TRAINED = ("Vertical-Slash executes each kept diagonal as the 64 x 64 key blocks it crosses "
                "and each kept column as 1 x 64 strips, so its executed density (column "
                "`effective density`) is above the nominal 1 / C by however scattered the trained "
                "model's top diagonals and columns are on these prompts. Block-Sparse executes "
                "exactly its budget whatever the weights.")


def render(meta: dict, rows: list[dict], command: str) -> str:
    """The Markdown page of one run."""
    loads = meta["load_average_1min_start_end"]
    md = ["# Sparse prefill vs dense prefill (one model forward, selection included)", "",
          (f"{meta['date']}; {meta['cpu']}; batch {meta['batch']}; best of {meta['repeats']} "
           f"interleaved repeats; {meta.get('weights', 'random-init')} models; kernel backend; torch {meta['torch']}, numba "
           f"{meta['numba']}; wall {meta['wall_s']} s. 1-min load average at start/end per thread "
           f"count: {', '.join(f'{t} threads {a:.1f}/{b:.1f}' for t, (a, b) in loads.items())} "
           f"(shared {meta['cores']}-core machine: absolute times are noisy, ratios less so)."), "",
          ("Cells: sparse prefill time / dense prefill time, measured side by side (< 1 = faster). "
           "`att. share`: attention's share of a dense prefill's FLOPs."), ""]
    compressions = sorted({r["C"] for r in rows if r["method"] != "dense"})
    for threads in meta["threads"]:
        sub = [r for r in rows if r["threads"] == threads]
        md += [f"## {threads} thread(s)", "", *table(sub, compressions), "",
               f"Goal at L = {max(r['length'] for r in sub)} (C >= 4):", "", *verdicts(sub), "",
               "Attention calls alone (summed over layers; same run):", "", *breakdown(sub), ""]
    note = NOTE_TRAINED if str(meta.get("weights", "")).startswith("trained") else NOTE
    md += [note, "", f"Command: `{command}`"]
    return "\n".join(md) + "\n"


def _command(saved: dict) -> str:
    """The command line of a saved run (older .json files do not store it)."""
    rows, meta = saved["rows"], saved["meta"]
    models = " ".join(dict.fromkeys(r["model"] for r in rows))
    lengths = " ".join(str(x) for x in sorted({r["length"] for r in rows}))
    cs = " ".join(f"{x:g}" for x in sorted({r["C"] for r in rows if r["method"] != "dense"}))
    return (f"python benchmarks/sparse_prefill.py --models {models} --lengths {lengths} "
            f"--compressions {cs} --threads {' '.join(map(str, meta['threads']))} "
            f"--repeats {meta['repeats']} --batch {meta['batch']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["xs", "s", "m", "l", "hd64"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--compressions", type=float, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--trained", type=Path, default=None,
                        help="study 01 params YAML: its trained models and task prompts")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the .json / .md")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the .md from the .json in --out (no timing)")
    args = parser.parse_args()
    if args.render:
        saved = json.loads((args.out / "sparse_prefill.json").read_text())
        md = render(saved["meta"], saved["rows"], saved["meta"].get("command") or _command(saved))
        atomic_write_text(args.out / "sparse_prefill.md", md)
        print(md)
        return
    command = "python benchmarks/sparse_prefill.py " + " ".join(
        f"--{k} {' '.join(f'{x:g}' if isinstance(x, float) else str(x) for x in v)}"
        if isinstance(v, list) else f"--{k} {v}"
        for k, v in vars(args).items() if k not in ("out", "render") and v is not None)
    t_start, rows, loads = time.time(), [], {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        numba.set_num_threads(threads)
        load0 = os.getloadavg()[0]
        for name in args.models:
            for length in args.lengths:
                got = measure(name, length, args.compressions, args.batch, args.repeats,
                              args.trained)
                for r in got:
                    r["threads"] = threads
                    print(json.dumps({k: r[k] for k in ("threads", "model", "length", "method", "C",
                                                        "ratio_to_dense", "effective_density")}),
                          flush=True)
                rows += got
        loads[threads] = [load0, os.getloadavg()[0]]
    meta = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu_model(), "cores": os.cpu_count(), "threads": args.threads,
            "repeats": args.repeats, "batch": args.batch, "backend": "kernel",
            "weights": f"trained ({args.trained})" if args.trained else "random-init",
            "load_average_1min_start_end": loads, "wall_s": round(time.time() - t_start, 1),
            "torch": torch.__version__, "numba": metadata.version("numba"), "command": command}
    atomic_write_json(args.out / "sparse_prefill.json", {"meta": meta, "rows": rows})
    md = render(meta, rows, command)
    atomic_write_text(args.out / "sparse_prefill.md", md)
    print(md)


if __name__ == "__main__":
    main()
