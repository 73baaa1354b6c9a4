"""Pilot cost of study 04's plateau design (issue 15): time training steps, extrapolate.

Times `--steps` training steps (after a few untimed warm-up steps) of each model shape and
(batch, sequence length) for four recipes that stand for the eight (dense and oneshot; STE and
SR-STE; MDGF linear/exp; SDGF stepwise/geometric), one torch thread, as a study run trains
(`nm_training.build_run_model`, the trainer, `NMCallback` with mask flips). Then it counts
every run of a design (`notebooks/params/04_nm_training.plateau.yaml`: tuning, grid with
claim seeds, SR-STE at matched FLOPs, the plateau check's S/2 dense runs) and extrapolates
its cost for several step counts S: training steps plus learning-curve and final
evaluations, on `workers` one-thread processes.

    nice -n 19 .venv/bin/python benchmarks/nm_training_pilot.py [--steps 30] [--quick]

Writes benchmarks/results/nm_training_pilot.{md,json}. The machine is shared: the load
average at start and end is in the result; a loaded machine makes every number larger.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from sparselab.studies import nm_training as study
from sparselab.studies.nm_training import pipeline, tuning

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DESIGN = ROOT / "notebooks" / "params" / "04_nm_training.plateau.yaml"
STAND_IN = {"dense": "dense", "oneshot": "dense", "ste": "sr_ste", "sr_ste": "sr_ste",
            "mdgf_linear": "mdgf_exp", "mdgf_exp": "mdgf_exp", "sdgf_stepwise": "sdgf_stepwise",
            "sdgf_geometric": "sdgf_stepwise"}
WARM = 5  # untimed steps first (allocator, caches)
BUDGET_H = 12.0  # issue 15: the full profile from nothing in <= 12 h on this 2-core machine


class _Clock:
    """Trainer callback: wall and process CPU time at the start of every step."""

    def __init__(self):
        self.t: list[float] = []
        self.cpu: list[float] = []

    def on_step_start(self, step, trainer=None):
        self.t.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def on_step_end(self, step, trainer=None, metrics=None):
        pass


def time_steps(model: str, batch: int, seq_len: int, recipe: str, steps: int,
               splits: dict, vocab: int) -> dict:
    """Seconds per training step of one run shape over `steps` timed steps: wall (median and
    mean) and process CPU (median; what a quiet core would take, near enough)."""
    from sparselab.models.trainer import TrainConfig, Trainer
    from sparselab.sparsity.training import NMCallback
    from sparselab.tasks.charlm import char_lm_batches

    total = WARM + steps
    spec = pipeline.RunSpec(recipe=recipe, pattern="1:1" if recipe == "dense" else "1:16",
                            seed=0, steps=total, model=model, batch_size=batch, seq_len=seq_len,
                            lr=3e-3, warmup_frac=0.1, final_frac=0.1, oneshot_prune_at=0.5,
                            eval_every=0, val_windows=1, flip_every=25)
    torch.manual_seed(0)
    net, rec = pipeline.build_run_model(spec, vocab)
    tokens = batch * seq_len
    cb = NMCallback(net, rec, total, tokens, pipeline.other_flops_per_step(net, tokens, seq_len),
                    spec.flip_every, 0, None)
    clock = _Clock()
    tcfg = TrainConfig(steps=total, batch_size=batch, lr=spec.lr, warmup=spec.lr_warmup, seed=0,
                       log_every=total)
    Trainer(net, tcfg, char_lm_batches(splits["train"], seq_len, batch),
            callbacks=[clock, cb], progress=False).train()
    clock.t.append(time.perf_counter())
    clock.cpu.append(time.process_time())
    dt, dc = np.diff(clock.t)[WARM:], np.diff(clock.cpu)[WARM:]
    return {"mean_s": float(dt.mean()), "median_s": float(np.median(dt)),
            "cpu_median_s": float(np.median(dc))}


def time_eval(model: str, seq_len: int, splits: dict, vocab: int, windows: int = 32) -> float:
    """Seconds per evaluation window of `seq_len` characters (batch 32, as the study)."""
    spec = pipeline.RunSpec(recipe="dense", pattern="1:1", seed=0, steps=10, model=model,
                            batch_size=1, seq_len=seq_len, lr=3e-3, warmup_frac=0.1,
                            final_frac=0.1, oneshot_prune_at=0.5, eval_every=0, val_windows=1,
                            flip_every=0)
    net, _ = pipeline.build_run_model(spec, vocab)
    pipeline.bits_per_char(net, splits["val"], seq_len, 4)  # warm-up
    t0 = time.perf_counter()
    pipeline.bits_per_char(net, splits["val"], seq_len, windows)
    return (time.perf_counter() - t0) / windows  # wall: an upper bound on a loaded machine


def design_config() -> study.Config:
    """The design's Config (`DESIGN`; its `steps` are replaced by each S extrapolated)."""
    text = DESIGN.read_text().replace("@STEPS@", "1000").replace("@EVAL@", "25")
    return study.Config.from_params(yaml.safe_load(text))


