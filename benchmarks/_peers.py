"""Benchmark helpers: the systems compared (idsearch and its peers), the shared document and query sets,
peak-memory measurement in a subprocess, and the summary table printed at the end of the session.

Fairness rules, applied to every system:

- the same documents: ``id``, ``title``, ``body``, ``date``, ``source``, ``category`` of the shared corpus
  (dates normalized by :func:`idsearch.ingest.iter_documents`), all stored;
- the same analysis: idsearch's Indonesian analyzer with every word's stem already known ("cached"), used
  by Whoosh through :class:`idsearch.whoosh.IndonesianAnalyzer`, and for bm25s and tantivy applied in
  Python before handing them the terms (bm25s: token lists; tantivy: terms joined by spaces, whitespace
  tokenizer). The time of that analysis is part of every system's build and query time;
- one thread/process where the peer lets us choose (Whoosh ``procs=1``, tantivy ``num_threads=1``,
  bm25s ``n_threads=0``, its in-thread path); idsearch is measured with ``workers=1`` (the comparison) and with all cores;
- title weighted 2, body 1 (idsearch BM25F; Whoosh BM25F field boost; tantivy per-field BM25 with the
  title query boosted 2; bm25s has no fields: the title terms are counted twice).

Run as a script (``python _peers.py SYSTEM DOCS.jsonl OUTDIR``) it builds one index in a fresh process and
prints JSON with its build time, index size and peak resident memory (``VmHWM``; worker processes:
``ru_maxrss`` of the children): that is how peak memory is measured. Resident memory, not tracemalloc, so
that Rust (tantivy) and numpy allocations count too.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

KEEP = ("id", "title", "body", "date", "source", "category")
TITLE_WEIGHT = 2.0
HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("IDSEARCH_SHARED", HERE.parent.parent / "shared"))
EVAL_FILES = ("facqa_questions.jsonl", "clickid_titles.jsonl", "indosum_lead.jsonl")

# Everything measured in this session, for the summary table: kind -> key -> figures.
RESULTS: dict[str, dict[Any, dict[str, Any]]] = {"build": {}, "query": {}, "idsearch_extra": {}, "scaling": {},
                                                  "speedup": {}, "merge": {}}
# The last index each system built in this session (reused by the query benchmarks).
BUILT: dict[tuple[str, int], Any] = {}


# -- documents and queries --------------------------------------------------------------------------------------


def normalize_docs(raw_docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The benchmark documents: raw corpus records through idsearch's ingest (ISO dates), fields in KEEP."""
    from idsearch.ingest import iter_documents

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for doc in raw_docs:
                fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
        docs = list(iter_documents([path], on_problem=lambda _problem: None))
    return [{k: d[k] for k in KEEP if d.get(k) not in (None, "")} for d in docs]


