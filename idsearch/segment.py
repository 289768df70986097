"""Immutable segments: the inverted index of a batch of documents as numpy arrays on disk.

A segment ``s`` with a text field ``body`` consists of::

    s.ids.txt            document ids, one per line, in local doc order
    s.sums.npy           CRC-32 of each stored document (updates of unchanged documents are skipped)
    s.docs.bin           stored documents, each a JSON object, in blocks of about 4 KiB compressed together
                         (zlib, with a preset dictionary): reading one document inflates one block
    s.docs.blocks.npy    byte offset of each block in docs.bin (uint64, nblocks + 1)
    s.docs.first.npy     the first document of each block (int64, nblocks + 1; the last entry is ndocs)
    s.docs.at.npy        offset of each document in the blocks' uncompressed bytes, end to end (uint64, ndocs + 1)
    s.docs.dict          the preset dictionary: up to 32 KiB sampled from the segment's documents
    s.docs.dicts.npy     only in a segment a merge wrote: docs.dict holds the dictionaries of the merged
                         segments, end to end, and block b was compressed with docs.dict[dicts[2b]:dicts[2b+1]]
                         (uint64, 2 * nblocks); the blocks of the merged segments are copied as they are
    s.body.terms.txt     the field's distinct terms, sorted, one per line
    s.body.tpost.npy     for term t, its postings are [tpost[t], tpost[t+1])  (int64, nterms + 1)
    s.body.tpos.npy      for term t, its positions are [tpos[t], tpos[t+1])  (int64, nterms + 1)
    s.body.docs.npy      posting -> local doc id (uint16/uint32, ascending within a term)
    s.body.tf.npy        posting -> term frequency (uint16/uint32)
    s.body.pos.npy       positions, posting after posting, ascending within a posting (uint16/uint32)
    s.body.len.npy       field length (terms) of every doc (uint32)
    s.date.days.npy      a date field: days since 1970-01-01 (int32; MISSING_DAY when absent)
    s.source.codes.npy   a keyword field: index into s.source.values.txt (int32; -1 when absent)

A segment's manifest entry lists, in ``features``, what it needs beyond this layout's first form (a merged
segment's ``docs.dicts.npy``: ``stored-dictionaries``); a reader refuses a segment that needs a feature it
does not know (``IndexFormatError``), where it would misread it. Segments of 2026-12-05 with docs.dicts.npy
but no ``features`` are read as before.

Segments written before 2026-11-25 compressed each stored document on its own: instead of the blocks'
files they have ``s.docs.off.npy``, the byte offset of each document in docs.bin; they are still read.

Every array is saved with ``np.save`` and loaded memory-mapped with ``allow_pickle=False``; the loader
checks dtype and shape of every array, so a planted pickle or a truncated file is an error, not code.
"""

from __future__ import annotations

import bisect
import json
import mmap as _mmap
import os
import re
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from idsearch.schema import Schema
from idsearch.storage import IndexCorruptError, IndexFormatError, check_file_name, crc32_file, write_durable

try:  # the compiled postings sort (optional: the numpy code below does the same)
    from idsearch import _kernel
except ImportError:  # pragma: no cover - depends on the build
    _kernel = None

__all__ = ["MISSING_DAY", "FieldData", "SegmentReader", "build_postings", "load_npy", "write_segment"]

ZDICT_SIZE = 32 * 1024
# documents compressed together in blocks of 4 KiB at level 1: 24 us/doc and 2% smaller than one by one at
# level 2 (36 us/doc); reading a random document 48 us instead of 35 (shared corpus; 8 KiB blocks: 78 us)
STORED_LEVEL = 1
STORED_BLOCK = 4 * 1024
STORED_PARTS = ("docs.bin", "docs.dict", "docs.blocks.npy", "docs.first.npy", "docs.at.npy")
LEGACY_STORED_PARTS = ("docs.bin", "docs.dict", "docs.off.npy")  # one document per compressed stream
MERGED_STORED_PARTS = ("docs.dicts.npy",)  # in a segment whose blocks have several preset dictionaries
MISSING_DAY = np.iinfo(np.int32).min
# what a segment's manifest entry says it needs, in "features", beyond the files every segment has: a reader
# refuses a segment with a feature it does not know (written by a newer idsearch) instead of misreading it
STORED_DICTIONARIES = "stored-dictionaries"  # docs.dicts.npy: the stored blocks have several dictionaries
SEGMENT_FEATURES = frozenset({STORED_DICTIONARIES})
EXACT_PARTS = ("terms.txt", "tpost.npy", "docs.npy", "tf.npy")
# exact-form fields of segments written before 2026-11-24 also carry positions, which nothing reads
LEGACY_EXACT_PARTS = ("tpos.npy", "pos.npy")
_INDEX_DTYPES = (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.int32), np.dtype(np.int64))
_PREAD = getattr(os, "pread", None)  # (not on Windows)
_SEEK_LOCK = threading.Lock()  # where there is no positional read
# numpy reads an .npy header with ast.literal_eval, and CPython 3.11 before 3.11.9 can fail ast parsing in
# two threads at once ("SystemError: AST constructor recursion depth mismatch"): headers are read one at a time
_NPY_HEADER_LOCK = threading.Lock()


