"""The index writer: buffers documents, analyzes them, flushes immutable segments, commits atomically.

One writer at a time (the write lock). Within a writer session, ``add``/``update``/``delete`` are seen by
the next ``commit``; nothing is visible to readers before it. ``rollback`` (or an exception inside
``with ix.writer() as w:``) discards the session and removes its new files.

The analysis hot path maps each distinct normalized word once to a code (a term id, -1 for a removed
word, or a reference to several terms for a split compound), so that per token the writer does one dict
lookup and appends to typed arrays; term strings are sorted and postings built with numpy at flush.
"""

from __future__ import annotations

import datetime as _dt
import functools
import gc
import json
import os
import pickle
import threading
import weakref
import zlib
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import attrs
import numpy as np

from idsearch.analysis import Analyzer, AnalyzerSpec, WordScan, normalize_text, scan_words
from idsearch.merge import merge_segments
from idsearch.schema import Schema, base_field, exact_field
from idsearch.segment import (
    MISSING_DAY,
    FieldData,
    SegmentReader,
    segment_file_suffixes,
    write_segment,
)
from idsearch.storage import (
    LOCK,
    MANIFEST,
    IndexCorruptError,
    IndexError_,
    WriteLock,
    atomic_write_bytes,
    check_file_name,
    encode_manifest,
    fsync_dir,
    read_manifest,
    write_durable,
)

try:  # the compiled key lookup and occurrences (optional: the numpy code beside them does the same)
    from idsearch import _kernel
except ImportError:  # pragma: no cover - depends on the build
    _kernel = None

if TYPE_CHECKING:
    from idsearch.index import Index

__all__ = ["DocumentError", "IndexWriter"]

_EPOCH = _dt.date(1970, 1, 1)
MAX_ID_LENGTH = 512


class DocumentError(ValueError):
    """A document that cannot be indexed; the message names the document id and the field."""


@functools.lru_cache(maxsize=1 << 16)
def _clean_keyword(value: str) -> str:
    return " ".join(value.split()).casefold()


@functools.lru_cache(maxsize=1 << 16)
def _day_of_string(value: str) -> int:
    """Days since 1970-01-01 of a date string (memoized: news archives repeat their date strings)."""
    from idsearch.dates import parse_date

    return (parse_date(value) - _EPOCH).days


def day_number(value: Any, field: str, doc_id: str) -> int:
    """Days since 1970-01-01 of a date given as a date/datetime or a string in any supported format."""
    if isinstance(value, str):  # the common case first: a date string seen before is one cache lookup
        try:
            return _day_of_string(value)
        except ValueError as exc:
            from idsearch.dates import DateParseError

            if not isinstance(exc, DateParseError):
                raise
            raise DocumentError(f"document {doc_id!r}: field {field!r}: {exc}") from None
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return (value - _EPOCH).days
    raise DocumentError(f"document {doc_id!r}: field {field!r}: expected a date or a string, not {type(value).__name__}")


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


_PLAIN_TYPES = frozenset((str, int, float, bool, type(None)))


class Prepared:
    """A validated document, ready for analysis (cheap to send to a worker process).

    ``stored`` is its JSON; a new document of plain values may travel as the mapping itself and be encoded
    in the worker (``encode``), so the parent process does not serialize every document twice."""

    __slots__ = ("checksum", "days", "doc", "doc_id", "keywords", "stored", "texts")

    def __init__(self, doc_id: str, stored: bytes | None, texts: tuple[str, ...], days: tuple[int, ...],
                 keywords: tuple[str | None, ...], doc: Mapping[str, Any] | None = None) -> None:
        self.doc_id = doc_id
        self.stored = stored
        self.checksum = zlib.crc32(stored) if stored is not None else -1
        self.doc = doc
        self.texts = texts
        self.days = days
        self.keywords = keywords

    def encode(self) -> None:
        if self.stored is None:
            self.stored = encode_document(self.doc_id, self.doc or {})
            self.checksum = zlib.crc32(self.stored)
            self.doc = None

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.doc_id, self.stored, self.checksum, self.texts, self.days, self.keywords, self.doc)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.doc_id, self.stored, self.checksum, self.texts, self.days, self.keywords, self.doc = state


def doc_bytes(doc: Prepared) -> int:
    """What a document counts for in the size of a chunk: its stored JSON, or its texts when the worker
    encodes it."""
    return len(doc.stored) if doc.stored is not None else sum(map(len, doc.texts)) + 64


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)  # (not one per call)


def encode_document(doc_id: str, doc: Mapping[str, Any]) -> bytes:
    """A document's stored JSON (compact, UTF-8); a dict of strings (most documents) is encoded in the
    compiled kernel (``json_object``: the same bytes, 0.3 -> 0.05 s for the shared corpus)."""
    if _kernel is not None and type(doc) is dict:
        data = _kernel.json_object(doc)
        if data is not None:
            return data
    try:
        return _ENCODER.encode(doc).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise DocumentError(f"document {doc_id!r}: cannot be stored as JSON: {exc}") from None


BATCH_DOCS = 256  # documents analyzed in one pass by an in-process writer
# a session reads the index's word cache file once it analyzes this many documents in this process, or
# starts worker processes: reading it (0.17 s for the 122 k words of the shared corpus) costs more than
# stemming the new words of a smaller session (a one-document commit stems a few dozen words in 0.2 ms)
WORD_CACHE_AFTER_DOCS = 2048
_BATCH_SEPARATOR = "\x00"
_SEPARATOR_CODE = -(1 << 30)


def encode_word_items(cache: Mapping[str, tuple[str, ...]], words: Sequence[str]) -> tuple[str, str]:
    """Words and their terms (tab-joined) as the items of two JSON arrays, the text between the brackets:
    the word cache file is ``{"words": [...], "terms": [...]}`` with the items of every part joined."""
    terms = ["\t".join(cache[w]) for w in words]
    return json.dumps(words, ensure_ascii=False)[1:-1], json.dumps(terms, ensure_ascii=False)[1:-1]


def decode_word_items(words: str, terms: str) -> Iterable[tuple[str, tuple[str, ...]]]:
    """The ``(word, terms)`` pairs of :func:`encode_word_items`' text."""
    return ((w, tuple(t.split("\t")) if t else ()) for w, t in zip(json.loads(f"[{words}]"), json.loads(f"[{terms}]")))


def _as_bytes(values: np.ndarray) -> memoryview:
    """A contiguous array's bytes, in place (what ``array.frombytes`` takes)."""
    return memoryview(values).cast("B")


