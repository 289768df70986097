"""Tests for idsearch.spelling: edit distances against a plain reference, and "did you mean" suggestions
(closest first, then the most frequent; only words that no document has; syntax left as typed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _support import build
from hypothesis import given, settings
from hypothesis import strategies as st

from idsearch import Index
from idsearch.distance import edit_distances, letter_counts
from idsearch.spelling import suggest_word


def reference_distance(a: str, b: str) -> int:
    """Optimal string alignment distance, the textbook table."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


WORDS = st.text(alphabet="abcdé\u4e2d", min_size=1, max_size=9)


@settings(max_examples=300, deadline=None)
@given(WORDS, st.lists(WORDS, min_size=1, max_size=12))
def test_edit_distances_equal_the_reference(word: str, candidates: list[str]):
    exact = [reference_distance(word, c) for c in candidates]
    assert edit_distances(word, candidates).tolist() == exact
    for limit in (0, 1, 2):  # the banded computation: exact up to the limit, limit + 1 beyond it
        assert edit_distances(word, candidates, limit).tolist() == [min(d, limit + 1) for d in exact]


@settings(max_examples=300, deadline=None)
@given(WORDS, st.lists(WORDS, min_size=1, max_size=12))
def test_letter_counts_bound_the_distance(word: str, candidates: list[str]):
    """Counts that differ by more than twice a limit mean a distance above it: no word within a limit is
    ever left out by the counts (what fuzzy words and suggestions filter by first)."""
    counts = letter_counts(candidates).astype(np.int64)
    differ = np.abs(counts - letter_counts([word])[0]).sum(axis=1).tolist()
    for candidate, d in zip(candidates, differ):
        assert d <= 2 * reference_distance(word, candidate), (word, candidate)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abAB", min_size=1, max_size=9), st.lists(st.text(alphabet="abAB", min_size=1, max_size=9), min_size=1))
def test_letter_counts_bound_the_distance_when_letters_share_a_bucket(word: str, candidates: list[str]):
    """A and a (and B and b) are 32 apart: they share a bucket, which only brings counts closer."""
    differ = np.abs(letter_counts(candidates).astype(np.int64) - letter_counts([word])[0]).sum(axis=1).tolist()
    assert all(d <= 2 * reference_distance(word, c) for c, d in zip(candidates, differ))
    assert letter_counts(["aAb"])[0].tolist()[1:3] == [2, 1]


def test_edit_distance_examples():
    assert edit_distances("jakrata", ["jakarta", "jakarata", "jkt", "jakrata"]).tolist() == [1, 1, 4, 0]
    assert edit_distances("kpk", []).tolist() == []


DOCS = [
    *({"id": f"p{i}", "title": "Presiden bertemu warga Jakarta"} for i in range(5)),
    {"id": "typo1", "title": "Presidem ke Jakarta"},  # a typo in the index itself: rare
    {"id": "typo2", "title": "Presien di Bogor"},
    {"id": "pres", "title": "Preside sidang"},
    {"id": "kpk", "title": "KPK periksa saksi"},
    {"id": "banjir", "title": "Banjir dan banjar"},
    {"id": "banjar", "title": "Kota Banjar"},
    *({"id": f"bandar{i}", "title": "Bandar udara"} for i in range(3)),
]


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory) -> Index:
    return build(tmp_path_factory.mktemp("spell") / "s.idx", DOCS, batches=2)  # two segments: counts add up


def test_suggestions_are_the_closest_then_the_most_frequent(ix: Index):
    reader = ix.reader()
    try:
        fields = ("title", "body")
        # one edit: presiden (5 documents), preside, presien; two: presidem
        assert suggest_word(reader, fields, "presidn") == [("presiden", 5), ("preside", 1), ("presien", 1),
                                                           ("presidem", 1)]
        assert suggest_word(reader, fields, "presiden") == [("preside", 1), ("presidem", 1), ("presien", 1)]
        assert suggest_word(reader, fields, "jakrata", limit=1) == [("jakarta", 6)]  # two letters swapped
        # one edit (the most documents first), then two, whatever their documents
        assert suggest_word(reader, fields, "banjr") == [("banjar", 2), ("banjir", 1), ("bandar", 3)]
        assert suggest_word(reader, fields, "kpj") == [("kpk", 1)]
        assert suggest_word(reader, fields, "kpjj") == []  # four letters: one edit at most
        assert suggest_word(reader, fields, "residen") == []  # the first letter is kept
        assert suggest_word(reader, fields, "") == []
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [
        ("Presidn ke Jakrata?", "presiden ke jakarta?"),
        ("presiden jakarta", None),  # every word is known
        ("qwxyz", None),  # nothing close
        ('title:"presidn bertemu" AND NOT jakrta', 'title:"presiden bertemu" AND NOT jakarta'),
        ("presidn source:detikk.com date:2024-12", "presiden source:detikk.com date:2024-12"),
        ('presidn category:"olah raga"', 'presiden category:"olah raga"'),
        ("covid-19 presidn 2024", "covid-19 presiden 2024"),
    ],
)
def test_suggested_queries_change_only_unknown_words(ix: Index, query: str, suggestion: str | None):
    assert ix.suggest(query) == suggestion


def test_the_command_line_offers_a_suggestion_when_nothing_matches(tmp_path: Path, ix: Index):
    import io

    from idsearch.cli import main

    out = io.StringIO()
    assert main(["--index", str(ix.path), "query", "presidn", "jakrata", "--color", "never"], out=out) == 1
    assert out.getvalue().splitlines()[-1] == "did you mean: presiden jakarta"
    out = io.StringIO()
    assert main(["--index", str(ix.path), "query", "presidn", "--json"], out=out) == 1
    assert out.getvalue() == ""  # JSON lines stay JSON
    out = io.StringIO()
    assert main(["--index", str(ix.path), "query", "presiden", "--color", "never"], out=out) == 0
    assert "did you mean" not in out.getvalue()
    out = io.StringIO()  # every word is known, but no document has them all
    assert main(["--index", str(ix.path), "query", "kpk", "bandar", "--color", "never"], out=out) == 1
    assert out.getvalue().splitlines()[-1] == "no document has every word; --or finds 4 documents"
