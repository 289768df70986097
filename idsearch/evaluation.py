"""Retrieval evaluation: query sets with known relevant documents -> MRR@10, Recall@10/100, nDCG@10.

A *run* is any callable ``query text -> ranked list of document ids`` (best first); :func:`index_run`
makes one from an :class:`~idsearch.index.Index`. :func:`evaluate` runs a list of :class:`EvalQuery`
(from :func:`load_queries`) and returns an :class:`EvalReport`; :func:`compare` prints several reports
side by side, :func:`compare_json` gives the same as plain data.

    >>> ix = Index.open("news.idx")
    >>> queries = load_queries("../shared/eval/facqa_questions.jsonl")
    >>> report = evaluate(index_run(ix), queries, name="facqa")
    >>> report.metrics.mrr10

Query files are JSON lines ``{"qid": ..., "query": ..., "relevant": [id, ...]}``, optionally with graded
judgements ``"relevance": {id: grade}`` (grade > 0 is relevant; ``relevant`` may then be omitted; ids in
``relevant`` without a grade count as grade 1).

Metrics (per query, then averaged over queries; all pure functions of a ranked id list):

- ``mrr_at(ranked, relevant, k)``: 1/rank of the first relevant id within the top ``k``, else 0.
- ``recall_at(ranked, relevant, k)``: share of the relevant ids found in the top ``k``.
- ``ndcg_at(ranked, gains, k)``: DCG with linear gains ``g / log2(rank + 1)`` (trec_eval's convention),
  divided by the DCG of the ideal ordering; binary judgements have gain 1.

Free-text queries (questions, headlines) contain characters that are query syntax (``?``, ``:``,
quotes, ``-``, parentheses, ``AND``). Runs over an index therefore never use the query language:
``query_mode="plain"`` (the default) is the library's own plain-text mode, ``Index.search(text,
syntax=False)``: each whitespace-separated word analyzed, repeated words counted once, ORed (a word that
analyzes to several terms, e.g. ``covid-19``, is a phrase). ``query_mode="bag"`` is the textbook BM25
query instead: every analyzed term of the text is a clause of its own, repeats included (a term that
occurs twice in the question is scored twice), compounds split into their terms.

Protocol for the shared sets (``../shared/eval/README.md``): one index of all three corpus files; for the
clickid headline set the title must not be indexed. Searching only the ``body`` field
(``index_run(ix, fields=["body"])``) is equivalent to an index built without titles: BM25F's document
count, body lengths and document frequencies over the searched fields are the same, so the scores are
identical (``tests/test_evaluation.py`` checks this on the shared corpus).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import attrs

__all__ = [
    "METRICS",
    "SHARED_SETS",
    "EvalQuery",
    "EvalReport",
    "IndexRun",
    "Metrics",
    "QueryFileError",
    "QueryResult",
    "RunFn",
    "compare",
    "compare_json",
    "evaluate",
    "index_run",
    "load_queries",
    "main",
    "make_keyword_queries",
    "mrr_at",
    "ndcg_at",
    "overall",
    "recall_at",
]

RunFn = Callable[[str], Sequence[str]]
"""A search system under test: query text -> document ids, best first."""

METRICS = ("mrr@10", "recall@10", "recall@100", "ndcg@10")
_LABELS = {"mrr@10": "MRR@10", "recall@10": "R@10", "recall@100": "R@100", "ndcg@10": "nDCG@10"}

SHARED_SETS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    # set name -> (file under <shared>/eval, text fields searched; None = all)
    "facqa": ("facqa_questions.jsonl", None),
    "clickid_titles": ("clickid_titles.jsonl", ("body",)),  # the protocol: the title is not indexed
    "indosum_lead": ("indosum_lead.jsonl", None),
}
"""The shared evaluation sets and the fields the protocol lets each one search."""


# -- metrics: pure functions of one ranked list --------------------------------------------------------------


def mrr_at(ranked: Sequence[str], relevant: Iterable[str], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id in the top ``k`` (0 when none is there)."""
    wanted = set(relevant)
    for rank, doc_id in enumerate(ranked[:k], 1):
        if doc_id in wanted:
            return 1.0 / rank
    return 0.0