class _KeyTable:
    """Exact word keys (two uint64, see :class:`~idsearch.analysis.WordScan`) -> word numbers: open addressing
    over numpy arrays, looked up for a whole batch at once; at most half full."""

    _MIX_LO = np.uint64(0x9E3779B97F4A7C15)
    _MIX_HI = np.uint64(0xC2B2AE3D27D4EB4F)

    def __init__(self, bits: int = 16) -> None:
        self._alloc(bits)

    def _alloc(self, bits: int) -> None:
        self.bits = bits
        self.lo = np.zeros(1 << bits, dtype=np.uint64)
        self.hi = np.zeros(1 << bits, dtype=np.uint64)
        self.values = np.full(1 << bits, -1, dtype=np.int32)
        self.size = 0

    def _slots(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return (((lo * self._MIX_LO) ^ (hi * self._MIX_HI)) >> np.uint64(64 - self.bits)).astype(np.int64)

    def get(self, lo: np.ndarray, hi: np.ndarray, *, compiled: bool = True) -> np.ndarray:
        """The number of every key (-1: not in the table): in the compiled kernel, one probe loop per key, or
        with numpy (the reference), every key at once probe after probe."""
        if compiled and _kernel is not None:
            found = np.empty(len(lo), dtype=np.int32)
            _kernel.key_lookup(self.lo, self.hi, self.values, lo, hi, found, int(self._MIX_LO), int(self._MIX_HI))
            return found
        mask = (1 << self.bits) - 1
        slots = self._slots(lo, hi)
        found = self.values[slots]
        hit = (self.lo[slots] == lo) & (self.hi[slots] == hi)  # an empty slot holds (0, 0), the NUL's key,
        todo = np.flatnonzero(~hit & (found >= 0))  # which sits where probing for it never meets an empty slot
        found[~hit] = -1
        while len(todo):  # an occupied slot holding another key: probe the next one
            slots[todo] = (slots[todo] + 1) & mask
            at = slots[todo]
            value = self.values[at]
            hit = (self.lo[at] == lo[todo]) & (self.hi[at] == hi[todo])
            found[todo[hit]] = value[hit]
            todo = todo[~hit & (value >= 0)]
        return found

    def put(self, lo: np.ndarray, hi: np.ndarray, values: np.ndarray) -> None:
        """Add keys that are not in the table yet (each once)."""
        if 2 * (self.size + len(lo)) > (1 << self.bits):
            old_lo, old_hi, old_values = self.lo, self.hi, self.values
            bits = self.bits
            while 2 * (self.size + len(lo)) > (1 << bits):
                bits += 1
            self._alloc(bits)
            used = old_values >= 0
            self.put(old_lo[used], old_hi[used], old_values[used])
        mask = (1 << self.bits) - 1
        slots = self._slots(lo, hi)
        todo = np.arange(len(lo))
        while len(todo):  # linear probing, every key at once: of the keys that reach a free slot, the first wins it
            at = slots[todo]
            free = np.flatnonzero(self.values[at] < 0)
            taken, first = np.unique(at[free], return_index=True)
            winners = todo[free[first]]
            self.lo[taken], self.hi[taken], self.values[taken] = lo[winners], hi[winners], values[winners]
            placed = np.zeros(len(todo), dtype=bool)
            placed[free[first]] = True
            todo = todo[~placed]
            slots[todo] = (slots[todo] + 1) & mask
        self.size += len(lo)


class Vocabulary:
    """Every distinct normalized word a writer (or a worker process) has seen, with what it indexes as.

    A word gets a number once; per number, ``stem_codes`` holds its term id (-1: removed, ``-2 - k``: it
    yields several terms, the ``k``-th of :meth:`multi_arrays`) and ``exact_codes`` the term id of its exact form (-1: none). Term
    ids are shared by all fields and all segments built with this vocabulary, so a word is analyzed once
    per writer, not once per segment; a segment writes only the terms it uses."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.lock = threading.Lock()  # writers in several threads may share one vocabulary
        self.word_ids: dict[str, int] = {}
        self.term_ids: dict[str, int] = {}
        self.terms: list[str] = []
        self._multi_len = array("q")  # per split word: how many parts
        self._multi_flat = array("i")  # every part's term id (-1: removed), split word after split word
        self._stem = np.empty(1024, dtype=np.int32)
        self._exact = np.empty(1024, dtype=np.int32)
        self._multi_cache: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
        # the word cache file's text, kept by every writer of this analyzer in this process (see IndexWriter):
        # the analyzer's word cache as JSON array items, (words, terms) part by part, for its first
        # `encoded_count` entries (the cache only grows, in order), so that a commit encodes only new words;
        self.encoded: list[tuple[str, str]] = []
        self.encoded_count = 0
        # and the stems worker processes found that this process has not taken into that cache:
        # (how many words, JSON items of the words, of their terms), as the workers sent them
        self.unlearned: list[tuple[int, str, str]] = []
        # index directory -> its word cache file, every word of which this process knows: (name, size in
        # bytes, the cache's size then)
        self.files_held: dict[str, tuple[str, int, int]] = {}
        # joins the texts of a batch: word number 0
        self._put([_BATCH_SEPARATOR], array("i", [_SEPARATOR_CODE]), array("i", [-1]))
        self._keys = _KeyTable()
        zero = np.zeros(1, dtype=np.uint64)
        self._keys.put(zero, zero, np.zeros(1, dtype=np.int32))  # the separator's key: its one byte, NUL

    @property
    def stem_codes(self) -> np.ndarray:
        return self._stem[: len(self.word_ids)]

    @property
    def exact_codes(self) -> np.ndarray:
        return self._exact[: len(self.word_ids)]

    def word_numbers(self, words: list[str]) -> np.ndarray:
        """The number of every word (new words are analyzed and numbered first), as an int32 array."""
        with self.lock:
            return self._word_numbers(words)

    def _word_numbers(self, words: list[str]) -> np.ndarray:
        lookup = self.word_ids
        numbers = np.fromiter(map(lookup.get, words, repeat(-1)), dtype=np.int32, count=len(words))
        missing = np.flatnonzero(numbers < 0).tolist()
        if missing:
            self._add_words(list(dict.fromkeys(words[i] for i in missing)))
            numbers[missing] = [lookup[words[i]] for i in missing]
        return numbers

    def scan_numbers(self, scan: WordScan) -> np.ndarray:
        """The number of every word of a :func:`~idsearch.analysis.scan_words` result: keyed words through
        the key table (a word met for the first time is analyzed and numbered first), the others by text."""
        with self.lock:
            return self._scan_numbers(scan)

    def _scan_numbers(self, scan: WordScan) -> np.ndarray:
        numbers = np.empty(scan.count, dtype=np.int32)
        found = self._keys.get(scan.key_lo, scan.key_hi)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            lo, hi = scan.key_lo[missing], scan.key_hi[missing]
            _folded, first, which = np.unique(lo ^ (hi * _KeyTable._MIX_HI), return_index=True, return_inverse=True)
            first_lo, first_hi = lo[first], hi[first]
            if not (np.array_equal(first_lo[which], lo) and np.array_equal(first_hi[which], hi)):
                # two keys folded into one 64-bit value: tell them apart as pairs of Python ints instead
                groups: dict[tuple[int, int], int] = {}
                which = np.array([groups.setdefault(pair, len(groups)) for pair in zip(lo.tolist(), hi.tolist())])
                first = np.zeros(len(groups), dtype=np.int64)
                first[which[::-1]] = np.arange(len(which))[::-1]
                first_lo, first_hi = lo[first], hi[first]
            text = scan.text
            at = missing[first]
            words = [
                text[start : start + length]
                for start, length in zip(scan.keyed_start[at].tolist(), scan.keyed_length[at].tolist())
            ]
            new = self._word_numbers(words)  # a word may be known by its text (it was part of a span before)
            self._keys.put(first_lo, first_hi, new)
            found[missing] = new[which]
        numbers[scan.keyed_at] = found
        if scan.other:
            numbers[scan.other_at] = self._word_numbers(scan.other)
        return numbers

    def _add_words(self, words: list[str]) -> None:
        """Analyze and number distinct words never seen before."""
        term_ids, term_id = self.term_ids, self.term_id
        multi_len, multi_flat = self._multi_len, self._multi_flat
        stem_codes = array("i")
        exact_codes = array("i")
        for terms, exact in self.analyzer.word_analyses(words):
            if len(terms) == 1:
                code = term_ids.get(terms[0])  # most terms are known: one lookup
                if code is None:
                    code = term_id(terms[0])
            elif not terms:
                code = -1
            else:
                multi_flat.extend(term_id(t) if t else -1 for t in terms)
                multi_len.append(len(terms))
                code = -1 - len(multi_len)
            stem_codes.append(code)
            exact_codes.append(-1 if exact is None else term_id(exact))
        self._put(words, stem_codes, exact_codes)

    def _put(self, words: list[str], stem_codes: array, exact_codes: array) -> None:
        n = len(self.word_ids)
        end = n + len(words)
        if end > len(self._stem):
            size = max(end, 2 * len(self._stem))
            self._stem = np.concatenate((self._stem, np.empty(size - len(self._stem), dtype=np.int32)))
            self._exact = np.concatenate((self._exact, np.empty(size - len(self._exact), dtype=np.int32)))
        self._stem[n:end] = np.frombuffer(stem_codes, dtype=np.int32)
        self._exact[n:end] = np.frombuffer(exact_codes, dtype=np.int32)
        self.word_ids.update(zip(words, range(n, end)))

    def encode_cache(self) -> None:
        """Encode the analyzer's word cache entries past those encoded already."""
        with self.lock:
            cache = self.analyzer.word_cache
            if len(cache) > self.encoded_count:
                words = list(islice(cache, self.encoded_count, None))
                self.encoded.append(encode_word_items(cache, words))
                self.encoded_count += len(words)

    def learn_reported(self) -> None:
        """Take the stems that workers reported into the analyzer's word cache (and so into its encoded
        text, at the next :meth:`encode_cache`), so that this process, or a worker it starts, does not
        analyze those words again."""
        with self.lock:
            unlearned, self.unlearned = self.unlearned, []
        cache = self.analyzer.word_cache
        for _count, words, terms in unlearned:
            for word, word_terms in decode_word_items(words, terms):
                cache.setdefault(word, word_terms)

    def word_cache_text(self) -> bytes:
        """The word cache file: ``{"words": [...], "terms": [...]}`` (the text ``json.dumps`` gives) of the
        analyzer's cache and of the stems workers reported (a word two workers met is there twice)."""
        self.encode_cache()
        with self.lock:
            parts = [*self.encoded, *((w, t) for _c, w, t in self.unlearned)]
        words = ", ".join(part for part, _terms in parts if part)
        terms = ", ".join(part for _words, part in parts if part)
        return f'{{"words": [{words}], "terms": [{terms}]}}'.encode()

    def term_id(self, term: str) -> int:
        tid = self.term_ids.get(term)
        if tid is None:
            tid = len(self.terms)
            self.term_ids[term] = tid
            self.terms.append(term)
        return tid

    def multi_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The split-word table as arrays: lengths, offsets, and every part's term id (-1: removed)."""
        cached = self._multi_cache
        if cached is None or cached[0] != len(self._multi_len):
            with self.lock:  # copied while no other thread adds words (an array lending its buffer cannot grow)
                lens = np.array(self._multi_len, dtype=np.int64)
                flat = np.array(self._multi_flat, dtype=np.int32)
            cached = (len(lens), lens, np.cumsum(lens) - lens, flat)
            self._multi_cache = cached
        return cached[1], cached[2], cached[3]


def words_known(analyzer: Analyzer) -> int:
    """How many words this process knows the stems of: in the analyzer's word cache, or reported by worker
    processes and not taken in yet (a word two workers met counts twice)."""
    vocabulary = _VOCABULARIES.get(analyzer)
    return len(analyzer.word_cache) + (sum(c for c, _w, _t in vocabulary.unlearned) if vocabulary else 0)


_VOCABULARIES: weakref.WeakKeyDictionary[Analyzer, Vocabulary] = weakref.WeakKeyDictionary()
_VOCABULARIES_LOCK = threading.Lock()


def vocabulary_of(analyzer: Analyzer) -> Vocabulary:
    """The :class:`Vocabulary` of an analyzer object, shared by every writer (and, through ``fork``, every
    worker process) that uses it in this process: like the analyzer's word cache, a word is numbered once
    per process, not once per writing session."""
    with _VOCABULARIES_LOCK:
        vocabulary = _VOCABULARIES.get(analyzer)
        if vocabulary is None:
            vocabulary = _VOCABULARIES[analyzer] = Vocabulary(analyzer)
        return vocabulary


class SegmentBuilder:
    """Analyzes documents into in-memory postings and writes them as one segment.

    Words are numbered by a :class:`Vocabulary` (pass the writer's, so that words are analyzed once per
    writer); per token, the hot path is one dict lookup, then numpy."""

    def __init__(self, schema: Schema, analyzer: Analyzer, vocabulary: Vocabulary | None = None) -> None:
        self.schema = schema
        self.analyzer = analyzer
        if vocabulary is None:
            vocabulary = Vocabulary(analyzer)
        elif vocabulary.analyzer is not analyzer:
            raise ValueError("the vocabulary belongs to another analyzer")
        self.vocabulary = vocabulary
        fields = schema.text_field_names
        postings_fields = (*fields, *schema.exact_fields)
        self.ids: list[str] = []
        self.stored: list[bytes] = []
        self.checksums = array("I")
        self.codes = {f: array("i") for f in postings_fields}  # term ids (the vocabulary's), occurrence by occurrence
        self.docs = {f: array("i") for f in postings_fields}
        self.positions = {f: array("i") for f in fields}  # exact-form fields keep no positions
        self.lengths = {f: array("I") for f in fields}
        self.days = {f: array("i") for f in schema.date_fields}
        self.keywords: dict[str, list[str | None]] = {f: [] for f in schema.keyword_fields}
        self.occurrences = 0
        self.stored_bytes = 0
        self._scratch: tuple[np.ndarray, ...] | None = None  # the compiled kernel's output arrays

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def memory(self) -> int:
        """Rough bytes held: 12 per buffered occurrence plus the stored documents."""
        return self.occurrences * 12 + self.stored_bytes

    def add_many(self, docs: Sequence[Prepared]) -> None:
        """Analyze and buffer documents (local numbers continue from ``len(self)``), ``BATCH_DOCS`` at a
        time: a batch's texts of a field are tokenized in one pass and positioned with numpy (small
        enough batches keep those arrays in the processor's caches)."""
        for start in range(0, len(docs), BATCH_DOCS):
            self._add_batch(docs[start : start + BATCH_DOCS])

    def _add_batch(self, docs: Sequence[Prepared]) -> None:
        base = len(self.ids)
        for doc in docs:
            doc.encode()
        for index, field in enumerate(self.schema.text_field_names):
            # a NUL inside a text separates words anyway: a space keeps the batch separator unambiguous
            texts = [doc.texts[index].replace(_BATCH_SEPARATOR, " ") for doc in docs]
            self._index_batch(field, texts, base)
        for doc in docs:
            for field, day in zip(self.schema.date_fields, doc.days):
                self.days[field].append(day)
            for field, value in zip(self.schema.keyword_fields, doc.keywords):
                self.keywords[field].append(value)
            assert doc.stored is not None
            self.ids.append(doc.doc_id)
            self.stored.append(doc.stored)
            self.checksums.append(doc.checksum)
            self.stored_bytes += len(doc.stored)

    def _index_batch(self, field: str, texts: Sequence[str], base: int) -> None:
        """One field of a batch of documents: one :func:`scan_words` over the texts joined by NUL (a word of
        its own), the words numbered in one batch lookup, positions from cumulative sums."""
        vocabulary = self.vocabulary
        numbers = vocabulary.scan_numbers(
            scan_words(_BATCH_SEPARATOR.join(normalize_text(t) if t else "" for t in texts))
        )
        if _kernel is not None:
            self._index_compiled(field, numbers, len(texts), base)
            return
        arr = vocabulary.stem_codes[numbers]
        separator = numbers == 0
        doc_of = np.cumsum(separator)  # batch document of every token
        special = np.flatnonzero((arr <= -2) & ~separator)  # words that yield several terms
        slots = np.ones(len(arr), dtype=np.int64)  # a removed word keeps its slot
        slots[separator] = 0
        out_codes = []
        out_docs = []
        out_pos = []
        out_slot = []
        if len(special):
            multi_len, multi_start, multi_flat = vocabulary.multi_arrays()
            which = -2 - arr[special].astype(np.int64)
            lens = multi_len[which]
            slots[special] = lens
        slot = np.cumsum(slots) - slots  # first slot of every token, counted over the whole batch
        doc_start = np.concatenate(([0], slot[separator]))
        pos = slot - doc_start[doc_of]
        keep = arr >= 0
        out_codes.append(arr[keep])
        out_docs.append(doc_of[keep])
        out_pos.append(pos[keep])
        out_slot.append(slot[keep])
        if len(special):
            # every part of every split word: token index repeated, part number within the word
            token = np.repeat(special, lens)
            part = np.arange(len(token)) - np.repeat(np.cumsum(lens) - lens, lens)
            part_codes = multi_flat[np.repeat(multi_start[which], lens) + part]
            used = part_codes >= 0
            token, part = token[used], part[used]
            out_codes.append(part_codes[used])
            out_docs.append(doc_of[token])
            out_pos.append(pos[token] + part)
            out_slot.append(slot[token] + part)
        codes_all = np.concatenate(out_codes)
        docs_all = np.concatenate(out_docs)
        pos_all = np.concatenate(out_pos)
        if len(special):  # put the parts of split words in text order
            order = np.argsort(np.concatenate(out_slot), kind="stable")
            codes_all, docs_all, pos_all = codes_all[order], docs_all[order], pos_all[order]
        self.codes[field].frombytes(codes_all.astype(np.int32).tobytes())
        self.docs[field].frombytes((docs_all + base).astype(np.int32).tobytes())
        self.positions[field].frombytes(pos_all.astype(np.int32).tobytes())
        self.lengths[field].frombytes(np.bincount(docs_all, minlength=len(texts)).astype(np.uint32).tobytes())
        self.occurrences += len(codes_all)
        if self.schema.exact:
            ex = vocabulary.exact_codes[numbers]
            which = np.flatnonzero(ex >= 0)
            if len(which):
                target = exact_field(field)
                self.codes[target].frombytes(ex[which].tobytes())
                self.docs[target].frombytes((doc_of[which] + base).astype(np.int32).tobytes())
                self.occurrences += len(which)

    def _index_compiled(self, field: str, numbers: np.ndarray, ndocs: int, base: int) -> None:
        """:meth:`_index_batch`'s occurrences in one pass of the compiled kernel (``occurrences``), into this
        builder's output arrays (reused: fresh ones cost a page fault per 4 KiB written), then appended."""
        vocabulary = self.vocabulary
        multi_len, multi_start, multi_flat = vocabulary.multi_arrays()
        exact = vocabulary.exact_codes if self.schema.exact else None
        room = 2 * len(numbers) + 64  # split words yield several occurrences: asked again if more
        while True:
            if self._scratch is None or len(self._scratch[0]) < room:
                self._scratch = tuple(np.empty(room, dtype=np.int32) for _ in range(5))
            codes, docs, positions, exact_codes, exact_docs = self._scratch
            lengths = np.empty(ndocs, dtype=np.uint32)
            count, nexact = _kernel.occurrences(
                numbers, vocabulary.stem_codes, exact, multi_len, multi_start, multi_flat, base, codes, docs,
                positions, lengths, exact_codes if exact is not None else None, exact_docs if exact is not None else None,
            )
            if max(count, nexact) <= len(codes):
                break
            room = max(count, nexact)
        self.codes[field].frombytes(_as_bytes(codes[:count]))
        self.docs[field].frombytes(_as_bytes(docs[:count]))
        self.positions[field].frombytes(_as_bytes(positions[:count]))
        self.lengths[field].frombytes(_as_bytes(lengths))
        self.occurrences += count
        if nexact:
            target = exact_field(field)
            self.codes[target].frombytes(_as_bytes(exact_codes[:nexact]))
            self.docs[target].frombytes(_as_bytes(exact_docs[:nexact]))
            self.occurrences += nexact

    def write(self, directory: Path, name: str) -> dict[str, Any]:
        """Write the buffered documents as segment ``name``; returns its manifest entry."""
        vocab_terms = self.vocabulary.terms
        used = np.zeros(len(vocab_terms), dtype=bool)
        for codes in self.codes.values():
            used[np.frombuffer(codes, dtype=np.int32)] = True
        order = sorted(np.flatnonzero(used).tolist(), key=vocab_terms.__getitem__)
        rank = np.full(len(vocab_terms), -1, dtype=np.int32)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int32)
        sorted_terms = [vocab_terms[i] for i in order]
        fields = {}
        for field in (*self.schema.text_field_names, *self.schema.exact_fields):
            codes = np.frombuffer(self.codes[field], dtype=np.int32)
            fields[field] = FieldData(
                sorted_terms,
                rank[codes] if len(codes) else codes,
                np.frombuffer(self.docs[field], dtype=np.int32),
                np.frombuffer(self.positions[field], dtype=np.int32) if field in self.positions else None,
                np.frombuffer(self.lengths[base_field(field)], dtype=np.uint32),
            )
        return write_segment(
            directory,
            name,
            self.schema,
            ids=self.ids,
            stored=self.stored,
            checksums=np.frombuffer(self.checksums, dtype=np.uint32),
            fields=fields,
            days={f: np.frombuffer(a, dtype=np.int32) for f, a in self.days.items()},
            keywords=self.keywords,
        )


