"""Stemming throughput: idsearch's SastrawiStemmer against PySastrawi on the corpus vocabulary.

Each distinct word is stemmed once per round (no cache on either side), so the figure is distinct
words per second on one core. PySastrawi is timed in the same run, on the same words, and the
ratio is printed and recorded in ``benchmark.extra_info``.
"""

from __future__ import annotations

import re
import time

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from idsearch.stemmer import ReferenceStemmer, SastrawiStemmer

TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SMOKE_WORDS = 3000


@pytest.fixture(scope="module")
def vocabulary(corpus_docs: list[dict], bench_full: bool) -> list[str]:
    """Distinct lowercase words of the documents' title and body (an even slice of them in smoke mode)."""
    words: set[str] = set()
    for doc in corpus_docs:
        words.update(TOKEN.findall(f"{doc.get('title') or ''} {doc.get('body') or ''}".lower()))
    vocab = sorted(words)
    if not bench_full:
        vocab = vocab[:: max(1, len(vocab) // SMOKE_WORDS)][:SMOKE_WORDS]
    return vocab


def test_stem_distinct_words(
    benchmark: BenchmarkFixture, vocabulary: list[str], bench_full: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = SastrawiStemmer()
    reference = ReferenceStemmer()
    stem = ours.stem

    # PySastrawi: best of a few passes (one on the whole vocabulary, where a pass takes many seconds).
    ref_best = float("inf")
    expected: list[str] = []
    for _ in range(1 if bench_full else 3):
        start = time.perf_counter()
        expected = [reference.stem(word) for word in vocabulary]
        ref_best = min(ref_best, time.perf_counter() - start)

    result = benchmark.pedantic(
        lambda: [stem(word) for word in vocabulary], rounds=5, iterations=1, warmup_rounds=1
    )
    assert result == expected  # same stems, word for word

    ours_best = benchmark.stats.stats.min
    n = len(vocabulary)
    info = {
        "words": n,
        "ours_words_per_s": round(n / ours_best),
        "pysastrawi_words_per_s": round(n / ref_best),
        "ratio": round(ref_best / ours_best, 1),
    }
    benchmark.extra_info.update(info)
    with capsys.disabled():
        print(
            f"\nstemming {n} distinct words: ours {info['ours_words_per_s']:,} words/s, "
            f"PySastrawi {info['pysastrawi_words_per_s']:,} words/s, ratio {info['ratio']}x"
        )
