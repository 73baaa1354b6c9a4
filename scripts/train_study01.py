"""Study 01's training stage alone: train (or take from the model cache) chosen instances of a
design and save each as its committed checkpoint artifact as soon as it is done.

The design's full run (`sparselab report run 01 ...`) trains every instance and then scores the
grid; this runs only the first stage, for the instances named, so a long design's training can
be spread over sessions and machines: commit `artifacts/` after each run, and the report
(and the next stage) loads them instead of training.

    python scripts/train_study01.py --params notebooks/params/01_sparse_attention_tradeoffs.long.yaml \
        --instances d64_l2 d96_l3-seed1
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
    args = ap.parse_args()

    from sparselab.studies import sparse_attention as study
    from sparselab.studies.sparse_attention.pipeline import train_models

    os.environ.setdefault("SPARSELAB_ARTIFACTS", "use")  # save what is built
    cfg = study.Config.from_overrides(**yaml.safe_load(Path(args.params).read_text()))
    study.checks.check_config(cfg)
    known = {inst: (size, seed) for inst, size, seed in cfg.instances()}
    unknown = [i for i in args.instances if i not in known]
    if unknown:
        raise SystemExit(f"--instances: {unknown[0]!r} is not an instance of {args.params}; "
                         f"known: {', '.join(known)}")
    for inst in args.instances:
        size, seed = known[inst]
        one = study.Config.from_overrides(**{**cfg.to_dict(), "models": [size],
                                             "seeds": {size: [seed]} if seed else {}})
        t0 = time.perf_counter()
        train_models(one)
        print(json.dumps({"instance": inst, "seconds": round(time.perf_counter() - t0, 1)}),
              flush=True)


if __name__ == "__main__":
    main()
