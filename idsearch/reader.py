"""The reader: a snapshot of one committed generation, and query execution over its segments.

A reader opens every file of its generation when it is created, so later commits (which may remove
those files) do not disturb it. Query execution is in two passes: first every scoring leaf (term or
phrase) is evaluated on every segment to get ``df`` over the whole index, then BM25F scores are
combined per segment with dense numpy arrays and the top hits are chosen by partial selection.
"""

from __future__ import annotations

import datetime as _dt
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from idsearch.analysis import Analyzer
from idsearch.schema import EXACT_SUFFIX, Schema, base_field, exact_field
from idsearch.scoring import bm25_idf, field_inverse_norms, lead_bonus, saturate, top_k
from idsearch.segment import MISSING_DAY, SegmentReader
from idsearch.storage import IndexCorruptError

__all__ = [
    "BoolNode",
    "DateNode",
    "IndexReader",
    "KeywordNode",
    "Match",
    "PhraseNode",
    "TermNode",
]

_EPOCH = _dt.date(1970, 1, 1)
LEAF_CACHE_BYTES = 64 << 20  # per reader: postings of frequent terms, merged across fields
PROXIMITY_DEPTH = 100  # the best BM25F matches reranked with the word-pair proximity bonus


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
class BoolNode:
    should: tuple[Any, ...] = ()
    must: tuple[Any, ...] = ()
    must_not: tuple[Any, ...] = ()
    boost: float = 1.0


