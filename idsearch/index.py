"""The public API: create or open an index, write to it, search it.

    >>> ix = Index.create("news.idx")
    >>> with ix.writer() as w:
    ...     w.add({"id": "a1", "title": "Putin dan Pezeshkian", "body": "...", "date": "2024-12-02"})
    >>> hits = ix.search("Putin Suriah", limit=10)
    >>> hits[0].id, hits[0].score, hits[0].fields
"""

from __future__ import annotations

import datetime as _dt
import functools
import gzip
import math
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

import attrs
import numpy as np

from idsearch.analysis import Analyzer, AnalyzerSpec
from idsearch.reader import (
    BoolNode,
    DateNode,
    IndexReader,
    KeywordNode,
    Match,
    Node,
    PhraseNode,
    TermNode,
    _is_exact,
    _scoring_leaves,
    filtered,
)
from idsearch.schema import Schema, exact_field
from idsearch.scoring import bm25_idf
from idsearch.segment import MISSING_DAY
from idsearch.storage import (
    MANIFEST,
    IndexCorruptError,
    IndexError_,
    atomic_write_bytes,
    encode_manifest,
    fsync_dir,
    read_manifest,
)
from idsearch.writer import IndexWriter

if TYPE_CHECKING:
    from idsearch.planner import SynonymTable

__all__ = ["Counts", "Explanation", "Hit", "Index", "IndexStats", "Results", "read_synonyms"]


@attrs.frozen
class Hit:
    """One search result: the document id, its score, rank (1-based) and stored ``fields``.

    The stored fields are read from the index when first used (ranking does not pay for them)."""

    id: str
    score: float
    rank: int
    terms: tuple[str, ...] = attrs.field(default=(), repr=False, eq=False)  # query terms, for highlighting
    _load: Callable[[], dict[str, Any]] | None = attrs.field(default=None, repr=False, eq=False, alias="load")
    _cache: list[dict[str, Any]] = attrs.field(factory=list, repr=False, eq=False, init=False)

    @property
    def fields(self) -> dict[str, Any]:
        if not self._cache:
            self._cache.append(self._load() if self._load is not None else {})
        return self._cache[0]

    @property
    def title(self) -> str | None:
        return self.fields.get("title")

    @property
    def date(self) -> str | None:
        return self.fields.get("date")


class Results(list[Hit]):
    """The hits of a search, best first, with ``total`` (all matching documents) and the query."""

    def __init__(self, hits: Iterable[Hit], total: int, query: str) -> None:
        super().__init__(hits)
        self.total = total
        self.query = query

    def __repr__(self) -> str:
        return f"Results({len(self)} of {self.total} for {self.query!r})"


class Counts(list[tuple[str, int]]):
    """(value, number of documents) pairs from :meth:`Index.counts`, with ``matched`` (the documents
    counted over), ``missing`` (those of them without a value) and the field counted ``by``."""

    def __init__(self, pairs: Iterable[tuple[str, int]], matched: int, missing: int, by: str) -> None:
        super().__init__(pairs)
        self.matched = matched
        self.missing = missing
        self.by = by

    def __repr__(self) -> str:
        return f"Counts({list(self)!r}, matched={self.matched}, missing={self.missing}, by={self.by!r})"


_PERIODS = {"day": "datetime64[D]", "month": "datetime64[M]", "year": "datetime64[Y]"}


@attrs.frozen
class Explanation:
    """Why a document scores what it does for a query (:meth:`Index.explain`): its ``score`` and ``rank``
    in that search (0.0 and None when it does not match), what each clause adds (BM25F: ``(clause text,
    frequency, idf, score)``; the frequency combines the clause's fields with their weights and length
    normalization), and the proximity and lead ``bonus`` (only the best 100 matches get one)."""

    id: str
    score: float
    rank: int | None
    clauses: tuple[tuple[str, float, float, float], ...]
    bonus: float

    def __str__(self) -> str:
        where = f"rank {self.rank}" if self.rank is not None else "does not match"
        lines = [f"{self.id}: score {self.score:.4f} ({where})"]
        bm25f = sum(c[3] for c in self.clauses)
        lines.append(f"  {bm25f:9.4f}  BM25F")
        idle = []
        for text, frequency, idf, score in self.clauses:
            if score or len(self.clauses) <= 8:
                lines.append(f"  {score:9.4f}    {text}  (frequency {frequency:.3f}, idf {idf:.3f})")
            else:
                idle.append(text)
        if idle:  # (a prefix's many words: most are not in a given document)
            shown = "; ".join(idle[:3]) + ("; ..." if len(idle) > 3 else "")
            lines.append(f"  {0.0:9.4f}    {len(idle)} more clauses: {shown}")
        lines.append(f"  {self.bonus:9.4f}  proximity and lead bonuses")
        return "\n".join(lines)


