"""Task suite: determinism, answers correct by construction, scorers, batching."""
import numpy as np
import pytest

from sparselab.tasks import (
    TASKS,
    Vocab,
    build_tasks,
    collate,
    exact_match,
    pair_accuracy,
    position_accuracy,
    set_f1,
)
from sparselab.tasks.base import task_batches
from sparselab.tasks.haystack import Haystack, weave

TEXT = "Once upon a time there was a tiny model. It liked long contexts very much.\n" * 40


def tasks(length=160, keys="all"):
    vocab = Vocab()
    hay = Haystack(vocab, ("synthetic", "tinystories"), text_loader=lambda name: TEXT)
    return [TASKS.get(k)(length, haystack=hay, vocab=vocab) for k in (TASKS.keys() if keys == "all" else keys)]


def test_registry_labels():
    assert set(TASKS.keys()) >= {"niah_single", "niah_multikey", "mqar", "vt", "cwe", "filter"}
    for t in tasks():
        assert t.dispersion in ("low", "high") and t.scope in ("low", "high")


@pytest.mark.parametrize("task", tasks(), ids=lambda t: t.key)
def test_deterministic_and_well_formed(task):
    v = task.vocab
    a, b = task.sample(7), task.sample(7)
    assert np.array_equal(a.prompt, b.prompt) and np.array_equal(a.answer, b.answer)
    assert not np.array_equal(task.sample(8).prompt, a.prompt)
    assert not np.array_equal(task.sample(7, "test").prompt, a.prompt)
    assert len(a.prompt) == task.length and a.prompt[0] == v.bos and a.prompt[-1] == v.answer
    assert a.answer[-1] == v.eos and len(a.answer) <= task.max_answer_len()
    assert task.score(list(a.answer), a) == 1.0
    assert task.sample(7, "test").followups == ()
    for q, ans in a.followups:  # follow-ups ask about the same context
        assert q[-1] == v.answer and ans[-1] == v.eos and len(ans) <= task.max_answer_len()
    assert a.prompt.max() < v.size


def _records(sample, v, start_tok):
    p = sample.prompt
    return [p[i : i + 4] for i in np.flatnonzero(p == start_tok)]


def test_needle_answer_follows_its_key():
    v = Vocab()
    for t in tasks(keys=["niah_single", "niah_multikey"]):
        for i in range(20):
            s = t.sample(i)
            key = s.prompt[-2]
            recs = [r for r in _records(s, v, v.rec) if r[1] == key]
            assert len(recs) == 1 and list(recs[0][2:4]) == s.content


def test_mqar_answers_values_of_asked_keys():
    v = Vocab()
    (t,) = tasks(keys=["mqar"])
    s = t.sample(3)
    table = {int(r[1]): int(r[2]) for r in _records(s, v, v.rec)}
    asked = s.prompt[-1 - t.n_queries : -1]
    assert [x for k in asked for x in (int(k), table[int(k)])] == s.content
    half = s.content[:2] + [s.content[2], -1] + s.content[4:]  # second value wrong
    assert t.score(half, s) == pytest.approx(1 - 1 / t.n_queries)


def test_vt_chain_resolves_to_queried_value():
    v = Vocab()
    (t,) = tasks(keys=["vt"])
    for i in range(10):
        s = t.sample(i)
        assign = {int(r[2]): int(r[1]) for r in _records(s, v, v.assign)}  # <set> src dst

        def resolve(x, assign=assign):
            while x in assign:
                x = assign[x]
            return x

        gold = {k for k in assign if resolve(k) == int(s.prompt[-2])}
        assert gold == set(s.content) and len(s.content) == t.n_hops + 1
        pos = {int(r[2]): i for i, r in enumerate(_records(s, v, v.assign))}
        assert [pos[x] for x in s.content] == sorted(pos[x] for x in s.content)  # chain order kept


def test_cwe_answer_is_most_frequent_words():
    v = Vocab()
    (t,) = tasks(keys=["cwe"])
    s = t.sample(1)
    words, counts = np.unique(s.prompt[(s.prompt >= v.word0) & (s.prompt < v.class0)], return_counts=True)
    top = set(words[counts == counts.max()].tolist())
    assert top == set(s.content) and counts.max() > np.sort(counts)[-t.n_common - 1]


def test_filter_answer_is_values_of_keys_in_class():
    v = Vocab()
    (t,) = tasks(keys=["filter"])
    s = t.sample(5)
    cls = int(s.prompt[-2]) - v.class0
    gold = {int(r[2]) for r in _records(s, v, v.rec) if (int(r[1]) - v.key0) % v.n_classes == cls}
    assert gold == set(s.content) and 2 <= len(gold) <= 3


