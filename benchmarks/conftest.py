"""Benchmark configuration.

By default (and in CI) benchmarks run as a seconds-long smoke on a small slice of the shared corpus.
``pytest benchmarks --bench-full`` (or IDSEARCH_BENCH=full) runs them on the whole corpus.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IDSEARCH_SHARED", REPO.parent / "shared"))
CORPUS_FILES = ("clickid.jsonl", "indosum.jsonl", "facqa_passages.jsonl")
SMOKE_DOCS = 600


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench-full", action="store_true", help="benchmark on the whole shared corpus")
    parser.addoption("--bench-corpus", default=None, help="benchmark on this JSONL file instead")


@pytest.fixture(scope="session")
def bench_full(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--bench-full")) or os.environ.get("IDSEARCH_BENCH") == "full"


@pytest.fixture(scope="session")
def corpus_docs(request: pytest.FixtureRequest, bench_full: bool) -> list[dict]:
    """Documents to benchmark on: the shared corpus (all of it with --bench-full), or --bench-corpus."""
    custom = request.config.getoption("--bench-corpus")
    paths = [Path(custom)] if custom else [SHARED / "corpus" / name for name in CORPUS_FILES]
    missing = [p for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"needs {missing[0]} (the shared corpus beside the checkout, or --bench-corpus)")
    docs: list[dict] = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            docs.extend(json.loads(line) for line in fh if line.strip())
    if not bench_full and not custom:
        docs = docs[::max(1, len(docs) // SMOKE_DOCS)][:SMOKE_DOCS]
    return docs


@pytest.fixture(scope="session")
def docs(corpus_docs: list[dict]) -> list[dict]:
    """The benchmark documents as every system gets them (dates normalized by ``idsearch.ingest``)."""
    from _peers import normalize_docs

    return normalize_docs(corpus_docs)