def recall_at(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant ids found in the top ``k`` (0 for a query without relevant ids)."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def ndcg_at(ranked: Sequence[str], gains: Mapping[str, float] | Iterable[str], k: int = 10) -> float:
    """Normalized discounted cumulative gain of the top ``k``.

    ``gains`` maps ids to graded relevance (linear gain ``g / log2(rank + 1)``); a plain collection of ids
    means binary relevance (gain 1). A repeated id in ``ranked`` gains only once."""
    g = dict(gains) if isinstance(gains, Mapping) else dict.fromkeys(gains, 1.0)
    g = {d: float(v) for d, v in g.items() if v > 0}
    if not g:
        return 0.0
    dcg = 0.0
    seen: set[str] = set()
    for rank, doc_id in enumerate(ranked[:k], 1):
        if doc_id in g and doc_id not in seen:
            dcg += g[doc_id] / math.log2(rank + 1)
            seen.add(doc_id)
    ideal = sorted(g.values(), reverse=True)[:k]
    idcg = sum(v / math.log2(rank + 1) for rank, v in enumerate(ideal, 1))
    return dcg / idcg


# -- queries -------------------------------------------------------------------------------------------------


class QueryFileError(ValueError):
    """A query file that cannot be read; the message names the file and the line."""


@attrs.frozen
class EvalQuery:
    """One judged query: its id, text and relevant document ids with their grades (all > 0)."""

    qid: str
    text: str
    relevance: Mapping[str, float] = attrs.field(converter=lambda m: dict(m))

    @property
    def relevant(self) -> frozenset[str]:
        return frozenset(self.relevance)


class _BadLine(Exception):
    """A query line that is well-formed JSON but not a judged query (turned into a QueryFileError)."""


def _parse_query_line(record: Any) -> EvalQuery:
    if not isinstance(record, dict):
        raise _BadLine("expected a JSON object")
    qid, text = record.get("qid"), record.get("query")
    if not isinstance(qid, str) or not qid:
        raise _BadLine("'qid' must be a non-empty string")
    if not isinstance(text, str):
        raise _BadLine("'query' must be a string")
    relevant = record.get("relevant", [])
    graded = record.get("relevance", {})
    if not isinstance(relevant, list) or not all(isinstance(d, str) and d for d in relevant):
        raise _BadLine("'relevant' must be a list of document ids (strings)")
    if not isinstance(graded, dict):
        raise _BadLine("'relevance' must be an object {document id: grade}")
    relevance: dict[str, float] = dict.fromkeys(relevant, 1.0)
    for doc_id, grade in graded.items():
        if (
            isinstance(grade, bool)
            or not isinstance(grade, (int, float))
            or not math.isfinite(grade)
            or grade < 0
        ):
            raise _BadLine(f"'relevance' grade of {doc_id!r} must be a number >= 0, not {grade!r}")
        if grade > 0:
            relevance[doc_id] = float(grade)
        else:
            relevance.pop(doc_id, None)  # judged not relevant
    if not relevance:
        raise _BadLine("no relevant document ('relevant' empty and no grade > 0)")
    return EvalQuery(qid, text, relevance)


def load_queries(path: str | os.PathLike[str]) -> list[EvalQuery]:
    """The judged queries of a JSON-lines file (blank lines are skipped).

    Raises :class:`QueryFileError` naming the file and line for bad JSON, missing or mistyped fields,
    a query without a relevant document, or a duplicate qid."""
    path = Path(path)
    out: list[EvalQuery] = []
    seen: dict[str, int] = {}
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise QueryFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    query = _parse_query_line(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise QueryFileError(
                        f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})"
                    ) from None
                except _BadLine as exc:
                    raise QueryFileError(f"{path}:{lineno}: {exc}") from None
                if query.qid in seen:
                    raise QueryFileError(
                        f"{path}:{lineno}: duplicate qid {query.qid!r} (first on line {seen[query.qid]})"
                    )
                seen[query.qid] = lineno
                out.append(query)
        except UnicodeDecodeError as exc:
            raise QueryFileError(f"{path}: not UTF-8 text: {exc.reason}") from None
    return out


# -- reports -------------------------------------------------------------------------------------------------


@attrs.frozen
class QueryResult:
    """The outcome of one query: the rank of its first relevant hit (None if not retrieved) and metrics."""

    qid: str
    first_rank: int | None
    mrr10: float
    recall10: float
    recall100: float
    ndcg10: float


