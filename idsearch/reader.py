"""The reader: a snapshot of one committed generation, and query execution over its segments.

A reader opens every file of its generation when it is created, so later commits (which may remove
those files) do not disturb it. Query execution is in two passes: first every scoring leaf (term or
phrase) is evaluated on every segment to get ``df`` over the whole index, then BM25F scores are
combined per segment with dense numpy arrays and the top hits are chosen by partial selection.

The common query, an OR of words (with their exact forms and filters), takes a flat path over all segments
at once; its inner loops (BM25F scoring, the best matches, the proximity and lead bonuses) run compiled in
``idsearch._kernel`` when it is built, reading the segments' memory-mapped postings in place, and in numpy
otherwise. Both give the same hits with the same scores to the last bit.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import mmap
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from itertools import pairwise
from pathlib import Path
from typing import Any, Self

import attrs
import numpy as np

from idsearch.analysis import Analyzer
from idsearch.distance import edit_distances, letter_counts
from idsearch.schema import EXACT_SUFFIX, Schema, base_field, exact_field
from idsearch.scoring import bm25_idf, field_inverse_norms, saturate, saturated_sum, top_k
from idsearch.segment import MISSING_DAY, SegmentReader
from idsearch.storage import IndexCorruptError

try:  # the compiled inner loops of OR queries; without them numpy does the same arithmetic
    from idsearch import _kernel
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernel = None

__all__ = [
    "BoolNode",
    "DateNode",
    "FuzzyNode",
    "IndexReader",
    "KeywordNode",
    "Match",
    "PhraseNode",
    "PrefixNode",
    "TermNode",
]

_EPOCH = _dt.date(1970, 1, 1)
# per reader, the postings of the terms queries used (merged across fields, weighted) and where their
# positions are: at least this many bytes, and up to CACHE_BYTES_PER_POSTING per posting of the index
# (a large index has more frequent terms, each with more postings)
LEAF_CACHE_BYTES = 64 << 20
CACHE_BYTES_PER_POSTING = 4
SORTS = ("score", "date", "oldest")  # best first; newest first; oldest first (undated documents last in both)
_UNORDERED = "unordered"  # (internal: every match, in segment and document order, for counts and deletes)
PROXIMITY_DEPTH = 100  # the best BM25F matches reranked with the word-pair proximity bonus
GRID_CELLS = 1 << 22  # the largest grid of the matches' positions laid out with one row length for all
PROTECTED_SHARE = 0.8  # of the cache's bytes, for terms used more than once in the snapshot
PREFIX_TERMS = 64  # the most frequent index words a prefix (presid*) searches
FUZZY_TERMS = 64  # the closest index words a fuzzy word (presidn~) searches, the most frequent first
RUNS_KEPT = 1 << 14  # per reader, the (field, term) -> where its postings are lookups kept (a few MB)
NORMS_KEPT = 16  # per reader, the (field, weight) length norms kept: a document's 8 bytes each


# -- the executable query: analyzed terms, resolved fields ---------------------------------------------------------


@attrs.frozen
class TermNode:
    term: str
    fields: tuple[str, ...]
    boost: float = 1.0


@attrs.frozen
class PhraseNode:
    terms: tuple[str, ...]
    offsets: tuple[int, ...]  # position of each term relative to the first (gaps where stopwords were)
    fields: tuple[str, ...]
    slop: int = 0
    boost: float = 1.0


@attrs.frozen
class DateNode:
    field: str
    start: int | None  # days since 1970-01-01, inclusive
    end: int | None


@attrs.frozen
class KeywordNode:
    field: str
    value: str


@attrs.frozen
class PrefixNode:
    """The words that begin with ``prefix`` (a normalized word, not stemmed): a reader replaces it with an
    OR of the index's terms and exact forms that do (the ``PREFIX_TERMS`` in the most documents)."""

    prefix: str
    fields: tuple[str, ...]
    boost: float = 1.0


@attrs.frozen
class FuzzyNode:
    """A word typed with a tilde (``presidn~``): ``base``, the word as the planner analyzed it (None: it
    analyzes to nothing), and the index's words within ``edits`` edits of ``word`` (normalized, not
    stemmed): a reader replaces it with an OR of ``base`` and the ``FUZZY_TERMS`` closest of those words."""

    word: str
    edits: int
    fields: tuple[str, ...]
    boost: float = 1.0
    base: Any = None


@attrs.frozen
class BoolNode:
    should: tuple[Any, ...] = ()
    must: tuple[Any, ...] = ()
    must_not: tuple[Any, ...] = ()
    boost: float = 1.0


Node = TermNode | PhraseNode | PrefixNode | FuzzyNode | DateNode | KeywordNode | BoolNode
_SCORING = (TermNode, PhraseNode)


def _day(value: _dt.date | None) -> int | None:
    return None if value is None else (value - _EPOCH).days


@attrs.frozen
class Match:
    """A matching document of a snapshot, before its stored fields are read."""

    segment: int
    doc: int
    score: float