def repeat_docs(docs: Sequence[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` documents: the corpus cut to ``n``, or repeated with new ids (``<id>~r<k>``) to reach ``n``."""
    out: list[dict[str, Any]] = []
    k = 0
    while len(out) < n:
        for doc in docs[: n - len(out)]:
            out.append(doc if k == 0 else {**doc, "id": f"{doc['id']}~r{k}"})
        k += 1
    return out


def text_bytes(docs: Iterable[dict[str, Any]]) -> int:
    """UTF-8 bytes of the analyzed text (title + body): the MB in MB/s."""
    return sum(len((d.get("title") or "").encode()) + len((d.get("body") or "").encode()) for d in docs)


def warm_analyzer(docs: Iterable[dict[str, Any]]) -> Any:
    """A fresh idsearch analyzer that has analyzed every document once (every word's stem is cached)."""
    from idsearch.analysis import IndonesianAnalyzer

    analyzer = IndonesianAnalyzer()
    for d in docs:
        analyzer.analyze(d.get("title") or "")
        analyzer.analyze(d.get("body") or "")
    return analyzer


def load_queries(per_file: int) -> list[dict[str, Any]]:
    """An even sample of ``per_file`` queries from each shared eval file (``qid``, ``query``, ``relevant``)."""
    out = []
    for name in EVAL_FILES:
        path = SHARED / "eval" / name
        if not path.exists():
            import pytest

            pytest.skip(f"needs {path} (the shared eval sets beside the checkout)")
        with path.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        out.extend(rows[:: max(1, len(rows) // per_file)][:per_file])
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# -- the systems ------------------------------------------------------------------------------------------------


class System:
    """One search engine: ``build`` an index of ``docs`` at ``path`` (returns a handle), ``searcher`` gives a
    function from a query string to the ids of the top hits."""

    name = "?"

    def build(self, docs: Sequence[dict[str, Any]], path: Path, analyzer: Any) -> Any:
        raise NotImplementedError

    def searcher(self, handle: Any, analyzer: Any) -> Callable[[str, int], list[str]]:
        raise NotImplementedError

    def close(self, handle: Any) -> None:
        pass


class Idsearch(System):
    """idsearch with ``workers`` processes; ``mode`` says what the analyzer knows before the build:

    - ``"cold"``: nothing (a fresh analyzer: every distinct word is stemmed during the build);
    - ``"warm"``: the warm analyzer object itself, as in a process that has indexed before (stems cached,
      and its words already numbered by the writer's vocabulary);
    - ``"disk"``: a new analyzer given the warm one's word cache, as when an index is reopened from disk
      (stems cached; words numbered again)."""

    def __init__(self, workers: int | None, mode: str = "warm", *, compiled: bool = True) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.mode = mode
        self.compiled = compiled  # False: queries run the numpy path instead of the compiled kernel
        suffix = {"cold": " cold", "warm": "", "disk": " stems from disk"}[mode]
        self.name = f"idsearch w={self.workers}{suffix}" + ("" if compiled else " numpy path")

    def build(self, docs: Sequence[dict[str, Any]], path: Path, analyzer: Any) -> Any:
        from idsearch.analysis import Analyzer
        from idsearch.index import Index

        if self.mode == "cold":
            analyzer = None
        elif self.mode == "disk":
            restored = Analyzer(analyzer.spec)
            restored.word_cache.update(analyzer.word_cache)
            analyzer = restored
        ix = Index.create(path, analyzer=analyzer)
        with ix.writer(workers=self.workers) as w:
            for doc in docs:
                w.add(doc)
        return ix

    def searcher(self, handle: Any, analyzer: Any) -> Callable[[str, int], list[str]]:
        if not self.compiled:
            reader = handle.reader()
            reader.compiled = False

            def search_numpy(query: str, limit: int) -> list[str]:
                return [h.id for h in handle.search(query, limit=limit, reader=reader)]

            return search_numpy

        def search(query: str, limit: int) -> list[str]:
            return [h.id for h in handle.search(query, limit=limit)]

        return search

    def close(self, handle: Any) -> None:
        handle.close()


class Whoosh(System):
    name = "whoosh"

    def build(self, docs: Sequence[dict[str, Any]], path: Path, analyzer: Any) -> Any:
        from whoosh.fields import ID, TEXT, Schema
        from whoosh.index import create_in

        from idsearch.whoosh import IndonesianAnalyzer

        ana = IndonesianAnalyzer.from_analyzer(analyzer)
        schema = Schema(
            id=ID(stored=True, unique=True),
            title=TEXT(analyzer=ana, stored=True, field_boost=TITLE_WEIGHT),
            body=TEXT(analyzer=ana, stored=True),
            date=ID(stored=True),
            source=ID(stored=True),
            category=ID(stored=True),
        )
        path.mkdir(parents=True, exist_ok=True)
        ix = create_in(str(path), schema)
        w = ix.writer(procs=1, limitmb=256)
        for doc in docs:
            w.add_document(**doc)
        w.commit()
        return ix

    def searcher(self, handle: Any, analyzer: Any) -> Callable[[str, int], list[str]]:
        from whoosh.qparser import MultifieldParser, OrGroup, WildcardPlugin

        from idsearch.whoosh import IndonesianAnalyzer

        # the schema was unpickled from the index: give it the warm analyzer (as idsearch's Index has)
        warm = IndonesianAnalyzer.from_analyzer(analyzer)
        for field in ("title", "body"):
            handle.schema[field].analyzer = warm
        parser = MultifieldParser(["title", "body"], handle.schema, group=OrGroup)
        # the question marks of the eval questions would be wildcards: run the same OR query as the others
        parser.remove_plugin_class(WildcardPlugin)
        searcher = handle.searcher()
        self._searchers = [*getattr(self, "_searchers", []), searcher]

        def search(query: str, limit: int) -> list[str]:
            return [hit["id"] for hit in searcher.search(parser.parse(query), limit=limit)]

        return search

    def close(self, handle: Any) -> None:
        for s in getattr(self, "_searchers", []):
            s.close()
        self._searchers = []


class Bm25s(System):
    name = "bm25s"

    def build(self, docs: Sequence[dict[str, Any]], path: Path, analyzer: Any) -> Any:
        import bm25s

        terms = analyzer.terms
        corpus = []
        for d in docs:
            title = terms(d.get("title") or "")
            corpus.append(title + title + terms(d.get("body") or ""))
        retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        retriever.index(corpus, show_progress=False)
        retriever.save(str(path), corpus=list(docs), show_progress=False)
        return retriever, [d["id"] for d in docs]

    def searcher(self, handle: Any, analyzer: Any) -> Callable[[str, int], list[str]]:
        retriever, ids = handle
        vocab = retriever.vocab_dict
        terms = analyzer.terms

        def search(query: str, limit: int) -> list[str]:
            tokens = [t for t in terms(query) if t in vocab]
            if not tokens:
                return []
            found, scores = retriever.retrieve([tokens], k=min(limit, len(ids)), show_progress=False, n_threads=0)
            return [ids[i] for i, s in zip(found[0], scores[0]) if s > 0]

        return search


class Tantivy(System):
    name = "tantivy"

    def build(self, docs: Sequence[dict[str, Any]], path: Path, analyzer: Any) -> Any:
        import tantivy

        sb = tantivy.SchemaBuilder()
        sb.add_text_field("id", stored=True, tokenizer_name="raw")
        sb.add_text_field("title", tokenizer_name="whitespace")
        sb.add_text_field("body", tokenizer_name="whitespace")
        sb.add_bytes_field("doc", stored=True)
        schema = sb.build()
        path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(schema, path=str(path))
        writer = index.writer(heap_size=256_000_000, num_threads=1)
        terms = analyzer.terms
        for d in docs:
            writer.add_document(
                tantivy.Document(
                    id=d["id"],
                    title=" ".join(terms(d.get("title") or "")),
                    body=" ".join(terms(d.get("body") or "")),
                    doc=json.dumps(d, ensure_ascii=False).encode(),
                )
            )
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        return index, schema

    def searcher(self, handle: Any, analyzer: Any) -> Callable[[str, int], list[str]]:
        import tantivy

        index, schema = handle
        searcher = index.searcher()
        terms = analyzer.terms
        should = tantivy.Occur.Should
        term_query = tantivy.Query.term_query
        boost = tantivy.Query.boost_query

        def search(query: str, limit: int) -> list[str]:
            clauses = []
            for t in dict.fromkeys(terms(query)):
                clauses.append((should, boost(term_query(schema, "title", t), TITLE_WEIGHT)))
                clauses.append((should, term_query(schema, "body", t)))
            if not clauses:
                return []
            hits = searcher.search(tantivy.Query.boolean_query(clauses), limit).hits
            return [searcher.doc(addr)["id"][0] for _score, addr in hits]

        return search


PEERS: dict[str, Callable[[], System]] = {"whoosh": Whoosh, "bm25s": Bm25s, "tantivy": Tantivy}


def make_system(name: str) -> System:
    """``idsearch``/``idsearch-cold``/``idsearch-disk`` with ``:workers`` (``idsearch:1``, ``idsearch-cold:0`` = all
    cores), ``idsearch-numpy:1`` (queries without the compiled kernel), or a peer."""
    if name.startswith("idsearch"):
        base, _, workers = name.partition(":")
        mode = {"idsearch": "warm", "idsearch-numpy": "warm", "idsearch-cold": "cold", "idsearch-disk": "disk"}[base]
        return Idsearch(int(workers or 0) or None, mode=mode, compiled=base != "idsearch-numpy")
    return PEERS[name]()


# -- peak memory: one build in a fresh process ------------------------------------------------------------------


def _rss_mb(key: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its high-water mark (``VmHWM``), in MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure_in_subprocess(system: str, docs_path: Path, out_dir: Path) -> dict[str, Any]:
    """Build ``system``'s index of the documents in ``docs_path`` in a fresh Python process; returns its
    figures: ``seconds``, ``size_bytes``, ``rss_before_mb`` (after loading the documents, warming the
    analyzer and importing the system), ``peak_mb`` (``VmHWM``, the process's peak resident memory) and
    ``workers_peak_mb`` (``ru_maxrss`` of its largest child process, e.g. an idsearch worker)."""
    return measure_together([system], docs_path, [out_dir])[0]


def measure_together(systems: Sequence[str], docs_path: Path, out_dirs: Sequence[Path]) -> list[dict[str, Any]]:
    """:func:`measure_in_subprocess` for several builds in fresh processes at once: each loads the documents
    and warms up, then waits until all are ready, so that the builds start together."""
    with tempfile.TemporaryDirectory() as barrier:
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        if len(systems) > 1:
            env["IDSEARCH_BENCH_BARRIER"] = barrier
        procs = [
            subprocess.Popen([sys.executable, str(Path(__file__).resolve()), system, str(docs_path), str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for system, out in zip(systems, out_dirs)
        ]
        if len(systems) > 1:
            while len(list(Path(barrier).glob("ready.*"))) < len(procs) and all(p.poll() is None for p in procs):
                time.sleep(0.005)
            (Path(barrier) / "go").touch()
        figures = []
        for system, proc in zip(systems, procs):
            out, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"measurement of {system} failed:\n{err[-3000:]}")
            figures.append(json.loads(out.strip().splitlines()[-1]))
        return figures


def _main(argv: list[str]) -> None:
    system_name, docs_path, out_dir = argv
    with open(docs_path, encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    system = make_system(system_name)
    analyzer = warm_analyzer(docs) if not system_name.startswith("idsearch-cold") else None
    with tempfile.TemporaryDirectory() as tmp:  # import the system's modules before the baseline
        system.close(make_system(system_name).build(docs[:2], Path(tmp) / "warmup", warm_analyzer(docs[:2])))
    barrier = os.environ.get("IDSEARCH_BENCH_BARRIER")
    if barrier:  # builds measured together start together (see measure_together)
        (Path(barrier) / f"ready.{os.getpid()}").touch()
        while not (Path(barrier) / "go").exists():
            time.sleep(0.001)
    before = _rss_mb()
    start = time.perf_counter()
    handle = system.build(docs, Path(out_dir), analyzer)
    seconds = time.perf_counter() - start
    system.close(handle)
    import multiprocessing

    deadline = time.monotonic() + 30
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.01)  # idle worker processes exit on their own: a child counts once it is reaped
    # VmHWM, not ru_maxrss: Linux carries the parent's high-water mark over fork + exec into ru_maxrss
    own = _rss_mb("VmHWM")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({
        "seconds": seconds,
        "size_bytes": dir_size(Path(out_dir)),
        "rss_before_mb": round(before, 1),
        "peak_mb": round(own, 1),
        "workers_peak_mb": round(children, 1),
    }))


# -- the summary table ------------------------------------------------------------------------------------------


def _fmt(value: Any, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def _table(lines: list[str], header: list[str], rows: list[list[str]]) -> None:
    """Append a markdown table, after a blank line."""
    lines.append("")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines.extend("| " + " | ".join(row) + " |" for row in rows)


def summary_lines() -> list[str]:
    """The README table (and the extras) from what this session measured."""
    lines: list[str] = []
    build = RESULTS["build"]
    query = RESULTS["query"]
    if build or query:
        systems = list(dict.fromkeys([*(k for k in build if "cold" not in k), *(k[0] for k in query)]))
        ref = build.get("idsearch w=1", {})
        ref_q = query.get(("idsearch w=1", "eval"), {})
        lines.append("| system | build cold s | build cached s | docs/s | MB/s | query p50 ms | query p99 ms "
                     "| index MB | build memory MB | build ratio | p50 ratio |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for name in systems:
            b = build.get(name, {})
            cold = build.get(f"{name} cold", {})
            q = query.get((name, "eval"), {})  # idsearch's queries run on the w=1 index
            mem = None
            if "peak_build_mb" in b:
                mem = f"{b['peak_build_mb']:.0f}"
                if b.get("workers_build_mb"):
                    mem += f" (+{b['workers_build_mb']:.0f}/worker)"
            ratio_b = ref.get("seconds") and b.get("seconds") and b["seconds"] / ref["seconds"]
            ratio_q = ref_q.get("p50_ms") and q.get("p50_ms") and q["p50_ms"] / ref_q["p50_ms"]
            lines.append(
                f"| {name} | {_fmt(cold.get('seconds'))} | {_fmt(b.get('seconds'))} | {_fmt(b.get('docs_per_s'), '.0f')} "
                f"| {_fmt(b.get('mb_per_s'))} | {_fmt(q.get('p50_ms'))} | {_fmt(q.get('p99_ms'))} "
                f"| {_fmt(b.get('size_mb'), '.1f')} | {mem or '-'} | {_fmt(ratio_b or None, '.2f')} "
                f"| {_fmt(ratio_q or None, '.2f')} |"
            )
        lines.append("ratios = system / idsearch w=1 (cached) in this run: above 1 means idsearch is faster. "
                     "build memory = peak RSS growth during the build (+ per worker process).")
    by_terms = sorted({k[1] for k in query if k[1] != "eval"}, key=lambda s: int(s.split("-")[1]))
    if by_terms:
        rows = []
        for name in dict.fromkeys(k[0] for k in query):
            cells = [name]
            for qs in by_terms:
                q = query.get((name, qs))
                cells.append(f"{q['p50_ms']:.2f} / {q['p99_ms']:.2f}" if q else "-")
            rows.append(cells)
        _table(lines, ["query p50 / p99 ms", *by_terms], rows)
    extra = RESULTS["idsearch_extra"]
    if extra:
        _table(lines, ["idsearch", "p50 ms", "p99 ms", "note"],
               [[name, _fmt(e.get("p50_ms")), _fmt(e.get("p99_ms")), e.get("note", "")] for name, e in extra.items()])
    speedup = RESULTS["speedup"]
    if speedup:
        _table(lines, ["parallel speed-up", "median", "range", "ceiling (range)", "efficiency", "1 worker s",
                       "all cores s", "independent builds together s"], [
            [f"{name}, {s['workers']} workers, {s['pairs']} pair{'s' if s['pairs'] != 1 else ''} in fresh processes",
             f"{s['speedup_median']:.2f}x", f"{s['speedup_min']:.2f}-{s['speedup_max']:.2f}x",
             f"{s['ceiling_median']:.2f}x ({s['ceiling_min']:.2f}-{s['ceiling_max']:.2f})",
             f"{s['efficiency_median']:.0%}",
             ", ".join(f"{x:.2f}" for x in s["one_worker_s"]), ", ".join(f"{x:.2f}" for x in s["all_cores_s"]),
             ", ".join(f"{x:.2f}" for x in s["independent_together_s"])]
            for name, s in speedup.items()
        ])
        lines.append("ceiling = what this machine gives the same work split without any cost: one independent "
                     "1-worker build per core, started together; efficiency = speed-up / ceiling (median of pairs).")
    merge = RESULTS["merge"]
    if merge:
        _table(lines, ["idsearch merge", "segments", "docs", "seconds", "docs/s", "index MB", "peak MB allocated"], [
            [name, str(m["segments"]), f"{m['docs']:,}", _fmt(m["seconds"]), _fmt(m["docs_per_s"], ".0f"),
             _fmt(m["size_mb"], ".1f"), _fmt(m.get("peak_allocated_mb"), ".1f")]
            for name, m in merge.items()
        ])
    scaling = RESULTS["scaling"]
    if scaling:
        _table(lines, ["docs", "build s", "docs/s", "MB/s", "index MB", "query p50 ms", "query p99 ms"], [
            [f"{n:,}", _fmt(s.get("seconds")), _fmt(s.get("docs_per_s"), ".0f"), _fmt(s.get("mb_per_s")),
             _fmt(s.get("size_mb"), ".1f"), _fmt(s.get("p50_ms")), _fmt(s.get("p99_ms"))]
            for n, s in sorted(scaling.items())
        ])
    return lines


class SummaryPlugin:
    """Registered by the benchmark modules: prints the summary table after pytest-benchmark's own."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = summary_lines()
        if lines:
            terminalreporter.write_sep("=", "idsearch vs peers (benchmarks/README.md format)")
            for line in lines:
                terminalreporter.write_line(line)


def register_summary(config: Any) -> None:
    if not config.pluginmanager.has_plugin("idsearch-bench-summary"):
        config.pluginmanager.register(SummaryPlugin(), "idsearch-bench-summary")


if __name__ == "__main__":
    _main(sys.argv[1:])
