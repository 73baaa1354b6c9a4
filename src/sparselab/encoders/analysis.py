"""Text analysis equivalent to Lucene's English analyzer (what Pyserini's BM25 indexes use).

Pipeline: Unicode word tokenization (a regex approximating Lucene's UAX#29 StandardTokenizer),
lowercase, English possessive removal (trailing 's), Lucene's 33 English stopwords, Porter
stemming with PyStemmer's `porter` algorithm (Martin Porter's original; Lucene's
`PorterStemFilter` is the same algorithm plus two "departures", 'logi'->'log' and 'bli'->'ble',
which `lucene_departures=True` applies on top).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Lucene EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (org.apache.lucene.analysis.en), all 33.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
     "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
     "these", "they", "this", "to", "was", "will", "with"]
)

_LETTER = r"[^\W\d_]"
# UAX#29 word boundaries, approximated: runs of letters/digits/underscore, kept together across
# MidLetter/MidNumLet/apostrophe between two letters (WB6/7: "don't", "u.s.a") and across
# MidNum/MidNumLet/apostrophe between two digits (WB11/12: "3.14", "1,000").
_TOKEN_RE = re.compile(
    r"\w+(?:(?:(?<=" + _LETTER + r")[:\u00b7\u0387\u2027\ufe13\ufe55\uff1a'.\u2018\u2019\u2024\ufe52\uff07\uff0e]"
    r"(?=" + _LETTER + r")|(?<=\d)[,;\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14\ufe50\ufe54"
    r"\uff0c\uff1b'.\u2018\u2019\u2024\ufe52\uff07\uff0e](?=\d))\w+)*"
)
_MID_LETTER = "':.\u00b7\u0387\u2027\ufe13\ufe55\uff1a\u2018\u2019\u2024\ufe52\uff07\uff0e"
# Lucene's EnglishPossessiveFilter drops a token-final 's ('/U+2019/U+FF07). Deleting it from the
# lowercased text before tokenizing is equivalent: the apostrophe joins a token only after a
# letter, and the 's ends the token only if no word character or letter-joiner + letter follows.
_POSSESSIVE_RE = re.compile(  # apostrophe first: the regex engine then skips to candidates
    "['\u2019\uff07](?<=" + _LETTER + "['\u2019\uff07])s(?!\\w)(?![" + _MID_LETTER + "]" + _LETTER + ")"
)
MAX_TOKEN_LEN = 255  # Lucene StandardTokenizer's default maxTokenLength
_VOWELS = frozenset("aeiou")
_BLI_SUFFIXES = ("bly", "blies", "blied")


def tokenize(text: str) -> list[str]:
    """Lucene-StandardTokenizer-like word tokens of `text`, lowercased, possessives removed.

    Tokens made only of underscores are dropped (StandardTokenizer emits no token for them);
    tokens longer than 255 characters are split like StandardTokenizer's maxTokenLength.
    """
    toks = raw_tokens(text)
    if toks and max(map(len, toks)) > MAX_TOKEN_LEN:
        toks = split_long_tokens(toks)
    return toks


def raw_tokens(text: str) -> list[str]:
    """`tokenize` without the (rarely needed) split of tokens longer than MAX_TOKEN_LEN."""
    text = text.lower()
    if "'" in text or "\u2019" in text or "\uff07" in text:
        text = _POSSESSIVE_RE.sub("", text)
    toks = _TOKEN_RE.findall(text)
    if "_" in text:
        toks = [t for t in toks if t.strip("_")]
    return toks


def split_long_tokens(toks: list[str]) -> list[str]:
    """Split tokens longer than MAX_TOKEN_LEN into MAX_TOKEN_LEN-character pieces."""
    return [t[i : i + MAX_TOKEN_LEN] for t in toks for i in range(0, len(t), MAX_TOKEN_LEN)]


def _measure(stem: str) -> int:
    """Porter's m: number of vowel-consonant sequences in `stem` ('y' after a consonant is a vowel)."""
    m, prev_vowel = 0, False
    for i, ch in enumerate(stem):
        vowel = ch in _VOWELS or (ch == "y" and i > 0 and not _is_vowel_at(stem, i - 1))
        if prev_vowel and not vowel:
            m += 1
        prev_vowel = vowel
    return m