def design_runs(cfg: study.Config, steps: int) -> list[tuple[str, int]]:
    """(recipe, steps) of every run the design trains at S = `steps` (tuning runs that are
    also grid runs counted once)."""
    cfg = dataclasses.replace(cfg, steps=steps)
    grid = study.run_specs(cfg)
    keys = {json.dumps(study.spec_dict(s), sort_keys=True) for s in grid}
    tune = [r[3] for r in tuning.tuning_specs(cfg) if cfg.tune_budget]
    tune = [s for s in tune if json.dumps(study.spec_dict(s), sort_keys=True) not in keys]
    # matched FLOPs: the step ratio does not depend on S (phases are fractions): measure it
    # at a short S and scale
    short = dataclasses.replace(cfg, steps=400, claim_seeds=[], seeds=[0])
    ratio = {s.pattern: s.steps / 400 for s in study.iso_flops_specs(short)}
    iso = [("sr_ste", round(ratio[s.pattern] * steps)) for s in grid
           if s.recipe == "sr_ste" and s.pattern in ratio]
    half = [("dense", steps // 2) for s in study.plateau_specs(cfg)]
    return [(s.recipe, s.steps) for s in grid + tune] + iso + half


def extrapolate(cfg: study.Config, step_s: dict, window_s: float, steps: int) -> dict:
    """Core-seconds and wall hours of the design at S = `steps` on `cfg.workers` processes."""
    runs = design_runs(cfg, steps)
    eval_every = max(1, steps // 40)
    core = 0.0
    for recipe, n in runs:
        curve = (n // eval_every) * pipeline.CURVE_WINDOWS * window_s
        final = (2 if cfg.test_split else 1) * cfg.val_windows * window_s
        core += n * step_s[STAND_IN[recipe]] + curve + final
    chars = steps * cfg.batch_size * cfg.seq_len
    return {"steps": steps, "runs": len(runs), "run_steps": sum(n for _, n in runs),
            "epochs": chars / 1_003_854, "core_h": core / 3600,
            "wall_h": core / 3600 / max(1, cfg.workers)}


def estimates(timing: list[dict], cfg: study.Config, design_steps: list[int]) -> list[dict]:
    """The design's cost at each S of `design_steps`, per measured shape, from the wall and
    from the CPU step times."""
    recipes = sorted(set(STAND_IN.values()))
    est = []
    for row in timing:
        shape = dataclasses.replace(cfg, model=row["model"], batch_size=row["batch"],
                                    seq_len=row["seq_len"])
        for s in design_steps:
            wall = extrapolate(shape, {r: row[r]["median_s"] for r in recipes},
                               row["eval_window_s"], s)
            cpu = extrapolate(shape, {r: row[r]["cpu_median_s"] for r in recipes},
                              row["eval_window_s"], s)
            est.append({"model": row["model"], "batch": row["batch"], "seq_len": row["seq_len"],
                        **wall, "cpu_core_h": cpu["core_h"], "cpu_wall_h": cpu["wall_h"]})
    return est


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=30, help="timed steps per shape and recipe")
    ap.add_argument("--models", default="s,m")
    ap.add_argument("--shapes", default="32x128,32x256", help="batch x seq_len, comma-separated")
    ap.add_argument("--design-steps", default="1000,1500,2000,4000",
                    help="step counts S at which to extrapolate the design")
    ap.add_argument("--quick", action="store_true", help="3 timed steps, one shape (a check)")
    ap.add_argument("--out", default=str(HERE / "results" / "nm_training_pilot"))
    ap.add_argument("--from-json", action="store_true",
                    help="re-render the .md from the .json of an earlier run (no timing)")
    args = ap.parse_args(argv)
    if args.from_json:  # same measurements, the design (and S values) as they are now
        out = json.loads(Path(args.out).with_suffix(".json").read_text())
        cfg = design_config()
        out["estimates"] = estimates(out["timing"], cfg,
                                     [int(v) for v in args.design_steps.split(",")])
        out["rendered"] = " ".join(["nice -n 19 .venv/bin/python benchmarks/" +
                                    Path(sys.argv[0]).name, *(argv or sys.argv[1:])])
        Path(args.out).with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
        Path(args.out).with_suffix(".md").write_text(render(out, sorted(set(STAND_IN.values())),
                                                            cfg))
        return 0
    if args.quick:
        args.steps, args.shapes, args.models = 3, "8x64", "s"
    torch.set_num_threads(1)
    cmd = "nice -n 19 .venv/bin/python benchmarks/" + " ".join(
        [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
    load0, t_start = os.getloadavg(), time.time()
    splits, vocab = pipeline.char_splits(pipeline.TEXT)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    recipes = sorted(set(STAND_IN.values()))
    timing = []
    for model in args.models.split(","):
        for batch, seq_len in shapes:
            window = time_eval(model, seq_len, splits, vocab)
            row = {"model": model, "batch": batch, "seq_len": seq_len, "eval_window_s": window}
            for recipe in recipes:
                row[recipe] = time_steps(model, batch, seq_len, recipe, args.steps, splits, vocab)
            timing.append(row)
            print(json.dumps(row), flush=True)
    load1 = os.getloadavg()
    cfg = design_config()
    est = estimates(timing, cfg, [int(v) for v in args.design_steps.split(",")])
    from sparselab.models.lm import build_model

    n_params = {m: build_model(m, vocab_size=vocab).n_params() for m in args.models.split(",")}
    out = {"command": cmd, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t_start)),
           "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
           "threads": 1, "load_start": load0, "load_end": load1, "timed_steps": args.steps,
           "n_params": n_params, "timing": timing, "estimates": est,
           "design": str(DESIGN.relative_to(ROOT)), "wall_s": time.time() - t_start}
    Path(args.out).with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    Path(args.out).with_suffix(".md").write_text(render(out, recipes, cfg))
    print(Path(args.out).with_suffix(".md").read_text())
    return 0


def render(out: dict, recipes: list[str], cfg: study.Config) -> str:
    """The markdown page of a pilot run."""
    load = (f"Command: `{out['command']}` ({out['date']}, {out['wall_s']:.0f} s). CPU "
            f"{out['cpu']}, torch {out['torch']}, 1 torch thread, `nice -n 19`. **The machine "
            f"was loaded**: 1/5/15-min load average "
            f"{', '.join(f'{v:.1f}' for v in out['load_start'])} at the start and "
            f"{', '.join(f'{v:.1f}' for v in out['load_end'])} at the end on 2 cores (another "
            "report build ran beside it), so these times are upper bounds for a quiet machine.")
    if out.get("rendered"):
        load += (f" Estimates re-rendered from these measurements by `{out['rendered']}` "
                 "(the design as it is now).")
    params = ", ".join(f"`{m}` {n:,}" for m, n in out["n_params"].items())
    head = (f"### Seconds per training step (median of {out['timed_steps']} steps after "
            f"{WARM} untimed ones; recipe at 1:16)")
    lines = [
        "## Study 04 pilot: cost of the plateau design (issue 15)", "", load, "",
        f"Non-embedding parameters: {params}.", "", head + ": wall (process CPU)", "",
        "| model | batch x seq_len | " + " | ".join(recipes) + " | eval s / window |",
        "|---|---|" + "---:|" * (len(recipes) + 1),
    ]
    for r in out["timing"]:
        lines.append(f"| {r['model']} | {r['batch']} x {r['seq_len']} | "
                     + " | ".join(f"{r[k]['median_s']:.3f} ({r[k]['cpu_median_s']:.3f})"
                                  for k in recipes)
                     + f" | {r['eval_window_s']:.4f} |")
    how = (f"Design: `{out['design']}` (recipes x patterns incl. the split setting, "
           f"{len(cfg.seeds)} seeds + {len(cfg.claim_seeds)} on claim cells, tuning "
           f"{cfg.tune_budget} configurations x {len(cfg.recipes)} recipes at "
           f"{cfg.tune_pattern}, SR-STE at matched FLOPs, dense at S/2), with each row's model "
           "and batch x seq_len. Cost per run = steps x the step time of its stand-in recipe "
           "(oneshot as dense, STE as SR-STE, MDGF linear as exp, SDGF geometric as stepwise) "
           f"+ 40 learning-curve evaluations of {pipeline.CURVE_WINDOWS} windows + the final "
           f"val and test scores of {cfg.val_windows} windows. Wall hours assume "
           f"{cfg.workers} one-thread workers kept busy; the issue's budget is {BUDGET_H:g} h. "
           "Tuning runs identical to grid runs (each recipe's default configuration at the "
           "tuning pattern and seed) are counted once.")
    cols = ("| model | batch x seq_len | S | epochs | runs | run-steps | wall h, as measured "
            "(loaded) | wall h, from CPU time (quiet) |")
    lines += ["", "### The design extrapolated", "", how, "", cols,
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for e in out["estimates"]:
        flag = "" if e["wall_h"] <= BUDGET_H else " (over)"
        flag_cpu = "" if e["cpu_wall_h"] <= BUDGET_H else " (over)"
        lines.append(f"| {e['model']} | {e['batch']} x {e['seq_len']} | {e['steps']:,} | "
                     f"{e['epochs']:.1f} | {e['runs']} | {e['run_steps']:,} | "
                     f"{e['wall_h']:.1f}{flag} | {e['cpu_wall_h']:.1f}{flag_cpu} |")
    lines += ["", (f"Largest S within {BUDGET_H:g} h (cost is linear in S), from the loaded "
                   "wall times / from CPU times:"), ""]
    for r in out["timing"]:
        ests = [e for e in out["estimates"] if (e["model"], e["batch"], e["seq_len"]) ==
                (r["model"], r["batch"], r["seq_len"])]
        s_wall = BUDGET_H / max(e["wall_h"] / e["steps"] for e in ests)
        s_cpu = BUDGET_H / max(e["cpu_wall_h"] / e["steps"] for e in ests)
        per_epoch = 1_003_854 / (r["batch"] * r["seq_len"])
        lines.append(f"- `{r['model']}` at {r['batch']} x {r['seq_len']}: S <= {s_wall:,.0f} "
                     f"/ {s_cpu:,.0f} steps ({s_wall / per_epoch:.1f} / "
                     f"{s_cpu / per_epoch:.1f} epochs of the training split)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
