"""Study 01's stages one model at a time: train (or take from the model cache) chosen instances
of a design, or calibrate them, or score their grid, and save each as its committed artifact as
soon as it is done.

The design's full run (`sparselab report run 01 ...`) trains every instance, calibrates and
scores the grid; this runs one stage (`--stage train | calibration | grid`, each after the ones
before it, which it loads or builds) for the instances named, so a long design's CPU-hours can
be spread over sessions and machines: commit `artifacts/` after each instance, and the report
(and the next stage) loads them instead of computing. Calibration and grid stages need a design
with `stages: "model"` (one artifact per model instance).

    python scripts/train_study01.py --instances d64_l2 d96_l3-seed1
    python scripts/train_study01.py --stage grid --instances d64_l2
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(ROOT / "notebooks" / "params"
                                            / "01_sparse_attention_tradeoffs.long.yaml"))
    ap.add_argument("--instances", nargs="+", required=True,
                    help="instances of the design: a family member (seed 0) or <member>-seed<k>")
    ap.add_argument("--stage", default="train", choices=["train", "calibration", "grid"],
                    help="the last stage to build for each instance (default: train)")
    args = ap.parse_args()

    from sparselab.studies import sparse_attention as study
    from sparselab.studies.sparse_attention.pipeline import check_stage, run_stage

    os.environ.setdefault("SPARSELAB_ARTIFACTS", "use")  # save what is built
    cfg = study.Config.from_overrides(**yaml.safe_load(Path(args.params).read_text()))
    try:  # the design, the stage, every instance: named, no traceback, before any compute
        for inst in args.instances:
            check_stage(cfg, inst, args.stage)
    except ValueError as e:
        raise SystemExit(f"{args.params}: {e}") from None
    for inst in args.instances:
        t0 = time.perf_counter()
        run_stage(cfg, inst, args.stage)
        print(json.dumps({"instance": inst, "stage": args.stage,
                          "seconds": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