def test_scorers_by_hand():
    assert exact_match([1, 2], [1, 2]) == 1.0 and exact_match([1, 2], [2, 1]) == 0.0
    assert position_accuracy([1, 9, 3], [1, 2, 3, 4]) == 0.5
    assert set_f1([1, 2, 5], [1, 2, 3, 4]) == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert set_f1([], [1]) == 0.0 and set_f1([], []) == 1.0
    assert pair_accuracy([5, 1, 6, 2], [6, 2, 5, 1, 7, 3]) == pytest.approx(2 / 3)
    assert pair_accuracy([5, 9, 5, 1], [5, 1]) == 0.0  # first statement of a key counts


def test_score_cuts_at_eos():
    (t,) = tasks(keys=["niah_single"])
    s = t.sample(0)
    assert t.score(s.content + [t.vocab.eos, 99, 99], s) == 1.0
    assert t.score(s.content[:1], s) == 0.0


def test_too_short_length_names_parameter():
    with pytest.raises(ValueError, match="length=20"):
        tasks(length=20, keys=["cwe"])[0].sample(0)


def test_weave_keeps_order_and_filler():
    rng = np.random.default_rng(0)
    filler = np.arange(100, 120)
    out, starts = weave(filler, [np.array([1, 2]), np.array([3])], rng)
    assert len(out) == 23 and list(out[starts[0] : starts[0] + 2]) == [1, 2] and out[starts[1]] == 3
    assert starts[0] < starts[1] and list(out[(out >= 100)]) == list(filler)


def test_collate_masks_answer_only_and_batches_are_seeded():
    import torch

    ts = tasks()
    s = ts[0].sample(0, "test")
    x, y, m = collate([s], pad=0)
    p = len(s.prompt)
    assert x.shape == (1, p + len(s.answer) - 1) and m.sum() == len(s.answer)
    assert list(y[0][m[0]]) == list(s.answer) and x[0, p - 1] == Vocab().answer
    multi = next(t for t in ts if t.key == "niah_multikey").sample(0)
    x, y, m = collate([multi, s], pad=0)
    answers = list(multi.answer) + [int(t) for _, a in multi.followups for t in a]
    assert len(multi.followups) == 3 and list(y[0][m[0]]) == answers
    assert x.shape[1] == len(multi.prompt) + sum(len(q) + len(a) for q, a in multi.followups) + 2
    assert m[1].sum() == len(s.answer) and x[1, -1] == 0  # the shorter row is right-padded
    fn = task_batches(ts, 4)
    a, b = fn(3, torch.Generator().manual_seed(1)), fn(3, torch.Generator().manual_seed(1))
    assert all(torch.equal(u, w) for u, w in zip(a, b))


def test_collate_sets_lists_the_members_not_yet_written():
    ts = {t.key: t for t in tasks()}
    cwe, mq = ts["cwe"].sample(2), ts["mqar"].sample(2)
    assert cwe.unordered and not mq.unordered
    x, y, m = collate([cwe, mq], pad=0)
    xs, ys, ms = collate([cwe, mq], pad=0, sets=True)
    assert np.array_equal(x, xs) and np.array_equal(m, ms) and np.array_equal(ys[..., 0], y)
    rows = ys[0][ms[0]][: len(cwe.answer)]  # cwe: answer steps of the scored question
    content = cwe.content
    for j, row in enumerate(rows):
        allowed = sorted(int(t) for t in row if t >= 0)
        want = sorted(content[j:]) if j < len(content) else [Vocab().eos]
        assert allowed == want and row[0] == (content + [Vocab().eos])[j]
    assert (ys[1][ms[1]][:, 1:] == -1).all()  # an ordered answer has no alternatives
    assert (ys[~ms][:, 1:] == -1).all()  # nor do prompt positions


def test_curriculum_steps_use_the_shortest_length_only():
    import torch

    ts = build_tasks("niah_single", 64, sources=("synthetic",)) + build_tasks("niah_single", 256, sources=("synthetic",))
    fn = task_batches(ts, 8, short_steps=10)
    early = [fn(s, torch.Generator().manual_seed(s))[0].shape[1] for s in range(10)]
    late = [fn(s, torch.Generator().manual_seed(s))[0].shape[1] for s in range(10, 30)]
    assert max(early) < 100 and max(late) > 200


def test_build_tasks_by_key_string():
    ts = build_tasks("mqar,vt", length=128, sources=("synthetic",))
    assert [t.key for t in ts] == ["mqar", "vt"]
    with pytest.raises(ValueError, match="sources"):
        Haystack(Vocab(), ("wikipedia",))
