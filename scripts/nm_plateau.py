"""Study 04's plateau check with dense alone (issue 15): is `steps` enough?

Trains (or reads from the cell cache) dense at S = `--steps` and at S/2, each with its own
warm-up and cosine annealed to its end, for `--seeds`, under a study 04 design's other settings,
and prints `plateau.plateau` (0 <= bpc(S/2) - bpc(S) <= 1 % of bpc(S), no overfitting) with
every run's validation and test bpc. The runs are the design's own cells, so the full design
reuses them.

    python scripts/nm_plateau.py --steps 2400 [--seeds 0] \
        [--params notebooks/params/04_nm_training.plateau.yaml] [--out plateau.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(ROOT / "notebooks" / "params"
                                            / "04_nm_training.plateau.yaml"))
    ap.add_argument("--steps", type=int, required=True, help="S: the longer run's steps")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--lr-scale", type=float, default=1.0,
                    help="dense learning rate as a multiple of the design's lr")
    ap.add_argument("--out", default=None, help="also write the result as JSON here")
    args = ap.parse_args()

    from sparselab.studies import nm_training as study

    params = yaml.safe_load(Path(args.params).read_text())
    params.update(recipes=["dense"], iso_flops_patterns=[], steps=args.steps, seeds=args.seeds,
                  claim_seeds=[], tune_budget=0, plateau_check=True,
                  lr=float(params["lr"]) * args.lr_scale)
    cfg = study.Config.from_overrides(**params)
    df = study.run(cfg)
    cols = [c for c in ("seed", "steps", "role", "val_bpc", "test_bpc") if c in df]
    out = {"params": args.params, "steps": args.steps, "lr": cfg.lr, **study.plateau(df),
           "runs": df[cols].to_dict("records")}
    text = json.dumps(out, indent=1, default=float)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
