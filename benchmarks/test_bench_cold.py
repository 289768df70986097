"""Cold end-to-end builds in one run: Whoosh with a PySastrawi analyzer (what a Whoosh user would write:
every distinct word stemmed by PySastrawi during the build) against idsearch cold on every core.

The ratio is recorded in ``extra_info`` and printed; nothing is asserted about time."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

RESULTS: dict[str, float] = {}



def _whoosh_pysastrawi(docs: list[dict[str, Any]], path: Path) -> int:
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.index import create_in

    from idsearch.stemmer import ReferenceStemmer
    from idsearch.whoosh import IndonesianAnalyzer

    analyzer = IndonesianAnalyzer(sastrawi=ReferenceStemmer())  # PySastrawi's own stemmer, nothing cached
    schema = Schema(id=ID(stored=True, unique=True), title=TEXT(analyzer=analyzer, stored=True),
                    body=TEXT(analyzer=analyzer, stored=True), date=ID(stored=True), source=ID(stored=True))
    path.mkdir(parents=True)
    ix = create_in(str(path), schema)
    writer = ix.writer(procs=1, limitmb=256)
    for doc in docs:
        writer.add_document(**{k: v for k, v in doc.items() if k in ("id", "title", "body", "date", "source")})
    writer.commit()
    with ix.searcher() as s:
        return s.doc_count()


def _idsearch_cold(docs: list[dict[str, Any]], path: Path) -> int:
    from idsearch import Index

    ix = Index.create(path)  # a fresh analyzer: every distinct word stemmed during the build
    with ix.writer(workers=os.cpu_count() or 1) as w:
        for doc in docs:
            w.add(doc)
    return len(ix)


@pytest.mark.parametrize("system", ["whoosh+pysastrawi cold", "idsearch cold, all cores"])
def test_cold_build(benchmark: Any, system: str, docs: list[dict[str, Any]], tmp_path: Path) -> None:
    build = _whoosh_pysastrawi if system.startswith("whoosh") else _idsearch_cold
    rounds = iter(range(10))

    def run() -> int:
        return build(docs, tmp_path / f"round{next(rounds)}")

    start = time.perf_counter()
    count = benchmark.pedantic(run, rounds=1, iterations=1)
    RESULTS[system] = time.perf_counter() - start
    assert count == len(docs)
    benchmark.extra_info["documents"] = count
    if len(RESULTS) == 2:
        ratio = RESULTS["whoosh+pysastrawi cold"] / RESULTS["idsearch cold, all cores"]
        benchmark.extra_info["whoosh_over_idsearch"] = round(ratio, 2)
        print(f"\ncold build: Whoosh+PySastrawi {RESULTS['whoosh+pysastrawi cold']:.2f} s, "
              f"idsearch {RESULTS['idsearch cold, all cores']:.2f} s: {ratio:.1f}x")
