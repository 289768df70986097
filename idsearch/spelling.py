"""Spelling suggestions for query words that no document has ("did you mean"): the index's own words
within a small edit distance, the closest first, then the most frequent.

The candidates of a word are the index's words with the same first letter (what spelling mistakes
rarely change) and a length within the distance: the terms of the searched fields and their exact
forms (the words as written, where stemming changed them), with how many documents have each. Their
distances (insertions, deletions, substitutions and swaps of two adjacent letters, each counting one)
are computed for all of them at once, in numpy, a row of the dynamic programme at a time.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence

import numpy as np

from idsearch.analysis import Analyzer
from idsearch.reader import IndexReader
from idsearch.schema import exact_field

__all__ = ["edit_distances", "suggest_query", "suggest_word"]


def edit_distances(word: str, candidates: Sequence[str], limit: int | None = None) -> np.ndarray:
    """The edit distance (optimal string alignment: adjacent swaps count one) from ``word`` to every
    candidate, as an int array; with ``limit``, a distance above it is reported as ``limit + 1`` (only the
    cells within ``limit`` of the diagonal are computed then)."""
    n = len(candidates)
    if not n:
        return np.zeros(0, dtype=np.int64)
    lengths = np.fromiter(map(len, candidates), dtype=np.int64, count=n)
    width = int(lengths.max())
    codes = np.full((n, width + 1), -1, dtype=np.int64)  # (a column of padding: no letter matches it)
    flat = np.frombuffer("".join(candidates).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    row = np.repeat(np.arange(n), lengths)
    column = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    codes[row, column] = flat
    letters = [ord(ch) for ch in word]
    band = width + len(letters) if limit is None else limit
    cap = width + len(letters) + 1 if limit is None else limit + 1  # (what a cell outside the band holds)
    before = np.minimum(np.broadcast_to(np.arange(width + 1), (n, width + 1)), cap)  # an empty prefix of word
    earlier = None
    for i, letter in enumerate(letters, start=1):
        current = np.full((n, width + 1), cap, dtype=np.int64)
        if i <= band:
            current[:, 0] = i
        differs = codes != letter
        for j in range(max(1, i - band), min(width, i + band) + 1):
            best = np.minimum(before[:, j] + 1, before[:, j - 1] + differs[:, j - 1])
            np.minimum(best, current[:, j - 1] + 1, out=best)
            if earlier is not None and j > 1:  # a swap of the two letters before
                swapped = (codes[:, j - 2] == letter) & (codes[:, j - 1] == letters[i - 2])
                best = np.where(swapped, np.minimum(best, earlier[:, j - 2] + 1), best)
            current[:, j] = np.minimum(best, cap)
        earlier, before = before, current
    return np.asarray(before[np.arange(n), lengths])


def _allowed(word: str) -> int:
    """The edits a suggestion may be away: one for words of up to four letters, two for longer ones."""
    return 1 if len(word) <= 4 else 2


# per snapshot, per (fields, first letter): its words, their lengths and documents (built on first use;
# a snapshot's words never change, and a query's misspelt words mostly start with a few common letters)
_VOCABULARY: weakref.WeakKeyDictionary[IndexReader, dict[tuple[tuple[str, ...], str], tuple[list[str], np.ndarray, np.ndarray]]]
_VOCABULARY = weakref.WeakKeyDictionary()
_VOCABULARY_LOCK = threading.Lock()


def _words_from(reader: IndexReader, fields: Sequence[str], first: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The index's words (terms and exact forms of ``fields``) that begin with ``first``, their lengths,
    and the most documents any one field has each in."""
    key = (tuple(fields), first)
    with _VOCABULARY_LOCK:
        cached = _VOCABULARY.setdefault(reader, {}).get(key)
    if cached is not None:
        return cached
    found = reader.words_beginning([name for f in fields for name in (f, exact_field(f))], first)
    words = list(found)
    value = (words, np.fromiter(map(len, words), dtype=np.int64, count=len(words)),
             np.fromiter(found.values(), dtype=np.int64, count=len(words)))
    with _VOCABULARY_LOCK:
        _VOCABULARY.setdefault(reader, {})[key] = value
    return value


def suggest_word(reader: IndexReader, fields: Sequence[str], word: str, *, limit: int = 5) -> list[tuple[str, int]]:
    """Up to ``limit`` index words close to a normalized ``word`` (not ``word`` itself), as ``(word,
    documents)``: the fewest edits first, then the most documents, then in order."""
    if not word:
        return []
    words, lengths, documents = _words_from(reader, fields, word[0])
    allowed = _allowed(word)
    near = [i for i in np.flatnonzero(np.abs(lengths - len(word)) <= allowed).tolist() if words[i] != word]
    if not near:
        return []
    candidates = [words[i] for i in near]
    distances = edit_distances(word, candidates, allowed).tolist()
    close = sorted((d, -n, c) for c, d, n in zip(candidates, distances, documents[near].tolist()) if d <= allowed)
    return [(c, -minus_n) for _d, minus_n, c in close[:limit]]


_OPERATORS = frozenset({"AND", "OR", "NOT"})


def suggest_query(
    reader: IndexReader, analyzer: Analyzer, fields: Sequence[str], text: str, filter_fields: Sequence[str] = ()
) -> str | None:
    """``text`` with every word that no document has (in ``fields``) replaced by the closest index word,
    the rest of it (case, punctuation, operators, field names, the values of ``filter_fields:value``)
    as typed; None when no word needs it or none is close."""
    kept = []  # character ranges left as typed: filters (source:detik.com, date:2024-12)
    if filter_fields:
        names = "|".join(re.escape(f) for f in filter_fields)
        kept = [m.span() for m in re.finditer(rf'(?<![\w.])(?:{names}):(?:"[^"]*"?|\S*)', text)]
    changed = False
    pieces = []
    at = 0
    for token in analyzer.tokens(text):
        words = analyzer.words(token.text)
        if len(words) != 1 or not words[0].isalpha():
            continue  # (a number, or a part of a compound: left as typed)
        if token.text in _OPERATORS or text.startswith((":", "*"), token.end) or any(a <= token.start < b for a, b in kept):
            continue
        if any(reader.document_frequency(f, token.term) for f in fields):
            continue
        best = suggest_word(reader, fields, words[0], limit=1)
        if not best:
            continue
        pieces.append(text[at : token.start])
        pieces.append(best[0][0])
        at = token.end
        changed = True
    if not changed:
        return None
    pieces.append(text[at:])
    return "".join(pieces)
