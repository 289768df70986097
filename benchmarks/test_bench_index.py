"""Index build time: idsearch (cold and cached analyzer, one worker and all cores) against Whoosh, bm25s and
tantivy given the same Indonesian analysis (see ``_peers.py`` for the fairness rules).

Each build is timed in this process by pytest-benchmark (the figure is the fastest round), then repeated
once in a fresh process to measure memory (``ru_maxrss``) and the index size on disk. docs/s and MB/s (UTF-8
MB of title + body) and the ratio to idsearch w=1 (cached) measured in the same run go to
``benchmark.extra_info`` and to the summary table printed at the end of the session.

``--bench-full`` adds the scaling runs: idsearch at 10 k, 28 k (the corpus) and 280 k documents (the
corpus repeated with new ids): build time and query latency.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import shutil
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from _peers import (
    BUILT,
    RESULTS,
    load_queries,
    make_system,
    measure_in_subprocess,
    measure_together,
    percentile,
    register_summary,
    repeat_docs,
    text_bytes,
    warm_analyzer,
)
from pytest_benchmark.fixture import BenchmarkFixture

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")

CORES = os.cpu_count() or 1
# idsearch first: the peers' ratios refer to "idsearch w=1" measured earlier in the same run
SYSTEMS = ["idsearch-cold:1", "idsearch:1", "idsearch-disk:1", f"idsearch-cold:{CORES}", f"idsearch:{CORES}",
           f"idsearch-disk:{CORES}", "whoosh", "bm25s", "tantivy"]


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> None:
    register_summary(request.config)



@pytest.fixture(scope="module")
def analyzer(docs: list[dict[str, Any]]) -> Any:
    return warm_analyzer(docs)


@pytest.fixture(scope="module")
def docs_file(docs: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench-docs") / "docs.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for doc in docs:
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return path


@pytest.mark.parametrize("system_name", SYSTEMS)
def test_build(
    benchmark: BenchmarkFixture,
    system_name: str,
    docs: list[dict[str, Any]],
    analyzer: Any,
    docs_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
    bench_full: bool,
) -> None:
    system = make_system(system_name)
    cached = not system_name.startswith("idsearch-cold")
    root = tmp_path_factory.mktemp(system_name.replace(":", "-"))
    counter = itertools.count()
    handles: list[Any] = []

    def setup() -> tuple[tuple[Path], dict[str, Any]]:
        for h in handles:  # the previous round's index: closed, not timed
            system.close(h)
        handles.clear()
        return (root / f"round{next(counter)}",), {}

    def build(path: Path) -> Any:
        handle = system.build(docs, path, analyzer if cached else None)
        handles.append(handle)
        return handle

    rounds = 1 if (bench_full and system_name == "whoosh") else 2
    benchmark.pedantic(build, setup=setup, rounds=rounds, iterations=1)
    handle = handles[-1]

    # correctness: every document is there and a query finds something
    search = system.searcher(handle, analyzer)
    probe = docs[len(docs) // 2].get("title") or docs[len(docs) // 2]["body"][:80]
    found = search(probe, 10)
    assert found, f"{system.name}: no hits for {probe!r}"
    if system_name.startswith("idsearch"):
        assert len(handle) == len(docs)

    seconds = benchmark.stats.stats.min
    mem = measure_in_subprocess(system_name, docs_file, root / "memory")
    mb = text_bytes(docs) / 1e6
    info: dict[str, Any] = {
        "system": system.name,
        "docs": len(docs),
        "seconds": round(seconds, 3),
        "docs_per_s": round(len(docs) / seconds),
        "mb_per_s": round(mb / seconds, 2),
        "size_mb": round(mem["size_bytes"] / 1e6, 2),
        "peak_rss_mb": mem["peak_mb"],
        "rss_before_mb": mem["rss_before_mb"],
        "peak_build_mb": round(mem["peak_mb"] - mem["rss_before_mb"], 1),
        "workers_build_mb": round(max(0.0, mem["workers_peak_mb"] - mem["rss_before_mb"]), 1),
        "subprocess_seconds": round(mem["seconds"], 3),
        "memory_method": "VmHWM of a fresh process (ru_maxrss of its largest child) minus VmRSS before the build",
    }
    ref = RESULTS["build"].get("idsearch w=1")
    if ref and system.name != "idsearch w=1":
        info["ratio_to_idsearch_w1"] = round(seconds / ref["seconds"], 2)
    benchmark.extra_info.update(info)
    RESULTS["build"][system.name] = info
    if cached and (system_name in ("idsearch:1", "whoosh", "bm25s", "tantivy")):
        BUILT[(system_name, len(docs))] = (system, handle, analyzer)  # the query benchmarks reuse it
    else:
        system.close(handle)


@pytest.mark.parametrize(("mode", "fraction"), [("idsearch-cold", 1.0), ("idsearch", 1.0), ("idsearch-cold", 0.75)],
                         ids=["cold", "cached", "cold-three-quarters"])
def test_parallel_speedup(
    benchmark: BenchmarkFixture, mode: str, fraction: float, docs: list[dict[str, Any]], docs_file: Path,
    tmp_path_factory: pytest.TempPathFactory, bench_full: bool,
) -> None:
    """The speed-up of a build on every core over one worker, as pairs: each pair is a 1-worker and an
    all-cores build, each in a fresh process (``measure_in_subprocess``), run back to back, so that a slow
    spell of the machine falls on both halves of a pair; the median of the pairs' ratios is reported, with
    their range. (The ``test_build`` figures are the fastest of two rounds in this long-lived process, one
    system after the other: their ratio moves by 0.2-0.3 between runs of the same code.)

    Each pair also measures what the machine gives this very work when nothing is shared: one independent
    1-worker build per core, all started together (``measure_together``); ``ceiling`` = cores x the 1-worker
    time / the time they take together (the speed-up a build without any cost of splitting would reach
    here), and ``efficiency`` = speed-up / ceiling."""
    if CORES < 2:
        pytest.skip("one core: nothing to speed up")
    pairs = 5 if bench_full else 1
    root = tmp_path_factory.mktemp(f"speedup-{mode}")
    if fraction < 1:  # a session that does not end near a whole number of chunks (see IndexWriter._balance_end)
        docs_file = root / "docs.jsonl"
        with docs_file.open("w", encoding="utf-8") as fh:
            for doc in docs[: int(len(docs) * fraction)]:
                fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    one: list[float] = []
    every: list[float] = []
    together: list[float] = []

    def run() -> None:
        for i in range(pairs):
            one.append(measure_in_subprocess(f"{mode}:1", docs_file, root / f"one{i}")["seconds"])
            every.append(measure_in_subprocess(f"{mode}:{CORES}", docs_file, root / f"all{i}")["seconds"])
            runs = measure_together([f"{mode}:1"] * CORES, docs_file, [root / f"apart{i}-{k}" for k in range(CORES)])
            together.append(max(r["seconds"] for r in runs))

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratios = sorted(a / b for a, b in zip(one, every))
    ceilings = sorted(CORES * a / t for a, t in zip(one, together))
    efficiency = sorted(a / b / (CORES * a / t) for a, b, t in zip(one, every, together))
    info = {
        "pairs": pairs,
        "workers": CORES,
        "one_worker_s": [round(x, 3) for x in one],
        "all_cores_s": [round(x, 3) for x in every],
        "independent_together_s": [round(x, 3) for x in together],
        "speedup_median": round(ratios[len(ratios) // 2], 2),
        "speedup_min": round(ratios[0], 2),
        "speedup_max": round(ratios[-1], 2),
        "ceiling_median": round(ceilings[len(ceilings) // 2], 2),
        "ceiling_min": round(ceilings[0], 2),
        "ceiling_max": round(ceilings[-1], 2),
        "efficiency_median": round(efficiency[len(efficiency) // 2], 2),
    }
    benchmark.extra_info.update(info)
    name = "cold" if mode == "idsearch-cold" else "stems cached"
    RESULTS["speedup"][name if fraction == 1 else f"{name}, the first {fraction:.0%} of the documents"] = info


def _timing(docs: int, seconds: float, size_bytes: int) -> dict[str, Any]:
    """The figures every idsearch build or merge reports: documents, seconds, documents/s, index MB."""
    return {"docs": docs, "seconds": round(seconds, 3), "docs_per_s": round(docs / seconds),
            "size_mb": round(size_bytes / 1e6, 1)}


def test_optimize(
    benchmark: BenchmarkFixture, docs: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``optimize()`` of the index a build on every core leaves (one segment per chunk; every 97th
    document deleted): every segment merged into one. Each round merges a fresh copy of that index (the
    copy is not timed). idsearch alone: the peers' merges are not comparable work. Then, untimed, the
    peak of memory allocated during one more ``optimize()`` (``tracemalloc``: Python objects and numpy
    arrays; not the memory-mapped segment files it reads)."""
    from idsearch.index import Index

    root = tmp_path_factory.mktemp("optimize")
    base = make_system(f"idsearch-cold:{CORES}").build(docs, root / "base", None)  # (as test_build builds it)
    with base.writer(workers=1) as w:
        for doc in docs[::97]:
            w.delete(doc["id"])
    segments = base.stats().segments
    base.close()
    counter = itertools.count()

    def setup() -> tuple[tuple[Index], dict[str, Any]]:
        copy = root / f"round{next(counter)}"
        shutil.copytree(root / "base", copy)
        return (Index.open(copy),), {}

    merged: list[Index] = []

    def optimize(index: Index) -> None:
        index.optimize()
        merged.append(index)

    benchmark.pedantic(optimize, setup=setup, rounds=3, iterations=1)
    result = merged[-1]
    assert result.stats().segments == 1 and len(result) == len(docs) - len(docs[::97])
    info = {"segments": segments, **_timing(len(result), benchmark.stats.stats.min, result.stats().size_bytes)}
    (traced,), _ = setup()
    tracemalloc.start()
    try:
        traced.optimize()
        info["peak_allocated_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
    finally:
        tracemalloc.stop()
    traced.close()
    benchmark.extra_info.update(info)
    RESULTS["merge"]["optimize"] = info
    for index in merged:
        index.close()


SCALES = [10_000, 28_000, 280_000]


@pytest.mark.parametrize("n_docs", SCALES)
def test_scaling(
    benchmark: BenchmarkFixture,
    n_docs: int,
    docs: list[dict[str, Any]],
    analyzer: Any,
    tmp_path_factory: pytest.TempPathFactory,
    bench_full: bool,
) -> None:
    if not bench_full:
        pytest.skip("scaling to 10k/28k/280k documents runs only with --bench-full (smoke mode has 600 documents)")
    scaled = repeat_docs(docs, min(n_docs, len(docs)) if n_docs == 28_000 else n_docs)
    system = make_system(f"idsearch:{CORES}")
    root = tmp_path_factory.mktemp(f"scale{n_docs}")
    handles: list[Any] = []

    def build() -> None:
        handles.append(system.build(scaled, root / "ix", analyzer))

    benchmark.pedantic(build, rounds=1, iterations=1)
    handle = handles[-1]
    assert len(handle) == len(scaled)
    search = system.searcher(handle, analyzer)
    queries = [q["query"] for q in load_queries(100)]
    for q in queries[:10]:
        search(q, 10)  # warm up: page cache, memory maps
    gc.collect()  # (untimed: the garbage of the build, not the queries' own)
    latencies = []
    empty = 0
    for q in queries:
        start = time.perf_counter()
        ids = search(q, 10)
        latencies.append(time.perf_counter() - start)
        empty += not ids
    assert empty < len(queries) * 0.1
    seconds = benchmark.stats.stats.min
    info = {
        **_timing(len(scaled), seconds, handle.stats().size_bytes),
        "workers": CORES,
        "mb_per_s": round(text_bytes(scaled) / 1e6 / seconds, 2),
        "queries": len(queries),
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
    }
    benchmark.extra_info.update(info)
    RESULTS["scaling"][len(scaled)] = info
    system.close(handle)
