"""Merging segments: the live documents of consecutive segments become one new segment, streamed to disk.

A merge never holds the segments, or the one it writes, in memory whole: its memory is bounded whatever
their size (an ``optimize()`` of 280 k news articles, 700 MB of segments, peaked at 3.3 GB when a merge
expanded every posting into occurrences and built the new segment in memory).

- Postings are merged field by field, term range by term range, in the merged vocabulary's order. A range
  holds at most ``MERGE_OCCURRENCES`` occurrences, read from each merged segment's arrays (its terms are
  sorted too: a range of merged terms is a contiguous run of its terms). Each segment's postings of the
  range are in (term, document) order, and a later segment's documents come after an earlier one's, so a
  stable sort by term puts them in order; each posting's positions move with it as one block. A term with
  more occurrences than a range may hold goes segment by segment, in pieces. What a range makes is
  appended to the new segment's files; their sizes are counted first, so each ``.npy`` header is written
  before its data, and each file's CRC-32 is counted as it is written.
- Stored documents are copied block by block, compressed as they are (see :func:`merge_stored`).
- Per-document and per-term tables are held whole: ids, lengths, dates, keywords, the merged vocabulary
  and its term offsets.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from idsearch.schema import Schema
from idsearch.segment import (
    SegmentReader,
    StoredBlocks,
    StoredEncoder,
    doc_dtype,
    document_files,
    document_offsets,
    encode_lines,
    npy_bytes,
    preset_dictionary,
    primed_compressor,
    segment_entry,
    smallest_uint,
    write_files,
)
from idsearch.storage import DurableFile, IndexCorruptError

__all__ = ["MERGE_OCCURRENCES", "merge_segments", "merge_stored"]

MERGE_OCCURRENCES = 1 << 17
"""Occurrences (postings, in a field without positions) merged in one step: a few MB of arrays. (optimize() of
the 280 k document index: 5.1 s at 2**17, 8.4-9.6 s at 2**21, where large arrays are new memory every step.)"""
_READ_BYTES = 16 << 20  # compressed stored blocks read from a segment's docs.bin at a time


def merge_segments(
    directory: Path, schema: Schema, readers: Sequence[SegmentReader], name: str, *,
    step: int = MERGE_OCCURRENCES, threads: int = 1,
) -> tuple[dict[str, Any], list[str], np.ndarray]:
    """Write segment ``name`` holding the live documents of ``readers`` (consecutive segments), in order,
    merging at most ``step`` occurrences at a time; returns its manifest entry and its documents' ids and
    checksums. Files are created new (a file of that name already there is an error): the caller removes
    what a failed merge leaves."""
    ids: list[str] = []
    checksums = []
    new_docs = []  # per segment: each document's number in the merged segment (-1: deleted)
    for reader in readers:
        live = reader.live
        new_docs.append(np.where(live, np.cumsum(live, dtype=np.int64) - 1 + len(ids), -1).astype(np.int32))
        ids.extend(doc_id for doc_id, alive in zip(reader.ids, live.tolist()) if alive)
        checksums.append(np.asarray(reader.checksums)[live])
    ndocs = len(ids)
    sums = np.concatenate(checksums) if checksums else np.zeros(0, np.uint32)
    def stored() -> tuple[dict[str, list[int]], dict[str, bytes]]:
        with DurableFile(directory / f"{name}.docs.bin") as blob:
            blocks = merge_stored(readers, blob.write)
            return {"docs.bin": blob.close()}, blocks.files()

    def postings(field: str) -> tuple[dict[str, list[int]], dict[str, bytes]]:
        positions = field in schema.text_field_names  # exact-form fields have none
        merger = _FieldMerge(directory, name, field, readers, new_docs, ndocs, positions=positions, step=step)
        return merger.write(), merger.files

    fields = (*schema.text_field_names, *schema.exact_fields)
    if threads > 1:  # numpy, zlib and file writes release the GIL: the parts run side by side
        from concurrent.futures import ThreadPoolExecutor

        def size(field: str) -> int:  # (occurrences: the work of a field)
            return sum(len(r.fields[field].pos if r.fields[field].pos is not None else r.fields[field].docs)
                       for r in readers)

        largest, *others = sorted(fields, key=size, reverse=True)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            # the largest field and the stored blocks first, side by side; the other fields after them
            tasks = [pool.submit(postings, largest), pool.submit(stored), *(pool.submit(postings, f) for f in others)]
            by_field = {largest: tasks[0].result(), **{f: t.result() for f, t in zip(others, tasks[2:])}}
            made = [tasks[1].result(), *(by_field[f] for f in fields)]
    else:
        made = [stored(), *(postings(f) for f in fields)]
    listing: dict[str, list[int]] = {}
    files: dict[str, bytes] = {}
    for part_listing, part_files in made:
        listing.update(part_listing)
        files.update(part_files)
    tokens: dict[str, int] = {}
    for field in schema.text_field_names:  # (exact-form fields have the text field's lengths)
        lengths = np.concatenate([np.asarray(r.fields[field].lengths)[r.live] for r in readers]).astype(np.uint32)
        files[f"{field}.len.npy"] = npy_bytes(lengths)
        tokens[field] = int(lengths.sum(dtype=np.int64))
    days = {f: np.concatenate([np.asarray(r.days[f])[r.live] for r in readers]) for f in schema.date_fields}
    keywords: dict[str, list[str | None]] = {}
    for f in schema.keyword_fields:
        values: list[str | None] = []
        for r in readers:
            vocab_values = r.keyword_values(f)
            codes = np.asarray(r.codes[f])[r.live]
            values.extend(vocab_values[c] if c >= 0 else None for c in codes.tolist())
        keywords[f] = values
    files.update(document_files(schema, ids, sums, days, keywords))
    listing.update(write_files(directory, name, files))
    return segment_entry(schema, name, ndocs, tokens, listing), ids, sums


class _FieldMerge:
    """One field's postings of a merge (see the module docs): ``write`` streams the large arrays (postings'
    documents and frequencies, positions) to their files; ``files`` then holds the small ones (terms and
    their offsets)."""

    def __init__(self, directory: Path, name: str, field: str, readers: Sequence[SegmentReader],
                 new_docs: Sequence[np.ndarray], ndocs: int, *, positions: bool, step: int) -> None:
        self.directory, self.name, self.field = directory, name, field
        self.readers = readers
        self.sources = [r.fields[field] for r in readers]
        self.new_docs = new_docs
        self.ndocs = ndocs
        self.positions = positions
        self.step = max(int(step), 1)
        self.files: dict[str, bytes] = {}  # the small files, once written
        self.out: dict[str, DurableFile] = {}  # the large ones, while they are written
        self.doc_type = doc_dtype(ndocs)
        self.tf_type = self.pos_type = smallest_uint(0)  # (set from the totals by write)
        self.terms: list[int] = []  # merged term numbers with live postings, and per term:
        self.term_postings: list[np.ndarray] = []  # how many postings
        self.term_occurrences: list[np.ndarray] = []  # how many positions
        self.vocab = sorted(set().union(*(s.terms for s in self.sources)))
        index_of = {t: i for i, t in enumerate(self.vocab)}
        self.maps = []  # per segment: its terms' numbers in the merged vocabulary (ascending, as its terms)
        for reader, source in zip(readers, self.sources):
            m = np.fromiter((index_of[t] for t in source.terms), dtype=np.int64, count=len(source.terms))
            if len(m) + 1 != len(source.tpost) or np.any(m[1:] <= m[:-1]):
                raise self._corrupt(reader, "terms not sorted, or not one per offset")
            self.maps.append(m)

    def _corrupt(self, reader: SegmentReader, what: str) -> IndexCorruptError:
        return IndexCorruptError(f"{reader.directory}: segment {reader.name}: field {self.field}: {what}")

    # -- what stays ---------------------------------------------------------------------------------------------

    def _totals(self) -> tuple[int, int, int, int]:
        """Postings and positions of live documents, their largest frequency, and the largest position."""
        postings = occurrences = top_tf = top_pos = 0
        for reader, source, new_doc in zip(self.readers, self.sources, self.new_docs):
            n = len(source.docs)
            total = 0
            for a in range(0, n, self.step):
                docs = source.docs[a : a + self.step]
                if len(docs) and (int(docs.max()) >= len(new_doc) or int(docs.min()) < 0):
                    raise self._corrupt(reader, "a posting names a document the segment does not have")
                keep = new_doc[docs] >= 0
                tf = source.tf[a : a + self.step].astype(np.int64)
                total += int(tf.sum())
                kept = tf[keep]
                postings += len(kept)
                occurrences += int(kept.sum())
                top_tf = max(top_tf, int(kept.max(initial=0)))
            if self.positions:
                if source.pos is None or total != len(source.pos):
                    raise self._corrupt(reader, "frequencies do not add up to the positions")
                for a in range(0, len(source.pos), 1 << 24):
                    top_pos = max(top_pos, int(source.pos[a : a + (1 << 24)].max(initial=0)))
        return postings, occurrences, top_tf, top_pos

    # -- steps ----------------------------------------------------------------------------------------------------

    def _ranges(self) -> Iterator[tuple[int, int]]:
        """Ranges of merged term numbers, each of at most ``step`` occurrences (or one term)."""
        weight = np.zeros(len(self.vocab), dtype=np.int64)
        for m, source in zip(self.maps, self.sources):
            weight[m] += np.diff(np.asarray(source.tpos if self.positions else source.tpost, dtype=np.int64))
        ends = np.cumsum(weight)
        start = 0
        while start < len(self.vocab):
            before = int(ends[start - 1]) if start else 0
            end = max(int(np.searchsorted(ends, before + self.step, side="right")), start + 1)
            yield start, end
            start = end

    def write(self) -> dict[str, list[int]]:
        """Stream the field's postings to the new segment's files; returns their sizes and CRC-32s."""
        postings, occurrences, top_tf, top_pos = self._totals()
        self.tf_type = smallest_uint(top_tf)
        self.pos_type = smallest_uint(top_pos)
        parts = {"docs.npy": (self.doc_type, postings), "tf.npy": (self.tf_type, postings)}
        if self.positions:
            parts["pos.npy"] = (self.pos_type, occurrences)
        try:
            for part, (dtype, count) in parts.items():
                self.out[part] = DurableFile(self.directory / f"{self.name}.{self.field}.{part}")
                self.out[part].write(npy_header(dtype, count))
            for start, end in self._ranges():
                if end - start == 1:
                    self._one_term(start)
                else:
                    self._range(start, end)
            listing = {}
            for part, sink in self.out.items():
                header = len(npy_header(parts[part][0], parts[part][1]))
                if sink.size != header + parts[part][1] * np.dtype(parts[part][0]).itemsize:
                    raise IndexCorruptError(f"{self.directory}: merge {self.name}: field {self.field}: {part}: "
                                            "postings do not add up to their offsets")
                listing[f"{self.field}.{part}"] = sink.close()
        finally:
            for sink in self.out.values():
                sink.__exit__()
        counts = np.concatenate(self.term_postings) if self.term_postings else np.zeros(0, np.int64)
        self.files[f"{self.field}.terms.txt"] = encode_lines(self.vocab[t] for t in self.terms)
        self.files[f"{self.field}.tpost.npy"] = npy_bytes(_offsets(counts))
        if self.positions:
            occ = np.concatenate(self.term_occurrences) if self.term_occurrences else np.zeros(0, np.int64)
            self.files[f"{self.field}.tpos.npy"] = npy_bytes(_offsets(occ))
        return listing

    def _append(self, docs: np.ndarray, tf: np.ndarray, pos: np.ndarray | None) -> None:
        self.out["docs.npy"].write(np.ascontiguousarray(docs, dtype=self.doc_type))
        self.out["tf.npy"].write(np.ascontiguousarray(tf, dtype=self.tf_type))
        if pos is not None:
            self.out["pos.npy"].write(np.ascontiguousarray(pos, dtype=self.pos_type))

    def _range(self, start: int, end: int) -> None:
        """Merged terms ``start`` to ``end`` (their occurrences fit in one step): every segment's postings of
        them, in order."""
        ranks, docs, tfs, blocks, sources = [], [], [], [], []
        base = 0  # where the next segment's positions start in the concatenated sources
        for reader, source, m, new_doc in zip(self.readers, self.sources, self.maps, self.new_docs):
            a, b = np.searchsorted(m, (start, end)).tolist()
            if a == b:
                continue
            tpost = np.asarray(source.tpost[a : b + 1], dtype=np.int64)
            p0, p1 = int(tpost[0]), int(tpost[-1])
            rank = np.repeat(m[a:b], np.diff(tpost))
            doc = new_doc[source.docs[p0:p1]]
            tf = source.tf[p0:p1].astype(np.int64)
            block = None
            if self.positions:
                q0, q1 = int(source.tpos[a]), int(source.tpos[b])
                block = np.cumsum(tf) - tf + base
                if int(tf.sum()) != q1 - q0:
                    raise self._corrupt(reader, "frequencies do not match the position offsets")
                sources.append(source.pos[q0:q1])
                base += q1 - q0
            keep = doc >= 0
            if not keep.all():
                rank, doc, tf = rank[keep], doc[keep], tf[keep]
                block = block[keep] if block is not None else None
            ranks.append(rank)
            docs.append(doc)
            tfs.append(tf)
            if block is not None:
                blocks.append(block)
        if not ranks:
            return
        rank, doc, tf = np.concatenate(ranks), np.concatenate(docs), np.concatenate(tfs)
        reordered = len(ranks) > 1
        if reordered:  # the segments' runs, each in order: a stable sort merges them
            order = np.argsort(rank, kind="stable")
            rank, doc, tf = rank[order], doc[order], tf[order]
            if blocks:
                blocks = [np.concatenate(blocks)[order]]
        if not len(rank):
            return
        first = np.flatnonzero(np.concatenate(([True], rank[1:] != rank[:-1])))
        self.terms.extend(rank[first].tolist())
        self.term_postings.append(np.diff(np.append(first, len(rank))))
        pos = None
        if self.positions:
            self.term_occurrences.append(np.add.reduceat(tf, first))
            ends = np.cumsum(tf)
            block = np.concatenate(blocks)
            source = np.concatenate(sources) if len(sources) > 1 else sources[0]
            if not reordered and int(ends[-1]) == len(source):  # every position, in order
                pos = source
            else:  # each posting's positions: its block's start, then counting up within the block
                pos = source[np.repeat(block - (ends - tf), tf) + np.arange(int(ends[-1]))]
        self._append(doc, tf, pos)

    def _one_term(self, term: int) -> None:
        """One merged term, segment after segment, in pieces of at most about ``step`` occurrences."""
        postings = occurrences = 0
        for reader, source, m, new_doc in zip(self.readers, self.sources, self.maps, self.new_docs):
            a = int(np.searchsorted(m, term))
            if a == len(m) or m[a] != term:
                continue
            p0, p1 = int(source.tpost[a]), int(source.tpost[a + 1])
            q = q0 = int(source.tpos[a]) if self.positions else 0
            per_piece = self.step
            if self.positions and p1 > p0:  # postings of a piece, by the term's mean frequency here
                per_piece = max(1, self.step * (p1 - p0) // max(int(source.tpos[a + 1]) - q0, 1))
            for x in range(p0, p1, per_piece):
                y = min(x + per_piece, p1)
                doc = new_doc[source.docs[x:y]]
                tf = source.tf[x:y].astype(np.int64)
                keep = doc >= 0
                pos = None
                if self.positions:
                    pos = source.pos[q : q + int(tf.sum())]
                    q += int(tf.sum())
                    if not keep.all():
                        pos = pos[np.repeat(keep, tf)]
                if not keep.all():
                    doc, tf = doc[keep], tf[keep]
                postings += len(doc)
                occurrences += int(tf.sum())
                self._append(doc, tf, pos)
            if self.positions and q != int(source.tpos[a + 1]):
                raise self._corrupt(reader, "frequencies do not match the position offsets")
        if postings:
            self.terms.append(term)
            self.term_postings.append(np.array([postings], dtype=np.int64))
            self.term_occurrences.append(np.array([occurrences], dtype=np.int64))


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Per-term offsets from per-term counts: 0, then their running sum (int64, one more than counts)."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def npy_header(dtype: Any, count: int) -> bytes:
    """The header ``np.save`` writes before a 1-d array of ``count`` values of ``dtype``."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (count,)}
    )
    return buf.getvalue()