@attrs.frozen
class Metrics:
    """Mean metrics over ``queries`` queries."""

    queries: int
    mrr10: float
    recall10: float
    recall100: float
    ndcg10: float

    def get(self, name: str) -> float:
        """A metric by its name in :data:`METRICS` (``"mrr@10"`` ...)."""
        attr = {
            "mrr@10": "mrr10",
            "recall@10": "recall10",
            "recall@100": "recall100",
            "ndcg@10": "ndcg10",
        }.get(name)
        if attr is None:
            raise ValueError(f"unknown metric {name!r} (one of {', '.join(METRICS)})")
        return float(getattr(self, attr))

    def to_dict(self) -> dict[str, float | int]:
        return {"queries": self.queries, **{m: round(self.get(m), 6) for m in METRICS}}

    @classmethod
    def mean(cls, results: Sequence[QueryResult]) -> Metrics:
        n = len(results)
        if not n:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        return cls(
            n,
            math.fsum(r.mrr10 for r in results) / n,
            math.fsum(r.recall10 for r in results) / n,
            math.fsum(r.recall100 for r in results) / n,
            math.fsum(r.ndcg10 for r in results) / n,
        )


@attrs.frozen
class EvalReport:
    """The evaluation of one run on one query set: per-query results, their means, and the wall time."""

    name: str
    results: tuple[QueryResult, ...] = attrs.field(converter=tuple, repr=False)
    seconds: float = 0.0
    metrics: Metrics = attrs.field(init=False)

    @metrics.default
    def _metrics(self) -> Metrics:
        return Metrics.mean(self.results)

    def to_dict(self, per_query: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, **self.metrics.to_dict(), "seconds": round(self.seconds, 3)}
        if per_query:
            out["per_query"] = [attrs.asdict(r) for r in self.results]
        return out


def overall(reports: Iterable[EvalReport], name: str = "overall") -> EvalReport:
    """All queries of several reports pooled into one (each query weighs the same, whatever its set)."""
    reports = list(reports)
    return EvalReport(
        name, tuple(r for rep in reports for r in rep.results), sum(rep.seconds for rep in reports)
    )


def evaluate(run: RunFn, queries: Sequence[EvalQuery], *, k: int = 100, name: str = "") -> EvalReport:
    """Run every query (``run(text)``, keeping its first ``k`` ids; ``k`` >= 100 for Recall@100) and
    score it."""
    if k < 10:
        raise ValueError(f"k must be at least 10, not {k}")
    results = []
    start = time.perf_counter()
    for q in queries:
        ranked = list(run(q.text))[:k]
        rel = q.relevance
        first = next((i for i, d in enumerate(ranked, 1) if d in rel), None)
        results.append(
            QueryResult(
                q.qid,
                first,
                1.0 / first if first is not None and first <= 10 else 0.0,
                recall_at(ranked, rel, 10),
                recall_at(ranked, rel, 100),
                ndcg_at(ranked, rel, 10),
            )
        )
    return EvalReport(name, tuple(results), time.perf_counter() - start)


# -- comparing runs ------------------------------------------------------------------------------------------

Reports = Mapping[str, EvalReport] | EvalReport


def _as_sets(report: Reports) -> dict[str, EvalReport]:
    return {report.name or "all": report} if isinstance(report, EvalReport) else dict(report)