class _Planned(dict[str, Any]):
    """A merge's result in a merge plan, before the merge is made: its name, live documents and estimated
    bytes (a type of its own, so that no entry read from a manifest passes for one)."""


# the time a segment takes to write over the time its documents take to analyze, in a worker, about (whole
# 12 MB chunks of a cold build of the shared corpus: 0.27-0.35 s against 0.65-0.97 s, /work/notes/s27/timeline.py):
# see IndexWriter._balance_end
WRITE_SHARE = 0.4
BLOCKS_PER_CHUNK = 16  # a waiting chunk is kept (and pickled) in blocks of about chunk_mb / 16 of documents


@attrs.define(eq=False)
class _Waiting:
    """A closed chunk that no worker has taken yet: its documents in blocks, each a list of
    :class:`Prepared` or that list pickled; it is kept while a worker builds it, so that at the end of a
    session its end can go to another worker, pickling one block again at most (see
    :meth:`IndexWriter._balance_end`)."""

    name: str  # of the segment it becomes
    ids: list[str]
    blocks: list[Any]  # list[Prepared] | bytes
    counts: list[int]  # documents per block
    sizes: list[int]  # doc_bytes per block

    @property
    def nbytes(self) -> int:
        return sum(self.sizes)

    def payload(self) -> list[Prepared] | tuple[bytes, ...]:
        """What a worker gets: the documents as one list while none is pickled (a new forked worker takes
        it as it is, :meth:`_WorkerPool.submit` pickles it for a running one), or the pickled blocks."""
        if all(isinstance(b, list) for b in self.blocks):
            return [doc for block in self.blocks for doc in block]
        self.serialize()
        return tuple(self.blocks)

    def serialize(self) -> None:
        self.blocks = [pickle.dumps(b, protocol=pickle.HIGHEST_PROTOCOL) if isinstance(b, list) else b
                       for b in self.blocks]

    def bytes_from(self, first: int) -> float:
        """The bytes of documents ``first`` on (within a block, documents count as equal in size)."""
        total, start = 0.0, 0
        for count, size in zip(self.counts, self.sizes):
            end = start + count
            if first <= start:
                total += size
            elif first < end:
                total += size * (end - first) / count
            start = end
        return total

    def first_of_last(self, nbytes: float) -> int:
        """The document from which the rest of the chunk comes to about ``nbytes`` (the inverse of
        :meth:`bytes_from`)."""
        end, after = len(self.ids), 0.0
        for count, size in zip(reversed(self.counts), reversed(self.sizes)):
            if after + size >= nbytes:
                return end - round(count * (nbytes - after) / size) if size else end
            after += size
            end -= count
        return 0

    def split(self, n: int, name: str) -> _Waiting:
        """Cut after the first ``n`` documents (``0 < n < len(ids)``): the rest becomes a chunk of its own,
        ``name``. A block the cut falls in is cut too (unpickled, and its parts pickled again, if it was)."""
        k, start = 0, 0
        while start + self.counts[k] <= n:
            start += self.counts[k]
            k += 1
        rest = _Waiting(name, self.ids[n:], self.blocks[k:], self.counts[k:], self.sizes[k:])
        del self.ids[n:], self.blocks[k:], self.counts[k:], self.sizes[k:]
        if n > start:  # inside block k: its head ends this chunk, its tail starts the rest
            block = rest.blocks[0]
            pickled = isinstance(block, bytes)
            docs = pickle.loads(block) if pickled else block
            head, tail = docs[: n - start], docs[n - start :]
            self.blocks.append(pickle.dumps(head, protocol=pickle.HIGHEST_PROTOCOL) if pickled else head)
            self.counts.append(len(head))
            self.sizes.append(sum(map(doc_bytes, head)))
            rest.blocks[0] = pickle.dumps(tail, protocol=pickle.HIGHEST_PROTOCOL) if pickled else tail
            rest.counts[0] = len(tail)
            rest.sizes[0] = sum(map(doc_bytes, tail))
        return rest