Node = TermNode | PhraseNode | DateNode | KeywordNode | BoolNode
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

    def __init__(self, directory: Path, manifest: Mapping[str, Any], schema: Schema, analyzer: Analyzer) -> None:
        self.directory = directory
        self.generation: int = manifest["generation"]
        self.schema = schema
        self.analyzer = analyzer
        self._leaf_cache: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self._leaf_cache_bytes = 0
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
        # where each segment's documents start in the reader's one space of documents (and the end)
        self._bases = np.concatenate(([0], np.cumsum([s.ndocs for s in self.segments]))).astype(np.int64)
        self.avglen: dict[str, float] = {}
        for field in schema.text_field_names:
            total = sum(int(np.asarray(s.fields[field].lengths, dtype=np.int64)[s.live].sum()) for s in self.segments)
            self.avglen[field] = total / self.doc_count if self.doc_count else 0.0
        self._norms: dict[tuple[int, str, float], np.ndarray] = {}

    def close(self) -> None:
        self._leaf_cache.clear()  # cached arrays may be views of the segments' memory maps
        self._leaf_cache_bytes = 0
        for s in self.segments:
            s.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statistics of leaves -------------------------------------------------------------------------------------

    def _inverse_norms(self, seg: int, field: str, weight: float) -> np.ndarray:
        field = base_field(field)  # an exact-form field is normalized by its text field's lengths
        key = (seg, field, weight)
        norms = self._norms.get(key)
        if norms is None:
            tf = self.schema.text_field(field)
            norms = field_inverse_norms(self.segments[seg].fields[field].lengths, self.avglen[field], tf.b, weight)
            self._norms[key] = norms
        return norms

    def _leaf_tf(self, node: TermNode | PhraseNode, seg: int, weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(live docs, BM25F-combined term frequency) of a term or phrase in one segment.

        A snapshot never changes, so results are kept in a byte-bounded LRU cache: the frequent words
        that recur in many queries are gathered, normalized and merged across fields once."""
        key = (seg, node.terms if isinstance(node, PhraseNode) else node.term,
               getattr(node, "offsets", None), getattr(node, "slop", None), node.fields,
               tuple(weights[f] for f in node.fields))
        cache = self._leaf_cache
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
        value = self._compute_leaf_tf(node, seg, weights)
        self._cache_put(key, value)
        return value

    def _compute_leaf_tf(self, node: TermNode | PhraseNode, seg: int, weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        segment = self.segments[seg]
        parts_docs = []
        parts_tf = []
        for field in node.fields:
            fr = segment.fields[field]
            if isinstance(node, TermNode):
                postings = fr.postings(node.term)
                if postings is None:
                    continue
                docs = postings[0].astype(np.int64)
                tf = postings[1].astype(np.float64)
            else:
                docs, counts = _phrase_counts(fr, node)
                if not len(docs):
                    continue
                tf = counts.astype(np.float64)
            parts_docs.append(docs)
            parts_tf.append(tf * self._inverse_norms(seg, field, weights[field])[docs])
        if not parts_docs:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        docs, tf = parts_docs[0], parts_tf[0]
        for k in range(1, len(parts_docs)):
            if k > 1:  # a merge leaves the docs unsorted; the next one looks them up
                order = np.argsort(docs)
                docs, tf = docs[order], tf[order]
            docs, tf = _merge_sparse(docs, tf, parts_docs[k], parts_tf[k])
        live = segment.live[docs]
        if not live.all():
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
        if node is None or self.doc_count == 0:
            return [], 0
        field_weights = {f.name: f.weight for f in self.schema.text_fields}
        if weights:
            field_weights.update(weights)
        for field in list(field_weights):
            field_weights[exact_field(field)] = field_weights[field]
        flat = _flat_terms(node)
        if flat is not None:
            return self._matches_flat(flat[0], flat[1], limit, field_weights, sort)
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
            return self._select(per_segment_scores, limit, sort)
        words = [i for i, leaf in enumerate(leaves) if isinstance(leaf, TermNode) and not _is_exact(leaf)]
        return self._rerank(lambda n: self._select_arrays(per_segment_scores, n, "score"),
                            [leaves[i] for i in words],  # type: ignore[misc]
                            np.array([idf[i] for i in words]), limit, field_weights)

    def _select(
        self,
        per_segment: Sequence[tuple[np.ndarray | None, np.ndarray | None]],
        limit: int | None,
        sort: str,
    ) -> tuple[list[Match], int]:
        """The best matches over all segments from per-segment (scores, mask); ties by document order."""
        scores, segs, docs, total = self._select_arrays(per_segment, limit, sort)
        return _as_matches(scores, segs, docs), total

    def _select_arrays(
        self,
        per_segment: Sequence[tuple[np.ndarray | None, np.ndarray | None]],
        limit: int | None,
        sort: str,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(scores, segments, docs) of the best matches, in order, and the number of matches."""
        if sort not in ("score", "date"):
            raise ValueError(f"unknown sort {sort!r}: expected 'score' or 'date'")
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
        if sort == "date":
            field = self.schema.date_fields[0]
            days = np.empty(len(docs), dtype=np.int64)
            for s in np.unique(segs).tolist():
                sel = segs == s
                days[sel] = self.segments[s].days[field][docs[sel]]
            order = np.lexsort((docs, segs, -scores, -days))
        else:
            order = np.lexsort((docs, segs, -scores))
        if limit is not None:
            order = order[:limit]
        return scores[order], segs[order], docs[order], total

    def _matches_flat(
        self,
        terms: Sequence[TermNode],
        filters: Sequence[Node],
        limit: int | None,
        weights: Mapping[str, float],
        sort: str,
    ) -> tuple[list[Match], int]:
        """An OR of terms over the same fields (plus filters): every term at once, over all segments as one
        space of documents (segment after segment, so ties still go by segment, then document)."""
        boosts = np.array([t.boost for t in terms], dtype=np.float64)
        nterms = len(terms)
        parts = [self._global_leaf_weights(t, weights) for t in terms]
        df = np.fromiter((len(d) for d, _w in parts), dtype=np.int64, count=nterms)
        n_docs = self.doc_count
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        k1 = self.schema.k1
        bases = self._bases
        total_docs = int(bases[-1])
        if df.any():
            docs = np.concatenate([d for d, _w in parts])
            # per term: its saturated weights (cached) times boost x idf
            contrib = np.concatenate([w * factor for (_d, w), factor in zip(parts, (boosts * idf).tolist())])
            scores = np.bincount(docs, weights=contrib, minlength=total_docs)
        else:
            scores = np.zeros(total_docs)
        mask = scores > 0
        for f in filters:
            mask &= np.concatenate(
                [_SegmentContext(self, seg, {}, {}, {}, k1).evaluate(f)[1] for seg in range(len(self.segments))]
            )
        if sort != "score":
            per_segment = [(scores[a:b], mask[a:b]) for a, b in zip(bases[:-1].tolist(), bases[1:].tolist())]
            return self._select(per_segment, limit, sort)
        words = [i for i, t in enumerate(terms) if not _is_exact(t)]  # exact-form clauses are not words
        return self._rerank(lambda n: self._select_global(scores, mask, n), [terms[i] for i in words], idf[words],
                            limit, weights)

    def _rerank(
        self,
        select: Callable[[int | None], tuple[np.ndarray, np.ndarray, np.ndarray, int]],
        words: Sequence[TermNode],
        word_idf: np.ndarray,
        limit: int | None,
        weights: Mapping[str, float],
    ) -> tuple[list[Match], int]:
        """The best matches by score: ``select(n)`` gives the best ``n`` BM25F matches (scores, segments,
        docs, number of matches); the best ``PROXIMITY_DEPTH`` are reranked with the word-pair proximity and
        lead bonuses of the query's ``words`` (in query order, with their idf), both looked up in the fields
        of the first word."""
        pairs = [(a, b) for a, b in zip(range(len(words)), range(1, len(words))) if words[a].term != words[b].term]
        weight_of_proximity = self.schema.proximity if pairs else 0.0
        lead = self.schema.lead if words else 0.0
        if not (weight_of_proximity or lead):
            scores, segs, docs, total = select(limit)
            return _as_matches(scores, segs, docs), total
        depth = max(limit or 0, PROXIMITY_DEPTH) if limit is not None else None
        scores, segs, docs, total = select(depth)
        fields = words[0].fields
        word_pairs = [(words[a].term, words[b].term) for a, b in pairs] if weight_of_proximity else []
        first, keys, rows = self._gather_positions(segs, docs, [w.term for w in words], fields,
                                                   {t for pair in word_pairs for t in pair})
        if weight_of_proximity:
            pair_idf = np.array([(word_idf[a] + word_idf[b]) / 2.0 for a, b in pairs])
            scores = scores + self._proximity(rows, word_pairs, pair_idf, fields, weights,
                                              weight_of_proximity, keys)
        if lead:  # idsearch.scoring.lead_bonus: query words among the first words of a field
            boosts = np.array([w.boost for w in words], dtype=np.float64)
            scores = scores + lead_bonus(first, boosts * word_idf, weights, self.schema.lead_window, lead)
        order = np.lexsort((docs, segs, -scores))
        if limit is not None:
            order = order[:limit]
        return _as_matches(scores[order], segs[order], docs[order]), total

    def _global_leaf_weights(self, node: TermNode, weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """A term's documents over every segment at once (numbered segment after segment) and its BM25
        weight in each before idf and boost (``saturate(tf, k1, 1, 1, delta)``): cached per snapshot."""
        key = ("all", node.term, node.fields, tuple(weights[f] for f in node.fields))
        cache = self._leaf_cache
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
        parts = [self._compute_leaf_tf(node, seg, weights) for seg in range(len(self.segments))]
        bases = self._bases
        docs = np.concatenate([d + bases[seg] if seg else d for seg, (d, _tf) in enumerate(parts)])
        tf = np.concatenate([tf for _d, tf in parts])
        value = (docs, saturate(tf, self.schema.k1, 1.0, 1.0, self.schema.delta))
        self._cache_put(key, value)
        return value

    def _select_global(self, scores: np.ndarray, mask: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(scores, segments, docs) of the best ``limit`` matches of the reader's document space, best first,
        ties by document order, and the number of matches."""
        docs = np.flatnonzero(mask)
        total = len(docs)
        match_scores = scores[docs]
        if limit is not None and total > limit:
            keep = top_k(match_scores, limit)  # best first, ties by lower index: by document order
        else:
            keep = np.lexsort((docs, -match_scores))
            if limit is not None:
                keep = keep[:limit]
        docs, match_scores = docs[keep], match_scores[keep]
        segs = np.searchsorted(self._bases, docs, side="right") - 1
        return match_scores, segs, docs - self._bases[segs], total

    def _gather_positions(
        self, segs: np.ndarray, docs_of: np.ndarray, words: Sequence[str], fields: Sequence[str], with_keys: set[str]
    ) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray], np.ndarray]:
        """Positions of the query words in the matches to rerank, each word looked up once per field over
        all segments at once: ``first[field]`` is (words x matches), the first position of each word in each
        match (-1: absent); ``rows`` are the indices of the matches in document order; for the words in
        ``with_keys``, ``keys[(field, word)]`` holds ``row << 32 | position`` of every occurrence, ``row``
        being an index into ``rows``."""
        first = {f: np.full((len(words), len(docs_of)), -1, dtype=np.int64) for f in fields}
        keys: dict[tuple[str, str], np.ndarray] = {}
        where_all = self._bases[segs] + docs_of
        rows = np.argsort(where_all)
        docs = where_all[rows]
        for field in fields:
            for k, term in enumerate(words):
                found = self._term_positions(field, term)
                if found is None:
                    continue
                pdocs, begins, counts, bounds, positions = found
                where = np.minimum(np.searchsorted(pdocs, docs), len(pdocs) - 1)
                hit = pdocs[where] == docs
                if not hit.any():
                    continue
                post = where[hit]
                first[field][k, rows[hit]] = _gather(positions, bounds, post, begins[post])
                if term in with_keys and (field, term) not in keys:
                    lens = counts[post].astype(np.int64)
                    occurrence = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
                    post_of = np.repeat(post, lens)
                    row = np.repeat(np.flatnonzero(hit).astype(np.int64), lens)
                    at = _gather(positions, bounds, post_of, begins[post_of] + occurrence)
                    keys[(field, term)] = (row << 32) | at.astype(np.int64)
        return first, keys, rows

    def _term_positions(
        self, field: str, term: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]] | None:
        """A term's postings in a field over all segments, in the reader's document space, with where their
        positions are: ``(docs, begins, counts, bounds, positions)``, postings ``bounds[j]:bounds[j + 1]``
        being those of ``positions[j]`` (a segment's position array, indexed by ``begins``); None when absent.
        Cached: frequent words recur in queries; positions are not copied."""
        key = ("positions", field, term)
        cache = self._leaf_cache
        hit = cache.get(key)
        if hit is None:
            parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
            for seg, segment in enumerate(self.segments):
                fr = segment.fields[field]
                i = fr.term_index(term)
                if i < 0:
                    continue
                a, b = int(fr.tpost[i]), int(fr.tpost[i + 1])
                tf = fr.tf[a:b].astype(np.int32)
                begins = np.cumsum(tf, dtype=np.int64)
                begins -= tf
                begins += int(fr.tpos[i])
                parts.append((fr.docs[a:b] + self._bases[seg] if seg else fr.docs[a:b], begins, tf, fr.pos))
            hit = ()
            if parts:
                bounds = np.cumsum([0] + [len(p[0]) for p in parts]).astype(np.int64)
                joined = parts[0][:3] if len(parts) == 1 else tuple(np.concatenate([p[k] for p in parts]) for k in range(3))
                hit = (*joined, bounds, [p[3] for p in parts])
            self._cache_put(key, hit)
        else:
            cache.move_to_end(key)
        return hit or None

    def _cache_put(self, key: tuple[Any, ...], value: tuple[Any, ...]) -> None:
        """Keep arrays in the reader's byte-bounded LRU cache (what is not an array, such as the list of the
        segments' own position arrays, is not counted: it is not a copy)."""
        cache = self._leaf_cache
        cache[key] = value
        self._leaf_cache_bytes += _nbytes(value)
        while self._leaf_cache_bytes > LEAF_CACHE_BYTES and len(cache) > 1:
            _k, old = cache.popitem(last=False)
            self._leaf_cache_bytes -= _nbytes(old)

    def _proximity(
        self,
        rows: np.ndarray,
        pairs: Sequence[tuple[str, str]],
        pair_idf: np.ndarray,
        fields: Sequence[str],
        weights: Mapping[str, float],
        strength: float,
        keys: Mapping[tuple[str, str], np.ndarray],
    ) -> np.ndarray:
        """Score bonus of each match for the query's adjacent word pairs found in the same order in the
        text (``kota bandung`` in a document that says ``kota Bandung``): for every pair,
        ``strength * idf(pair) * c / (c + 1)`` where ``c`` counts its occurrences (field-weighted).
        ``rows`` and ``keys`` are the matches in document order and the words' occurrences from
        :meth:`_gather_positions`."""
        counts = np.zeros((len(pairs), len(rows)))
        for field in fields:
            for k, (a, b) in enumerate(pairs):
                ka, kb = keys.get((field, a)), keys.get((field, b))
                if ka is not None and kb is not None:
                    both = np.intersect1d(ka + 1, kb, assume_unique=True)
                    if len(both):
                        counts[k] += weights[field] * np.bincount(both >> 32, minlength=len(rows))
        bonus = np.zeros(len(rows))
        bonus[rows] = strength * (pair_idf[:, None] * counts / (counts + 1.0)).sum(axis=0)
        return bonus

    def stored(self, match: Match) -> dict[str, Any]:
        return self.segments[match.segment].stored(match.doc)

    def doc_id(self, match: Match) -> str:
        return self.segments[match.segment].ids[match.doc]

    def find(self, doc_id: str) -> tuple[int, int] | None:
        """(segment, doc) of the live document with this id."""
        for seg in range(len(self.segments) - 1, -1, -1):
            segment = self.segments[seg]
            lookup = _id_lookup(segment)
            doc = lookup.get(doc_id)
            if doc is not None and segment.live[doc]:
                return seg, doc
        return None


def _nbytes(value: tuple[Any, ...]) -> int:
    return sum(a.nbytes for a in value if isinstance(a, np.ndarray))


def _gather(positions: list[np.ndarray], bounds: np.ndarray, post: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``positions[j][index]`` for every posting ``post``, ``j`` being the part (segment) it belongs to."""
    if len(positions) == 1:
        return positions[0][index]
    part = np.searchsorted(bounds, post, side="right") - 1
    out = np.empty(len(post), dtype=np.int64)
    for j in np.unique(part).tolist():
        sel = part == j
        out[sel] = positions[j][index[sel]]
    return out


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


def _as_matches(scores: np.ndarray, segs: np.ndarray, docs: np.ndarray) -> list[Match]:
    return [Match(s, d, sc) for s, d, sc in zip(segs.tolist(), docs.tolist(), scores.tolist())]


def _is_exact(node: TermNode) -> bool:
    return any(f.endswith(EXACT_SUFFIX) for f in node.fields)


def _flat_terms(node: Node) -> tuple[list[TermNode], list[Node]] | None:
    """(terms, filters) when ``node`` is an OR of terms (nested ORs flattened: a word and its exact form)
    with only filters required - the common query shape, scored by the vectorized path - else None."""
    if isinstance(node, TermNode):
        return [node], []
    if not isinstance(node, BoolNode) or node.must_not or node.boost != 1.0:
        return None
    terms: list[TermNode] = []
    filters: list[Node] = []
    for child in node.must:
        if isinstance(child, (DateNode, KeywordNode)):
            filters.append(child)
        elif not node.should and not terms:
            inner = _flat_terms(child)
            if inner is None:
                return None
            terms.extend(inner[0])
            filters.extend(inner[1])
        else:
            return None
    for child in node.should:
        if isinstance(child, TermNode):
            terms.append(child)
        elif isinstance(child, BoolNode) and not child.must and not child.must_not and child.boost == 1.0:
            inner = _flat_terms(child)
            if inner is None or inner[1]:
                return None
            terms.extend(inner[0])
        else:
            return None
    if not terms or all(_is_exact(t) for t in terms):
        return None
    return terms, filters


def _scoring_leaves(node: Node) -> list[TermNode | PhraseNode]:
    out: list[TermNode | PhraseNode] = []

    def walk(n: Node, positive: bool) -> None:
        if isinstance(n, _SCORING):
            if positive:
                out.append(n)
        elif isinstance(n, BoolNode):
            for c in n.should + n.must:
                walk(c, positive)
            for c in n.must_not:
                walk(c, False)

    walk(node, True)
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
    """(docs, phrase frequency) of a phrase in one field of one segment, from positions."""
    distinct = list(dict.fromkeys(node.terms))
    postings = {}
    for term in distinct:
        p = fr.postings(term)
        if p is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        postings[term] = p
    candidates = reduce(
        lambda a, b: np.intersect1d(a, b, assume_unique=True),
        (postings[t][0].astype(np.int64) for t in distinct),
    )
    if not len(candidates):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys: np.ndarray | None = None
    for i, (term, offset) in enumerate(zip(node.terms, node.offsets)):
        pdocs = postings[term][0].astype(np.int64)
        where = np.searchsorted(candidates, pdocs)
        where[where == len(candidates)] = 0
        keep = candidates[where] == pdocs
        docs, pos = fr.occurrences(term, keep)
        start = pos - offset
        ok = start >= 0
        k = (docs[ok] << 32) | start[ok]
        if node.slop and i > 0:
            k = np.unique(np.concatenate([k + s for s in range(-node.slop, node.slop + 1)]))
        else:
            k = np.unique(k)
        keys = k if keys is None else np.intersect1d(keys, k, assume_unique=True)
        if not len(keys):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
    assert keys is not None
    docs, counts = np.unique(keys >> 32, return_counts=True)
    return docs, counts