def _read_at(fh: Any, offset: int, size: int) -> bytes:
    """``size`` bytes of an open file at ``offset`` (fewer at its end), whatever another thread does with
    the same handle: a positional read, or a seek and a read under one lock where the system has none."""
    if _PREAD is None:
        with _SEEK_LOCK:
            fh.seek(offset)
            return fh.read(size)
    chunks = []
    while size > 0:
        chunk = _PREAD(fh.fileno(), size, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def load_npy(path: Path, *, mmap: bool) -> Any:
    """``np.load`` of one ``.npy`` file, never unpickling, safe to call from several threads at once.

    Mapped, the common file (what idsearch writes: a 1-d array of integers in C order) is read through
    a strict pattern of its header and mapped directly, without numpy's general header parser, which took
    most of a new snapshot's opening time (125 arrays for five segments); any other file goes to
    ``np.load``, which decides (and refuses pickles)."""
    if mmap:
        mapped = _map_integer_npy(path)
        if mapped is not None:
            return mapped
    with _NPY_HEADER_LOCK:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


# the header numpy writes for a 1-d array of integers (format 1.0: magic, version, 2-byte length)
_NPY_PREFIX = b"\x93NUMPY\x01\x00"
_NPY_HEADER = re.compile(rb"\{'descr': '([<|][iu][1248])', 'fortran_order': False, 'shape': \(([0-9]{1,18}),\), \} *\n\Z")


def _map_integer_npy(path: Path) -> np.ndarray | None:
    """A ``.npy`` file of a 1-d integer array mapped read-only, or None when its header is not exactly
    the one numpy writes for such an array (then ``np.load`` reads it). Raises ValueError when the file is
    shorter than its header says."""
    with open(path, "rb") as fh:
        start = fh.read(10)
        if len(start) < 10 or start[:8] != _NPY_PREFIX:
            return None
        length = int.from_bytes(start[8:10], "little")
        match = _NPY_HEADER.match(fh.read(length))
        if match is None:
            return None
        dtype = np.dtype(match.group(1).decode("ascii"))
        count = int(match.group(2))
        offset = 10 + length
        if offset + count * dtype.itemsize > os.fstat(fh.fileno()).st_size:
            raise ValueError(f"the file is shorter than its header's {count} entries of {dtype}")
        if not count:  # (nothing to map)
            empty = np.zeros(0, dtype=dtype)
            empty.flags.writeable = False
            return empty
        mapping = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ)
    return np.frombuffer(mapping, dtype=dtype, count=count, offset=offset)


def _read_whole(fh: Any) -> bytes:
    """All of an open file (see :func:`_read_at`)."""
    return _read_at(fh, 0, os.fstat(fh.fileno()).st_size)


def smallest_uint(max_value: int) -> type:
    return np.uint16 if max_value <= np.iinfo(np.uint16).max else np.uint32


def build_postings(
    ranks: np.ndarray, docs: np.ndarray, positions: np.ndarray | None, *, compiled: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Turn term occurrences into postings.

    ``ranks[i]`` is the (sorted-vocabulary) index of the term of occurrence ``i`` in doc ``docs[i]`` at
    ``positions[i]``. Occurrences must come in (doc, position) order; a stable sort by term then yields
    postings in (term, doc) order with positions ascending. Without ``positions`` (an exact-form field)
    only the postings are built, and the returned positions are None.

    Returns ``(term_ranks, tpost, tpos, pdocs, ptf, pos)``: the distinct ranks present, per-term offsets
    into postings and positions, and the posting/position arrays. With int32 arrays the compiled kernel
    does it (unless ``compiled`` is false): a counting sort, which stays fast when the occurrences no longer
    fit the processor's caches (the shared corpus's 6.7 M body occurrences: 0.11 s against 0.51);
    otherwise, and as its reference, numpy."""
    n = len(ranks)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, np.zeros(1, np.int64), np.zeros(1, np.int64), empty, empty, None if positions is None else empty
    int32 = np.dtype(np.int32)
    if (compiled and _kernel is not None and ranks.dtype == int32 and docs.dtype == int32
            and (positions is None or positions.dtype == int32)):
        return _compiled_postings(ranks, docs, positions)
    order = _stable_order(ranks)
    r = ranks[order]
    d = docs[order]
    p = positions[order] if positions is not None else None
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(r[1:], r[:-1], out=change[1:])
    change[1:] |= d[1:] != d[:-1]
    starts = np.flatnonzero(change)
    ptf = np.diff(np.append(starts, n))
    pdocs = d[starts]
    pterm = r[starts]
    term_first = np.flatnonzero(np.concatenate(([True], pterm[1:] != pterm[:-1])))
    term_ranks = pterm[term_first]
    tpost = np.append(term_first, len(starts)).astype(np.int64)
    tpos = np.append(starts[term_first], n).astype(np.int64)
    return term_ranks, tpost, tpos, pdocs, ptf, p


def _compiled_postings(
    ranks: np.ndarray, docs: np.ndarray, positions: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    assert _kernel is not None
    n = len(ranks)
    offsets = np.empty(int(ranks.max()) + 2, dtype=np.int64)  # (a negative rank: the kernel refuses it)
    term_postings = np.empty_like(offsets)
    sorted_docs = np.empty(n, dtype=np.int32)
    sorted_positions = None if positions is None else np.empty(n, dtype=np.int32)
    pdocs = np.empty(n, dtype=np.int32)
    ptf = np.empty(n, dtype=np.int32)
    count = _kernel.postings(ranks, docs, positions, offsets, sorted_docs, sorted_positions, pdocs, ptf,
                             term_postings)
    term_ranks = np.flatnonzero(offsets[1:] != offsets[:-1])
    tpost = np.append(term_postings[term_ranks], count)
    tpos = np.append(offsets[term_ranks], n)
    return term_ranks, tpost, tpos, pdocs[:count], ptf[:count], sorted_positions


def _stable_order(ranks: np.ndarray) -> np.ndarray:
    """``np.argsort(ranks, kind="stable")`` for non-negative ranks below 2**32, as one or two passes of
    numpy's 16-bit radix sort (about twice as fast as its general stable sort)."""
    top = int(ranks.max(initial=0))
    if top < 1 << 16:
        return np.argsort(ranks.astype(np.uint16), kind="stable")
    low = np.argsort((ranks & 0xFFFF).astype(np.uint16), kind="stable")
    return low[np.argsort((ranks[low] >> 16).astype(np.uint16), kind="stable")]