@attrs.frozen
class _MergeTask:
    """A worker's task of merging the segments of ``run`` (manifest entries) into one."""

    run: list[dict[str, Any]]


# -- worker processes -------------------------------------------------------------------------------------------


_WORDS, _REPORT = b"w", b"r"  # what a worker's message is: the words it met in a chunk, or a chunk's outcome

START_METHOD: str | None = None
"""How worker processes start: ``"fork"`` or ``"spawn"``; None: fork on Linux (the parent's analyzer and the
first chunk of each worker are inherited), spawn elsewhere."""


_NO_STOP = 1 << 62  # a worker's stop while it may build all of its chunk
_LOCK_SECONDS = 1.0  # how long a process waits for the lock of the workers' claims before it looks why


def _build_claimed(builder: SegmentBuilder, docs: list[Prepared], progress: Any, parent: int) -> None:
    """Analyze a chunk batch by batch, each claimed first in ``progress`` (this worker's two numbers, shared
    with the parent under a lock of their own: the documents claimed, and where to stop): meanwhile, at the
    end of a session, the parent may set where this worker stops, and hand the rest of its chunk to another
    worker (:meth:`IndexWriter._balance_end`). A worker whose parent died holding the lock exits."""
    lock, numbers = progress.get_lock(), progress.get_obj()
    done = 0
    while True:
        while not lock.acquire(timeout=_LOCK_SECONDS):
            if os.getppid() != parent:
                raise SystemExit(1)
        try:
            end = min(len(docs), done + BATCH_DOCS, numbers[1])
            numbers[0] = max(done, end)
        finally:
            lock.release()
        if end <= done:
            return
        builder.add_many(docs[done:end])
        done = end


def _worker_main(conn: Any, schema: Any, analyzer: Any, first: tuple[Any, ...] | None, progress: Any) -> None:
    """A worker process: builds segments from chunks of prepared documents (and merges segments, at
    commits) until its pipe closes. ``progress`` is shared with the parent (see :func:`_build_claimed`).

    With ``fork`` it inherits the parent's analyzer (and its word cache) and its ``first`` task, documents
    and all, in memory; with ``spawn`` it gets plain data and builds its own analyzer."""
    if isinstance(schema, dict):
        schema = Schema.from_dict(schema)
    if isinstance(analyzer, tuple):
        spec, words = analyzer
        analyzer = Analyzer(AnalyzerSpec.from_dict(spec))
        analyzer.word_cache.update((w, tuple(t.split("\t")) if t else ()) for w, t in words)
    parent = os.getppid()
    cache = analyzer.word_cache
    reported = len(cache)  # the cache only grows, in order: the words past this are new to the parent
    vocabulary = vocabulary_of(analyzer)  # a forked worker starts from the words its parent numbered
    vocabulary.lock = threading.Lock()  # the parent's lock may have been held by another thread at the fork
    task = first
    while True:
        if task is None:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
        task_id, directory, name, docs = task
        task = None
        try:
            # (from the parent process, through a pipe only it and this process hold)
            if isinstance(docs, bytes):
                docs = pickle.loads(docs)
            elif isinstance(docs, tuple):  # a chunk's blocks
                docs = [doc for block in docs for doc in pickle.loads(block)]
            if isinstance(docs, _MergeTask):
                readers = [SegmentReader(Path(directory), e, schema) for e in docs.run]
                try:
                    merged = merge_segments(Path(directory), schema, readers, name)
                finally:
                    for reader in readers:
                        reader.close()
                conn.send_bytes(_REPORT + pickle.dumps((task_id, "ok", merged), protocol=pickle.HIGHEST_PROTOCOL))
                continue
            builder = SegmentBuilder(schema, analyzer, vocabulary)
            _build_claimed(builder, docs, progress, parent)
            docs = None
            new = list(islice(cache, reported, None))
            reported = len(cache)
            # sent before the segment is written, as the word cache file holds them (see IndexWriter), and even
            # without new words: the parent learns that this worker has analyzed its chunk
            words, terms = encode_word_items(cache, new) if new else ("", "")
            conn.send_bytes(_WORDS + f"{len(new)}\0{words}\0{terms}".encode())
            entry = builder.write(Path(directory), name)
            conn.send_bytes(_REPORT + pickle.dumps((task_id, "ok", entry), protocol=pickle.HIGHEST_PROTOCOL))
        except BaseException as exc:  # noqa: BLE001 - whatever failed is reported, then the worker goes on serving
            import traceback

            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            conn.send_bytes(_REPORT + pickle.dumps((task_id, "error", error)))


