"""Edit distances between one word and many, in numpy: what fuzzy query words (``presidn~``) and "did you
mean" suggestions compare an index's words by.

The distance is the optimal string alignment one: insertions, deletions, substitutions and swaps of two
adjacent letters each count one. All candidates are computed at once, a row of the dynamic programme at a
time; with a limit, only the cells within the limit of the diagonal are.

:func:`letter_counts` gives a cheap lower bound first: an edit changes a word's letter counts by two at
most (a substitution takes one letter out and puts one in; an insertion or a deletion changes one count;
a swap none), so two words whose counts differ by more than twice the limit are further apart than it.
Counting letters in buckets (their code points modulo ``LETTER_BUCKETS``) keeps the bound: two letters in
one bucket can only make the counts closer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["LETTER_BUCKETS", "edit_distances", "letter_counts"]

LETTER_BUCKETS = 32  # letters counted by their code point modulo this (a, b, c... each in a bucket of its own)


def edit_distances(word: str, candidates: Sequence[str], limit: int | None = None) -> np.ndarray:
    """The edit distance (optimal string alignment: adjacent swaps count one) from ``word`` to every
    candidate, as an int array; with ``limit``, a distance above it is reported as ``limit + 1`` (only the
    cells within ``limit`` of the diagonal are computed then)."""
    n = len(candidates)
    if not n:
        return np.zeros(0, dtype=np.int64)
    lengths, flat = _code_points(candidates)
    width = int(lengths.max())
    codes = np.full((n, width + 1), -1, dtype=np.int64)  # (a column of padding: no letter matches it)
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


def letter_counts(words: Sequence[str]) -> np.ndarray:
    """Each word's letters counted per bucket (code point modulo ``LETTER_BUCKETS``), as an ``(n,
    LETTER_BUCKETS)`` uint8 array (a count above 255 is 255: the bound above still holds)."""
    n = len(words)
    lengths, flat = _code_points(words)
    cells = np.repeat(np.arange(n, dtype=np.int64), lengths) * LETTER_BUCKETS + flat % LETTER_BUCKETS
    counts = np.bincount(cells, minlength=n * LETTER_BUCKETS).reshape(n, LETTER_BUCKETS)
    return np.minimum(counts, 255).astype(np.uint8)


def _code_points(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each word's length, and every word's code points one after another (int64)."""
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return lengths, np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
