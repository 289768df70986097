"""BM25F over plain arrays.

For a term (or phrase) ``t`` and document ``d`` with fields ``f``::

    tf~(t, d) = sum_f  w_f * tf_f(t, d) / (1 - b_f + b_f * len_f(d) / avglen_f)
    score     = boost * idf(t) * (k1 + 1) * (tf~ / (k1 + tf~) + delta)      (0 when tf~ = 0)
    idf(t)    = ln(1 + (N - df + 0.5) / (df + 0.5))

``delta`` (BM25+, Lv & Zhai 2011) is a lower bound for a term a document contains: without it a long
document that mentions a word once scores almost as if it lacked the word. With ``N`` the live documents of the whole index and ``df`` the live documents that contain ``t`` in any
searched field. Statistics are over live documents only, so merging segments or purging deletes never
changes a score.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bm25_idf", "field_inverse_norms", "saturate", "saturated_sum", "top_k"]


def bm25_idf(n_docs: int, df: int) -> float:
    return math.log1p((n_docs - df + 0.5) / (df + 0.5))  # (as the flat path: np.log1p)


def field_inverse_norms(lengths: np.ndarray, avglen: float, b: float, weight: float) -> np.ndarray:
    """``w / (1 - b + b * len / avglen)`` for every document of a segment (float64)."""
    if avglen <= 0:
        return np.full(len(lengths), weight, dtype=np.float64)
    denominator = 1.0 - b + b * (np.asarray(lengths, dtype=np.float64) / avglen)
    # with b = 1 an empty field has denominator 0; it has no terms, so its norm is never used
    return np.divide(weight, denominator, out=np.zeros_like(denominator), where=denominator > 0)


def saturate(
    tf_tilde: np.ndarray, k1: float, idf: float | np.ndarray, boost: float | np.ndarray, delta: float = 0.0
) -> np.ndarray:
    """BM25 weight of a term for documents that contain it (``tf_tilde`` > 0); ``idf`` and ``boost`` may
    be given per posting. One new array, computed in place (a term's postings may be many)."""
    weight = tf_tilde + k1
    np.divide(tf_tilde, weight, out=weight)
    weight += delta
    weight *= k1 + 1.0
    weight *= boost * idf  # (apart: the flat path multiplies cached weights by boost x idf, to the same bits)
    return weight


def saturated_sum(weights: np.ndarray, counts: np.ndarray, strength: float) -> np.ndarray:
    """A bonus per match from evidence that saturates: ``strength * sum_i weights[i] * c / (c + 1)`` with
    ``c = counts[i]`` (items x matches), such as the (field-weighted) times a pair of query words stands
    side by side, or the fields that have a query word among their first words (news put the main facts
    first)."""
    total = np.zeros(counts.shape[1])
    for row in weights[:, None] * counts / (counts + 1.0):  # summed item after item (as the compiled
        total += row  # kernel does: no pairwise summation, whatever the shape)
    return strength * total


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first, ties by lower index; partial selection, no full sort.

    A lower bound of the ``k``-th best comes first, from a strided sample when there are many scores (the
    ``k``-th best of any subset can only be lower); the scores above it are few and all that is selected
    from, and when fewer than ``k`` are above it the rest are the first ones equal to it. numpy's
    partition, which slows down badly on many equal values (the zeros of documents that match nothing),
    only ever sees the scores above the bound."""
    n = len(scores)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        candidates = np.arange(n)
    else:
        sample = np.sort(scores[:: max(1, n // (16 * k))])
        bound = sample[len(sample) - k]
        candidates = np.flatnonzero(scores > bound)
        if len(candidates) < k:  # the k-th best is the bound itself: the first ties fill up
            ties = np.flatnonzero(scores == bound)[: k - len(candidates)]
            candidates = np.sort(np.concatenate((candidates, ties)))
        elif len(candidates) > 4 * k:
            part = scores[candidates]
            kth = np.partition(part, len(part) - k)[len(part) - k]
            candidates = candidates[part >= kth]  # every score tied with the k-th: ties go by index below
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:k]]