_FIELD_NAME = r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*):"  # a field's name and its colon, as a query writes them
_FIELD_BEFORE = re.compile(_FIELD_NAME + r"\Z")  # just before the word being typed: title:banj
_VALUE_TYPED = re.compile(_FIELD_NAME + r"([^\s\"():]*)\Z")  # a value being typed: source:det


@attrs.frozen
class IndexStats:
    path: str
    generation: int
    documents: int
    deleted: int
    segments: int
    terms: dict[str, int]
    tokens: dict[str, int]
    size_bytes: int
    analyzer: dict[str, Any]
    schema: dict[str, Any]


class Index:
    """An index directory. Searching uses a snapshot that follows new commits automatically;
    :meth:`reader` gives a fixed snapshot."""

    def __init__(self, path: str | os.PathLike[str], manifest: Mapping[str, Any], *, analyzer: Analyzer | None = None,
                 cache_mb: float | None = None, synonyms: Iterable[Iterable[str]] | None = None) -> None:
        self.path = Path(path)
        if cache_mb is not None and not cache_mb >= 0:
            raise ValueError(f"cache_mb must be a number of megabytes >= 0, not {cache_mb!r}")
        # the readers' cache of query terms' postings; None: 64 MB, or 4 bytes per posting of a larger index
        self.cache_bytes = None if cache_mb is None else int(cache_mb * (1 << 20))
        try:
            self.schema = Schema.from_dict(manifest["schema"])
            spec = AnalyzerSpec.from_dict(manifest["analyzer"])
        except (KeyError, ValueError, TypeError) as exc:
            raise IndexCorruptError(f"{self.path / MANIFEST}: {exc}") from None
        if analyzer is not None:
            if analyzer.spec != spec:
                raise ValueError(f"{self.path}: the analyzer given differs from the one that built the index")
            self.analyzer = analyzer
        else:
            try:
                self.analyzer = Analyzer(spec)
            except ValueError as exc:
                raise IndexCorruptError(f"{self.path / MANIFEST}: analyzer: {exc}") from None
        self._highlighter: Any = None
        # the current snapshot and the manifest stamp it was opened at, replaced together
        self._snapshot: tuple[IndexReader, tuple[int, int, int]] | None = None
        self._manifest_file = os.fspath(self.path / MANIFEST)  # stat()ed per search: joined once
        self._snapshot_lock = threading.Lock()  # threads that find it stale open one new reader, not one each
        self._synonyms: SynonymTable | None = None
        self.synonyms = synonyms  # type: ignore[assignment]

    @property
    def synonyms(self) -> list[tuple[str, ...]]:
        """Groups of words and phrases that queries treat as one, e.g. ``[["kpk", "komisi pemberantasan
        korupsi"], ["jokowi", "joko widodo"]]``: an unquoted query word or run of words that spells one
        expression of a group (as this index's analyzer sees it: case and inflection do not matter)
        searches every expression of the group, several words as a phrase. Query time only: set them
        any time, no rebuild (``[]`` or None: none). :func:`read_synonyms` reads them from a file."""
        return list(self._synonyms.groups) if self._synonyms is not None else []

    @synonyms.setter
    def synonyms(self, groups: Iterable[Iterable[str]] | None) -> None:
        if not groups:  # (without importing the query side: a process that only writes never does)
            self._synonyms = None
            return
        from idsearch.planner import SynonymTable

        table = SynonymTable(groups, self.analyzer)
        self._synonyms = table if table.groups else None

    # -- creating and opening ---------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        schema: Schema | None = None,
        analyzer: Analyzer | AnalyzerSpec | None = None,
        overwrite: bool = False,
        cache_mb: float | None = None,
        synonyms: Iterable[Iterable[str]] | None = None,
    ) -> Index:
        """Create an empty index at ``path`` (a new or empty directory; ``overwrite`` replaces an index).
        ``cache_mb`` bounds the memory searches keep for the postings of query terms (see :meth:`open`);
        ``synonyms``: see :attr:`synonyms`."""
        path = Path(path)
        schema = schema or Schema()
        if isinstance(analyzer, AnalyzerSpec) or analyzer is None:
            analyzer = Analyzer(analyzer)
        if path.exists():
            if (path / MANIFEST).exists():
                if not overwrite:
                    raise IndexError_(f"{path}: an index exists already (open it, or pass overwrite=True)")
                shutil.rmtree(path)
            elif any(path.iterdir()):
                raise IndexError_(f"{path}: directory is not empty and holds no index")
        path.mkdir(parents=True, exist_ok=True)
        manifest = {
            "generation": 0,
            "next_segment": 0,
            "schema": schema.to_dict(),
            "analyzer": analyzer.spec.to_dict(),
            "segments": [],
            "words": None,
            "doc_count": 0,
        }
        atomic_write_bytes(path / MANIFEST, encode_manifest(manifest))
        return cls(path, read_manifest(path), analyzer=analyzer, cache_mb=cache_mb, synonyms=synonyms)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        cache_mb: float | None = None,
        synonyms: Iterable[Iterable[str]] | None = None,
    ) -> Index:
        """Open an existing index.

        An OR of words reads the segments' memory-mapped postings directly (the compiled kernel). Other
        searches (phrases, required or excluded words; all of them where the kernel is not built) keep the
        postings of the terms they met (weighted, and where their positions are) in a cache per snapshot (a
        segmented LRU): frequent words recur in queries. ``cache_mb`` bounds it;
        by default it is 64 MB, or 4 bytes per posting of a larger index (about 200 MB for 280 k news
        articles). ``0`` keeps only the last term. :meth:`IndexReader.cache_info` reports its use.
        ``synonyms``: see :attr:`synonyms`."""
        path = Path(path)
        if not path.is_dir():
            raise IndexError_(f"{path}: no such index directory")
        return cls(path, read_manifest(path), cache_mb=cache_mb, synonyms=synonyms)

    # -- writing ---------------------------------------------------------------------------------------------------------

    def writer(self, **options: Any) -> IndexWriter:
        """The index's one writer (a second one raises :class:`~idsearch.storage.LockError`).
        Use as ``with ix.writer() as w:`` - it commits on success and rolls back on an exception."""
        return IndexWriter(self, **options)

    def delete_matching(
        self,
        query: str | None = None,
        *,
        fields: Sequence[str] | None = None,
        since: str | _dt.date | None = None,
        until: str | _dt.date | None = None,
        filters: Mapping[str, str] | None = None,
        default_operator: str = "and",
        syntax: bool = True,
        dry_run: bool = False,
        **keyword_filters: str,
    ) -> int:
        """Delete every document that matches ``query`` and the filters (takedowns, a source dropped, an
        archive's retention: ``ix.delete_matching(until="2015-12-31")``), in one writing session that
        commits; returns how many (``dry_run``: how many would be, deleting nothing). At least a query or
        a filter is required. Every word is required unless ``default_operator="or"``: a deletion errs on
        the side of fewer documents."""
        filter_nodes = self._filter_nodes(since, until, filters, keyword_filters)
        if query is None and not filter_nodes:
            raise ValueError("delete_matching needs a query or a filter (since, until, source=...)")
        node = None
        if query is not None:
            node = self.compile(query, fields=fields, default_operator=default_operator, syntax=syntax)
            if node is None:  # (only stopwords or punctuation: matches nothing)
                return 0
        if dry_run:
            return sum(len(docs) for docs in self._current().matching(node, filter_nodes))
        with self.writer(workers=1) as writer:  # (the lock first: the snapshot below is then the last commit)
            reader = self.reader()
            try:
                for segment, docs in zip(reader.segments, reader.matching(node, filter_nodes)):
                    for doc in docs.tolist():
                        writer.delete(segment.doc_id(doc))
            finally:
                reader.close()
            return writer.deleted

    def optimize(self) -> None:
        """Merge all segments into one (and drop deleted documents)."""
        w = self.writer(merge=False)
        try:
            w.commit(optimize=True)
        finally:
            w.close()

    # -- reading ---------------------------------------------------------------------------------------------------------

    def reader(self) -> IndexReader:
        """A snapshot of the current commit; it does not see later commits. Close it when done."""
        for _attempt in range(5):
            manifest = read_manifest(self.path)
            try:
                return IndexReader(self.path, manifest, self.schema, self.analyzer, cache_bytes=self.cache_bytes)
            except FileNotFoundError:
                continue  # a commit replaced the generation while we opened it: read the new manifest
        raise IndexCorruptError(f"{self.path}: files named by the manifest are missing")

    def _current(self) -> IndexReader:
        st = os.stat(self._manifest_file)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        snapshot = self._snapshot
        if snapshot is not None and snapshot[1] == stamp:
            return snapshot[0]
        with self._snapshot_lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot[1] != stamp:
                # the previous snapshot is not closed here: hits may still read stored fields from it; its
                # files are released when nothing refers to it any more
                snapshot = (self.reader(), stamp)
                self._snapshot = snapshot
            return snapshot[0]

    def close(self) -> None:
        with self._snapshot_lock:
            snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            snapshot[0].close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._current().doc_count

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The stored fields of the document with this id, or None."""
        reader = self._current()
        where = reader.find(doc_id)
        if where is None:
            return None
        return reader.stored(Match(where[0], where[1], 0.0))

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._current().find(doc_id) is not None

    def search(
        self,
        query: str,
        *,
        limit: int | None = 10,
        offset: int = 0,
        fields: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
        since: str | _dt.date | None = None,
        until: str | _dt.date | None = None,
        filters: Mapping[str, str] | None = None,
        sort: str = "score",
        default_operator: str = "or",
        syntax: bool = True,
        reader: IndexReader | None = None,
        **keyword_filters: str,
    ) -> Results:
        """Ranked search.

        ``query`` uses the query language (words, ``"phrases"``, ``+must -not``, ``AND OR NOT``,
        ``field:term``, ``date:2024-12-01..2024-12-31``, ``word^2``). ``fields`` restricts the text fields
        searched, ``weights`` overrides their BM25F weights. ``since``/``until`` (inclusive) and keyword
        filters (``source="tribunnews.com"``, or ``filters={...}``) narrow the results without scoring.
        ``sort`` is ``"score"``, ``"date"`` (newest first) or ``"oldest"`` (undated documents last in
        both, ties by score). ``syntax=False`` reads the query as plain words (no operators), for pasted
        headlines and questions. ``offset`` skips the best matches, for pages of results: ``offset=20,
        limit=10`` is the third page of ten (its hits ranked 21 to 30). The order does not depend on
        ``limit`` or ``offset``, so pages neither repeat nor skip a match.
        """
        reader = reader or self._current()
        node = self.compile(query, fields=fields, default_operator=default_operator, syntax=syntax)
        self._check_weights(weights)
        filter_nodes = self._filter_nodes(since, until, filters, keyword_filters)
        return self._results(reader, node, filter_nodes, query, limit=limit, offset=offset, weights=weights, sort=sort)

    def _check_weights(self, weights: Mapping[str, float] | None) -> None:
        unknown = set(weights or ()) - set(self.schema.text_field_names)
        if unknown:
            raise ValueError(f"unknown text fields in weights: {sorted(unknown)}")

    def documents(self) -> Iterator[dict[str, Any]]:
        """Every live document's stored fields, oldest segment first, as of the commit current when the
        iteration starts. ``with new.writer() as w: w.add_many(old.documents())`` rebuilds an index with
        another analyzer or schema (protected words, a custom dictionary, stopwords)."""
        reader = self._current()
        for segment, docs in zip(reader.segments, reader.matching(None)):
            for doc in docs.tolist():
                yield segment.stored(doc)

    def export(self, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write every live document as one JSON object per line, what ``idsearch index`` reads back (the
        stored JSON as it is), as of the current commit; returns how many. ``target`` is a binary file
        object, or a path: gzip-compressed (level 1, fast) when it ends in ``.gz``, written beside it
        under a temporary name and renamed into place once complete and fsynced, so a failed export
        leaves no partial file."""
        if not isinstance(target, (str, os.PathLike)):
            return self._write_jsonl(target)
        path = Path(target)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "xb") as raw:
                if path.name.endswith(".gz"):
                    with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=1, mtime=0) as zipped:
                        count = self._write_jsonl(zipped)
                else:
                    count = self._write_jsonl(raw)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)
        return count

    def _write_jsonl(self, out: IO[bytes]) -> int:
        reader = self._current()
        count = 0
        for segment, docs in zip(reader.segments, reader.matching(None)):
            lines = []
            for doc in docs.tolist():
                lines.append(segment.stored_bytes(doc))
                if len(lines) == 1024:  # (written a thousand at a time: one call, not one per document)
                    out.write(b"\n".join(lines) + b"\n")
                    count += len(lines)
                    lines = []
            if lines:
                out.write(b"\n".join(lines) + b"\n")
                count += len(lines)
        return count

    def counts(
        self,
        query: str | None = None,
        *,
        by: str,
        per: str = "month",
        fields: Sequence[str] | None = None,
        since: str | _dt.date | None = None,
        until: str | _dt.date | None = None,
        filters: Mapping[str, str] | None = None,
        default_operator: str = "or",
        syntax: bool = True,
        reader: IndexReader | None = None,
        **keyword_filters: str,
    ) -> Counts:
        """How the documents matching ``query`` (None: every document) spread over a keyword field's
        values or a date field's days, months or years (``per``): facets, as in "which outlets covered
        this" or "coverage per month". Keyword values come most frequent first (ties by value), dates in
        order; documents without a value are counted in ``Counts.missing``. Filters as in :meth:`search`."""
        if by in self.schema.date_fields:
            if per not in _PERIODS:
                raise ValueError(f"per must be one of {list(_PERIODS)}, not {per!r}")
        elif by not in self.schema.keyword_fields:
            known = [*self.schema.keyword_fields, *self.schema.date_fields]
            raise ValueError(f"cannot count by {by!r}: not a keyword or date field (this index has {known})")
        reader = reader or self._current()
        filter_nodes = self._filter_nodes(since, until, filters, keyword_filters)
        node = None
        if query is not None:
            node = self.compile(query, fields=fields, default_operator=default_operator, syntax=syntax)
            if node is None:  # (only stopwords or punctuation: matches nothing, like search)
                return Counts([], 0, 0, by)
        totals: dict[Any, int] = {}
        matched = missing = 0
        for segment, docs in zip(reader.segments, reader.matching(node, filter_nodes)):
            matched += len(docs)
            if by in self.schema.date_fields:
                days = np.asarray(segment.days[by])[docs]
                dated = days[days != MISSING_DAY]
                missing += len(days) - len(dated)
                keys, n = np.unique(dated.astype("datetime64[D]").astype(_PERIODS[per]), return_counts=True)
                labels = np.datetime_as_string(keys).tolist()
            else:
                codes = np.asarray(segment.codes[by])[docs]
                present = codes[codes >= 0]
                missing += len(codes) - len(present)
                found, n = np.unique(present, return_counts=True)
                values = segment.keyword_values(by)
                labels = [values[c] for c in found.tolist()]
            for label, count in zip(labels, n.tolist()):
                totals[label] = totals.get(label, 0) + count
        if by in self.schema.date_fields:
            pairs = sorted(totals.items())
        else:
            pairs = sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))
        return Counts(pairs, matched, missing, by)

    def related(
        self,
        doc_id: str,
        *,
        limit: int | None = 10,
        offset: int = 0,
        terms: int = 25,
        fields: Sequence[str] | None = None,
        since: str | _dt.date | None = None,
        until: str | _dt.date | None = None,
        filters: Mapping[str, str] | None = None,
        sort: str = "score",
        reader: IndexReader | None = None,
        **keyword_filters: str,
    ) -> Results:
        """The documents most like a stored one ("more like this"; a portal's *Baca juga* links), best
        first, the document itself left out.

        Its ``terms`` most distinctive terms (``(1 + ln tf) x idf``: frequency in the document, damped,
        times idf in the index; terms of no other document are skipped) are searched as an OR in
        ``fields`` (default: every text field), each boosted by its weight; filters, ``sort``, ``limit``
        and ``offset`` are those of :meth:`search`. Raises KeyError when no live document has this id."""
        _check_whole("terms", terms, least=1)
        reader = reader or self._current()
        where = reader.find(doc_id)
        if where is None:
            raise KeyError(f"no document with id {doc_id!r}")
        text_fields = self._text_fields(fields)
        stored = reader.stored(Match(where[0], where[1], 0.0))
        counts: dict[str, int] = {}
        for field in text_fields:
            text = stored.get(field)
            if isinstance(text, str):
                for term in self.analyzer.analyze(text)[0]:
                    counts[term] = counts.get(term, 0) + 1
        weighted = []
        for term, count in counts.items():
            df = max(reader.document_frequency(field, term) for field in text_fields)
            if df > 1:  # (a term of this document alone finds nothing else)
                weighted.append(((1.0 + math.log(count)) * bm25_idf(reader.doc_count, df), term))
        weighted.sort(key=lambda pair: (-pair[0], pair[1]))
        chosen = weighted[:terms]
        node = (
            BoolNode(should=tuple(TermNode(t, text_fields, w / chosen[0][0]) for w, t in chosen)) if chosen else None
        )
        filter_nodes = self._filter_nodes(since, until, filters, keyword_filters)
        return self._results(reader, node, filter_nodes, f"related:{doc_id}", limit=limit, offset=offset,
                             sort=sort, exclude=where)

    def explain(
        self,
        query: str,
        doc_id: str,
        *,
        fields: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
        since: str | _dt.date | None = None,
        until: str | _dt.date | None = None,
        filters: Mapping[str, str] | None = None,
        default_operator: str = "or",
        syntax: bool = True,
        **keyword_filters: str,
    ) -> Explanation:
        """Why the document ``doc_id`` scores what it does in ``search(query, ...)`` (the same options):
        its score and rank there, what each clause adds, and its bonuses (``str()`` of the result reads
        well). Raises KeyError when no live document has this id."""
        reader = self._current()
        where = reader.find(doc_id)
        if where is None:
            raise KeyError(f"no document with id {doc_id!r}")
        node = self.compile(query, fields=fields, default_operator=default_operator, syntax=syntax)
        self._check_weights(weights)
        filter_nodes = self._filter_nodes(since, until, filters, keyword_filters)
        score, rank, clauses = 0.0, None, []
        if node is not None:
            # its place in the search's order, found in the ranked arrays (no hit objects for every match)
            scores, segs, docs, _total = reader.best(filtered(node, filter_nodes), limit=None, weights=weights)
            at = np.flatnonzero((segs == where[0]) & (docs == where[1]))
            if len(at):
                score, rank = float(scores[at[0]]), int(at[0]) + 1
            clauses = reader.clause_scores(node, where[0], where[1], weights)
        if rank is None:  # (filtered out, or missing a required clause: nothing counts)
            clauses = [(leaf, frequency, idf, 0.0) for leaf, frequency, idf, _score in clauses]
        described = tuple((_clause_text(leaf), frequency, idf, score) for leaf, frequency, idf, score in clauses)
        bonus = score - sum(c[3] for c in described) if rank is not None else 0.0
        return Explanation(doc_id, score, rank, described, bonus)

    def complete(self, text: str, *, limit: int = 10, fields: Sequence[str] | None = None) -> list[tuple[str, int]]:
        """Completions of the word ``text`` ends with, for search as you type: ``text`` with that word
        completed to each word of the index that begins with it (its terms, and the words as written where
        stemming changed them: ``pemerin`` -> ``pemerintah``), as ``(completed text, live documents)``, the
        words in the most documents first (a word only deleted documents have is not offered). What comes
        before the word stays as typed; nothing when ``text`` ends with a space or punctuation.
        A word typed after ``field:`` completes to that text field's words (``title:banj``); a value typed
        after a keyword field's name, to that field's values in live documents, as :meth:`counts` gives
        them (``banjir source:de`` -> ``banjir source:detik.com``; ``source:`` alone: every value).
        ``ix.complete("Presiden jok")`` -> ``[("Presiden joko", 1508), ("Presiden jokowi", 1484), ...]``."""
        _check_whole("limit", limit)
        typed_value = _VALUE_TYPED.search(text)
        keyword_fields = {f.casefold(): f for f in self.schema.keyword_fields}
        if typed_value and typed_value.group(1).casefold() in keyword_fields:
            field, begun = keyword_fields[typed_value.group(1).casefold()], typed_value.group(2).casefold()
            values = [(v, n) for v, n in self.counts(by=field) if v.casefold().startswith(begun)][:limit]
            return [(text[: typed_value.start(2)] + v, n) for v, n in values]
        found = self.analyzer.last_word(text)
        if found is None or not limit:
            return []
        start, word = found
        names = self._text_fields(fields)
        typed_field = _FIELD_BEFORE.search(text, 0, start)  # title:banj completes the words of titles
        if typed_field and typed_field.group(1).casefold() in names:
            names = (typed_field.group(1).casefold(),)
        words = self._current().words_beginning([*names, *(exact_field(f) for f in names)], word)
        best = sorted(words.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [(text[:start] + w, n) for w, n in best]

    def suggest(self, query: str, *, fields: Sequence[str] | None = None) -> str | None:
        """"Did you mean": ``query`` with every word that no document has replaced by the closest word of
        the index (one edit away for words of up to four letters, two for longer ones; the most frequent
        among the closest), the rest as typed; None when no word needs it or no index word is close."""
        from idsearch.spelling import suggest_query

        filter_fields = (*self.schema.keyword_fields, *self.schema.date_fields)
        return suggest_query(self._current(), self.analyzer, self._text_fields(fields), query, filter_fields)

    def _results(
        self,
        reader: IndexReader,
        node: Node | None,
        filter_nodes: list[Node],
        query: str,
        *,
        limit: int | None,
        offset: int,
        sort: str,
        weights: Mapping[str, float] | None = None,
        exclude: tuple[int, int] | None = None,
    ) -> Results:
        """The hits of a compiled query under filters, ``offset`` of them skipped, less the document at
        ``exclude`` (segment, doc)."""
        if limit is not None:
            _check_whole("limit", limit, alternative=" or None")
        _check_whole("offset", offset)
        expanded = False
        if "*" in query or "~" in query:  # prefixes and fuzzy words become the words they stand for, which hits mark
            rewritten = reader.rewrite(node)
            expanded, node = rewritten is not node, rewritten
        node = filtered(node, filter_nodes)
        wanted = None if limit is None else offset + limit + (exclude is not None)
        scores, segs, docs, total = reader.best(node, limit=wanted, weights=weights, sort=sort)
        if exclude is not None:
            keep = (segs != exclude[0]) | (docs != exclude[1])
            total -= int(len(keep) - np.count_nonzero(keep))  # (it matches its own terms unless filtered out)
            scores, segs, docs = scores[keep], segs[keep], docs[keep]
        end = None if limit is None else offset + limit
        scores, segs, docs = scores[offset:end], segs[offset:end], docs[offset:end]
        terms = ()
        if node is not None and len(docs):
            terms = tuple(sorted(self._marked_terms(node) if expanded else _positive_terms(node)))
        segments, stored_at = reader.segments, reader.stored_at
        hits = [
            Hit(segments[seg].doc_id(doc), score, rank, terms, load=functools.partial(stored_at, seg, doc))
            for rank, (seg, doc, score) in enumerate(zip(segs.tolist(), docs.tolist(), scores.tolist()), offset + 1)
        ]
        return Results(hits, total, query)

    def compile(
        self, query: str, *, fields: Sequence[str] | None = None, default_operator: str = "or", syntax: bool = True
    ) -> Node | None:
        """The executable form of a query string."""
        from idsearch.planner import compile_query

        return compile_query(query, self.schema, self.analyzer, self._text_fields(fields), default_operator,
                             syntax=syntax, synonyms=self._synonyms)

    def _marked_terms(self, node: Node) -> set[str]:
        """The terms a hit's snippet marks: the query's positive terms, and the stem of each exact form
        among them (what a prefix like ``pemberant*`` found: the highlighter compares stems)."""
        terms = _positive_terms(node)
        exact = {leaf.term for leaf in _scoring_leaves(node) if isinstance(leaf, TermNode) and _is_exact(leaf)}
        for form in exact:
            terms.update(t for t in self.analyzer.word_terms(form) if t)
        return terms

    def _text_fields(self, fields: Sequence[str] | None) -> tuple[str, ...]:
        """The text fields asked for (None or empty: all of them), checked."""
        if not fields:
            return self.schema.text_field_names
        unknown = set(fields) - set(self.schema.text_field_names)
        if unknown:
            raise ValueError(f"unknown text fields: {sorted(unknown)} (this index has {list(self.schema.text_field_names)})")
        return tuple(fields)

    def _filter_nodes(
        self, since: Any, until: Any, filters: Mapping[str, str] | None, keyword_filters: Mapping[str, str]
    ) -> list[Node]:
        """The filter nodes of a search's ``since``, ``until``, ``filters`` and keyword arguments."""
        keywords = {**(filters or {}), **keyword_filters}
        nodes: list[Node] = []
        if since is not None or until is not None:
            if not self.schema.date_fields:
                raise ValueError("this index has no date field to filter on")
            start = _as_day(since, "since")
            end = _as_day(until, "until")
            if start is not None and end is not None and start > end:
                raise ValueError(f"since ({since}) is after until ({until})")
            nodes.append(DateNode(self.schema.date_fields[0], start, end))
        for field, value in keywords.items():
            if field not in self.schema.keyword_fields:
                raise ValueError(f"unknown filter field {field!r} (keyword fields: {list(self.schema.keyword_fields)})")
            if value is None:
                continue
            nodes.append(KeywordNode(field, " ".join(str(value).split()).casefold()))
        return nodes

    def snippet(self, hit: Hit, field: str | None = None, *, max_chars: int = 240, style: str = "plain") -> str:
        """The best passage of a hit's stored text with the matched words marked (``style``: ``plain``
        ``[...]``, ``ansi`` for terminals, ``html`` escaped with ``<mark>``, ``none``). ``field`` defaults
        to the last text field (the body)."""
        from idsearch.highlight import Highlighter

        field = field or self.schema.text_field_names[-1]
        text = hit.fields.get(field)
        if not isinstance(text, str) or not text:
            return ""
        highlighter = self._highlighter
        if highlighter is None:
            highlighter = self._highlighter = Highlighter(self.analyzer)
        return highlighter.snippet(text, hit.terms, max_chars=max_chars, style=style)

    # -- information -----------------------------------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        reader = self._current()
        manifest = read_manifest(self.path)
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        terms = {f: sum(len(s.fields[f].tpost) - 1 for s in reader.segments) for f in self.schema.text_field_names}
        tokens = {f: sum(int(s.entry.get("tokens", {}).get(f, 0)) for s in reader.segments) for f in self.schema.text_field_names}
        return IndexStats(
            path=str(self.path),
            generation=reader.generation,
            documents=reader.doc_count,
            deleted=sum(s.ndocs - s.nlive for s in reader.segments),
            segments=len(reader.segments),
            terms=terms,
            tokens=tokens,
            size_bytes=size,
            analyzer=manifest["analyzer"],
            schema=manifest["schema"],
        )

    def check(self) -> Any:
        """Verify the index on disk: every file the manifest names (size, CRC-32), array types and
        shapes, postings order, document counts, stored documents. Returns a ``CheckReport`` with
        ``ok`` and ``problems``; nothing in the files is executed."""
        from idsearch.integrity import check_index

        return check_index(self.path)

    @property
    def generation(self) -> int:
        return self._current().generation

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r})"