def compare(runs: Mapping[str, Reports], metric: str | None = None, *, with_overall: bool = True) -> str:
    """A text table of several runs (each one report, or ``{set name: report}``).

    With ``metric`` (e.g. ``"mrr@10"``): one row per run, one column per set (plus ``overall``, all
    queries pooled, when there are several sets). Without: one row per set and run, a column per metric."""
    table = {run: _as_sets(rep) for run, rep in runs.items()}
    set_names = list(dict.fromkeys(s for sets in table.values() for s in sets))
    run_w = max([3, *map(len, table)])
    if metric is not None:
        label = _LABELS.get(metric, metric)
        Metrics(0, 0, 0, 0, 0).get(metric)  # validates the name
        cols = set_names + (["overall"] if with_overall and len(set_names) > 1 else [])
        widths = [max(7, len(c)) for c in cols]
        lines = [f"{label:<{run_w}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cols, widths))]
        for run, sets in table.items():
            cells = []
            for c, w in zip(cols, widths):
                if c == "overall" and c not in sets:
                    value: float | None = overall(sets.values()).metrics.get(metric)
                else:
                    value = sets[c].metrics.get(metric) if c in sets else None
                cells.append(f"{value:>{w}.4f}" if value is not None else f"{'-':>{w}}")
            lines.append(f"{run:<{run_w}}  " + "  ".join(cells))
        return "\n".join(lines)
    set_w = max([3, *map(len, set_names)])
    header = f"{'set':<{set_w}}  {'run':<{run_w}}  {'queries':>7}  " + "  ".join(
        f"{_LABELS[m]:>7}" for m in METRICS
    )
    lines = [header]
    for s in set_names:
        for run, sets in table.items():
            if s not in sets:
                continue
            m = sets[s].metrics
            lines.append(
                f"{s:<{set_w}}  {run:<{run_w}}  {m.queries:>7}  "
                + "  ".join(f"{m.get(x):>7.4f}" for x in METRICS)
            )
    return "\n".join(lines)


def compare_json(runs: Mapping[str, Reports]) -> dict[str, Any]:
    """The data of :func:`compare`: ``{run: {set: {"queries", "mrr@10", ..., "seconds"}}}``, plus
    ``overall`` for several sets."""
    out: dict[str, Any] = {}
    for run, rep in runs.items():
        sets = _as_sets(rep)
        out[run] = {s: r.to_dict() for s, r in sets.items()}
        if len(sets) > 1:
            out[run]["overall"] = overall(sets.values()).to_dict()
        for d in out[run].values():
            d.pop("name", None)
    return out


# -- running queries against an Index ------------------------------------------------------------------------


class IndexRun:
    """A run over an :class:`~idsearch.index.Index`: each text is searched as plain words (see the module
    docstring for ``query_mode``) on a fixed snapshot (a reader opened here; :meth:`close` it, or use
    ``with``), returning the top ``depth`` ids. Made by :func:`index_run`."""

    def __init__(
        self,
        ix: Any,
        *,
        fields: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
        k1: float | None = None,
        b: float | Mapping[str, float] | None = None,
        depth: int = 100,
        query_mode: str = "plain",
    ) -> None:
        from idsearch.reader import IndexReader
        from idsearch.storage import read_manifest

        schema = ix.schema
        if k1 is not None:
            schema = attrs.evolve(schema, k1=k1)
        if b is not None:
            per_field = b if isinstance(b, Mapping) else dict.fromkeys(schema.text_field_names, b)
            unknown = set(per_field) - set(schema.text_field_names)
            if unknown:
                raise ValueError(f"unknown text fields in b: {sorted(unknown)}")
            schema = attrs.evolve(
                schema,
                text_fields=tuple(attrs.evolve(f, b=per_field.get(f.name, f.b)) for f in schema.text_fields),
            )
        if weights:
            unknown = set(weights) - set(schema.text_field_names)
            if unknown:
                raise ValueError(f"unknown text fields in weights: {sorted(unknown)}")
        self.index = ix
        self.fields = tuple(fields) if fields else None
        self.weights = dict(weights) if weights else None
        if query_mode not in ("plain", "bag"):
            raise ValueError(f"query_mode must be 'plain' or 'bag', not {query_mode!r}")
        if self.fields:
            unknown = set(self.fields) - set(schema.text_field_names)
            if unknown:
                raise ValueError(f"unknown text fields: {sorted(unknown)}")
        self.depth = depth
        self.query_mode = query_mode
        self.schema = schema
        self.reader = IndexReader(ix.path, read_manifest(ix.path), schema, ix.analyzer, cache_bytes=ix.cache_bytes)
        self._ids = [segment.ids for segment in self.reader.segments]

    def __call__(self, text: str) -> list[str]:
        return [doc_id for doc_id, _score in self.scored(text)]

    def scored(self, text: str) -> list[tuple[str, float]]:
        """The top ``depth`` (id, score) pairs for ``text``, best first."""
        ix = self.index
        node: Any
        if self.query_mode == "plain":
            node = ix.compile(text, fields=self.fields, syntax=False)
        else:
            from idsearch.reader import BoolNode, TermNode

            fields = self.fields or self.schema.text_field_names
            terms = ix.analyzer.terms(text)
            node = BoolNode(should=tuple(TermNode(t, fields) for t in terms)) if terms else None
        matches, _total = self.reader.matches(node, limit=self.depth, weights=self.weights)
        return [(self._ids[m.segment][m.doc], m.score) for m in matches]

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def index_run(
    ix: Any,
    *,
    fields: Sequence[str] | None = None,
    weights: Mapping[str, float] | None = None,
    k1: float | None = None,
    b: float | Mapping[str, float] | None = None,
    depth: int = 100,
    query_mode: str = "plain",
) -> IndexRun:
    """A run over an index (see :class:`IndexRun`).

    ``fields`` restricts the text fields searched and ``weights`` overrides their BM25F weights, as in
    :meth:`Index.search`. ``k1`` and ``b`` (one value, or per field) override the schema's BM25
    parameters: they are used only when scoring (norms come from stored field lengths), so an index
    need not be rebuilt to try them. With ``query_mode="plain"`` the hits are those of
    ``ix.search(text, syntax=False, limit=depth, ...)``; ids are read from the segments' id lists
    instead of the stored documents, which is much faster."""
    return IndexRun(ix, fields=fields, weights=weights, k1=k1, b=b, depth=depth, query_mode=query_mode)


# -- a synthetic set: short keyword queries ------------------------------------------------------------------


def make_keyword_queries(
    docs: Iterable[Mapping[str, Any]],
    *,
    n: int = 1000,
    seed: int = 13,
    words: tuple[int, int] = (2, 3),
    min_df: int = 2,
    max_df: int = 500,
    min_len: int = 4,
    stopwords: Iterable[str] = (),
    fields: Sequence[str] = ("title", "body"),
    transform: Callable[[str], str] | None = None,
) -> list[EvalQuery]:
    """Known-item queries of 2-3 "rare-ish" words taken from random documents (deterministic per ``seed``).

    For each of ``n`` documents chosen at random, the query is ``words[0]``..``words[1]`` distinct
    alphabetic words of the document (``min_len`` letters or more, not in ``stopwords``) whose document
    frequency over ``docs`` is within ``min_df``..``max_df``, in their order of first appearance in the
    document. ``transform`` may rewrite each word (e.g. to its root, like a user typing ``banjir`` for
    ``kebanjiran``). Query words appear verbatim in the target document, which favours exact matching."""
    stop = frozenset(w.casefold() for w in stopwords)
    word_re = re.compile(r"[^\W_]+")
    doc_words: list[tuple[str, list[str]]] = []
    df: Counter[str] = Counter()
    for doc in docs:
        text = " ".join(str(doc.get(f) or "") for f in fields).casefold()
        ordered = list(
            dict.fromkeys(
                w for w in word_re.findall(text) if len(w) >= min_len and w.isalpha() and w not in stop
            )
        )
        df.update(ordered)
        doc_words.append((str(doc["id"]), ordered))
    rng = random.Random(seed)
    order = list(range(len(doc_words)))
    rng.shuffle(order)
    out: list[EvalQuery] = []
    for i in order:
        if len(out) >= n:
            break
        doc_id, ordered = doc_words[i]
        candidates = [w for w in ordered if min_df <= df[w] <= max_df]
        want = rng.randint(words[0], words[1])
        if len(candidates) < want:
            continue
        picked = set(rng.sample(candidates, want))
        chosen = [w for w in candidates if w in picked]
        if transform is not None:
            chosen = [transform(w) or w for w in chosen]
        out.append(EvalQuery(f"kw-{len(out)}", " ".join(chosen), {doc_id: 1.0}))
    return out


# -- command line --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m idsearch.evaluation INDEX QUERIES.jsonl [...] [--fields body] [--json]``: evaluate an
    index on query files (one set per file, named after the file) and print the table."""
    import argparse

    from idsearch.index import Index

    parser = argparse.ArgumentParser(prog="idsearch eval", description=main.__doc__)
    parser.add_argument("index", help="index directory")
    parser.add_argument("queries", nargs="+", help="query files (JSON lines: qid, query, relevant)")
    parser.add_argument("--fields", help="comma-separated text fields to search (default: all)")
    parser.add_argument(
        "--weight", action="append", default=[], metavar="FIELD=W", help="BM25F weight override"
    )
    parser.add_argument("--k1", type=float, help="BM25 k1 override")
    parser.add_argument("--b", type=float, help="BM25 b override (all fields)")
    parser.add_argument(
        "--query-mode", choices=("plain", "bag"), default="plain", help="how text becomes a query"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    from idsearch.storage import IndexError_

    try:
        weights = {}
        for item in args.weight:
            field, _sep, value = item.partition("=")
            try:
                weights[field] = float(value)
            except ValueError:
                raise ValueError(f"--weight {item!r}: expected FIELD=NUMBER") from None
        with Index.open(args.index) as ix:
            run = index_run(
                ix,
                fields=args.fields.split(",") if args.fields else None,
                weights=weights or None,
                k1=args.k1,
                b=args.b,
                query_mode=args.query_mode,
            )
            reports = {}
            with run:
                for path in args.queries:
                    name = Path(path).name.removesuffix(".jsonl")
                    reports[name] = evaluate(run, load_queries(path), name=name)
    except (OSError, ValueError, IndexError_) as exc:
        print(f"idsearch eval: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(compare_json({args.index: reports}), indent=2))
    else:
        print(compare({args.index: reports}))
        print(compare({args.index: reports}, "mrr@10"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
