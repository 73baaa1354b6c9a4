"""The six long-context tasks, registered in `TASKS` under their keys.

Labels follow The Sparse Frontier (Nawrot et al. 2025): *dispersion* (how hard it is to locate
the relevant tokens) and *scope* (how many of them the answer needs). Record counts are fixed
per task, so a longer prompt means more haystack around the same records (as in RULER).
"""
from __future__ import annotations

import numpy as np

from .base import TASKS, Task


def _distinct(rng: np.random.Generator, n_pool: int, k: int, name: str) -> np.ndarray:
    if k > n_pool:
        raise ValueError(f"{name}: needs {k} distinct symbols but the vocabulary has {n_pool}")
    return rng.choice(n_pool, size=k, replace=False)


@TASKS.register("niah_single")
class NeedleSingle(Task):
    """One needle `<rec> k v1..vd`; question `<q> k`; answer the d value tokens (exact match)."""

    key, dispersion, scope, scoring = "niah_single", "low", "low", "exact"

    def __init__(self, length: int = 256, n_digits: int = 2, **kw):
        super().__init__(length, **kw)
        self.n_needles, self.n_digits = 1, n_digits

    def build(self, rng):
        v = self.vocab
        keys = v.key(_distinct(rng, v.n_keys, self.n_needles, self.key))
        values = v.value(rng.integers(0, v.n_values, size=(self.n_needles, self.n_digits)))
        records = [np.array([v.rec, k, *val]) for k, val in zip(keys, values)]
        order = rng.permutation(self.n_needles)  # order[0] is the scored question
        questions = [([v.query, int(keys[i])], [int(x) for x in values[i]]) for i in order]
        return records, questions, {"target": int(order[0])}

    def max_answer_len(self):
        return self.n_digits + 1


@TASKS.register("niah_multikey")
class NeedleMultiKey(NeedleSingle):
    """Several needles with distinct keys; the question names one of them (exact match)."""

    key = "niah_multikey"

    def __init__(self, length: int = 256, n_needles: int = 4, n_digits: int = 2, **kw):
        super().__init__(length, n_digits=n_digits, **kw)
        self.n_needles = n_needles


@TASKS.register("mqar")
class AssociativeRecall(Task):
    """Multi-query associative recall: pairs `<rec> k v`; `<q> k_1..k_n`; answer `k_1 v_1 .. k_n v_n`.

    Echoing each key before its value keeps every answer step a one-hop lookup (the next key
    from the question, then its value from the context). Scored by the fraction of asked keys
    answered with the right value (`pairs`).
    """

    key, dispersion, scope, scoring = "mqar", "low", "high", "pairs"

    def __init__(self, length: int = 256, n_pairs: int = 8, n_queries: int = 4, **kw):
        super().__init__(length, **kw)
        if n_queries > n_pairs:
            raise ValueError(f"mqar: n_queries={n_queries} exceeds n_pairs={n_pairs}")
        self.n_pairs, self.n_queries = n_pairs, n_queries

    def build(self, rng):
        v = self.vocab
        keys = v.key(_distinct(rng, v.n_keys, self.n_pairs, self.key))
        values = v.value(rng.integers(0, v.n_values, size=self.n_pairs))
        records = [np.array([v.rec, k, val]) for k, val in zip(keys, values)]
        order = rng.permutation(self.n_pairs)
        groups = [order[i : i + self.n_queries] for i in range(0, self.n_pairs - self.n_queries + 1, self.n_queries)]
        questions = [([v.query, *(int(keys[i]) for i in g)], [int(x) for i in g for x in (keys[i], values[i])])
                     for g in groups]
        return records, questions, {"asked": groups[0].tolist()}

    def max_answer_len(self):
        return 2 * self.n_queries + 1


@TASKS.register("vt")
class VariableTracking(Task):
    """Variable tracking: `<set> x1 v`, `<set> x2 x1`, ...; `<q> v`; answer the chain's variables.

    Several chains are interleaved (order within a chain kept); following one is multi-hop.
    Scored by set F1 over variables, as RULER does.
    """

    key, dispersion, scope, scoring, set_answer = "vt", "high", "low", "set_f1", False

    def __init__(self, length: int = 256, n_chains: int = 2, n_hops: int = 2, **kw):
        super().__init__(length, **kw)
        self.n_chains, self.n_hops = n_chains, n_hops

    def build(self, rng):
        v = self.vocab
        n_var = self.n_hops + 1
        names = v.key(_distinct(rng, v.n_keys, self.n_chains * n_var, self.key)).reshape(self.n_chains, n_var)
        vals = v.value(_distinct(rng, v.n_values, self.n_chains, self.key))
        chains = [
            [np.array([v.assign, names[c, 0], vals[c]])]
            + [np.array([v.assign, names[c, h], names[c, h - 1]]) for h in range(1, n_var)]
            for c in range(self.n_chains)
        ]
        order = rng.permutation(np.repeat(np.arange(self.n_chains), n_var))
        nxt = [0] * self.n_chains
        records = []
        for c in order:
            records.append(chains[c][nxt[c]])
            nxt[c] += 1
        order = rng.permutation(self.n_chains)
        questions = [([v.query, int(vals[c])], [int(x) for x in names[c]]) for c in order]
        return records, questions, {"target": int(order[0])}

    def max_answer_len(self):
        return self.n_hops + 2


