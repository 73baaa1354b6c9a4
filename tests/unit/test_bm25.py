"""Lucene-like analysis and BM25 impacts: hand-computed values and the encoder contract."""
import math

import numpy as np
import pytest

from sparselab.encoders import bm25 as _bm25  # noqa: F401  (registers "bm25")
from sparselab.encoders.analysis import ENGLISH_STOP_WORDS, Analyzer, tokenize
from sparselab.encoders.base import ENCODERS
from sparselab.encoders.bm25 import BM25Encoder, lucene_doc_lengths
from sparselab.indexes.inverted import InvertedIndex


def test_stopwords_are_lucenes_33():
    assert len(ENGLISH_STOP_WORDS) == 33
    assert {"a", "the", "with", "will", "such", "into"} <= ENGLISH_STOP_WORDS
    assert "he" not in ENGLISH_STOP_WORDS and "from" not in ENGLISH_STOP_WORDS


@pytest.mark.parametrize(
    "text,tokens",
    [
        ("John's dog", ["john", "dog"]),
        ("U.S.A. 3.14 1,000", ["u.s.a", "3.14", "1,000"]),
        ("x-ray COVID-19 p53", ["x", "ray", "covid", "19", "p53"]),
        ("don't stop", ["don't", "stop"]),
        ("end. Next,word", ["end", "next", "word"]),
        ("café ___ naïve", ["café", "naïve"]),
        ("", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_analyze_stems_and_drops_stopwords():
    a = Analyzer()
    assert a.analyze("The running dogs of the Generalizations") == ["run", "dog", "gener"]
    # Lucene PorterStemmer departures from the published algorithm
    assert a.analyze("archaeology possibly") == ["archaeolog", "possibl"]
    assert Analyzer(lucene_departures=False).analyze("archaeology possibly") == ["archaeologi", "possibli"]
    assert a.analyze_batch(["dogs", "", "a the"]) == [["dog"], [], []]


def test_bad_stemmer_raises():
    with pytest.raises(ValueError, match="stemmer"):
        Analyzer(stemmer="klingon")


def test_lucene_doc_lengths():
    # below 24 exact; above, SmallFloat.intToByte4 keeps 4 significant bits of (dl - 24)
    assert lucene_doc_lengths(np.array([0, 5, 23, 24, 40, 100, 1000])).tolist() == [0, 5, 23, 24, 40, 96, 984]


def test_bm25_impacts_hand_computed():
    docs = ["cat cat dog", "dog bird", "fish"]
    enc = BM25Encoder(k1=1.2, b=0.75, stemmer=None, lucene_norms=False)
    d = enc.encode_docs(docs).toarray()
    n, avgdl = 3, 6 / 3

    def w(tf, df, dl):
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))

    cat, dog = enc.vocab["cat"], enc.vocab["dog"]
    assert d.dtype == np.float32 and d.shape == (3, 4)
    assert d[0, cat] == pytest.approx(w(2, 1, 3), rel=1e-6)
    assert d[1, dog] == pytest.approx(w(1, 2, 2), rel=1e-6)
    assert d[2, dog] == 0
    # repeated query terms count (Anserini bag of words); unknown terms are dropped
    q = enc.encode_queries(["dog dog zebra", "zebra"]).toarray()
    assert q[0, dog] == 2 and q[0].sum() == 2 and q[1].sum() == 0


def test_bm25_search_end_to_end():
    docs = ["cats and dogs", "the dog barks", "fish swim", "a cat sleeps on a cat mat"]
    enc = ENCODERS.get("bm25")()
    index = InvertedIndex.from_csr(enc.encode_docs(docs))
    s, i = index.search(enc.encode_queries(["cat"]), k=3)
    assert i[0].tolist() == [3, 0, -1]
    assert s[0, 0] > s[0, 1] > 0


def test_encode_queries_before_docs_raises():
    with pytest.raises(RuntimeError, match="encode_docs"):
        BM25Encoder().encode_queries(["x"])


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="b must"):
        BM25Encoder(b=1.5)
    with pytest.raises(ValueError, match="k1"):
        BM25Encoder(k1=-1)


def test_long_tokens_split_like_lucene():
    enc = BM25Encoder(stemmer=None)
    enc.encode_docs(["x" * 300 + " y"])
    assert set(enc.vocab) == {"x" * 255, "x" * 45, "y"}


def test_self_hit_policy_is_the_search_layers_for_every_encoder():
    from types import SimpleNamespace

    from sparselab.retrieval.search import drops_self_hits

    beir, smart = SimpleNamespace(meta={"format": "beir"}), SimpleNamespace(meta={"format": "cranfield"})
    assert drops_self_hits(beir) and not drops_self_hits(smart)
    assert not drops_self_hits(beir, keep_self_hits=True)
    assert "remove_query" not in BM25Encoder().settings()