def _as_day(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, str):
        from idsearch.dates import DateParseError, parse_date

        try:
            value = parse_date(value)
        except DateParseError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if not isinstance(value, _dt.date):
        raise ValueError(f"{name}: expected a date, not {value!r}")
    return (value - _dt.date(1970, 1, 1)).days


def _positive_terms(node: Node) -> set[str]:
    """The terms of a query's scoring leaves outside any ``must_not`` (what highlighting marks)."""
    out: set[str] = set()
    for leaf in _scoring_leaves(node):
        if isinstance(leaf, TermNode):
            out.add(leaf.term)
        else:
            out.update(leaf.terms)
    return out


def read_synonyms(path: str | os.PathLike[str]) -> list[list[str]]:
    """Synonym groups from a text file: one group a line, its words or phrases separated by commas
    (``kpk, komisi pemberantasan korupsi``); blank lines and lines starting with ``#`` are skipped.
    Raises ValueError naming the file and line of a line with fewer than two."""
    groups = []
    with open(path, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            group = [part.strip() for part in line.split(",") if part.strip()]
            if len(group) < 2:
                raise ValueError(f"{path}:{number}: a synonym group needs two words or phrases, separated by commas")
            groups.append(group)
    return groups


def _check_whole(name: str, value: Any, *, least: int = 0, alternative: str = "") -> None:
    """Raise ValueError unless ``value`` is a whole number (not a bool) of at least ``least``; the message
    names the ``alternative`` the argument also allows."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be a whole number >= {least}{alternative}, not {value!r}")


def _clause_text(leaf: TermNode | PhraseNode) -> str:
    """A scoring clause as a person reads it: ``title,body: temu`` or ``body: "joko widodo"~2 ^1.5``."""
    if isinstance(leaf, TermNode):
        text = leaf.term
    else:
        text = '"' + " ".join(leaf.terms) + '"' + (f"~{leaf.slop}" if leaf.slop else "")
    boost = f" ^{leaf.boost:.3g}" if leaf.boost != 1.0 else ""
    return f"{','.join(leaf.fields)}: {text}{boost}"