def merge_stored(readers: Sequence[SegmentReader], out: Callable[[bytes], Any]) -> StoredBlocks:
    """The live documents of segments, in order, as one segment's stored blocks, each compressed block
    going to ``out`` as it is made; returns where they are. A block whose documents all live is copied
    compressed as it is (with its preset dictionary); one with deleted documents is inflated and its live
    documents compressed again with the same dictionary. A segment that stores documents one by one
    (written before 2026-11-25) has its live documents compressed in blocks, with a dictionary of its own.
    Each segment's docs.bin is read a piece at a time and checked against the CRC-32 its manifest entry
    records."""
    copy = _BlockCopy(out)
    for reader in readers:
        if reader.doc_offsets is not None:
            copy.recompress(reader)
        else:
            copy.copy(reader)
    return copy.finish()


class _BlockCopy:
    """The stored blocks of a merge, as they are made (see :func:`merge_stored`): per block its end in the
    new docs.bin, its documents' end, its documents' sizes and its dictionary's number, in arrays."""

    def __init__(self, out: Callable[[bytes], Any]) -> None:
        self._out = out
        self.end = 0  # bytes handed to out
        self.ndocs = 0
        self.offsets = [np.zeros(1, dtype=np.int64)]
        self.first = [np.zeros(1, dtype=np.int64)]
        self.sizes: list[np.ndarray] = []
        self.dicts: list[np.ndarray] = []
        self._dict_numbers: dict[bytes, int] = {}  # distinct dictionaries, numbered in order (each hashed once)
        self._compressors: dict[int, Any] = {}

    def _number(self, zdict: bytes) -> int:
        return self._dict_numbers.setdefault(zdict, len(self._dict_numbers))

    def _block(self, raw: bytes, sizes: np.ndarray, k: int) -> None:
        self._out(raw)
        self.end += len(raw)
        self.ndocs += len(sizes)
        self.offsets.append(np.array([self.end], dtype=np.int64))
        self.first.append(np.array([self.ndocs], dtype=np.int64))
        self.sizes.append(sizes)
        self.dicts.append(np.array([k], dtype=np.int64))

    def _run(self, raw: Any, bounds: np.ndarray, first: np.ndarray, sizes: np.ndarray, numbers: np.ndarray) -> None:
        """Blocks copied as they are: their bytes ``raw``, their ``bounds`` and ``first`` (one more than
        blocks, from the first block's start), their documents' sizes, their dictionaries' numbers."""
        self._out(raw)
        self.offsets.append(bounds[1:] - bounds[0] + self.end)
        self.first.append(first[1:] - first[0] + self.ndocs)
        self.end += int(bounds[-1] - bounds[0])
        self.ndocs += int(first[-1] - first[0])
        self.sizes.append(sizes)
        self.dicts.append(numbers)

    def copy(self, reader: SegmentReader) -> None:
        bounds, first, doc_at = (np.asarray(a, dtype=np.int64) for a in reader.stored_layout())
        nblocks = len(first) - 1
        path = reader.directory / f"{reader.name}.docs.bin"
        size = reader.docs_bin_size()
        if nblocks and (int(bounds[0]) != 0 or np.any(bounds[1:] < bounds[:-1]) or int(bounds[-1]) > size
                        or np.any(first[1:] <= first[:-1])):
            raise IndexCorruptError(f"{path}: blocks out of order, empty, or past the end of the file")
        doc_sizes = np.diff(doc_at)
        block_docs = np.diff(first)
        block_live = np.add.reduceat(reader.live.astype(np.int64), first[:-1]) if nblocks else block_docs
        clean = block_live == block_docs
        zdict, ranges = reader.stored_dictionaries()
        if ranges is None:
            numbers = np.full(nblocks, self._number(zdict), dtype=np.int64)
        else:  # a merged segment's blocks: each dictionary hashed once, not once per block
            pairs, which = np.unique(np.asarray(ranges, dtype=np.int64).reshape(-1, 2), axis=0, return_inverse=True)
            distinct = np.array([self._number(zdict[a:b]) for a, b in pairs.tolist()], dtype=np.int64)
            numbers = distinct[which.reshape(-1)]
        crc = 0
        block = 0
        while block < nblocks:  # a piece of the file: whole blocks, about _READ_BYTES
            end = max(int(np.searchsorted(bounds, int(bounds[block]) + _READ_BYTES, side="right")) - 1, block + 1)
            end = min(end, nblocks)
            base = int(bounds[block])
            piece = memoryview(reader.read_docs_bin(base, int(bounds[end]) - base))
            crc = zlib.crc32(piece, crc)
            b = block
            for dirty in [*(np.flatnonzero(~clean[block:end]) + block).tolist(), end]:
                if b < dirty:  # blocks whose documents all live: copied as one run of bytes
                    self._run(piece[int(bounds[b]) - base : int(bounds[dirty]) - base], bounds[b : dirty + 1],
                              first[b : dirty + 1], doc_sizes[first[b] : first[dirty]], numbers[b:dirty])
                if dirty < end and block_live[dirty]:  # deleted documents: the live ones, compressed again
                    a, z = int(first[dirty]), int(first[dirty + 1])
                    raw = bytes(piece[int(bounds[dirty]) - base : int(bounds[dirty + 1]) - base])
                    self._recompress_block(reader, dirty, raw, reader.live[a:z], doc_sizes[a:z], int(numbers[dirty]))
                b = dirty + 1
            block = end
        end_of_blocks = int(bounds[-1]) if len(bounds) else 0
        tail = reader.read_docs_bin(end_of_blocks, size - end_of_blocks)  # (nothing, in a sound segment)
        crc = zlib.crc32(tail, crc)
        recorded = reader.files.get("docs.bin")
        if isinstance(recorded, list) and len(recorded) == 2 and [size, crc] != recorded:
            raise IndexCorruptError(f"{path}: size or CRC-32 differs from the manifest's")

    def _recompress_block(self, reader: SegmentReader, block: int, raw: bytes, alive: np.ndarray, sizes: np.ndarray,
                          k: int) -> None:
        """Block ``block`` of ``reader`` (compressed ``raw``; its documents' liveness and sizes) with its live
        documents only, compressed again with its dictionary number ``k``."""
        data = reader.inflate_block(block, raw)
        ends = np.cumsum(sizes).tolist()
        body = b"".join(data[ends[i] - int(sizes[i]) : ends[i]] for i in np.flatnonzero(alive).tolist())
        if k not in self._compressors:
            self._compressors[k] = primed_compressor(list(self._dict_numbers)[k])
        c = self._compressors[k].copy()
        self._block(c.compress(body) + c.flush(), sizes[alive], k)

    def recompress(self, reader: SegmentReader) -> None:
        keep = np.flatnonzero(reader.live).tolist()
        zdict = preset_dictionary(len(keep), lambda i: reader.stored_bytes(keep[i]))
        k = self._number(zdict)
        made: list[bytes] = []
        encoder = StoredEncoder(zdict, made.append)

        def hand_on() -> None:
            if made:  # (a block at most, after each document)
                first = encoder.first
                self._block(made.pop(), np.array(encoder.sizes[first[-2] : first[-1]], dtype=np.int64), k)

        for doc in keep:
            encoder.add(reader.stored_bytes(doc))
            hand_on()
        encoder.finish()
        hand_on()

    def finish(self) -> StoredBlocks:
        at = document_offsets(np.concatenate(self.sizes) if self.sizes else np.zeros(0, np.int64))
        numbers = np.concatenate(self.dicts) if self.dicts else np.zeros(0, np.int64)
        # the dictionaries blocks use (a segment's blocks all deleted use none), in order of first use
        used, at_first = np.unique(numbers, return_index=True)
        used = used[np.argsort(at_first)]
        known = list(self._dict_numbers)
        dictionaries = [known[k] for k in used.tolist()]
        dicts = None
        if len(dictionaries) > 1:
            lengths = np.array([len(d) for d in dictionaries], dtype=np.uint64)
            ends = np.cumsum(lengths, dtype=np.uint64)
            renumber = np.zeros(len(known), dtype=np.int64)
            renumber[used] = np.arange(len(used))
            which = renumber[numbers]
            dicts = np.empty(2 * len(which), dtype=np.uint64)
            dicts[0::2], dicts[1::2] = (ends - lengths)[which], ends[which]
        return StoredBlocks(b"".join(dictionaries), np.concatenate(self.offsets).astype(np.uint64),
                            np.concatenate(self.first), at, dicts)
