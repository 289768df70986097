"""The scoring core's selection of the best scores: exact, ties by index, fast on many equal values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from idsearch.scoring import top_k


def _reference(scores: np.ndarray, k: int) -> np.ndarray:
    """Sort everything: best first, ties by lower index."""
    return np.lexsort((np.arange(len(scores)), -scores))[: max(k, 0)]


def _scores(kind: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == 0:
        return rng.random(n)
    if kind == 1:  # few distinct values: ties everywhere
        return rng.integers(0, 5, n).astype(np.float64)
    if kind == 2:  # most documents match nothing
        return rng.gamma(2.0, 1.0, n) * (rng.random(n) < 0.01)
    if kind == 3:  # filtered out
        return np.where(rng.random(n) < 0.5, -np.inf, rng.random(n))
    return np.zeros(n)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.integers(0, 4),
    n=st.one_of(st.integers(0, 200), st.integers(200, 40_000)),
    k=st.integers(-1, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_top_k_equals_a_full_sort(kind: int, n: int, k: int, seed: int):
    scores = _scores(kind, n, np.random.default_rng(seed))
    assert np.array_equal(top_k(scores, k), _reference(scores, k))


def test_top_k_keeps_the_first_of_many_equal_scores():
    scores = np.zeros(30_000)
    scores[[5, 17_000, 29_999]] = [1.0, 3.0, 2.0]
    assert top_k(scores, 6).tolist() == [17_000, 29_999, 5, 0, 1, 2]
