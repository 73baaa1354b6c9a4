"""Rewrite benchmarks/README.md from the result tables the benchmark scripts wrote.

Each `benchmarks/<name>.py` writes `benchmarks/results/<name>.md` (and `.json`); this script
only assembles them, so every number in the README comes from a benchmark run.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["bm25_vs_bm25s", "splade_encode", "splade_vs_seismic", "attention_cpu", "sparse_prefill",
         "nm_cpu", "sweep_threads", "nm_training_pilot"]
INTRO = """# Benchmarks

Side-by-side performance of sparselab's hot paths against a named peer, measured in one run on
this project's machine kind (2 cores, no GPU). Ratios matter more than absolute numbers: the
machine is shared and timings drift between runs. Tests never time anything; these scripts do.

| script | what | peer | CLI |
|---|---|---|---|
| `bm25_vs_bm25s.py` | BM25 index build, search q/s, top-10 agreement | bm25s (numba backend) | `sparselab bench bm25 --dataset NAME --json` |
| `splade_encode.py` | SPLADE document encoding speed vs the naive implementation | naive SPLADE-max | |
| `splade_vs_seismic.py` | exact inverted-index search over SPLADE vectors vs approximate | pyseismic-lsr | |
| `attention_cpu.py` | block-sparse causal attention kernel vs dense | torch SDPA (dense, causal) | `sparselab bench attention --length L --density D --json` |
| `sparse_prefill.py` | one model forward's prefill with Block-Sparse / Vertical-Slash (selection included) vs dense | dense prefill (torch SDPA), same model | |
| `nm_cpu.py` | packed N:M matmul vs dense and vs the DRAM read limit; crossover; bf16; generation tokens/s | torch.matmul (fp32, same threads) | `sparselab bench nm --pattern 2:4 --batch 1 --json` |
| `sweep_threads.py` | busy threads of sweep workers (local, Dask) with the per-worker thread cap | the same workers uncapped | |
| `nm_training_pilot.py` | study 04's training step times (`s`, `m`; two batch x seq_len) and the plateau design's cost extrapolated | none (a cost pilot) | |

Run one with `.venv/bin/python benchmarks/<script>.py`, all with `make bench`, then
`.venv/bin/python benchmarks/readme.py` to refresh this page.
"""


def main() -> None:
    parts = [INTRO]
    names = ORDER + sorted(p.stem for p in (HERE / "results").glob("*.md") if p.stem not in ORDER)
    for name in names:
        md = HERE / "results" / f"{name}.md"
        if md.exists():
            text = md.read_text().strip()
            parts.append("\n".join(("#" + line) if line.startswith("#") else line
                                   for line in text.splitlines()))
        else:
            parts.append(f"## {name}\n\nNot measured yet: run `benchmarks/{name}.py`.")
    (HERE / "README.md").write_text("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