def _is_vowel_at(word: str, i: int) -> bool:
    ch = word[i]
    if ch in _VOWELS:
        return True
    return ch == "y" and i > 0 and not _is_vowel_at(word, i - 1)


class Analyzer:
    """Lucene-English-analyzer-equivalent analysis with a per-instance stem cache.

    stemmer: PyStemmer algorithm name (`porter` by default, `english` = Porter2) or None.
    stopwords: terms removed after lowercasing (default: Lucene's 33 English stopwords).
    lucene_departures: apply Lucene PorterStemmer's 'logi'->'log' and 'bli'->'ble' rules on
        top of PyStemmer's `porter` (ignored for other stemmers).
    """

    def __init__(
        self,
        stemmer: str | None = "porter",
        stopwords: Iterable[str] | None = None,
        lucene_departures: bool = True,
    ):
        import Stemmer  # PyStemmer

        if stemmer is not None and stemmer not in Stemmer.algorithms():
            raise ValueError(f"stemmer={stemmer!r} is not a PyStemmer algorithm; known: {Stemmer.algorithms()}")
        self.stemmer_name = stemmer
        self.stopwords = ENGLISH_STOP_WORDS if stopwords is None else frozenset(stopwords)
        self.lucene_departures = bool(lucene_departures) and stemmer == "porter"
        self._stemmer = Stemmer.Stemmer(stemmer) if stemmer is not None else None
        self._cache: dict[str, str] = {}

    def settings(self) -> dict:
        """Settings that change the terms produced (for cache keys)."""
        return {
            "tokenizer": "lucene_standard_regex_v1",
            "stemmer": self.stemmer_name,
            "lucene_departures": self.lucene_departures,
            "stopwords": sorted(self.stopwords),
        }

    def analyze(self, text: str) -> list[str]:
        """Terms of one text (tokenized, lowercased, possessives and stopwords removed, stemmed)."""
        return self.analyze_batch([text])[0]

    def analyze_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Terms of many texts; unseen tokens are stemmed in one PyStemmer call."""
        toks = [tokenize(x) for x in texts]
        terms = dict(zip(*self.terms_of(list(dict.fromkeys(t for doc in toks for t in doc)))))
        return [[terms[t] for t in doc if terms[t] is not None] for doc in toks]

    def terms_of(self, tokens: list[str]) -> tuple[list[str], list[str | None]]:
        """Term (stem) of each distinct token, None for a stopword; returns (tokens, terms).

        Stems are cached per analyzer; uncached tokens are stemmed in one PyStemmer call.
        """
        stop, cache = self.stopwords, self._cache
        if self._stemmer is None:
            return tokens, [None if t in stop else t for t in tokens]
        new = [t for t in tokens if t not in cache and t not in stop]
        if new:
            cache.update(zip(new, self._stem_words(new)))
        return tokens, [None if t in stop else cache[t] for t in tokens]

    def _stem_words(self, words: list[str]) -> list[str]:
        stems = self._stemmer.stemWords(words)
        if not self.lucene_departures:
            return stems
        return [
            _lucene_departures(w, s, self._stemmer)
            if s.endswith("logi") or w.endswith(_BLI_SUFFIXES)
            else s
            for w, s in zip(words, stems)
        ]


def _lucene_departures(word: str, stem: str, stemmer) -> str:
    """Lucene PorterStemmer's deviations from the published algorithm, given the published stem.

    'logi' -> 'log' (step 2): a stem ending 'logi' whose prefix has m > 0 loses its final 'i'.
    'bli' -> 'ble' (step 2, instead of 'abli' -> 'able'): a word whose step-1 form ends in a
    non-'a' + 'bli' (from '-bly', '-blies', '-blied') is stemmed as if it ended in '-ble'.
    """
    if stem.endswith("logi") and _measure(stem[:-4]) > 0:
        return stem[:-1]
    for suffix in _BLI_SUFFIXES:
        if word.endswith(suffix):
            prefix = word[: -len(suffix)]
            # step 1 turns the suffix into 'bli' only if the stem before 'i' keeps a vowel
            if prefix and not prefix.endswith("a") and _measure(prefix) > 0:
                return stemmer.stemWord(prefix + "ble")
            break
    return stem
