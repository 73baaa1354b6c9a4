"""Issue 14's pilot for study 01: train one model of the long design for a few steps at its
lengths, time one calibration and one grid cell per phase at the longest length, and
extrapolate the design's CPU hours per stage (train, calibration, grid).

    python scripts/pilot_study01.py --model d128_l8 --steps 20 \
        [--params notebooks/params/01_sparse_attention_tradeoffs.long.yaml] [--out pilot.json]
    python scripts/pilot_study01.py --model d64_l2 --train-full --out trained.json

Run it on a quiet machine (every number is a wall time on one thread).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from sparselab.studies import sparse_attention as study
from sparselab.studies.sparse_attention.pilot import estimate, run_pilot, train_and_score

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(ROOT / "notebooks" / "params"
                                            / "01_sparse_attention_tradeoffs.long.yaml"))
    ap.add_argument("--model", default=None, help="family member (default: the largest)")
    ap.add_argument("--steps", type=int, default=20, help="training steps to time")
    ap.add_argument("--length", type=int, default=None, help="default: the longest length")
    ap.add_argument("--out", default=None, help="write the measurements as JSON here")
    ap.add_argument("--train-full", action="store_true",
                    help="instead: train the model with the design's full recipe (into the "
                         "model cache, reused by the design) and score dense accuracy per "
                         "task and length")
    ap.add_argument("--seed", type=int, default=0, help="training seed (with --train-full)")
    ap.add_argument("--estimate", default=None, metavar="PILOT_JSON",
                    help="instead: re-price --params from a saved pilot's measurements (no new "
                         "timing); with --train-ref, training is scaled from a --train-full run")
    ap.add_argument("--train-ref", default=None, metavar="TRAINED_JSON",
                    help="a --train-full output made with --params' training recipe")
    args = ap.parse_args()
    cfg = study.Config.from_overrides(**yaml.safe_load(Path(args.params).read_text()))
    study.checks.check_config(cfg)
    if args.estimate:
        measured = json.loads(Path(args.estimate).read_text())
        ref = json.loads(Path(args.train_ref).read_text()) if args.train_ref else None
        out = {"params": args.params, "pilot": args.estimate, "train_ref": args.train_ref,
               "estimate_cpu_h": estimate(cfg, measured, ref)}
    elif args.train_full:
        out = train_and_score(cfg, args.model or cfg.models[0], args.seed, progress=True)
    else:
        out = run_pilot(cfg, args.model or cfg.models[-1], args.steps, args.length,
                        progress=True)
    text = json.dumps(out, indent=2, sort_keys=True)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