class _WorkerPool:
    """Up to ``workers`` worker processes fed through pipes, without threads (so forking stays safe):
    ``submit`` hands a chunk to an idle worker, waiting for one when all are busy; ``result`` returns a
    task's outcome.

    A worker is started when a chunk needs it. With ``fork`` the chunk (a list of :class:`Prepared`) is in
    the new process's memory at once: the first chunks are not serialized, and analysis starts as soon as
    the first chunk is complete. Later chunks go through the pipes, pickled."""

    def __init__(self, workers: int, schema: Schema, analyzer: Analyzer) -> None:
        import multiprocessing
        import sys

        method = START_METHOD or ("fork" if sys.platform.startswith("linux") else "spawn")
        self.fork = method == "fork"
        self._ctx = multiprocessing.get_context(method)
        self._workers = workers
        if self.fork:
            self._args: tuple[Any, Any] = (schema, analyzer)
        else:
            words = [(w, "\t".join(t)) for w, t in analyzer.word_cache.items()]
            self._args = (schema.to_dict(), (analyzer.spec.to_dict(), words))
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        # per worker: how many documents of its chunk it has claimed, and where it is to stop (_build_claimed),
        # each pair with a lock of its own (a worker that died holding it holds up no other worker)
        self._progress = [self._ctx.Array("q", 2) for _ in range(workers)]
        self._busy: dict[int, int] = {}  # worker -> task id
        # worker -> the chunk task it takes next: its id and message (sent once the worker reads its pipe:
        # while the worker writes its segment, a chunk sent now would block this process, and a worker's
        # message to it meanwhile would block that worker too)
        self._next: dict[int, tuple[int, Any]] = {}
        self._analysed: set[int] = set()  # running chunk tasks whose documents are analyzed (the segment is being written)
        self._done: dict[int, bytes | tuple[str, Any]] = {}  # task id -> its report
        self.words: list[bytes] = []  # messages of words met, not taken yet
        self._next_task = 0

    def _start_worker(self, first: tuple[Any, ...] | None) -> None:
        parent, child = self._ctx.Pipe()
        # a forked worker shares the parent's memory until it writes to it; the cyclic garbage collector
        # would write to every object it visits (and so copy the parent's whole heap, page by page),
        # so the objects that exist now are moved out of its sight first (gc.freeze)
        frozen = self.fork and gc.isenabled()
        if frozen:
            gc.freeze()
        try:
            proc = self._ctx.Process(target=_worker_main, daemon=True,
                                     args=(child, *self._args, first, self._progress[len(self._conns)]))
            proc.start()
        finally:
            if frozen:
                gc.unfreeze()
        child.close()
        self._conns.append(parent)
        self._procs.append(proc)

    @property
    def startable(self) -> int:
        """How many of the next chunks given as lists may start new forked workers (never pickled)."""
        return self._workers - len(self._conns) if self.fork else 0

    def has_idle_worker(self) -> bool:
        """Whether a worker could take a chunk now, or be started for it (reports that already arrived are
        taken in)."""
        if len(self._busy) < self._workers:
            return True
        self._receive(timeout=0)
        return len(self._busy) < self._workers

    def _receive(self, timeout: float | None = None) -> None:
        """Wait for busy workers to report (one at least, unless ``timeout`` runs out)."""
        from multiprocessing.connection import wait

        busy = [self._conns[w] for w in self._busy]
        ready = wait(busy, timeout)
        for conn in ready:
            worker = self._conns.index(conn)
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):
                died = ("error", f"worker process {self._procs[worker].pid} died")
                self._done[self._busy.pop(worker)] = died
                if worker in self._next:
                    self._done[self._next.pop(worker)[0]] = died
                continue
            # decoded when asked for, so that a waiting chunk goes to a worker first
            if message[:1] == _WORDS:
                self.words.append(message)
                self._analysed.add(self._busy[worker])
            else:
                task = self._busy.pop(worker)
                self._analysed.discard(task)
                self._done[task] = message
                if worker in self._next:
                    task, task_message = self._next.pop(worker)
                    conn.send(task_message)
                    self._busy[worker] = task

    def wait(self) -> None:
        """Wait for the next message of a busy worker."""
        if self._busy:
            self._receive()

    def take_words(self) -> list[tuple[int, str, str]]:
        """The words new to a worker that it met in a chunk, in the messages that arrived so far: how many,
        and the JSON array items of the words and of their terms (see :func:`encode_word_items`)."""
        taken = []
        for message in self.words:
            count, words, terms = message[1:].decode().split("\0")  # (JSON text escapes NUL)
            if count != "0":
                taken.append((int(count), words, terms))
        self.words.clear()
        return taken

    def submit(self, directory: str, name: str, docs: list[Prepared] | tuple[bytes, ...] | _MergeTask, *,
               after: int | None = None) -> int:
        """Hand a chunk (a list of :class:`Prepared`, or pickled blocks of it) or a merge to an idle worker,
        waiting for one; a new forked worker takes a list as it is. ``after``: a chunk task among
        :meth:`finishing` ones; its worker takes this one next."""
        if after is None:
            while len(self._busy) == self._workers:
                self._receive()
        task_id = self._next_task
        self._next_task += 1
        idle = [w for w in range(len(self._conns)) if w not in self._busy]
        if after is not None:
            worker = self._worker_of(after)
            if after not in self._analysed or worker is None or worker in self._next:
                raise ValueError(f"task {after} is not finishing")
        else:
            worker = idle[0] if idle else len(self._conns)
        # (without the lock: an idle or finishing worker is past the claims of its chunk)
        numbers = self._progress[worker].get_obj()
        numbers[0], numbers[1] = 0, _NO_STOP
        if after is None and not idle:
            if self.fork and isinstance(docs, list):
                self._start_worker((task_id, directory, name, docs))
                self._busy[worker] = task_id
                return task_id
            self._start_worker(None)
        payload: bytes | tuple[bytes, ...]
        if isinstance(docs, list):
            payload = (pickle.dumps(docs, protocol=pickle.HIGHEST_PROTOCOL),)
        elif isinstance(docs, tuple):
            payload = docs
        else:
            payload = pickle.dumps(docs, protocol=pickle.HIGHEST_PROTOCOL)
        if after is not None:
            self._next[worker] = (task_id, (task_id, directory, name, payload))
        else:
            self._conns[worker].send((task_id, directory, name, payload))
            self._busy[worker] = task_id
        return task_id

    def _worker_of(self, task_id: int) -> int | None:
        for worker, task in self._busy.items():
            if task == task_id:
                return worker
        return None

    def analyzing(self) -> list[int]:
        """The chunk tasks whose worker is still analyzing documents."""
        return [task for task in self._busy.values() if task not in self._analysed]

    def finishing(self) -> list[int]:
        """The chunk tasks whose worker has analyzed the chunk and writes its segment, with no task next."""
        return [task for worker, task in self._busy.items() if task in self._analysed and worker not in self._next]

    def claimed(self, task_id: int) -> int:
        """How many documents of its chunk the worker of an :meth:`analyzing` task has claimed so far (read
        without the lock: the worker may claim more at once)."""
        worker = self._worker_of(task_id)
        assert worker is not None
        return int(self._progress[worker].get_obj()[0])

    def stop_early(self, task_id: int, choose: Callable[[int], int | None]) -> int | None:
        """Make the worker of an :meth:`analyzing` task stop at ``choose(claimed)`` documents, if that is not
        None: ``choose`` gets the documents the worker has claimed, and must not return fewer. The worker
        cannot claim more meanwhile. Returns where it stops (None: it goes on to the end, as when the lock
        is not had within ``_LOCK_SECONDS``: a worker died holding it)."""
        worker = self._worker_of(task_id)
        assert worker is not None
        lock = self._progress[worker].get_lock()
        if not lock.acquire(timeout=_LOCK_SECONDS):
            return None
        try:
            numbers = self._progress[worker].get_obj()
            claimed = int(numbers[0])
            stop = choose(claimed)
            if stop is not None:
                if stop < claimed:
                    raise ValueError(f"cannot stop at {stop}: {claimed} documents are claimed")
                numbers[1] = min(stop, numbers[1])
            return stop
        finally:
            lock.release()

    def finished(self, task_id: int) -> bool:
        """Whether a task's outcome is in (reports that already arrived are taken in)."""
        if task_id not in self._done and self._busy:
            self._receive(timeout=0)
        return task_id in self._done

    def result(self, task_id: int) -> Any:
        while task_id not in self._done:
            if not self._busy:
                raise IndexError_(f"task {task_id} was never submitted")
            self._receive()
        report = self._done.pop(task_id)
        if isinstance(report, bytes):
            # (from a worker of this writer, through its pipe)
            reported, status, payload = pickle.loads(memoryview(report)[1:])
            if reported != task_id:
                raise IndexError_(f"indexing worker reported task {reported} for task {task_id}")
        else:
            status, payload = report
        if status != "ok":
            raise IndexError_(f"indexing worker failed: {payload}")
        return payload

    def close(self) -> None:
        """Stop the workers. Once every task has reported no worker writes a file, so their exit is not
        waited for (multiprocessing reaps them later; waiting took ~30 ms at every parallel commit)."""
        while self._busy:
            self._receive()
        for conn in self._conns:
            try:
                conn.send(None)
            except OSError:
                pass
            conn.close()
        for proc in self._procs:
            proc.join(timeout=0)