class IndexReader:
    """Searches one generation of an index. Cheap to keep open; ``close`` releases its files."""

    def __init__(self, directory: Path, manifest: Mapping[str, Any], schema: Schema, analyzer: Analyzer, *,
                 cache_bytes: int | None = None) -> None:
        self.directory = directory
        self.generation: int = manifest["generation"]
        self.schema = schema
        self.analyzer = analyzer
        self._cache = _TermCache(LEAF_CACHE_BYTES)  # (its bound is set once the segments are open)
        self._runs_kept: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        # (term, fields) -> [its fields' (norms, runs) under the default weights or None, its df (-1: not
        # known yet), its idf, whether it is an exact-form clause], for score_or: the same in every query of
        # this snapshot
        self._terms_kept: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
        # (fields, first letter) -> the index's words that begin so: built on first use (mistyped words
        # mostly begin with a few common letters), see _words_of_letter
        self._letters: dict[tuple[tuple[str, ...], str], tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._letters_lock = threading.Lock()
        # the schema's field weights, exact-form fields weighted as their text fields (not to be modified)
        self._default_weights = {f.name: f.weight for f in schema.text_fields}
        self._default_weights.update({exact_field(f.name): f.weight for f in schema.text_fields})
        self.compiled = True  # OR queries use the compiled inner loops when they are built (tests turn them off)
        self.segments: list[SegmentReader] = []
        try:
            for entry in manifest["segments"]:
                if not isinstance(entry, dict):
                    raise IndexCorruptError(f"{directory}: manifest: a segment entry is not a mapping")
                self.segments.append(SegmentReader(directory, entry, schema))
        except BaseException:
            self.close()
            raise
        self.doc_count = sum(s.nlive for s in self.segments)
        postings = sum(len(fr.docs) for s in self.segments for fr in s.fields.values())
        if cache_bytes is None:
            cache_bytes = max(LEAF_CACHE_BYTES, CACHE_BYTES_PER_POSTING * postings)
        self._cache.limit = cache_bytes
        # where each segment's documents start in the reader's one space of documents (and the end)
        self._bases = np.concatenate(([0], np.cumsum([s.ndocs for s in self.segments]))).astype(np.int64)
        self._base_list: list[int] = self._bases.tolist()
        self._doc_dtype = np.dtype(np.int32 if self._bases[-1] < 1 << 31 else np.int64)  # of cached doc ids
        self.avglen: dict[str, float] = {}
        for field in schema.text_field_names:
            total = sum(int(np.asarray(s.fields[field].lengths, dtype=np.int64)[s.live].sum()) for s in self.segments)
            self.avglen[field] = total / self.doc_count if self.doc_count else 0.0
        self._norms: dict[tuple[str, float], np.ndarray] = {}
        # the live documents of the one space of documents, None when no segment has deletes
        self._live = (np.concatenate([s.live for s in self.segments])
                      if any(s.nlive < s.ndocs for s in self.segments) else None)

    @property
    def _uses_kernel(self) -> bool:
        """Whether OR queries run in the compiled kernel: it is built and this reader has not turned it off."""
        return _kernel is not None and self.compiled

    def close(self) -> None:
        self._cache.clear()  # cached arrays may be views of the segments' memory maps
        for s in self.segments:
            s.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statistics of leaves -------------------------------------------------------------------------------------

    def _inverse_norms(self, seg: int, field: str, weight: float) -> np.ndarray:
        """A field's inverse length norms (times its weight) in one segment: a view of :meth:`_all_inverse_norms`."""
        return self._all_inverse_norms(field, weight)[self._bases[seg] : self._bases[seg + 1]]

    def _all_inverse_norms(self, field: str, weight: float) -> np.ndarray:
        """A field's inverse length norms (times its weight) over the reader's one space of documents."""
        field = base_field(field)  # an exact-form field is normalized by its text field's lengths
        key = (field, weight)
        norms = self._norms.get(key)
        if norms is None:
            tf = self.schema.text_field(field)
            lengths = [s.fields[field].lengths for s in self.segments]
            norms = field_inverse_norms(lengths[0] if len(lengths) == 1 else np.concatenate(lengths),
                                        self.avglen[field], tf.b, weight)
            while len(self._norms) >= NORMS_KEPT:  # searches with ever new field weights: the oldest go
                try:
                    del self._norms[next(iter(self._norms))]
                except (KeyError, RuntimeError, StopIteration):  # (another thread changed it meanwhile)
                    break
            self._norms[key] = norms
        return norms

    def _leaf_tf(self, node: TermNode | PhraseNode, seg: int, weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(live docs, BM25F-combined term frequency) of a term or phrase in one segment.

        A snapshot never changes, so results are kept in a byte-bounded LRU cache: the frequent words
        that recur in many queries are gathered, normalized and merged across fields once."""
        key = (seg, node.terms if isinstance(node, PhraseNode) else node.term,
               getattr(node, "offsets", None), getattr(node, "slop", None), node.fields,
               tuple(weights[f] for f in node.fields))
        hit = self._cache_get(key)
        if hit is not None:
            return hit
        value = self._compute_leaf_tf(node, seg, weights)
        self._cache_put(key, value)
        return value

    def _compute_leaf_tf(self, node: TermNode | PhraseNode, seg: int, weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        segment = self.segments[seg]
        parts = []
        for field in node.fields:
            fr = segment.fields[field]
            if isinstance(node, TermNode):
                postings = fr.postings(node.term)
                if postings is None:
                    continue
                docs, counts = postings
            else:
                docs, counts = _phrase_counts(fr, node)
                if not len(docs):
                    continue
            tf = self._inverse_norms(seg, field, weights[field])[docs]  # (the field's weight / length norm)
            tf *= counts
            parts.append((docs.astype(self._doc_dtype), tf))  # (narrow ids: more terms fit the cache)
        if not parts:
            return np.zeros(0, self._doc_dtype), np.zeros(0, np.float64)
        docs, tf = _sum_fields(parts)
        if segment.nlive < segment.ndocs:
            live = segment.live[docs]
            docs, tf = docs[live], tf[live]
        return docs, tf

    # -- search ----------------------------------------------------------------------------------------------------

    def matches(
        self,
        node: Node | None,
        *,
        limit: int | None = 10,
        weights: Mapping[str, float] | None = None,
        sort: str = "score",
    ) -> tuple[list[Match], int]:
        """The best ``limit`` matches of an executable query and the total number of matches."""
        scores, segs, docs, total = self.best(node, limit=limit, weights=weights, sort=sort)
        return _as_matches(scores, segs, docs), total

    def best(
        self,
        node: Node | None,
        *,
        limit: int | None = 10,
        weights: Mapping[str, float] | None = None,
        sort: str = "score",
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """:meth:`matches` as arrays: the best matches' scores, segments and documents (in their segment), in
        order, and the total number of matches."""
        if sort not in SORTS and sort != _UNORDERED:
            raise ValueError(f"unknown sort {sort!r}: expected 'score', 'date' (newest first) or 'oldest'")
        if sort in ("date", "oldest") and not self.schema.date_fields:
            raise ValueError(f"sort={sort!r}: this index has no date field")
        node = self.rewrite(node)
        if node is None or self.doc_count == 0:
            empty = np.zeros(0, dtype=np.int64)
            return np.zeros(0), empty, empty, 0
        field_weights = self._field_weights(weights)
        flat = _flat_terms(node)
        if flat is not None:
            return self._matches_flat(*flat, limit, field_weights, sort)
        leaves = _scoring_leaves(node)
        per_segment: list[dict[int, tuple[np.ndarray, np.ndarray]]] = []
        df = dict.fromkeys(range(len(leaves)), 0)
        for seg in range(len(self.segments)):
            stats = {}
            for i, leaf in enumerate(leaves):
                docs, tf = self._leaf_tf(leaf, seg, field_weights)
                stats[i] = (docs, tf)
                df[i] += len(docs)
            per_segment.append(stats)
        idf = {i: bm25_idf(self.doc_count, df[i]) for i in range(len(leaves))}
        leaf_index = {id(leaf): i for i, leaf in enumerate(leaves)}
        k1 = self.schema.k1
        per_segment_scores = []
        for seg in range(len(self.segments)):
            ctx = _SegmentContext(self, seg, per_segment[seg], idf, leaf_index, k1)
            per_segment_scores.append(ctx.evaluate(node))
        # the words of the query (its positive terms, not exact forms or phrases) earn the same bonuses as
        # in the flat path: a query with a phrase or a required word ranks like one without
        if sort != "score":
            return self._select_arrays(per_segment_scores, limit, sort)
        words = [i for i, leaf in enumerate(leaves) if isinstance(leaf, TermNode) and not _is_exact(leaf)]
        return self._rerank(lambda n: self._select_arrays(per_segment_scores, n, "score"),
                            [leaves[i] for i in words],  # type: ignore[misc]
                            [idf[i] for i in words], limit, field_weights)

    def _select_arrays(
        self,
        per_segment: Sequence[tuple[np.ndarray | None, np.ndarray | None]],
        limit: int | None,
        sort: str,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(scores, segments, docs) of the best matches over all segments from per-segment (scores, mask), in
        order (ties by segment, then document), and the number of matches."""
        candidates: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (scores, seg, doc)
        total = 0
        for seg, (scores, mask) in enumerate(per_segment):
            if mask is None:  # no positive clause at all
                continue
            segment = self.segments[seg]
            mask = mask & segment.live
            docs = np.flatnonzero(mask)
            total += len(docs)
            if not len(docs):
                continue
            seg_scores = scores[docs] if scores is not None else np.zeros(len(docs))
            if sort == "score" and limit is not None and len(docs) > limit:
                keep = top_k(seg_scores, limit)
                keep.sort()
                docs, seg_scores = docs[keep], seg_scores[keep]
            candidates.append((seg_scores, np.full(len(docs), seg, dtype=np.int64), docs))
        if not candidates:
            empty = np.zeros(0, dtype=np.int64)
            return np.zeros(0), empty, empty, total
        scores = np.concatenate([c[0] for c in candidates])
        segs = np.concatenate([c[1] for c in candidates])
        docs = np.concatenate([c[2] for c in candidates])
        if sort == _UNORDERED:
            return scores, segs, docs, total
        if sort != "score":  # by date, ties by score
            field = self.schema.date_fields[0]
            days = np.empty(len(docs), dtype=np.int64)
            for s in np.unique(segs).tolist():
                sel = segs == s
                days[sel] = self.segments[s].days[field][docs[sel]]
            if sort == "oldest":
                days[days == MISSING_DAY] = np.iinfo(np.int64).max  # (undated last here too)
            order = np.lexsort((docs, segs, -scores, days if sort == "oldest" else -days))
        else:
            order = np.lexsort((docs, segs, -scores))
        if limit is not None:
            order = order[:limit]
        return scores[order], segs[order], docs[order], total

    def _matches_flat(
        self,
        terms: Sequence[TermNode],
        phrases: Sequence[PhraseNode],
        filters: Sequence[Node],
        limit: int | None,
        weights: Mapping[str, float],
        sort: str,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """An OR of terms (and phrases: the words that analyze to several terms, ``4-0``, ``19/12``) over the
        same fields (plus filters): every term at once, over all segments as one space of documents (segment
        after segment, so ties still go by segment, then document), then the phrases' scores added."""
        n_docs = self.doc_count
        k1 = self.schema.k1
        bases = self._bases
        total_docs = int(bases[-1])
        if self._uses_kernel:
            scores = np.zeros(total_docs)
            kept = self._terms_kept
            if len(kept) >= RUNS_KEPT:
                kept.clear()
            default = weights is self._default_weights
            plan = []
            entries = []
            for t in terms:
                key = (t.term, t.fields)
                entry = kept.get(key)
                if entry is None:
                    entry = kept[key] = [None, -1, 0.0, _is_exact(t)]
                parts = entry[0] if default else None
                if parts is None:
                    parts = [(self._all_inverse_norms(f, weights[f]), self._term_runs(f, t.term)) for f in t.fields]
                    if default:
                        entry[0] = parts
                plan.append((t.boost, parts, entry[1]))
                entries.append(entry)
            df_list = _kernel.score_or(scores, self._live, n_docs, k1, self.schema.delta, plan)
            idf_list = []
            for entry, df in zip(entries, df_list):
                if entry[1] != df:  # (its first query)
                    entry[2] = bm25_idf(n_docs, df)
                    entry[1] = df
                idf_list.append(entry[2])
            words = [i for i, entry in enumerate(entries) if not entry[3]]  # exact-form clauses are not words
            word_idf = [idf_list[i] for i in words]
        else:
            scores, idf = self._scores_flat(terms, weights)
            words = [i for i, t in enumerate(terms) if not _is_exact(t)]
            word_idf = idf[words].tolist()
        for phrase in phrases:
            self._add_phrase(scores, phrase, weights)
        mask = None if not filters and sort == "score" else scores > 0
        for f in filters:
            mask &= np.concatenate(
                [_SegmentContext(self, seg, {}, {}, {}, k1).evaluate(f)[1] for seg in range(len(self.segments))]
            )
        if sort != "score":
            per_segment = [(scores[a:b], mask[a:b]) for a, b in zip(bases[:-1].tolist(), bases[1:].tolist())]
            return self._select_arrays(per_segment, limit, sort)
        return self._rerank(lambda n: self._select_global(scores, mask, n, bool(filters)), [terms[i] for i in words], word_idf,
                            limit, weights)

    def _add_phrase(self, scores: np.ndarray, phrase: PhraseNode, weights: Mapping[str, float]) -> None:
        """Add a phrase's BM25F scores to scores over the reader's document space: found segment by segment
        (cached per snapshot) and weighted as the per-segment path weights it."""
        found = [self._leaf_tf(phrase, seg, weights) for seg in range(len(self.segments))]
        df = sum(len(docs) for docs, _tf in found)
        if not df:
            return
        idf = bm25_idf(self.doc_count, df)
        for base, (docs, tf) in zip(self._bases.tolist(), found):
            if len(docs):
                scores[docs.astype(np.int64) + base] += saturate(tf, self.schema.k1, idf, phrase.boost,
                                                                  self.schema.delta)

    def _scores_flat(self, terms: Sequence[TermNode], weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(scores over the reader's document space, idf per term) of an OR of terms, in numpy: the
        reference for the compiled ``score_or``."""
        boosts = np.array([t.boost for t in terms], dtype=np.float64)
        nterms = len(terms)
        parts = [self._global_leaf_weights(t, weights) for t in terms]
        df = np.fromiter((len(d) for d, _w in parts), dtype=np.int64, count=nterms)
        n_docs = self.doc_count
        idf = np.array([bm25_idf(n_docs, d) for d in df.tolist()])  # (the general path's idf, to the bit)
        total_docs = int(self._bases[-1])
        if df.any():
            docs = np.concatenate([d for d, _w in parts])
            # per term: its saturated weights (cached) times boost x idf
            contrib = np.concatenate([w * factor for (_d, w), factor in zip(parts, (boosts * idf).tolist())])
            scores = np.bincount(docs, weights=contrib, minlength=total_docs)
        else:
            scores = np.zeros(total_docs)
        return scores, idf

    def _rerank(
        self,
        select: Callable[[int | None], tuple[np.ndarray, np.ndarray, np.ndarray, int]],
        words: Sequence[TermNode],
        word_idf: Sequence[float],
        limit: int | None,
        weights: Mapping[str, float],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The best matches by score: ``select(n)`` gives the best ``n`` BM25F matches (scores, segments,
        docs, number of matches); the best ``PROXIMITY_DEPTH`` are reranked with the word-pair proximity and
        lead bonuses of the query's ``words`` (in query order, with their idf), both looked up in the fields
        of the first word, and come first; the others follow by BM25F. That order does not depend on
        ``limit``, so that pages of results (``Index.search(offset=...)``) neither repeat nor skip a match;
        the bonuses only add, so scores still go down from hit to hit."""
        has_pairs = any(a.term != b.term for a, b in pairwise(words))
        weight_of_proximity = self.schema.proximity if has_pairs else 0.0
        lead = self.schema.lead if words else 0.0
        if not (weight_of_proximity or lead):
            return select(limit)
        scores, segs, docs, total = select(max(limit, PROXIMITY_DEPTH) if limit is not None else None)
        head = min(len(docs), PROXIMITY_DEPTH)  # the reranked matches
        if not head:
            return scores, segs, docs, total
        shown = head if limit is None else min(limit, head)
        where_all = (docs if len(self.segments) == 1 else self._bases[segs] + docs)[:head]
        if self._uses_kernel:
            reranked = scores[:head].copy()  # (the bonuses are added in place)
            term_of: dict[str, int] = {}
            word_terms = [term_of.setdefault(w.term, len(term_of)) for w in words]
            terms = list(term_of)
            order = np.empty(shown, dtype=np.int64)
            count = _kernel.rerank(reranked, where_all, word_terms, word_idf, [w.boost for w in words],
                                   [(weights[f], [self._term_runs(f, t) for t in terms]) for f in words[0].fields],
                                   self.schema.lead_window, weight_of_proximity, lead, order)
            order = order[:count]
        else:
            pairs = []
            if weight_of_proximity:
                pairs = [(i, i + 1) for i, (a, b) in enumerate(pairwise(words)) if a.term != b.term]
            reranked = self._with_bonuses(scores[:head], segs[:head], where_all, words, np.asarray(word_idf), pairs,
                                          weights, weight_of_proximity, lead)
            order = np.lexsort((where_all, -reranked))[:shown]  # ties by document of the reader's one space
        if limit is not None and limit <= head:  # (the common case: the page lies among the reranked)
            return reranked[order], segs[order], docs[order], total
        rest = slice(head, None if limit is None else limit)
        return (np.concatenate((reranked[order], scores[rest])), np.concatenate((segs[order], segs[rest])),
                np.concatenate((docs[order], docs[rest])), total)

    def _with_bonuses(
        self,
        scores: np.ndarray,
        segs: np.ndarray,
        where_all: np.ndarray,
        words: Sequence[TermNode],
        word_idf: np.ndarray,
        pairs: Sequence[tuple[int, int]],
        weights: Mapping[str, float],
        proximity: float,
        lead: float,
    ) -> np.ndarray:
        """The ``scores`` of the matches (``segs``, and ``where_all``: their documents in the reader's one
        space) plus their proximity and lead bonuses, looked up in the fields of the first word, all words
        of a field at once; in numpy, the reference for the compiled ``rerank``.

        - Lead (:func:`~idsearch.scoring.saturated_sum`): each word among the first ``lead_window``
          positions of a field counts that field's weight.
        - Proximity: each pair of adjacent query words (``pairs``, none when the bonus is off; with the mean
          idf of their words) counts the field's weight for every place where the second word follows the
          first directly (``kota bandung`` in a document that says ``kota Bandung``). The matches' positions are laid out
          on one grid, a row per match, so that "the next position" is one lookup for every occurrence.
        """
        n = len(where_all)
        rows = np.argsort(where_all)  # the matches in document order (postings are)
        docs = where_all[rows].astype(self._doc_dtype)  # the dtype of the cached postings
        row_segs = segs[rows]
        terms = list(dict.fromkeys(w.term for w in words))
        term_of = {t: i for i, t in enumerate(terms)}
        word_terms = np.array([term_of[w.term] for w in words], dtype=np.int64)
        nterms = len(terms)
        lead_counts = np.zeros((nterms, n))
        pair_ids: dict[tuple[int, int], int] = {}
        pair_of = [pair_ids.setdefault((term_of[words[a].term], term_of[words[b].term]), len(pair_ids)) for a, b in pairs]
        if pair_ids:
            pair_table = np.full((nterms, nterms + 1), -1, dtype=np.int64)  # (term, next term or -1) -> pair
            for (a, b), k in pair_ids.items():
                pair_table[a, b] = k
            pair_counts = np.zeros((len(pair_ids), n))
        window = self.schema.lead_window
        several = len(self.segments) > 1
        for field in words[0].fields:
            hits = self._hits(field, terms, docs)
            if hits is None:
                continue
            hit_rows, hit_terms, begins, counts = hits
            weight = weights[field]
            if lead:
                first = self._positions(field, row_segs[hit_rows] if several else None, begins)
                lead_counts[hit_terms, hit_rows] += (first < window) * weight  # a word's first position
            if pair_ids:
                # every occurrence of every word in the matches: its row, its term and its position
                firsts = np.cumsum(counts) - counts
                occ_rows = np.repeat(hit_rows, counts)
                at = np.arange(len(occ_rows)) + np.repeat(begins - firsts, counts)
                pos = self._positions(field, row_segs[occ_rows] if several else None, at)
                occ_terms = np.repeat(hit_terms, counts)
                stride = int(pos.max()) + 2  # a row per match, with an empty cell after its last position
                if n * stride <= GRID_CELLS:
                    cells = occ_rows * stride + pos
                    size = n * stride
                else:  # very long documents: each row only as long as its own match needs
                    extent = np.zeros(n, dtype=np.int64)
                    np.maximum.at(extent, occ_rows, pos + 2)
                    cells = (np.cumsum(extent) - extent)[occ_rows] + pos
                    size = int(extent.sum())
                grid = np.zeros(size, dtype=np.int32)  # mostly never touched: cheap to allocate
                grid[cells] = occ_terms + 1
                found = pair_table[occ_terms, grid[cells + 1] - 1]
                ok = found >= 0
                if ok.any():
                    flat = np.bincount(found[ok] * n + occ_rows[ok], minlength=len(pair_ids) * n)
                    pair_counts += weight * flat.reshape(len(pair_ids), n)
        scores = scores.copy()

        def add_bonus(item_weights: np.ndarray, counts: np.ndarray, strength: float) -> None:
            bonus = np.zeros(n)
            bonus[rows] = saturated_sum(item_weights, counts, strength)  # (counts are in document order)
            np.add(scores, bonus, out=scores)

        if pair_ids:
            firsts, seconds = zip(*pairs)
            pair_idf = (word_idf[list(firsts)] + word_idf[list(seconds)]) / 2.0  # (elementwise: the sums of scalars)
            add_bonus(pair_idf, pair_counts[np.array(pair_of, dtype=np.int64)], proximity)
        if lead:
            boosts = np.array([w.boost for w in words], dtype=np.float64)
            add_bonus(boosts * word_idf, lead_counts[word_terms], lead)
        return scores

    def _hits(
        self, field: str, terms: Sequence[str], docs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Where ``terms`` occur in a field among ``docs`` (sorted, of the reader's document space):
        ``(rows, terms, begins, counts)`` per (term, doc) found, ``begins`` indexing the positions of the
        doc's segment, ``counts`` being the term's frequency; None when no term is found."""
        rows, which, begins, counts = [], [], [], []
        for k, term in enumerate(terms):
            found = self._term_positions(field, term)
            if found is None:
                continue
            pdocs, term_begins, term_counts = found
            where = np.searchsorted(pdocs, docs)  # (docs has pdocs' dtype: nothing is converted)
            hit = np.flatnonzero(pdocs.take(where, mode="clip") == docs)
            if len(hit):
                post = where[hit]
                rows.append(hit)
                which.append(k)
                begins.append(term_begins[post])
                counts.append(term_counts[post])
        if not rows:
            return None
        if len(rows) == 1:
            return (rows[0], np.full(len(rows[0]), which[0], dtype=np.int64), begins[0].astype(np.int64),
                    counts[0].astype(np.int64))
        return (np.concatenate(rows), np.repeat(which, [len(r) for r in rows]),
                np.concatenate(begins, dtype=np.int64), np.concatenate(counts, dtype=np.int64))

    def _positions(self, field: str, segs: np.ndarray | None, at: np.ndarray) -> np.ndarray:
        """``pos[at]`` of a field, from the segment of each entry (``segs``; None: the only segment)."""
        if segs is None:
            return self.segments[0].fields[field].pos[at].astype(np.int64)
        out = np.empty(len(at), dtype=np.int64)
        for seg in np.unique(segs).tolist():
            sel = segs == seg
            out[sel] = self.segments[seg].fields[field].pos[at[sel]]
        return out

    def _global_leaf_weights(self, node: TermNode, weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """A term's documents over every segment at once (numbered segment after segment) and its BM25
        weight in each before idf and boost (``saturate(tf, k1, 1, 1, delta)``): cached per snapshot."""
        key = ("all", node.term, node.fields, tuple(weights[f] for f in node.fields))
        hit = self._cache_get(key)
        if hit is not None:
            return hit
        docs, tf = self._global_tf(node, weights)
        weight = saturate(tf, self.schema.k1, 1.0, 1.0, self.schema.delta)
        value = (docs, weight)  # (narrow ids: more terms fit the cache)
        self._cache_put(key, value)
        return value

    def _global_tf(self, node: TermNode, weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(live docs, BM25F-combined term frequency) of a term over the reader's one space of documents:
        each field's postings of all segments side by side, then the fields merged (the docs are unique,
        not sorted)."""
        parts = []
        for field in node.fields:
            found = self._field_postings(field, node.term)
            if found is None:
                continue
            docs, counts, _starts = found
            tf = self._all_inverse_norms(field, weights[field])[docs]
            tf *= counts
            parts.append((docs, tf))
        if not parts:
            return np.zeros(0, self._doc_dtype), np.zeros(0, np.float64)
        docs, tf = _sum_fields(parts)
        if self._live is not None:
            live = self._live[docs]
            docs, tf = docs[live], tf[live]
        return docs, tf

    def _term_runs(self, field: str, term: str) -> list[tuple[Any, ...]]:
        """A term's postings in a field as the compiled kernel takes them: per segment that has it,
        ``(docs, tf, first, end, base, positions, first position)``, its postings being ``docs[first:end]``
        (the segment's mapped arrays, nothing copied), ``base`` where the segment's documents start in the
        reader's one space and its positions starting at ``positions[first position]`` (None, 0 in a field
        without positions). Kept for the last ``RUNS_KEPT`` terms looked up (views and a few integers)."""
        key = (field, term)
        found = self._runs_kept.get(key)
        if found is None:
            found = []
            for seg, segment in enumerate(self.segments):
                fr = segment.fields[field]
                i = fr.term_index(term)
                if i >= 0:
                    found.append((fr.docs, fr.tf, int(fr.tpost[i]), int(fr.tpost[i + 1]), self._base_list[seg], fr.pos,
                                  int(fr.tpos[i]) if fr.tpos is not None else 0))
            if len(self._runs_kept) >= RUNS_KEPT:
                self._runs_kept.clear()  # (cheap to find again: a binary search per segment)
            self._runs_kept[key] = found
        return found

    def _field_postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]] | None:
        """A term's postings in a field over all segments, side by side: ``(docs, counts, starts)`` with
        ``docs`` (of the cached ids' dtype) in the reader's one space of documents and ``starts`` giving, per segment that has
        the term, ``(segment, where its postings start in docs, where its positions start)``; None when
        no segment has the term."""
        slices = []
        for seg, segment in enumerate(self.segments):
            fr = segment.fields[field]
            i = fr.term_index(term)
            if i >= 0:
                slices.append((seg, fr, i, int(fr.tpost[i]), int(fr.tpost[i + 1])))
        if not slices:
            return None
        if len(slices) == 1:
            seg, fr, i, a, b = slices[0]
            docs = fr.docs[a:b].astype(self._doc_dtype)
            if seg:
                docs += self._bases[seg]
            tpos = int(fr.tpos[i]) if fr.tpos is not None else -1
            return docs, fr.tf[a:b], [(seg, 0, tpos)]
        docs = np.concatenate([fr.docs[a:b] for _seg, fr, _i, a, b in slices], dtype=self._doc_dtype)
        counts = np.concatenate([fr.tf[a:b] for _seg, fr, _i, a, b in slices])
        starts = []
        at = 0
        for seg, fr, i, a, b in slices:
            if seg:
                docs[at : at + b - a] += self._bases[seg]
            starts.append((seg, at, int(fr.tpos[i]) if fr.tpos is not None else -1))
            at += b - a
        return docs, counts, starts

    def _select_global(
        self, scores: np.ndarray, mask: np.ndarray | None, limit: int | None, filtered: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(scores, segments, docs) of the best ``limit`` matches of the reader's document space, best first,
        ties by document order, and the number of matches. Unless ``filtered``, the matches are the
        documents that score above 0 (``mask`` None: nothing else is known of them; scores are never
        negative)."""
        if limit is not None and self._uses_kernel:  # counted and selected in one pass
            docs = np.empty(limit, dtype=np.int64)
            count, total = _kernel.best_matches(scores, limit, mask, docs)
            docs = docs[:count]
            match_scores = scores[docs]
        else:
            docs, match_scores, total = _best_in_numpy(scores, mask, limit, filtered)
        if len(self.segments) == 1:
            return match_scores, np.zeros(len(docs), dtype=np.int64), docs, total
        segs = np.searchsorted(self._bases, docs, side="right") - 1
        return match_scores, segs, docs - self._bases[segs], total

    def _term_positions(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """A term's postings in a field over all segments, in the reader's document space, with where their
        positions are: ``(docs, begins, counts)``, ``begins`` indexing the position array of the posting's
        segment; None when absent. Cached: frequent words recur in queries; positions are not copied."""
        key = ("positions", field, term)
        hit = self._cache_get(key)
        if hit is None:
            found = self._field_postings(field, term)
            hit = ()
            if found is not None:
                docs, tf, starts = found
                begins = np.cumsum(tf, dtype=np.int64)
                begins -= tf  # where each posting's positions start among the term's, segment after segment
                small = True
                for k, (seg, at, tpos) in enumerate(starts):
                    end = starts[k + 1][1] if k + 1 < len(starts) else len(docs)
                    # ... and in the position array of the posting's segment
                    begins[at:end] += tpos - int(begins[at])
                    small = small and int(self.segments[seg].fields[field].tpos[-1]) < 1 << 32
                hit = (docs, begins.astype(np.uint32) if small else begins, tf)
            self._cache_put(key, hit)
        return hit or None

    def cache_info(self) -> dict[str, int]:
        """The cache of query terms' postings: ``entries``, ``bytes`` held and ``limit``."""
        return self._cache.info()

    def _cache_get(self, key: tuple[Any, ...]) -> tuple[Any, ...] | None:
        return self._cache.get(key)

    def _cache_put(self, key: tuple[Any, ...], value: tuple[Any, ...]) -> None:
        self._cache.put(key, value)

    def stored(self, match: Match) -> dict[str, Any]:
        return self.stored_at(match.segment, match.doc)

    def stored_at(self, segment: int, doc: int) -> dict[str, Any]:
        """The stored fields of a segment's document (as :meth:`stored` of its match)."""
        return self.segments[segment].stored(doc)

    def doc_id(self, match: Match) -> str:
        return self.segments[match.segment].doc_id(match.doc)

    def matching(self, node: Node | None, filters: Sequence[Node] = ()) -> list[np.ndarray]:
        """Per segment, the live documents (local numbers, ascending) that match ``node`` (None: every
        document) and every filter."""
        if node is not None:
            _scores, segs, docs, _total = self.best(filtered(node, filters), limit=None, sort=_UNORDERED)
            bounds = np.searchsorted(segs, np.arange(len(self.segments) + 1))
            return [docs[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
        out = []
        for seg, segment in enumerate(self.segments):
            mask = segment.live.copy()
            for f in filters:
                mask &= _SegmentContext(self, seg, {}, {}, {}, self.schema.k1).evaluate(f)[1]
            out.append(np.flatnonzero(mask))
        return out

    def rewrite(self, node: Node | None) -> Node | None:
        """``node`` with each :class:`PrefixNode` replaced by an OR of the words this snapshot has that
        begin with its prefix, and each :class:`FuzzyNode` by an OR of its word and the words near it
        (the node itself when it has neither)."""
        if isinstance(node, PrefixNode):
            return self._expand_prefix(node)
        if isinstance(node, FuzzyNode):
            return self._expand_fuzzy(node)
        if not isinstance(node, BoolNode) or not _has_expansion(node):  # (the common case: nothing to do)
            return node
        should, must, must_not = (tuple(self.rewrite(c) for c in part) for part in (node.should, node.must, node.must_not))
        if (should, must, must_not) == (node.should, node.must, node.must_not):
            return node
        return BoolNode(should=should, must=must, must_not=must_not, boost=node.boost)

    def words_beginning(self, names: Sequence[str], prefix: str) -> dict[str, int]:
        """The terms of postings fields ``names`` (``body``, ``body.exact``...) that begin with ``prefix``,
        each with the most live documents one of those fields has it in (a term only deleted documents
        have is left out: completions, suggestions and fuzzy words never offer a word that finds nothing)."""
        found: dict[str, int] = {}
        end = prefix + "\U0010ffff"
        for name in names:
            counts: dict[str, int] = {}
            for segment in self.segments:
                fr = segment.fields.get(name)
                if fr is None:
                    continue
                terms = fr.terms
                a, b = bisect.bisect_left(terms, prefix), bisect.bisect_left(terms, end)
                if a < b:
                    starts = np.asarray(fr.tpost[a : b + 1], dtype=np.int64)
                    if segment.nlive == len(segment.live):
                        per_term = np.diff(starts)
                    else:  # the live documents among each term's postings
                        alive = segment.live[np.asarray(fr.docs[starts[0] : starts[-1]])]
                        per_term = np.add.reduceat(alive.astype(np.int64), starts[:-1] - starts[0])
                    for term, n in zip(terms[a:b], per_term.tolist()):
                        counts[term] = counts.get(term, 0) + n
            for term, n in counts.items():
                if n > found.get(term, 0):
                    found[term] = n
        return found

    def words_near(self, fields: Sequence[str], word: str, edits: int) -> list[tuple[str, bool, int, int]]:
        """The words of text ``fields`` (their terms, and their exact forms) that begin with the first letter
        of a normalized ``word`` (which mistypings rarely change) and are at most ``edits`` edits from it
        (:func:`~idsearch.distance.edit_distances`), ``word`` itself included, as ``(word, exact, documents,
        edits)``: the closest first, then those in the most documents (any one field's), then in order.
        ``exact``: the word is only an exact form (it is searched in the ``.exact`` fields)."""
        if not word:
            return []
        words, lengths, documents, exact, counts = self._words_of_letter(tuple(fields), word[0])
        near = np.flatnonzero(np.abs(lengths - len(word)) <= edits)
        if len(near):  # (the letter counts rule out most words at once, see idsearch.distance)
            differ = np.abs(counts[near].astype(np.int16) - letter_counts([word])[0]).sum(axis=1)
            near = near[differ <= 2 * edits]
        if not len(near):
            return []
        distances = edit_distances(word, [words[i] for i in near.tolist()], edits)
        close = near[distances <= edits]
        found = sorted(zip((distances[distances <= edits]).tolist(), (-documents[close]).tolist(),
                           [words[i] for i in close.tolist()], exact[close].tolist()))
        return [(w, e, -minus_n, d) for d, minus_n, w, e in found]

    def _words_of_letter(
        self, fields: tuple[str, ...], first: str
    ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The index's words of ``fields`` that begin with ``first``: the words, their lengths, the most
        documents any one field (or its exact-form field) has each in, whether each is only an exact
        form (a word that is also a term is searched as the term), and their letter counts
        (:func:`~idsearch.distance.letter_counts`)."""
        key = (fields, first)
        with self._letters_lock:
            cached = self._letters.get(key)
        if cached is not None:
            return cached
        terms = self.words_beginning(fields, first)
        forms = self.words_beginning([exact_field(f) for f in fields], first)
        found = {**forms, **terms}
        for form, n in forms.items():
            found[form] = max(found[form], n)
        words = list(found)
        value = (words, np.fromiter(map(len, words), dtype=np.int64, count=len(words)),
                 np.fromiter(found.values(), dtype=np.int64, count=len(words)),
                 np.fromiter((w not in terms for w in words), dtype=bool, count=len(words)), letter_counts(words))
        with self._letters_lock:
            self._letters[key] = value
        return value

    def _expand_fuzzy(self, node: FuzzyNode) -> Node:
        near = self.words_near(node.fields, node.word, node.edits)
        taken = {(leaf.term, _is_exact(leaf)) for leaf in _scoring_leaves(node.base) if isinstance(leaf, TermNode)} \
            if node.base is not None else set()
        near = [item for item in near if (item[0], item[1]) not in taken][:FUZZY_TERMS]
        clauses = [] if node.base is None else [node.base]
        # less a share per edit (1 - edits / letters of the word typed): the word as typed, when the index
        # has it, keeps its own weight in base
        clauses.extend(self._alike([(w, e, n, 1 - d / len(node.word)) for w, e, n, d in near], node.fields, node.boost))
        if not clauses:  # no word near it, nor the word itself: as an unknown word is, it leaves nothing
            return TermNode(f"{node.word}~", node.fields, node.boost)
        return clauses[0] if len(clauses) == 1 else BoolNode(should=tuple(clauses))

    def _expand_prefix(self, node: PrefixNode) -> Node:
        exact_fields = tuple(exact_field(f) for f in node.fields)
        found = {(term, False): n for term, n in self.words_beginning(node.fields, node.prefix).items()}
        found.update(((term, True), n) for term, n in self.words_beginning(exact_fields, node.prefix).items())
        stems = {term for term, exact in found if not exact}
        ranked = sorted(((-n, term, exact) for (term, exact), n in found.items() if not (exact and term in stems)))
        kept = ranked[:PREFIX_TERMS]
        if not kept:  # a word no document has, as an unknown word is: required, it leaves nothing
            return TermNode(node.prefix + "*", node.fields, node.boost)
        return BoolNode(should=self._alike([(term, exact, -minus_n, 1.0) for minus_n, term, exact in kept],
                                           node.fields, node.boost))

    def _alike(self, words: Sequence[tuple[str, bool, int, float]], fields: tuple[str, ...], boost: float
               ) -> tuple[TermNode, ...]:
        """The index words a prefix or a fuzzy word stands for, ``(word, only an exact form, documents,
        factor)``, as clauses that each weigh what the most frequent one does, times its factor: a rare
        misspelling that begins the same way (pemberantan) or lies near (presidn) must not outweigh the
        word meant (pemberantasan, presiden) by its idf."""
        if not words:
            return ()
        common = bm25_idf(self.doc_count, max(n for _w, _e, n, _f in words))
        exact_fields = tuple(exact_field(f) for f in fields)
        return tuple(TermNode(w, exact_fields if e else fields, boost * factor * common / bm25_idf(self.doc_count, n))
                     for w, e, n, factor in words)

    def _field_weights(self, weights: Mapping[str, float] | None) -> Mapping[str, float]:
        """Every postings field's weight: the schema's, with ``weights`` over them (an exact-form field
        weighs what its field does)."""
        if not weights:
            return self._default_weights
        field_weights = {f.name: f.weight for f in self.schema.text_fields}
        field_weights.update(weights)
        for field in list(field_weights):
            field_weights[exact_field(field)] = field_weights[field]
        return field_weights

    def clause_scores(
        self, node: Node, seg: int, doc: int, weights: Mapping[str, float] | None = None
    ) -> list[tuple[TermNode | PhraseNode, float, float, float]]:
        """How each scoring clause of a query (outside ``must_not``) scores one document, as the search
        scores it: ``(clause, BM25F-combined frequency, idf, score)``, 0 for a clause the document lacks;
        a clause under a boosted group has the group's boost in its score."""
        field_weights = self._field_weights(weights)
        out = []
        stack: list[tuple[Node, float]] = [(self.rewrite(node), 1.0)]
        while stack:
            n, factor = stack.pop()
            if isinstance(n, BoolNode):
                stack.extend((c, factor * n.boost) for c in reversed(n.must + n.should))
                continue
            if not isinstance(n, _SCORING):
                continue  # a filter: not scored
            found = [self._leaf_tf(n, s, field_weights) for s in range(len(self.segments))]
            idf = bm25_idf(self.doc_count, sum(len(docs) for docs, _tf in found))
            docs, tf = found[seg]
            at = np.flatnonzero(docs == doc)
            if len(at):
                frequency = float(tf[at[0]])
                score = float(saturate(tf[at[:1]], self.schema.k1, idf, n.boost, self.schema.delta)[0]) * factor
                out.append((n, frequency, idf, score))
            else:
                out.append((n, 0.0, idf, 0.0))
        return out

    def document_frequency(self, field: str, term: str) -> int:
        """How many documents have ``term`` in ``field`` (deleted ones too, until a merge drops them)."""
        count = 0
        for segment in self.segments:
            fr = segment.fields[field]
            i = fr.term_index(term)
            if i >= 0:
                count += int(fr.tpost[i + 1]) - int(fr.tpost[i])
        return count

    def find(self, doc_id: str) -> tuple[int, int] | None:
        """(segment, doc) of the live document with this id."""
        for seg in range(len(self.segments) - 1, -1, -1):
            segment = self.segments[seg]
            lookup = _id_lookup(segment)
            doc = lookup.get(doc_id)
            if doc is not None and segment.live[doc]:
                return seg, doc
        return None


class _TermCache:
    """A byte-bounded cache of query terms' arrays that threads may share: a segmented LRU. A new entry
    waits in probation; one used again moves to the protected part (at most ``PROTECTED_SHARE`` of the
    bytes), so the words that recur across queries stay while words met once pass through. The newest
    entry is kept even when it alone exceeds the bound."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._probation: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self._protected: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self._sizes: dict[tuple[Any, ...], int] = {}
        self._held = [0, 0]  # bytes in probation, in the protected part

    def get(self, key: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """A cached value (now the most recently used), or None."""
        with self._lock:
            value = self._protected.get(key)
            if value is not None:
                self._protected.move_to_end(key)
                return value
            value = self._probation.pop(key, None)
            if value is None:
                return None
            size = self._sizes[key]
            self._held[0] -= size
            self._protected[key] = value
            self._held[1] += size
            while self._held[1] > self.limit * PROTECTED_SHARE and len(self._protected) > 1:
                old_key, old = self._protected.popitem(last=False)  # back to probation, as its newest
                self._held[1] -= self._sizes[old_key]
                self._probation[old_key] = old
                self._held[0] += self._sizes[old_key]
            return value

    def put(self, key: tuple[Any, ...], value: tuple[Any, ...]) -> None:
        """Keep a value (one computed by two threads at once is kept once), evicting the least recently
        used entries of probation first."""
        size = _nbytes(value)
        with self._lock:
            for part, held in ((self._probation, 0), (self._protected, 1)):
                if part.pop(key, None) is not None:
                    self._held[held] -= self._sizes[key]
            self._probation[key] = value
            self._sizes[key] = size
            self._held[0] += size
            while self._held[0] + self._held[1] > self.limit:
                if len(self._probation) > 1:
                    old_key, _old = self._probation.popitem(last=False)
                    self._held[0] -= self._sizes.pop(old_key)
                elif self._protected:
                    old_key, _old = self._protected.popitem(last=False)
                    self._held[1] -= self._sizes.pop(old_key)
                else:
                    break

    def clear(self) -> None:
        with self._lock:
            self._probation.clear()
            self._protected.clear()
            self._sizes.clear()
            self._held = [0, 0]

    def info(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._probation) + len(self._protected), "bytes": sum(self._held),
                    "limit": self.limit}


def _nbytes(value: tuple[Any, ...]) -> int:
    """The memory a cached value holds: its arrays, except views of a segment's mapped files (the page
    cache holds those, shared with every reader)."""
    return sum(a.nbytes for a in value if isinstance(a, np.ndarray) and not _is_mapped(a))


def _is_mapped(array: np.ndarray) -> bool:
    base = array.base
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)  # (np.frombuffer of a map)
    return False


def _sum_fields(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The sum of a term's per-field sparse vectors ``(docs, tf)`` (at least one; each with unique, sorted
    docs), field after field: unique docs, not sorted."""
    docs, tf = parts[0]
    for k in range(1, len(parts)):
        if k > 1:  # a merge leaves the docs unsorted; the next one looks them up
            order = np.argsort(docs)
            docs, tf = docs[order], tf[order]
        docs, tf = _merge_sparse(docs, tf, *parts[k])
    return docs, tf


def _merge_sparse(docs: np.ndarray, tf: np.ndarray, more_docs: np.ndarray, more_tf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum two sparse vectors (unique doc ids, each sorted); the result's docs are unique, not sorted.
    The shorter vector is looked up in the longer one (a title's postings in the body's)."""
    if not len(docs):
        return more_docs, more_tf
    if len(more_docs) > len(docs):  # float addition commutes: the sums do not depend on the order
        docs, tf, more_docs, more_tf = more_docs, more_tf, docs, tf
    where = np.searchsorted(docs, more_docs)
    np.minimum(where, len(docs) - 1, out=where)
    found = docs[where] == more_docs
    tf = tf.copy()
    tf[where[found]] += more_tf[found]
    if found.all():
        return docs, tf
    missing = ~found
    return np.concatenate((docs, more_docs[missing])), np.concatenate((tf, more_tf[missing]))


def _id_lookup(segment: SegmentReader) -> dict[str, int]:
    lookup = getattr(segment, "_id_lookup", None)
    if lookup is None:
        lookup = {doc_id: i for i, doc_id in enumerate(segment.ids)}
        segment._id_lookup = lookup  # type: ignore[attr-defined]
    return lookup


def _best_in_numpy(
    scores: np.ndarray, mask: np.ndarray | None, limit: int | None, filtered: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """(docs, scores) of the best ``limit`` matches, best first, ties by document order, and the number of
    matches, in numpy (the reference for the compiled ``best_matches``); see ``_select_global``."""
    total = int(np.count_nonzero(scores if mask is None else mask))
    if mask is None:
        mask = scores  # (as a mask: nonzero is above 0)
    if limit is not None and total > limit and total > len(scores) // 8:
        # many matches: select among all documents at once (every match scores above 0 and every
        # other document 0, unless a filter excluded it)
        candidates = np.where(mask, scores, -np.inf) if filtered else scores
        docs = top_k(candidates, limit)  # best first, ties by lower index: by document order
        return docs, scores[docs], total
    docs = np.flatnonzero(mask)
    match_scores = scores[docs]
    if limit is not None and total > limit:
        keep = top_k(match_scores, limit)
    else:
        keep = np.lexsort((docs, -match_scores))[:limit]
    return docs[keep], match_scores[keep], total


def _as_matches(scores: np.ndarray, segs: np.ndarray, docs: np.ndarray) -> list[Match]:
    return [Match(s, d, sc) for s, d, sc in zip(segs.tolist(), docs.tolist(), scores.tolist())]


def _is_exact(node: TermNode) -> bool:
    return any(f.endswith(EXACT_SUFFIX) for f in node.fields)


def filtered(node: Node | None, filters: Sequence[Node]) -> Node | None:
    """A compiled query under filters (None, a query that matches nothing, stays None)."""
    if not filters or node is None:
        return node
    return BoolNode(must=(node, *filters))


def _has_expansion(node: Node) -> bool:
    """Whether a query tree has a :class:`PrefixNode` or a :class:`FuzzyNode` (a plain walk: it runs for
    every query)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is PrefixNode or type(n) is FuzzyNode:
            return True
        if type(n) is BoolNode:
            stack.extend(n.should)
            stack.extend(n.must)
            stack.extend(n.must_not)
    return False


def _flat_terms(node: Node) -> tuple[list[TermNode], list[PhraseNode], list[Node]] | None:
    """(terms, phrases, filters) when ``node`` is an OR of terms and phrases (nested ORs flattened: a word
    and its exact form) with only filters required - the common query shape, scored by the vectorized path
    - else None. At least one term must be a word (not an exact form)."""
    if isinstance(node, TermNode):
        return [node], [], []
    if not isinstance(node, BoolNode) or node.must_not or node.boost != 1.0:
        return None
    terms: list[TermNode] = []
    phrases: list[PhraseNode] = []
    filters: list[Node] = []
    for child in node.must:
        if isinstance(child, (DateNode, KeywordNode)):
            filters.append(child)
        elif not node.should and not terms and not phrases:
            inner = _flat_terms(child)
            if inner is None:
                return None
            terms.extend(inner[0])
            phrases.extend(inner[1])
            filters.extend(inner[2])
        else:
            return None
    for child in node.should:
        if isinstance(child, TermNode):
            terms.append(child)
        elif isinstance(child, PhraseNode):
            phrases.append(child)
        elif isinstance(child, BoolNode) and not child.must and not child.must_not and child.boost == 1.0:
            inner = _flat_terms(child)
            if inner is None or inner[2]:
                return None
            terms.extend(inner[0])
            phrases.extend(inner[1])
        else:
            return None
    if not terms or all(_is_exact(t) for t in terms):
        return None
    return terms, phrases, filters


def _scoring_leaves(node: Node) -> list[TermNode | PhraseNode]:
    """The terms and phrases of a query tree outside any ``must_not``, depth first, in clause order."""
    out: list[TermNode | PhraseNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, _SCORING):
            out.append(n)
        elif isinstance(n, BoolNode):
            stack.extend(reversed(n.should + n.must))  # (popped in clause order)
    return out


class _SegmentContext:
    """Evaluates a query tree on one segment: (scores or None, match mask or None)."""

    def __init__(self, reader: IndexReader, seg: int, stats: Mapping[int, tuple[np.ndarray, np.ndarray]],
                 idf: Mapping[int, float], leaf_index: Mapping[int, int], k1: float) -> None:
        self.reader = reader
        self.segment = reader.segments[seg]
        self.n = self.segment.ndocs
        self.stats = stats
        self.idf = idf
        self.leaf_index = leaf_index
        self.k1 = k1

    def evaluate(self, node: Node) -> tuple[np.ndarray | None, np.ndarray | None]:
        if isinstance(node, _SCORING):
            mask = np.zeros(self.n, dtype=bool)
            i = self.leaf_index.get(id(node))
            if i is None:  # only under must_not: matching without a score
                docs = self._unscored_docs(node)
                mask[docs] = True
                return None, mask
            docs, tf = self.stats[i]
            scores = np.zeros(self.n, dtype=np.float64)
            if len(docs):
                scores[docs] = saturate(tf, self.k1, self.idf[i], node.boost, self.reader.schema.delta)
                mask[docs] = True
            return scores, mask
        if isinstance(node, DateNode):
            days = np.asarray(self.segment.days[node.field])
            mask = days != MISSING_DAY
            if node.start is not None:
                mask &= days >= node.start
            if node.end is not None:
                mask &= days <= node.end
            return None, mask
        if isinstance(node, KeywordNode):
            code = self.segment.keyword_code(node.field, node.value)
            if code < 0:
                return None, np.zeros(self.n, dtype=bool)
            return None, np.asarray(self.segment.codes[node.field]) == code
        if isinstance(node, BoolNode):
            return self._boolean(node)
        raise TypeError(f"not an executable query node: {node!r}")

    def _unscored_docs(self, node: TermNode | PhraseNode) -> np.ndarray:
        parts = []
        for field in node.fields:
            fr = self.segment.fields[field]
            if isinstance(node, TermNode):
                postings = fr.postings(node.term)
                if postings is not None:
                    parts.append(postings[0].astype(np.int64))
            else:
                parts.append(_phrase_counts(fr, node)[0])
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _flat_or(self, node: BoolNode) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The common case, an OR of scored terms and phrases: one accumulator, no per-clause arrays."""
        scores = np.zeros(self.n, dtype=np.float64)
        matched = False
        for child in node.should:
            i = self.leaf_index[id(child)]
            docs, tf = self.stats[i]
            if len(docs):
                scores[docs] += saturate(tf, self.k1, self.idf[i], child.boost, self.reader.schema.delta)
                matched = True
        if not matched:
            return scores, np.zeros(self.n, dtype=bool)
        if node.boost != 1.0:
            scores *= node.boost
        return scores, scores > 0

    def _boolean(self, node: BoolNode) -> tuple[np.ndarray | None, np.ndarray | None]:
        """must: all; must_not: none; should: at least one, unless a *scoring* must clause exists (then
        they only add score). A filter-only must (``putin source:detik``) keeps the words required."""
        if not node.must and not node.must_not and node.should and all(
            isinstance(c, _SCORING) and id(c) in self.leaf_index for c in node.should
        ):
            return self._flat_or(node)
        scores: np.ndarray | None = None
        must_mask: np.ndarray | None = None
        should_mask: np.ndarray | None = None
        scoring_must = False
        for child in node.must:
            s, m = self.evaluate(child)
            if m is None:
                continue  # an empty clause (e.g. only stopwords) constrains nothing
            must_mask = m if must_mask is None else must_mask & m
            if s is not None:
                scoring_must = True
                scores = s if scores is None else scores + s
        for child in node.should:
            s, m = self.evaluate(child)
            if m is None:
                continue
            should_mask = m if should_mask is None else should_mask | m
            if s is not None:
                scores = s if scores is None else scores + s
        if must_mask is None and should_mask is None:
            return None, None
        if must_mask is None:
            mask = should_mask
        elif should_mask is None or scoring_must:
            mask = must_mask
        else:
            mask = must_mask & should_mask
        assert mask is not None
        for child in node.must_not:
            _s, m = self.evaluate(child)
            if m is not None:
                mask = mask & ~m
        if scores is not None and node.boost != 1.0:
            scores = scores * node.boost
        return scores, mask


def _phrase_counts(fr: Any, node: PhraseNode) -> tuple[np.ndarray, np.ndarray]:
    """(docs, phrase frequency) of a phrase in one field of one segment, from positions.

    Every step keeps its arrays sorted, so they are intersected by binary search (the smaller into the
    larger) instead of sorted again: a phrase with a word as common as ``yang`` took 30-45 ms to sort its
    occurrences the first time (its result is cached per snapshot)."""
    distinct = list(dict.fromkeys(node.terms))
    postings = {}
    for term in distinct:
        p = fr.postings(term)
        if p is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        postings[term] = p
    candidates = reduce(_sorted_intersection, (postings[t][0].astype(np.int64) for t in distinct))
    if not len(candidates):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys: np.ndarray | None = None
    occurrences: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # (a word the phrase repeats is read once)
    for term, offset in zip(node.terms, node.offsets):
        if term not in occurrences:
            pdocs = postings[term][0].astype(np.int64)
            where = np.searchsorted(candidates, pdocs)
            where[where == len(candidates)] = 0
            occurrences[term] = fr.occurrences(term, candidates[where] == pdocs)
        docs, pos = occurrences[term]
        start = pos - offset
        ok = start >= 0
        k = (docs[ok] << 32) | start[ok]  # in order already: documents ascending, positions within each
        if len(k) > 1 and not np.all(k[1:] > k[:-1]):  # (never for positions as segments write them)
            k = np.unique(k)
        if keys is None:
            keys = k
        elif node.slop:  # the starts with an occurrence of this word within slop of where it belongs
            first = np.searchsorted(k, keys - node.slop)
            near = first < len(k)
            near[near] = k[first[near]] <= keys[near] + node.slop
            keys = keys[near]
        else:
            keys = _sorted_intersection(keys, k)
        if not len(keys):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
    assert keys is not None
    docs = keys >> 32  # sorted: each document's matches are one run
    first = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
    return docs[first], np.diff(np.append(first, len(docs)))


def _sorted_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values of two sorted arrays of distinct values that are in both, sorted: each value of the
    shorter one looked up in the longer one (no sort of the two together, as ``np.intersect1d`` does)."""
    if len(a) > len(b):
        a, b = b, a
    if not len(a):
        return a
    at = np.searchsorted(b, a)
    at[at == len(b)] = 0
    return a[b[at] == a]
