"""Study 00: statistics of every registered collection and text corpus."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Config

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Stats:
    """What `run` measured: one summary row per collection/split and the raw lengths."""

    summary: pd.DataFrame  # one row per (collection, split)
    grades: pd.DataFrame  # (collection, split, relevance) -> count
    doc_lengths: dict[str, np.ndarray]
    query_lengths: dict[str, np.ndarray]
    texts: pd.DataFrame


def n_words(texts) -> np.ndarray:
    """Number of \\w+ tokens per text, int64 (n,)."""
    return np.fromiter((len(_WORD.findall(t)) for t in texts), dtype=np.int64)


def describe_collection(name: str):
    """Summary rows, grade counts and length arrays of one collection."""
    from ... import data

    col = data.load_collection(name)
    rows, grades = [], []
    for split in col.splits:
        q, qr = col.queries[split], col.qrels[split]
        rows.append({
            "collection": name, "split": split, "docs": len(col.docs), "queries": len(q),
            "judged_queries": qr["query_id"].nunique(), "qrels": len(qr),
            "qrels_per_query": len(qr) / max(qr["query_id"].nunique(), 1),
        })
        for rel, n in qr["relevance"].value_counts().sort_index().items():
            grades.append({"collection": name, "split": split, "relevance": int(rel), "count": int(n)})
    all_queries = pd.concat(col.queries.values()).drop_duplicates("query_id")
    return rows, grades, n_words(col.doc_texts()), n_words(all_queries["text"])


def run(cfg: Config) -> Stats:
    """Load every configured collection and corpus and measure it."""
    from sparselab.progress import bar as progress_bar  # terminal only, never the report

    from ... import data

    rows, grades, dl, ql = [], [], {}, {}
    for name in progress_bar(cfg.collections, desc="collections"):
        r, g, dl[name], ql[name] = describe_collection(name)
        rows += r
        grades += g
    texts = []
    for name in cfg.texts:
        text = data.load_text(name)
        texts.append({"corpus": name, "chars": len(text), "lines": text.count("\n"),
                      "words": len(_WORD.findall(text)), "distinct_chars": len(set(text))})
    return Stats(pd.DataFrame(rows), pd.DataFrame(grades), dl, ql, pd.DataFrame(texts))


def table_lengths(stats: Stats) -> pd.DataFrame:
    """Document and query length quantiles (words) per collection."""
    out = []
    for kind, arrays in (("doc", stats.doc_lengths), ("query", stats.query_lengths)):
        for name, a in arrays.items():
            out.append({"collection": name, "kind": kind, "n": len(a), "mean": a.mean(),
                        "median": np.median(a), "p95": np.quantile(a, 0.95), "max": a.max()})
    return pd.DataFrame(out).set_index(["collection", "kind"]).round(1)


def table_grades(stats: Stats) -> pd.DataFrame:
    """Relevance grade distribution: rows (collection, split), columns grade."""
    return stats.grades.pivot_table(index=["collection", "split"], columns="relevance",
                                    values="count", fill_value=0)


def plot_lengths(stats: Stats, kind: str, max_length: int):
    """Histogram grid of `kind` ('doc' or 'query') lengths, one panel per collection."""
    import matplotlib.pyplot as plt

    arrays = stats.doc_lengths if kind == "doc" else stats.query_lengths
    fig, axes = plt.subplots(1, len(arrays), figsize=(3.2 * len(arrays), 2.8), squeeze=False)
    for ax, (name, a) in zip(axes[0], arrays.items()):
        ax.hist(np.minimum(a, max_length), bins=40, color="tab:blue")
        ax.set_title(f"{name} (median {np.median(a):.0f})")
        ax.set_xlabel(f"{kind} length (words)")
    axes[0][0].set_ylabel("count")
    fig.tight_layout()
    return fig


def metrics(stats: Stats) -> dict[str, float]:
    """Flat metrics for metrics.json (`docs/scifact`, `qrels/test/scifact`, ...)."""
    m: dict[str, float] = {}
    for r in stats.summary.itertuples():
        m[f"docs/{r.collection}"] = r.docs
        m[f"queries/{r.split}/{r.collection}"] = r.queries
        m[f"judged_queries/{r.split}/{r.collection}"] = r.judged_queries
        m[f"qrels/{r.split}/{r.collection}"] = r.qrels
    for name, a in stats.doc_lengths.items():
        m[f"doc_length_mean/{name}"] = float(a.mean())
    for name, a in stats.query_lengths.items():
        m[f"query_length_mean/{name}"] = float(a.mean())
    for r in stats.texts.itertuples():
        m[f"chars/{r.corpus}"] = r.chars
    return m


def headline(stats: Stats) -> dict[str, float]:
    return {"collections": stats.summary["collection"].nunique(),
            "docs_total": int(stats.summary.drop_duplicates("collection")["docs"].sum()),
            "qrels_total": int(stats.summary["qrels"].sum())}