class IndexWriter:
    """Adds, updates and deletes documents of an :class:`~idsearch.index.Index`; see the module docs.

    ``buffer_mb`` bounds the memory of buffered postings and stored text: past it the buffer is written
    as a new segment (visible after the commit). ``workers`` processes analyze and write segments in
    parallel (default: every core; 1 = in this process); a chunk of ``chunk_mb`` of documents becomes one
    segment, in document order, so results equal those of a single process. ``merge`` enables the
    size-tiered merge policy at commit; its merges make no segment larger than ``max_merge_mb`` (MB of
    segment files, estimated from the merged segments' files and live documents), so that a commit
    never rewrites more than that (merges stream: their memory does not grow with the segments' size, see
    :mod:`idsearch.merge`). ``optimize()`` merges everything, whatever the size.
    """

    MERGE_FACTOR = 10

    def __init__(self, index: Index, *, buffer_mb: float = 256.0, merge: bool = True, workers: int | None = None,
                 chunk_mb: float = 12.0, max_merge_mb: float = 512.0) -> None:
        self.index = index
        self.directory: Path = index.path
        self.schema = index.schema
        # (read for every document added)
        self._text_fields = self.schema.text_field_names
        self._date_fields = tuple(self.schema.date_fields)
        self._keyword_fields = tuple(self.schema.keyword_fields)
        self.analyzer: Analyzer = index.analyzer
        self.buffer_limit = int(buffer_mb * (1 << 20))
        self.merge_enabled = merge
        if not max_merge_mb > 0:
            raise ValueError(f"max_merge_mb must be positive, not {max_merge_mb}")
        self.max_merge_bytes = int(max_merge_mb * (1 << 20))
        if workers is None:
            workers = os.cpu_count() or 1
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        self.chunk_limit = int(chunk_mb * (1 << 20))
        self._block_limit = max(1, self.chunk_limit // BLOCKS_PER_CHUNK)  # a waiting chunk's blocks (_Waiting)
        self._pool: _WorkerPool | None = None
        self._tasks: list[int] = []
        self._flying: dict[int, _Waiting] = {}  # chunk task -> its chunk, until its segment is collected
        self._words_stale = False  # whether workers reported words since the word cache file was written
        self._lock = WriteLock(self.directory)
        self._lock.acquire()
        try:
            self._start()
        except BaseException:
            self._lock.release()
            raise

    # -- session state ------------------------------------------------------------------------------------------

    def _start(self) -> None:
        self._restart = False
        manifest = read_manifest(self.directory)
        self._manifest = manifest
        self._generation: int = manifest["generation"]
        self._next_segment: int = int(manifest.get("next_segment", 0))
        if not all(isinstance(e, dict) for e in manifest["segments"]):
            raise IndexCorruptError(f"{self.directory / MANIFEST}: a segment entry is not a mapping")
        self._committed: list[dict[str, Any]] = [dict(e) for e in manifest["segments"]]
        self._pending: list[dict[str, Any]] = []  # written this session, not yet committed
        self._new_files: list[Path] = []
        self._dead: dict[str, set[int]] = {}  # segment name -> local docs deleted this session
        # id -> where its document is: the segment's slot << 32 | its local number (an int, not a tuple: at 280 k
        # documents a writer opens in 93-103 ms instead of 151-166, with 47 MB instead of 74); see _place_of, _places
        self._where: dict[str, int] = {}
        self._names: list[str] = []  # slot -> segment name
        self._slots: dict[str, int] = {}  # segment name -> slot
        # segment name -> the stored documents' checksums by local number (-1: not known yet, a worker computes it)
        self._sums: dict[str, Any] = {}
        self._readers: dict[str, SegmentReader] = {}
        # open (and so validate) every committed segment before touching any file
        try:
            readers = [self._reader(entry) for entry in self._committed]
        except FileNotFoundError as exc:
            self._close_readers()
            raise IndexCorruptError(f"{self.directory}: a file the manifest names is missing: {exc.filename}") from None
        except (IndexCorruptError, KeyError, TypeError, AttributeError) as exc:
            self._close_readers()
            if isinstance(exc, IndexCorruptError):
                raise
            raise IndexCorruptError(f"{self.directory / MANIFEST}: malformed segment entry ({exc!r})") from None
        self._cleanup_unreferenced()
        for entry, reader in zip(self._committed, readers):
            self._place(entry, reader)
        self._new_session()

    def _place(self, entry: Mapping[str, Any], reader: SegmentReader) -> None:
        """Note where a segment's live documents are, by id."""
        ids, base = reader.ids, self._slot(entry["name"])
        self._sums[entry["name"]] = reader.checksums
        if reader.live.all():
            self._where.update(zip(ids, range(base, base + len(ids))))
        else:
            live = np.flatnonzero(reader.live).tolist()
            self._where.update(zip([ids[i] for i in live], [base + i for i in live]))

    def _slot(self, name: str) -> int:
        """A segment's slot, shifted: what ``_where`` holds for its local document 0."""
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = len(self._names)
            self._names.append(name)
        return slot << 32

    def _place_of(self, where: int) -> tuple[str, int]:
        """The segment name and local number of a ``_where`` value."""
        return self._names[where >> 32], where & 0xFFFFFFFF

    def _checksum(self, where: int) -> int:
        name, local = self._place_of(where)
        return int(self._sums[name][local])

    def _places(self) -> dict[str, tuple[str, int, int]]:
        """Every id's segment name, local number and checksum (for checks)."""
        return {doc_id: (*self._place_of(w), self._checksum(w)) for doc_id, w in self._where.items()}

    def _resume(self) -> None:
        """The next session on top of this writer's own commit: what it knew carries over (where every id
        is, the open segments; merges moved their documents as they went, :meth:`_moved`), and only the
        segments this session wrote are read, for their documents' checksums (a worker computes them).
        Reopening every segment and its ids instead took 115-145 ms a commit at 280 k documents."""
        self._restart = False
        try:
            for entry in self._committed:
                if entry["name"] in self._written_segments:
                    self._place(entry, self._reader(entry))
        except (OSError, IndexCorruptError, KeyError, TypeError, AttributeError):
            self._close_readers()
            self._start()  # read everything anew (and so report what is wrong)
            return
        self._pending = []
        self._new_files = []
        self._dead = {}
        self._new_session()

    def _new_session(self) -> None:
        """The state of a session that starts on the last commit (committed segments known)."""
        self._vocabulary = vocabulary_of(self.analyzer)  # the analyzer's: words are numbered once per process
        self._load_word_cache(self._manifest.get("words"))
        self._builder = SegmentBuilder(self.schema, self.analyzer, self._vocabulary)
        self._builder_name = self._segment_name()
        self._builder_at = self._slot(self._builder_name)
        self._builder_sums = self._sums[self._builder_name] = array("q")
        self._batch: list[Prepared] = []  # analyzed together by the in-process builder
        self._chunk: list[Prepared] = []
        self._chunk_bytes = 0
        self._block_ends: list[tuple[int, int]] = []  # the open chunk's blocks so far: (end, bytes)
        self._block_bytes = 0  # of its open block
        self._chunk_name = self._builder_name
        self._chunk_at, self._chunk_sums = self._builder_at, self._builder_sums  # (only one of them is used)
        self._ready: list[_Waiting] = []  # closed chunks waiting for a worker
        self._closed_chunks = 0
        self._next_limit = self._chunk_limit_after(0)
        self._workers_learned = False  # whether a worker reported words new to it this session
        self.added = self.updated = self.skipped = self.deleted = 0
        self._closed = False

    def _reader(self, entry: Mapping[str, Any]) -> SegmentReader:
        reader = self._readers.get(entry["name"])
        if reader is None or reader.entry is not entry:
            if reader is not None:
                reader.close()
            reader = SegmentReader(self.directory, entry, self.schema)
            self._readers[entry["name"]] = reader
        return reader

    def _segment_name(self) -> str:
        name = f"s{self._next_segment:06d}"
        self._next_segment += 1
        return name

    def _load_word_cache(self, name: str | None) -> None:
        """Note the index's word cache file; it is read when the session is large enough to gain from it
        (:meth:`_read_word_cache`), unless the analyzer's cache holds it already."""
        if name:
            check_file_name(name, "manifest words")  # (a name leading out of the index fails now)
        self._words_file = name
        self._words_unread: str | None = None
        self._analyzed = 0  # documents analyzed in this process this session
        held = self._vocabulary.files_held.get(str(self.directory))
        if not name:
            self._words_written = 0
        elif held is not None and held[:2] == (name, self._file_size(name)):
            self._words_written = held[2]
        else:
            self._words_unread = name

    def _file_size(self, name: str) -> int:
        try:
            return (self.directory / name).stat().st_size
        except OSError:
            return -1

    def _read_word_cache(self, docs: int = WORD_CACHE_AFTER_DOCS) -> None:
        """Before analyzing ``docs`` more documents in this process (or starting workers): once the session
        is large enough, take in the stems workers reported and read the word cache file, so that a word
        is stemmed once per index, not once per session."""
        self._analyzed += docs
        if self._analyzed < WORD_CACHE_AFTER_DOCS:
            return
        self._vocabulary.learn_reported()
        name = self._words_unread
        if name is None:
            return
        self._words_unread = None
        cache = self.analyzer.word_cache
        before = len(cache)
        path = self.directory / name
        try:
            data = json.loads(path.read_bytes())
            words, terms = data["words"], data["terms"]
            if len(words) != len(terms):
                raise ValueError("words and terms differ in length")
        except (OSError, ValueError, KeyError, TypeError):
            self._words_written = -1  # a cache is only a cache: rebuild it
            return
        for word, term in zip(words, terms):
            if isinstance(word, str) and isinstance(term, str):
                cache.setdefault(word, tuple(term.split("\t")) if term else ())
        if before:  # the cache held words the file lacks (stemmed in this process before): the commit writes them
            self._words_written = -1
        else:
            self._words_written = len(cache)
            self._vocabulary.files_held[str(self.directory)] = (name, self._file_size(name), len(cache))

    def _cleanup_unreferenced(self) -> None:
        """Remove files no manifest names: leftovers of a crashed or rolled-back writer."""
        keep = {MANIFEST, LOCK}
        for entry in self._committed:
            keep.update(f"{entry['name']}.{suffix}" for suffix in entry.get("files", {}))
            if entry.get("deletes"):
                keep.add(entry["deletes"])
        if self._manifest.get("words"):
            keep.add(self._manifest["words"])
        for child in self.directory.iterdir():
            if child.name not in keep and child.is_file():
                try:
                    child.unlink()
                except OSError:
                    pass

    # -- documents ----------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise IndexError_("this writer is closed")
        if self._restart:  # the first call after a commit: a session on top of it
            counts = (self.added, self.updated, self.skipped, self.deleted)
            self._resume()
            self.added, self.updated, self.skipped, self.deleted = counts

    def _doc_id(self, doc: Mapping[str, Any]) -> str:
        if type(doc) is not dict and not isinstance(doc, Mapping):  # (a dict is checked without the ABC)
            raise DocumentError(f"a document must be a mapping, not {type(doc).__name__}")
        doc_id = doc.get("id")
        if not isinstance(doc_id, str) or not doc_id.strip():
            raise DocumentError(f"document has no 'id' (a non-empty string): {str(dict(doc))[:80]}")
        if len(doc_id) > MAX_ID_LENGTH or "\n" in doc_id or "\r" in doc_id or "\x00" in doc_id:
            raise DocumentError(f"document id {doc_id[:80]!r}: at most {MAX_ID_LENGTH} characters, no line breaks")
        return doc_id

    def add(self, doc: Mapping[str, Any]) -> None:
        """Add a new document; its id must not exist yet (use :meth:`update` to replace)."""
        self._check_open()
        doc_id = self._doc_id(doc)
        if doc_id in self._where:
            raise DocumentError(f"document {doc_id!r} exists already; use update() to replace it")
        self._append(self._prepare(doc_id, doc, defer=self.workers > 1))
        self.added += 1

    def update(self, doc: Mapping[str, Any]) -> str:
        """Add or replace the document with this id. Returns ``"added"``, ``"updated"``, or ``"skipped"``
        when the stored document is identical already."""
        self._check_open()
        doc_id = self._doc_id(doc)
        old = self._where.get(doc_id)
        prepared = self._prepare(doc_id, doc, defer=old is None and self.workers > 1)
        if old is not None:
            if prepared.checksum >= 0 and prepared.checksum == self._checksum(old):
                self.skipped += 1
                return "skipped"
            self._delete_at(doc_id, old)
            self._append(prepared)
            self.updated += 1
            return "updated"
        self._append(prepared)
        self.added += 1
        return "added"

    def delete(self, doc_id: str) -> bool:
        """Delete the document with this id; returns whether it existed."""
        self._check_open()
        old = self._where.get(doc_id)
        if old is None:
            return False
        self._delete_at(doc_id, old)
        self.deleted += 1
        return True

    def _delete_at(self, doc_id: str, where: int) -> None:
        name, local = self._place_of(where)
        self._dead.setdefault(name, set()).add(local)
        del self._where[doc_id]

    def _prepare(self, doc_id: str, doc: Mapping[str, Any], *, defer: bool = False) -> Prepared:
        """Validate a document and encode what is stored; raises DocumentError naming the field."""
        texts = []
        for field in self._text_fields:
            value = doc.get(field)
            if value is not None and not isinstance(value, str):
                raise DocumentError(f"document {doc_id!r}: field {field!r} must be text, not {type(value).__name__}")
            texts.append(value or "")
        days = []
        for field in self._date_fields:
            value = doc.get(field)
            days.append(MISSING_DAY if value is None or value == "" else day_number(value, field, doc_id))
        keywords: list[str | None] = []
        for field in self._keyword_fields:
            value = doc.get(field)
            if value is not None and not isinstance(value, str):
                raise DocumentError(f"document {doc_id!r}: field {field!r} must be a string, not {type(value).__name__}")
            keywords.append(_clean_keyword(value) if value else None)
        if defer and set(map(type, doc)) == {str} and _PLAIN_TYPES.issuperset(map(type, doc.values())):
            # plain values always encode: leave that to the worker process
            return Prepared(doc_id, None, tuple(texts), tuple(days), tuple(keywords), dict(doc))
        return Prepared(doc_id, encode_document(doc_id, doc), tuple(texts), tuple(days), tuple(keywords))

    def _append(self, doc: Prepared) -> None:
        if self.workers > 1:
            local = len(self._chunk)
            self._chunk.append(doc)
            size = doc_bytes(doc)
            self._chunk_bytes += size
            self._block_bytes += size
            if self._block_bytes >= self._block_limit:
                self._block_ends.append((local + 1, self._block_bytes))
                self._block_bytes = 0
            self._where[doc.doc_id] = self._chunk_at | local
            self._chunk_sums.append(doc.checksum)
            if self._chunk_bytes >= self._next_limit:
                self._dispatch_chunk(queue=self.workers)
            elif self._ready and not local % 64:  # a worker may have finished: hand it the next chunk
                self._dispatch_ready(queue=self.workers)
            return
        local = len(self._builder) + len(self._batch)
        self._batch.append(doc)
        self._where[doc.doc_id] = self._builder_at | local
        self._builder_sums.append(doc.checksum)
        if len(self._batch) >= BATCH_DOCS:
            self._read_word_cache(len(self._batch))
            self._builder.add_many(self._batch)
            self._batch = []
            if self._builder.memory > self.buffer_limit:
                self.flush()

    def add_many(self, docs: Iterable[Mapping[str, Any]]) -> int:
        """Add (or replace) many documents; returns how many were added or updated."""
        count = 0
        for doc in docs:
            if self.update(doc) != "skipped":
                count += 1
        return count

    # -- segments -----------------------------------------------------------------------------------------------

    def _dispatch_chunk(self, *, queue: int = 0) -> None:
        """Close the current chunk: it goes to a worker process, which writes it as one segment. While
        every worker is busy, up to ``queue`` closed chunks wait here (the writer goes on preparing
        documents meanwhile, and a worker that finishes gets the next chunk at once)."""
        if not self._chunk:
            return
        self._close_chunk()
        self._dispatch_ready(queue=queue)

    def _chunk_limit_after(self, closed: int) -> int:
        """The size of a session's next chunk once ``closed`` chunks closed: a quarter of ``chunk_mb`` for
        all workers but one, then whole chunks. So every worker starts soon, and a session of one or two
        chunks still ends balanced (see :meth:`_balance_end`): with whole chunks, 2 workers took a 7 MB
        session in the time of one (it was analyzed in the writing process), a 15 MB one too (one worker
        had 12 MB of it). A session under a quarter chunk is analyzed in the writing process."""
        return self.chunk_limit >> (2 if closed < self.workers - 1 else 0)

    def _close_chunk(self) -> None:
        """The current chunk, in blocks, joins the waiting ones; a new chunk starts."""
        docs = self._chunk
        ends = self._block_ends
        if not ends or ends[-1][0] < len(docs):
            ends.append((len(docs), self._block_bytes))
        blocks: list[Any] = []
        counts: list[int] = []
        sizes: list[int] = []
        start = 0
        for end, size in ends:
            blocks.append(docs[start:end])
            counts.append(end - start)
            sizes.append(size)
            start = end
        self._ready.append(_Waiting(self._chunk_name, [doc.doc_id for doc in docs], blocks, counts, sizes))
        self._closed_chunks += 1
        self._next_limit = self._chunk_limit_after(self._closed_chunks)
        self._serialize_waiting()
        self._next_chunk()

    def _serialize_waiting(self) -> None:
        """Pickle the waiting chunks now, while the workers are busy, so that handing one over later is one
        write to a pipe; but not those that new forked workers will take: their documents are in the new
        worker's memory at once."""
        for waiting in self._ready[self._worker_pool().startable :]:
            waiting.serialize()

    def _next_chunk(self) -> None:
        """Start an empty chunk, under the next segment name."""
        self._chunk = []
        self._chunk_bytes = 0
        self._block_ends = []
        self._block_bytes = 0
        self._chunk_name = self._segment_name()
        self._chunk_at = self._slot(self._chunk_name)
        self._chunk_sums = self._sums[self._chunk_name] = array("q")

    def _claim_segment_files(self, name: str) -> None:
        """Name a segment's files as this session's before they exist, so that a failed write leaves
        nothing behind (see :meth:`_discard`)."""
        self._new_files.extend(self.directory / f"{name}.{s}" for s in segment_file_suffixes(self.schema, optional=True))

    def _dispatch_ready(self, *, queue: int) -> None:
        """Hand closed chunks to idle workers, in order, waiting for workers while more than ``queue`` wait."""
        pool = self._worker_pool()
        while self._ready:
            if not pool.has_idle_worker():
                if len(self._ready) <= queue:
                    return
                # waiting for a worker: meanwhile take in (and encode) the words the others reported
                self._take_worker_words(encode=True)
                pool.wait()
                continue
            waiting = self._ready.pop(0)
            self._claim_segment_files(waiting.name)
            task = pool.submit(str(self.directory), waiting.name, waiting.payload())
            self._tasks.append(task)
            self._flying[task] = waiting

    def _move_rest(self, head: _Waiting, rest: _Waiting) -> None:
        """Place the documents of ``rest``, just cut from ``head`` (:meth:`_Waiting.split`), in their new
        segment: where each is, its checksum, its deletes."""
        n = len(head.ids)
        where, at, rest_at = self._where, self._slot(head.name), self._slot(rest.name) - n
        for local, doc_id in enumerate(rest.ids, n):
            if where.get(doc_id) == at | local:
                where[doc_id] = rest_at + local
        sums = self._sums[head.name]
        self._sums[rest.name] = sums[n:]
        del sums[n:]
        dead = self._dead.get(head.name)
        if dead:
            moved = {i for i in dead if i >= n}
            if moved:
                dead -= moved
                self._dead[rest.name] = {i - n for i in moved}

    def _worker_pool(self) -> _WorkerPool:
        """The session's worker processes (none is started before a chunk needs it)."""
        if self._pool is None:
            self._read_word_cache()  # new workers start knowing the index's words
            self._pool = _WorkerPool(self.workers, self.schema, self.analyzer)
        return self._pool

    def _collect_workers(self, *, wait: bool = True, balance: bool = False) -> None:
        """Take the workers' segments, in order, as pending segments, and the stems of the words they
        met; without ``wait``, only the segments finished already (up to the first one that is not).
        ``balance``: the session's documents end here, so a worker that is done takes part of another's
        chunk (:meth:`_balance_end`)."""
        if self._pool is None:
            return
        while self._tasks:
            while not self._pool.finished(self._tasks[0]):
                if balance:
                    self._balance_end()
                self._take_worker_words(encode=wait)  # (encoded while the workers finish)
                if not wait:
                    return
                self._pool.wait()
            task = self._tasks.pop(0)
            chunk = self._flying.pop(task, None)
            entry = self._pool.result(task)
            if chunk is not None and entry["ndocs"] != len(chunk.ids):
                raise IndexError_(f"indexing worker built {entry['ndocs']} documents of segment {entry['name']}, "
                                  f"not {len(chunk.ids)}")
            self._pending.append(entry)
        self._take_worker_words()

    def _balance_end(self) -> None:
        """At the end of a session, while no chunk waits: a worker that is idle, or has analyzed its chunk
        and is writing its segment, takes the end of the chunk that another worker has the most bytes of left
        to analyze. That worker stops before it (:meth:`_WorkerPool.stop_early`), and the end becomes a
        segment of its own, next in order. The cut is where both would finish together: the first writes
        its own segment, then analyzes and writes the end; the other analyzes what is left before the cut
        and writes its whole part (``WRITE_SHARE``). So the workers finish together without estimating how
        fast they go: cutting waiting chunks by the session's time per byte instead, 2 workers finished the
        shared corpus 0.007-0.30 s apart (mean 0.14 s); now 0.004-0.12 s (mean 0.05 s). (Taken only from an
        idle worker, the end was missed while the other wrote its segment, a quarter of the time.)"""
        pool = self._pool
        assert pool is not None
        while not self._ready:
            if pool.has_idle_worker():
                after, writing = None, 0
            else:
                finishing = [task for task in pool.finishing() if task in self._flying]
                if not finishing:
                    return
                after = min(finishing, key=lambda task: self._flying[task].nbytes)
                writing = self._flying[after].nbytes
            most = None
            for task in pool.analyzing():
                waiting = self._flying.get(task)
                if waiting is not None:
                    left = waiting.bytes_from(pool.claimed(task))
                    if most is None or left > most[0]:
                        most = (left, task, waiting)
            if most is None:
                return
            _left, task, waiting = most

            def cut(claimed: int, waiting: _Waiting = waiting, writing: int = writing) -> int | None:
                left = waiting.bytes_from(claimed)
                share = (left + WRITE_SHARE * (waiting.nbytes - writing)) / (2 * (1 + WRITE_SHARE))
                if share < self._block_limit / 2:
                    return None
                first = max(claimed, waiting.first_of_last(share))
                return first if 0 < first < len(waiting.ids) else None

            first = pool.stop_early(task, cut)
            if first is None:
                return
            rest = waiting.split(first, self._segment_name())
            self._move_rest(waiting, rest)
            self._claim_segment_files(rest.name)
            stolen = pool.submit(str(self.directory), rest.name, rest.payload(), after=after)
            self._tasks.insert(self._tasks.index(task) + 1, stolen)
            self._flying[stolen] = rest

    def _take_worker_words(self, *, encode: bool = False) -> None:
        """Take the words new to a worker that it reported (with their stems) for the next word cache file,
        as the JSON text they came in: this process does not decode them while the workers run (that cost
        as much as a fifth of a core), only before it analyzes or starts workers itself
        (:meth:`Vocabulary.learn_reported`). A word two workers met is in the file twice, with the same terms
        (the analyzer is the same). ``encode``: also encode this process's own new words now."""
        taken = self._pool.take_words()
        if taken:
            with self._vocabulary.lock:
                self._vocabulary.unlearned.extend(taken)
            self._words_stale = self._workers_learned = True
        if encode:
            self._vocabulary.encode_cache()

    def _wait_for_workers(self, *, balance: bool = False) -> None:
        """Collect every worker's segment. While they work, this process writes the next commit's word
        cache when the workers have not met a new word so far (stems known: they will not): then the
        commit does not write it after the last worker is done."""
        if self._tasks and not self._workers_learned and self.analyzer.word_cache:
            self._write_word_cache(self._generation + 1)
        self._collect_workers(balance=balance)

    def _shutdown_pool(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._tasks = []
        self._flying = {}

    def flush(self) -> None:
        """Write the buffered documents as segments (visible after the next commit)."""
        self._check_open()
        if self._ready or (self._chunk and self._pool is not None):
            # the documents end here: every waiting chunk goes to a worker (and the workers share the end)
            if self._chunk:
                self._close_chunk()
            self._dispatch_ready(queue=0)
        elif self._chunk:
            # a small session: analyzed here rather than in worker processes started for it
            self._read_word_cache(len(self._chunk))
            builder = SegmentBuilder(self.schema, self.analyzer, self._vocabulary)
            builder.add_many(self._chunk)
            self._claim_segment_files(self._chunk_name)
            self._pending.append(builder.write(self.directory, self._chunk_name))
            self._next_chunk()
        self._wait_for_workers(balance=True)
        if self._batch:
            self._read_word_cache(len(self._batch))
            self._builder.add_many(self._batch)
            self._batch = []
        if len(self._builder):
            name = self._builder_name
            entry = self._builder.write(self.directory, name)
            self._new_files.extend(self.directory / f"{name}.{s}" for s in entry["files"])
            self._pending.append(entry)
            self._builder = SegmentBuilder(self.schema, self.analyzer, self._vocabulary)
            self._builder_name = self._segment_name()
            self._builder_at = self._slot(self._builder_name)
            self._builder_sums = self._sums[self._builder_name] = array("q")

    def _apply_deletes(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """New deletes bitmap files for segments with deletes this session; drops emptied segments."""
        out = []
        for entry in entries:
            dead = self._dead.get(entry["name"])
            if dead:
                reader = self._reader(entry)
                deleted = ~reader.live
                deleted[np.fromiter(dead, dtype=np.int64, count=len(dead))] = True
                ndeleted = int(deleted.sum())
                if ndeleted == entry["ndocs"]:
                    continue
                fname = f"{entry['name']}.del{self._generation + 1}.npy"
                import io

                raw = io.BytesIO()
                np.save(raw, deleted, allow_pickle=False)
                write_durable(self.directory / fname, raw.getvalue())
                self._new_files.append(self.directory / fname)
                entry = {**entry, "deletes": fname, "ndeleted": ndeleted}
            out.append(entry)
        return out

    def _merge_run(self, run: list[dict[str, Any]], name: str) -> dict[str, Any]:
        """One merge in this process: segment ``name`` holding the live documents of ``run``, in order."""
        self._claim_segment_files(name)
        entry, ids, sums = merge_segments(self.directory, self.schema, [self._reader(e) for e in run], name,
                                          threads=self.workers)
        self._moved(run, entry, ids, sums)
        return entry

    def _moved(self, run: list[dict[str, Any]], entry: dict[str, Any], ids: list[str], sums: np.ndarray) -> None:
        """Where the documents of a merged run are now (a later delete in this session must find them)."""
        moved = {self._slots[e["name"]] for e in run if e["name"] in self._slots}
        base = self._slot(entry["name"])
        self._sums[entry["name"]] = sums
        where = self._where
        for local, doc_id in enumerate(ids):
            old = where.get(doc_id)
            if old is not None and old >> 32 in moved:
                where[doc_id] = base | local

    def _run_merges(self, steps: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, dict[str, Any]]:
        """Carry out planned merges, in order (a run may hold the result of an earlier step); returns the
        entry made under each step's name. With workers, merges that wait for no other go to the worker
        processes side by side: a large session's commit spent most of its time in ten-segment merges
        one after another, on one core."""
        made: dict[str, dict[str, Any]] = {}

        def ready(run: list[dict[str, Any]]) -> bool:
            return all(not isinstance(e, _Planned) or e["name"] in made for e in run)

        def inputs(run: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [made[e["name"]] if isinstance(e, _Planned) else e for e in run]

        if self.workers < 2 or sum(ready(run) for _name, run in steps) < 2:
            for name, run in steps:
                made[name] = self._merge_run(inputs(run), name)
            return made
        pool = self._worker_pool()
        waiting = list(steps)
        running: dict[int, tuple[str, list[dict[str, Any]]]] = {}
        while waiting or running:
            for step in [s for s in waiting if ready(s[1])]:
                if running and not pool.has_idle_worker():
                    break
                waiting.remove(step)
                name, run = step[0], inputs(step[1])
                self._claim_segment_files(name)
                running[pool.submit(str(self.directory), name, _MergeTask(run))] = (name, run)
            if not running:
                raise IndexError_("a planned merge waits for a merge that was never planned")
            done = [task for task in running if pool.finished(task)]
            if not done:
                pool.wait()
                continue
            for task in done:
                name, run = running.pop(task)
                entry, ids, sums = pool.result(task)
                self._moved(run, entry, ids, sums)
                made[name] = entry
        return made

    def _merge_policy(self, entries: list[dict[str, Any]], *, force: bool) -> list[dict[str, Any]]:
        """Size-tiered: merge runs of ``MERGE_FACTOR`` consecutive segments of the same size tier (tiers
        by powers of ten of live docs) that make a segment of at most ``max_merge_bytes``; ``force`` merges
        everything into one segment. The merges are planned first (a merged segment's live documents and
        its size are known, near enough, before it is written), then made."""
        def live(e: Mapping[str, Any]) -> int:
            return int(e["ndocs"]) - int(e.get("ndeleted", 0))

        def size(e: Mapping[str, Any]) -> float:
            """Bytes of segment files, those of deleted documents left out (as a merge leaves them)."""
            if isinstance(e, _Planned):
                return float(e["bytes"])
            return sum(int(f[0]) for f in e["files"].values()) * live(e) / max(int(e["ndocs"]), 1)

        steps: list[tuple[str, list[dict[str, Any]]]] = []
        if force:
            if len(entries) > 1 or (entries and entries[0].get("ndeleted")):
                steps.append((self._segment_name(), entries))
                entries = [_Planned(name=steps[0][0])]
        else:
            factor = self.MERGE_FACTOR
            changed = True
            while changed:
                changed = False
                tiers = [len(str(max(live(e), 1))) for e in entries]
                for start in range(len(entries)):
                    end = start
                    while end < len(entries) and tiers[end] == tiers[start]:
                        end += 1
                    run = entries[start : start + factor]
                    if end - start >= factor and sum(map(size, run)) <= self.max_merge_bytes:
                        steps.append((self._segment_name(), run))
                        planned = _Planned(name=steps[-1][0], ndocs=sum(map(live, run)), bytes=sum(map(size, run)))
                        entries = entries[:start] + [planned] + entries[start + factor :]
                        changed = True
                        break
        if not steps:
            return entries
        made = self._run_merges(steps)
        return [made[e["name"]] if isinstance(e, _Planned) else e for e in entries]

    # -- commit ---------------------------------------------------------------------------------------------------

    def commit(self, *, optimize: bool = False) -> int:
        """Make everything since the last commit durable and visible; returns the new generation.
        ``optimize`` merges all segments into one."""
        self._check_open()
        self.flush()
        entries = self._apply_deletes(self._committed + self._pending)
        if optimize or self.merge_enabled:
            entries = self._merge_policy(entries, force=optimize)
        generation = self._generation + 1
        words_file = self._write_word_cache(generation)
        fsync_dir(self.directory)
        manifest = {
            "generation": generation,
            "next_segment": self._next_segment,
            "schema": self.schema.to_dict(),
            "analyzer": self.analyzer.spec.to_dict(),
            "segments": entries,
            "words": words_file,
            "doc_count": sum(int(e["ndocs"]) - int(e.get("ndeleted", 0)) for e in entries),
        }
        def committed() -> None:
            # renamed into place: every new file belongs to the commit now, whatever fails next
            self._new_files = []

        atomic_write_bytes(self.directory / MANIFEST, encode_manifest(manifest), replaced=committed)
        # the commit is durable. The files it no longer names go now (their segments closed first); the
        # next session on top of it starts when this writer is used again (:meth:`_resume`)
        self._written_segments = {e["name"] for e in self._pending}  # (those it merged are gone from entries)
        named = {id(e) for e in entries}
        for name in [n for n, reader in self._readers.items() if id(reader.entry) not in named]:
            self._readers.pop(name).close()
        self._new_files = []
        self._manifest = manifest
        self._generation = generation
        self._committed = entries
        # the checksums of segments gone (merged, emptied) go too: they are mapped from files removed next
        live = {entry["name"] for entry in entries}
        self._sums = {name: sums for name, sums in self._sums.items() if name in live}
        self._cleanup_unreferenced()
        self._restart = True
        return generation

    def _close_readers(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def _write_word_cache(self, generation: int) -> str | None:
        cache = self.analyzer.word_cache
        if self._words_unread is not None:
            return self._words_file  # a small session leaves the file as it is (its words: a few ms to stem)
        if not cache and not self._vocabulary.unlearned:
            return self._words_file
        if self._words_file and len(cache) == self._words_written and not self._words_stale:
            return self._words_file
        name = f"words{generation}.json"
        text = self._vocabulary.word_cache_text()
        write_durable(self.directory / name, text)
        self._new_files.append(self.directory / name)
        self._words_written = len(cache)
        self._words_stale = False
        self._words_file = name
        self._vocabulary.files_held[str(self.directory)] = (name, len(text), len(cache))
        return name

    def _discard(self) -> None:
        """Stop the workers and remove every file this session wrote since the last commit."""
        self._shutdown_pool()
        for path in self._new_files:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._new_files = []
        self._close_readers()

    def rollback(self) -> None:
        """Discard everything since the last commit and remove the files this session wrote."""
        if self._closed:
            return
        self._discard()
        self._start()

    def close(self) -> None:
        """Roll back what is not committed and release the lock."""
        if self._closed:
            return
        try:
            self._discard()
        finally:
            self._closed = True
            self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.close()