@TASKS.register("cwe")
class CommonWords(Task):
    """Common-word extraction: word symbols scattered in the haystack; answer the most frequent.

    `n_common` words appear `freq_common` times each; other words appear at most
    `freq_common // 2` times, about one per `uncommon_every` tokens. Scored by set F1.
    """

    key, dispersion, scope, scoring, set_answer = "cwe", "high", "high", "set_f1", True

    def __init__(self, length: int = 256, n_common: int = 3, freq_common: int = 6,
                 uncommon_every: int = 16, **kw):
        super().__init__(length, **kw)
        self.n_common, self.freq_common, self.uncommon_every = n_common, freq_common, uncommon_every

    def build(self, rng):
        v = self.vocab
        words = rng.permutation(v.n_words)
        common, rare = words[: self.n_common], words[self.n_common :]
        cap = max(1, self.freq_common // 2)
        n_rare = min(self.length // self.uncommon_every, cap * len(rare))
        rare_occ = np.tile(rare, cap)[:n_rare]  # each rare word at most `cap` times
        occ = np.concatenate([np.repeat(common, self.freq_common), rare_occ])
        occ = rng.permutation(occ)
        records = [np.array([v.word(int(w))]) for w in occ]
        answer = [int(v.word(int(w))) for w in rng.permutation(common)]
        return records, [([v.query], answer)], {"n_rare": int(n_rare)}

    def max_answer_len(self):
        return self.n_common + 1


@TASKS.register("filter")
class Filtering(Task):
    """Filtering: records `<rec> k v`; `<q> c`: list every value whose key is of class c.

    A key's class (k mod n_classes) is never written in the prompt: the model must judge every
    record, so relevant tokens have no lexical cue (high dispersion) and are many (high scope).
    Scored by set F1.
    """

    key, dispersion, scope, scoring, set_answer = "filter", "high", "high", "set_f1", True

    def __init__(self, length: int = 256, n_records: int = 8, n_match: tuple[int, int] = (2, 3), **kw):
        super().__init__(length, **kw)
        self.n_records, self.n_match = n_records, tuple(n_match)

    def build(self, rng):
        v = self.vocab
        nc = v.n_classes
        cls = int(rng.integers(nc))
        k_match = int(rng.integers(self.n_match[0], self.n_match[1] + 1))
        in_cls = np.arange(cls, v.n_keys, nc)
        out_cls = np.setdiff1d(np.arange(v.n_keys), in_cls)
        keys = np.concatenate([
            rng.choice(in_cls, size=k_match, replace=False),
            rng.choice(out_cls, size=self.n_records - k_match, replace=False),
        ])
        values = _distinct(rng, v.n_values, self.n_records, self.key)
        perm = rng.permutation(self.n_records)
        keys, values = keys[perm], values[perm]
        records = [np.array([v.rec, v.key(int(k)), v.value(int(x))]) for k, x in zip(keys, values)]
        questions = []
        for c in [cls, *rng.permutation([c for c in range(nc) if c != cls])]:
            hits = [int(v.value(int(x))) for k, x in zip(keys, values) if k % nc == c]
            if hits or c == cls:
                questions.append(([v.query, int(v.klass(int(c)))], [hits[i] for i in rng.permutation(len(hits))]))
        return records, questions, {"class": cls}

    def max_answer_len(self):
        return self.n_match[1] + 1


def build_tasks(keys, length: int = 256, sources=("synthetic", "tinystories", "tinyshakespeare"), **kw) -> list[Task]:
    """Instantiate tasks by key ('all' for every task), sharing one haystack."""
    from .haystack import Haystack
    from .vocab import Vocab

    if isinstance(keys, str):
        keys = TASKS.keys() if keys == "all" else [k.strip() for k in keys.split(",") if k.strip()]
    vocab = kw.pop("vocab", None) or Vocab()
    hay = Haystack(vocab, sources)
    return [TASKS.get(k)(length, haystack=hay, vocab=vocab, **kw) for k in keys]