class FieldData:
    """What a segment holds for one text field, gathered before writing."""

    def __init__(self, terms: Sequence[str], ranks: np.ndarray, docs: np.ndarray, positions: np.ndarray | None,
                 lengths: np.ndarray) -> None:
        self.terms = terms  # sorted vocabulary that ``ranks`` index into (may hold terms absent here)
        self.ranks = ranks
        self.docs = docs
        self.positions = positions  # None for an exact-form field: postings only
        self.lengths = lengths


def encode_lines(values: Iterable[str]) -> bytes:
    return "\n".join(values).encode("utf-8")


def npy_bytes(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def preset_dictionary(count: int, doc: Callable[[int], bytes]) -> bytes:
    """Up to 32 KiB of evenly spaced documents (of ``count``, the ``i``-th being ``doc(i)``): the strings
    documents of a segment share."""
    if not count:
        return b""
    step = max(1, count // 64)
    sample = b"".join(doc(i) for i in range(0, count, step))
    return sample[-ZDICT_SIZE:]


def primed_compressor(zdict: bytes) -> Any:
    """A compressor for stored blocks primed with a preset dictionary (none when empty): priming is costly,
    so each block compresses with a copy of it."""
    return zlib.compressobj(STORED_LEVEL, zdict=zdict) if zdict else zlib.compressobj(STORED_LEVEL)


@attrs.frozen(eq=False)
class StoredBlocks:
    """Where a segment's stored documents are in its docs.bin: the preset dictionary ``zdict``, the blocks'
    byte offsets, the first document of each block, the documents' offsets in the uncompressed blocks, and
    (None: every block has ``zdict``) each block's dictionary as a range of ``zdict``."""

    zdict: bytes
    blocks: np.ndarray
    first: np.ndarray
    at: np.ndarray
    dicts: np.ndarray | None = None

    def files(self) -> dict[str, bytes]:
        """The stored documents' files besides docs.bin itself."""
        files = {
            "docs.dict": self.zdict,
            "docs.blocks.npy": npy_bytes(self.blocks),
            "docs.first.npy": npy_bytes(self.first),
            "docs.at.npy": npy_bytes(self.at),
        }
        if self.dicts is not None:
            files["docs.dicts.npy"] = npy_bytes(self.dicts)
        return files


class StoredEncoder:
    """Compresses JSON-encoded documents, one after another, in blocks of about ``STORED_BLOCK`` bytes, each
    on its own with the preset dictionary ``zdict``; each compressed block goes to ``out`` when it is made.
    ``offsets``, ``first`` and ``sizes`` say where the blocks and documents are."""

    def __init__(self, zdict: bytes, out: Callable[[bytes], Any]) -> None:
        self.zdict = zdict
        self._out = out
        self._primed = primed_compressor(zdict)
        self._pending: list[bytes] = []
        self._size = 0
        self.offsets = [0]
        self.first = [0]
        self.sizes: list[int] = []

    def add(self, doc: bytes) -> None:
        self._pending.append(doc)
        self._size += len(doc)
        self.sizes.append(len(doc))
        if self._size >= STORED_BLOCK:
            self._block()

    def _block(self) -> None:
        c = self._primed.copy()
        raw = c.compress(b"".join(self._pending)) + c.flush()
        self._out(raw)
        self.offsets.append(self.offsets[-1] + len(raw))
        self.first.append(len(self.sizes))
        self._pending = []
        self._size = 0

    def finish(self) -> StoredBlocks:
        """The last block compressed; where everything is."""
        if self._pending:
            self._block()
        return StoredBlocks(self.zdict, np.array(self.offsets, dtype=np.uint64), np.array(self.first, dtype=np.int64),
                            document_offsets(self.sizes))


def document_offsets(sizes: Sequence[int] | np.ndarray) -> np.ndarray:
    """Each document's offset in the uncompressed blocks, end to end, from their sizes (uint64, n + 1)."""
    at = np.zeros(len(sizes) + 1, dtype=np.uint64)
    if len(sizes):
        np.cumsum(sizes, out=at[1:])
    return at


def encode_stored(docs: Sequence[bytes], out: Callable[[bytes], Any]) -> StoredBlocks:
    """Compress JSON-encoded documents in blocks (see :class:`StoredEncoder`) with a preset dictionary sampled
    from them; the compressed blocks go to ``out``."""
    encoder = StoredEncoder(preset_dictionary(len(docs), docs.__getitem__), out)
    for doc in docs:
        encoder.add(doc)
    return encoder.finish()


def segment_file_suffixes(schema: Schema, *, optional: bool = False) -> list[str]:
    """Every file suffix of a segment of this schema (``<segment>.<suffix>``); with ``optional``, also
    those only some segments have (a merged segment's dictionaries)."""
    suffixes = ["ids.txt", "sums.npy", *STORED_PARTS]
    for field in schema.text_field_names:
        suffixes += [f"{field}.{part}" for part in ("terms.txt", "tpost.npy", "tpos.npy", "docs.npy", "tf.npy", "pos.npy", "len.npy")]
    for field in schema.exact_fields:  # postings only: lengths are the text field's own, positions are not needed
        suffixes += [f"{field}.{part}" for part in EXACT_PARTS]
    suffixes += [f"{field}.days.npy" for field in schema.date_fields]
    for field in schema.keyword_fields:
        suffixes += [f"{field}.values.txt", f"{field}.codes.npy"]
    if optional:
        suffixes += MERGED_STORED_PARTS
    return suffixes


def write_segment(
    directory: Path,
    name: str,
    schema: Schema,
    *,
    ids: Sequence[str],
    stored: Sequence[bytes],
    checksums: np.ndarray,
    fields: Mapping[str, FieldData],
    days: Mapping[str, np.ndarray],
    keywords: Mapping[str, Sequence[str | None]],
) -> dict[str, Any]:
    """Write a segment's files (each fsynced) and return its manifest entry. The caller fsyncs the
    directory before the manifest that names the segment is written."""
    ndocs = len(ids)
    if len(stored) != ndocs:
        raise ValueError(f"segment {name}: {len(stored)} stored documents for {ndocs} ids")
    chunks: list[bytes] = []
    files = encode_stored(stored, chunks.append).files()
    files["docs.bin"] = b"".join(chunks)
    tokens: dict[str, int] = {}
    for field in (*schema.text_field_names, *schema.exact_fields):
        data = fields[field]
        term_ranks, tpost, tpos, pdocs, ptf, pos = build_postings(data.ranks, data.docs, data.positions)
        files[f"{field}.terms.txt"] = encode_lines(data.terms[r] for r in term_ranks.tolist())
        files[f"{field}.tpost.npy"] = npy_bytes(tpost)
        files[f"{field}.docs.npy"] = npy_bytes(pdocs.astype(doc_dtype(ndocs)))
        files[f"{field}.tf.npy"] = npy_bytes(ptf.astype(smallest_uint(int(ptf.max(initial=0)))))
        if pos is not None:
            files[f"{field}.tpos.npy"] = npy_bytes(tpos)
            files[f"{field}.pos.npy"] = npy_bytes(pos.astype(smallest_uint(int(pos.max(initial=0)))))
        if field in schema.text_field_names:
            files[f"{field}.len.npy"] = npy_bytes(data.lengths.astype(np.uint32))
            tokens[field] = int(data.lengths.sum(dtype=np.int64))
    files.update(document_files(schema, ids, checksums, days, keywords))
    return segment_entry(schema, name, ndocs, tokens, write_files(directory, name, files))


def doc_dtype(ndocs: int) -> type:
    """The type of a segment's posting -> document array."""
    return smallest_uint(max(ndocs - 1, 0))


def document_files(schema: Schema, ids: Sequence[str], checksums: np.ndarray, days: Mapping[str, np.ndarray],
                   keywords: Mapping[str, Sequence[str | None]]) -> dict[str, bytes]:
    """A segment's files of per-document values: ids, stored documents' checksums, dates and keywords."""
    files = {"ids.txt": encode_lines(ids), "sums.npy": npy_bytes(checksums.astype(np.uint32))}
    for field in schema.date_fields:
        files[f"{field}.days.npy"] = npy_bytes(days[field].astype(np.int32))
    for field in schema.keyword_fields:
        values = keywords[field]
        vocab = sorted({v for v in values if v is not None})
        code_of = {v: i for i, v in enumerate(vocab)}
        codes = np.fromiter((code_of[v] if v is not None else -1 for v in values), dtype=np.int32, count=len(ids))
        files[f"{field}.values.txt"] = encode_lines(vocab)
        files[f"{field}.codes.npy"] = npy_bytes(codes)
    return files


def write_files(directory: Path, name: str, files: Mapping[str, bytes]) -> dict[str, list[int]]:
    """Write segment files (``<name>.<suffix>``), each fsynced; returns their sizes and CRC-32s by suffix."""
    listing: dict[str, list[int]] = {}
    for suffix, data in files.items():
        listing[suffix] = write_durable(directory / f"{name}.{suffix}", data)
    return listing


def segment_entry(schema: Schema, name: str, ndocs: int, tokens: Mapping[str, int],
                  listing: Mapping[str, list[int]]) -> dict[str, Any]:
    """A written segment's manifest entry; its files listed in their usual order, every one present."""
    order = segment_file_suffixes(schema, optional=True)
    missing = set(segment_file_suffixes(schema)) - set(listing)
    if missing or not set(listing) <= set(order):
        raise AssertionError(f"segment {name}: files {sorted(listing)} are not a segment's")
    files = {suffix: list(listing[suffix]) for suffix in order if suffix in listing}
    entry: dict[str, Any] = {"name": name, "ndocs": ndocs, "tokens": dict(tokens), "files": files, "deletes": None,
                             "ndeleted": 0}
    if "docs.dicts.npy" in files:
        entry["features"] = [STORED_DICTIONARIES]
    return entry


def segment_features(entry: Mapping[str, Any], where: str) -> list[str]:
    """The features a segment's manifest entry says it needs; raises IndexFormatError for one this version
    does not know (and IndexCorruptError when the list is not a list of names)."""
    features = entry.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise IndexCorruptError(f"{where}: 'features' must be a list of names")
    unknown = sorted(set(features) - SEGMENT_FEATURES)
    if unknown:
        from idsearch import __version__

        raise IndexFormatError(f"{where}: needs {', '.join(map(repr, unknown))}, which idsearch {__version__} "
                               "does not have: a newer idsearch wrote it (upgrade to read it)")
    return features


RAW_LOOKUPS = 256  # term lookups a field of a segment answers from its file's bytes before decoding its terms


class _FieldReader:
    """Postings of one text field of one segment."""

    __slots__ = ("_lines", "_lookups", "_terms", "_terms_fh", "docs", "lengths", "pos", "tf", "tpos", "tpost")

    def __init__(self, terms_fh: Any, arrays: Mapping[str, np.ndarray]) -> None:
        self._terms_fh = terms_fh
        self._terms: list[str] | None = None
        # the terms file's bytes and where each term's line starts (and where the last one ends): the first
        # lookups are binary searches on them, without decoding every term (a new snapshot's first queries,
        # a command line's one query); past RAW_LOOKUPS the terms are decoded, for bisect in C
        self._lines: tuple[bytes, np.ndarray, str] | None = None  # (and the bytes decoded: checked, kept for the list)
        self._lookups = 0
        self.tpost = arrays["tpost"]
        self.tpos = arrays.get("tpos")  # None: a field without positions (exact forms)
        self.docs = arrays["docs"]
        self.tf = arrays["tf"]
        self.pos = arrays.get("pos")
        self.lengths = arrays["len"]

    @property
    def terms(self) -> list[str]:
        if self._terms is None:
            raw = self._lines[2] if self._lines else _decode(_read_whole(self._terms_fh), self._terms_fh.name)
            self._terms = raw.split("\n") if raw else []
            self._lines = None  # (the list answers lookups from now on)
        return self._terms

    def term_index(self, term: str) -> int:
        terms = self._terms
        if terms is None and self._lookups >= RAW_LOOKUPS:
            terms = self.terms
        if terms is not None:
            i = bisect.bisect_left(terms, term)
            return i if i < len(terms) and terms[i] == term else -1
        self._lookups += 1
        lines = self._lines
        if lines is None:
            raw = _read_whole(self._terms_fh)
            text = _decode(raw, self._terms_fh.name)  # (checked as the list would be: a corrupt file is an error)
            breaks = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
            starts = np.concatenate(([0], breaks + 1, [len(raw) + 1])) if raw else np.zeros(1, dtype=np.int64)
            lines = self._lines = (raw, starts.astype(np.int64, copy=False), text)
        raw, starts, _text = lines
        try:
            key = term.encode("utf-8")  # (UTF-8 bytes sort as the code points do: the file's order)
        except UnicodeEncodeError:
            return -1
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if raw[int(starts[mid]) : int(starts[mid + 1]) - 1] < key:
                lo = mid + 1
            else:
                hi = mid
        found = lo < len(starts) - 1 and raw[int(starts[lo]) : int(starts[lo + 1]) - 1] == key
        return lo if found else -1

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(local docs, term frequencies) of ``term``, or None when absent."""
        i = self.term_index(term)
        if i < 0:
            return None
        a, b = int(self.tpost[i]), int(self.tpost[i + 1])
        return self.docs[a:b], self.tf[a:b]

    def occurrences(self, term: str, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(doc, position) of every occurrence of ``term``; with ``keep`` (a bool mask over the term's
        postings) only those postings."""
        i = self.term_index(term)
        if i < 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if self.pos is None or self.tpos is None:
            raise ValueError(f"term {term!r}: this field has no positions")
        a, b = int(self.tpost[i]), int(self.tpost[i + 1])
        docs = self.docs[a:b].astype(np.int64)
        tf = self.tf[a:b].astype(np.int64)
        p0, p1 = int(self.tpos[i]), int(self.tpos[i + 1])
        pos = self.pos[p0:p1].astype(np.int64)
        if keep is None:
            return np.repeat(docs, tf), pos
        keep_occ = np.repeat(keep, tf)
        return np.repeat(docs[keep], tf[keep]), pos[keep_occ]

    def close(self) -> None:
        self._terms_fh.close()


class SegmentReader:
    """Read access to one segment as named in a manifest entry. Opens every file at once, so a later
    commit that removes the files does not disturb this reader (POSIX keeps open files alive)."""

    def __init__(self, directory: Path, entry: Mapping[str, Any], schema: Schema) -> None:
        self.directory = directory
        self.entry = entry
        self.name = check_file_name(entry.get("name"), "manifest segment")
        ndocs = entry.get("ndocs")
        if not isinstance(ndocs, int) or ndocs < 0:
            raise IndexCorruptError(f"{directory}: segment {self.name}: bad 'ndocs'")
        self.ndocs = ndocs
        self.features = segment_features(entry, f"{directory}: segment {self.name}")
        files = entry.get("files")
        if not isinstance(files, dict):
            raise IndexCorruptError(f"{directory}: segment {self.name}: 'files' must be a mapping")
        self.files = files
        self._handles: list[Any] = []
        # files are released when the reader is garbage-collected, even without close()
        self._finalizer = weakref.finalize(self, _close_all, self._handles)
        try:
            self._open(schema)
        except BaseException:
            self.close()
            raise

    def _path(self, suffix: str) -> Path:
        if suffix not in self.files:
            raise IndexCorruptError(f"{self.directory}: segment {self.name}: manifest lists no file {suffix!r}")
        return self.directory / check_file_name(f"{self.name}.{suffix}", f"segment {self.name}")

    def _array(self, suffix: str, length: int | None, dtypes: Sequence[np.dtype] = _INDEX_DTYPES) -> np.ndarray:
        path = self._path(suffix)
        try:
            array = load_npy(path, mmap=True)
        except FileNotFoundError:
            raise
        except (ValueError, OSError, EOFError) as exc:
            raise IndexCorruptError(f"{path}: not a valid array file ({exc})") from None
        if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype not in dtypes:
            raise IndexCorruptError(f"{path}: expected a 1-d integer array, found {getattr(array, 'dtype', type(array))}")
        if length is not None and array.shape[0] != length:
            raise IndexCorruptError(f"{path}: expected {length} entries, found {array.shape[0]}")
        return np.asarray(array)  # a plain view of the mapping: slicing a np.memmap subclass is slow

    def _open(self, schema: Schema) -> None:
        n = self.ndocs
        self._ids_fh = open(self._path("ids.txt"), "rb")  # noqa: SIM115 - kept open for the snapshot
        self._id_lines: tuple[bytes, np.ndarray, np.ndarray] | None = None  # ids.txt, and where each line is
        self._handles.append(self._ids_fh)
        self._docs_fh = open(self._path("docs.bin"), "rb")  # noqa: SIM115
        self._handles.append(self._docs_fh)
        self._zdict = self._path("docs.dict").read_bytes()
        self._block: tuple[int, bytes] = (-1, b"")  # the block inflated last
        self._block_dicts: np.ndarray | None = None  # each block's dictionary (a merged segment's blocks)
        if "docs.off.npy" in self.files:  # a segment written before stored documents came in blocks
            self.doc_offsets: np.ndarray | None = self._array("docs.off.npy", n + 1, (np.dtype(np.uint64),))
        else:
            self.doc_offsets = None
            self._block_offsets = self._array("docs.blocks.npy", None, (np.dtype(np.uint64),))
            self._block_first = self._array("docs.first.npy", None, (np.dtype(np.int64),))
            self._doc_at = self._array("docs.at.npy", n + 1, (np.dtype(np.uint64),))
            first = self._block_first
            if len(first) != len(self._block_offsets) or not len(first) or first[0] != 0 or first[-1] != n:
                raise IndexCorruptError(f"{self.directory}: segment {self.name}: stored blocks do not cover its documents")
            if "docs.dicts.npy" in self.files:  # (a merged segment) each block's own dictionary
                dicts = self._array("docs.dicts.npy", 2 * (len(first) - 1), (np.dtype(np.uint64),))
                if len(dicts) and (np.any(dicts[0::2] > dicts[1::2]) or int(dicts.max()) > len(self._zdict)):
                    raise IndexCorruptError(f"{self.directory}: segment {self.name}: docs.dicts.npy: ranges outside docs.dict")
                self._block_dicts = dicts
        self.checksums = self._array("sums.npy", n, (np.dtype(np.uint32),))
        self.fields: dict[str, _FieldReader] = {}
        for field in (*schema.text_field_names, *schema.exact_fields):
            base = field.removesuffix(".exact")
            arrays = {
                "tpost": self._array(f"{field}.tpost.npy", None, (np.dtype(np.int64),)),
                "docs": self._array(f"{field}.docs.npy", None),
                "tf": self._array(f"{field}.tf.npy", None),
            }
            if base == field:  # a text field: positions and lengths; an exact-form field: postings only
                arrays["tpos"] = self._array(f"{field}.tpos.npy", None, (np.dtype(np.int64),))
                arrays["pos"] = self._array(f"{field}.pos.npy", None)
                arrays["len"] = self._array(f"{field}.len.npy", n, (np.dtype(np.uint32),))
            else:
                arrays["len"] = self.fields[base].lengths
            if arrays["docs"].shape != arrays["tf"].shape or ("tpos" in arrays and arrays["tpost"].shape != arrays["tpos"].shape):
                raise IndexCorruptError(f"{self.directory}: segment {self.name}: field {field}: inconsistent array sizes")
            if len(arrays["tpost"]) == 0 or int(arrays["tpost"][-1]) != len(arrays["docs"]) or (
                "pos" in arrays and int(arrays["tpos"][-1]) != len(arrays["pos"])
            ):
                raise IndexCorruptError(f"{self.directory}: segment {self.name}: field {field}: offsets do not match postings")
            fh = open(self._path(f"{field}.terms.txt"), "rb")  # noqa: SIM115
            self._handles.append(fh)
            self.fields[field] = _FieldReader(fh, arrays)
        self.days = {f: self._array(f"{f}.days.npy", n, (np.dtype(np.int32),)) for f in schema.date_fields}
        self.codes = {f: self._array(f"{f}.codes.npy", n, (np.dtype(np.int32),)) for f in schema.keyword_fields}
        self._value_files = {}
        for f in schema.keyword_fields:
            fh = open(self._path(f"{f}.values.txt"), "rb")  # noqa: SIM115
            self._handles.append(fh)
            self._value_files[f] = fh
        self._values: dict[str, list[str]] = {}
        self.live = np.ones(n, dtype=bool)
        deletes = self.entry.get("deletes")
        if deletes is not None:
            path = self.directory / check_file_name(deletes, f"segment {self.name} deletes")
            try:
                deleted = load_npy(path, mmap=False)
            except FileNotFoundError:
                raise
            except (ValueError, OSError, EOFError) as exc:
                raise IndexCorruptError(f"{path}: not a valid deletes bitmap ({exc})") from None
            if deleted.dtype != np.bool_ or deleted.shape != (n,):
                raise IndexCorruptError(f"{path}: deletes bitmap must be {n} booleans")
            self.live = ~deleted
        self.live.setflags(write=False)
        self.nlive = int(self.live.sum())

    # -- documents ------------------------------------------------------------------------------------------

    @cached_property
    def ids(self) -> list[str]:
        raw = _decode(_read_whole(self._ids_fh), self._ids_fh.name)
        ids = raw.split("\n") if raw else []
        if len(ids) != self.ndocs:
            raise IndexCorruptError(f"{self.directory}: segment {self.name}: {len(ids)} ids for {self.ndocs} docs")
        return ids

    def doc_id(self, doc: int) -> str:
        """The id of local doc ``doc``: from :attr:`ids` once that is loaded, else from the bytes of ids.txt
        and where its lines start (a search's hits need a few ids, not a list of every id of the segment:
        that took 23 ms for 280 k documents)."""
        ids = self.__dict__.get("ids")
        if ids is not None:
            return ids[doc]
        if not 0 <= doc < self.ndocs:
            raise IndexError(f"segment {self.name} has no document {doc}")
        lines = self._id_lines
        if lines is None:
            raw = _read_whole(self._ids_fh)
            ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
            count = len(ends) + 1 if raw else 0  # (lines, as ids' split counts them)
            if count != self.ndocs:
                raise IndexCorruptError(f"{self.directory}: segment {self.name}: {count} ids for {self.ndocs} docs")
            lines = self._id_lines = (raw, np.concatenate(([0], ends + 1)), np.append(ends, len(raw)))
        raw, starts, stops = lines
        return _decode(raw[int(starts[doc]) : int(stops[doc])], self._ids_fh.name)

    def stored_bytes(self, doc: int) -> bytes:
        """The JSON of local doc ``doc``."""
        if not 0 <= doc < self.ndocs:
            raise IndexError(f"segment {self.name} has no document {doc}")
        if self.doc_offsets is not None:
            a, b = int(self.doc_offsets[doc]), int(self.doc_offsets[doc + 1])
            return self._inflate(a, b, None, f"stored document {doc}", self._zdict)
        block = int(np.searchsorted(self._block_first, doc, side="right")) - 1
        base = int(self._doc_at[int(self._block_first[block])])
        cached = self._block  # (one read of the pair: another thread may replace it)
        if cached[0] == block:
            data = cached[1]
        else:
            data = self._inflate(int(self._block_offsets[block]), int(self._block_offsets[block + 1]),
                                 self._block_size(block), f"stored block {block}", self.block_dict(block))
            self._block = (block, data)
        a, b = int(self._doc_at[doc]) - base, int(self._doc_at[doc + 1]) - base
        if not 0 <= a <= b <= len(data):
            raise IndexCorruptError(f"{self.directory}: segment {self.name}: stored document {doc} lies outside its block")
        return data[a:b]

    def stored_dictionaries(self) -> tuple[bytes, np.ndarray | None]:
        """docs.dict, and (None: every block has all of it) each block's dictionary as a range of it (a
        merged segment's: ``[start, end)`` of block ``b`` at ``2b`` and ``2b + 1``)."""
        return self._zdict, self._block_dicts

    def block_dict(self, block: int) -> bytes:
        """The preset dictionary stored block ``block`` was compressed with."""
        if self._block_dicts is None:
            return self._zdict
        return self._zdict[int(self._block_dicts[2 * block]) : int(self._block_dicts[2 * block + 1])]

    def inflate_block(self, block: int, raw: bytes) -> bytes:
        """Stored block ``block`` (its compressed bytes ``raw``) decompressed: every document in it."""
        return self._inflate_bytes(raw, self._block_size(block), f"stored block {block}", self.block_dict(block))

    def _block_size(self, block: int) -> int:
        """Bytes of stored block ``block`` decompressed."""
        first, end = int(self._block_first[block]), int(self._block_first[block + 1])
        return int(self._doc_at[end]) - int(self._doc_at[first])

    def stored_layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where a segment stored in blocks has its documents: the blocks' byte offsets in docs.bin, the
        first document of each block, and the documents' offsets in the uncompressed blocks."""
        if self.doc_offsets is not None:
            raise ValueError(f"segment {self.name} stores documents one by one, not in blocks")
        return self._block_offsets, self._block_first, self._doc_at

    def docs_bin_size(self) -> int:
        return os.fstat(self._docs_fh.fileno()).st_size

    def read_docs_bin(self, offset: int, size: int) -> bytes:
        """``size`` bytes of docs.bin from ``offset`` (fewer at its end)."""
        return _read_at(self._docs_fh, offset, size)

    def _inflate(self, a: int, b: int, size: int | None, what: str, zdict: bytes) -> bytes:
        """Bytes ``a:b`` of docs.bin decompressed with ``zdict``; ``size`` (when known) is how many they must
        give."""
        if not 0 <= a <= b:
            raise IndexCorruptError(f"{self.directory}: segment {self.name}: {what}: bad offsets")
        raw = _read_at(self._docs_fh, a, b - a)  # (fewer bytes past the end of the file: not a whole stream)
        return self._inflate_bytes(raw, size, what, zdict)

    def _inflate_bytes(self, raw: bytes, size: int | None, what: str, zdict: bytes) -> bytes:
        d = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
        try:
            if size is None:
                data = d.decompress(raw) + d.flush()
            else:
                data = d.decompress(raw, size + 1)  # bounded: never a zip bomb
        except zlib.error as exc:
            raise IndexCorruptError(f"{self.directory}: segment {self.name}: {what}: {exc}") from None
        if size is not None and (len(data) != size or not d.eof):
            raise IndexCorruptError(f"{self.directory}: segment {self.name}: {what}: not the {size} bytes expected")
        return data

    def stored(self, doc: int) -> dict[str, Any]:
        """The stored fields of local doc ``doc``."""
        try:
            value = json.loads(self.stored_bytes(doc))
        except ValueError as exc:
            raise IndexCorruptError(f"{self.directory}: segment {self.name}: stored document {doc}: {exc}") from None
        if not isinstance(value, dict):
            raise IndexCorruptError(f"{self.directory}: segment {self.name}: stored document {doc} is not an object")
        return value

    def keyword_values(self, field: str) -> list[str]:
        values = self._values.get(field)
        if values is None:
            fh = self._value_files[field]
            raw = _decode(_read_whole(fh), fh.name)
            values = raw.split("\n") if raw else []
            self._values[field] = values
        return values

    def keyword_code(self, field: str, value: str) -> int:
        values = self.keyword_values(field)
        i = bisect.bisect_left(values, value)
        return i if i < len(values) and values[i] == value else -1

    # -- integrity --------------------------------------------------------------------------------------------

    def verify_files(self) -> list[str]:
        """Sizes and CRC-32 of every file against the manifest; returns the problems found."""
        problems = []
        for suffix, expected in self.files.items():
            path = self._path(suffix)
            try:
                size = os.path.getsize(path)
            except OSError as exc:
                problems.append(f"{path.name}: {exc.strerror}")
                continue
            if not (isinstance(expected, list) and len(expected) == 2):
                problems.append(f"{path.name}: manifest entry malformed")
                continue
            if size != expected[0]:
                problems.append(f"{path.name}: size {size}, manifest says {expected[0]}")
            elif crc32_file(path) != expected[1]:
                problems.append(f"{path.name}: checksum mismatch")
        return problems

    def close(self) -> None:
        self._finalizer()


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IndexCorruptError(f"{name}: not valid UTF-8 at byte {exc.start}") from None


def _close_all(handles: list[Any]) -> None:
    for fh in handles:
        fh.close()
    handles.clear()
