"""The integrity checker: a full, read-only audit of an index directory.

:func:`check_index` verifies everything the format promises (see :mod:`idsearch.storage` and
:mod:`idsearch.segment`) and returns a :class:`CheckReport` listing every problem found, instead of
stopping at the first one:

* the manifest: valid JSON of the right format, with the keys and types a reader relies on;
* every file name it holds is a plain name inside the index directory (no ``..``, no ``/``, no
  absolute path) and is not a symbolic link;
* every segment file exists with the size and CRC-32 recorded in the manifest;
* every array has the expected dtype, dimension and length;
* postings are well formed: term lists sorted and unique, per-term offsets starting at 0 and strictly
  increasing, doc ids strictly ascending within a term and below the segment's document count, term
  frequencies positive and consistent with the position offsets, positions strictly ascending within a
  posting, and each document's term frequencies summing to its field length;
* document counts agree: ids, stored documents, lengths, checksums, dates, keyword codes, the deletes
  bitmap and ``ndeleted``, ``doc_count``; a live id appears in one segment only;
* every stored document decompresses (with the segment's preset dictionary) to a JSON object whose
  ``"id"`` equals its line of ``ids.txt`` and whose CRC-32 equals the recorded checksum.

It never executes anything from the index: arrays are loaded with ``allow_pickle=False``, everything else
is parsed as JSON or UTF-8 text, and decompression is bounded.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from idsearch.schema import Schema, base_field
from idsearch.segment import (
    LEGACY_EXACT_PARTS,
    LEGACY_STORED_PARTS,
    MERGED_STORED_PARTS,
    STORED_PARTS,
    load_npy,
    segment_features,
    segment_file_suffixes,
)
from idsearch.storage import (
    MANIFEST,
    IndexCorruptError,
    IndexError_,
    check_file_name,
    crc32_file,
    read_manifest,
)

__all__ = ["CheckReport", "check_index"]

_SEGMENT_NAME_RE = re.compile(r"^s(\d{6,})$")
_UINTS = (np.dtype(np.uint16), np.dtype(np.uint32))
#: a stored document inflating past this is treated as hostile (a zip bomb)
MAX_DOC_BYTES = 1 << 30
_AUDIT_STEP = 1 << 19  # postings checked at a time


@attrs.frozen
class CheckReport:
    """The outcome of :func:`check_index`: ``ok`` when ``problems`` is empty. ``documents`` counts live
    documents, ``segments`` the segments named by the manifest, ``generation`` the manifest's commit
    (None when the manifest itself is unreadable)."""

    ok: bool
    problems: tuple[str, ...]
    documents: int
    segments: int
    generation: int | None

    def __str__(self) -> str:
        head = f"generation {self.generation}: {self.documents} documents in {self.segments} segments"
        if self.ok:
            return f"{head}: ok"
        return "\n".join([f"{head}: {len(self.problems)} problem(s)", *(f"  {p}" for p in self.problems)])


class _Problems:
    """The problems found so far, in the order found."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)


class _Stop(Exception):
    """The current segment cannot be checked further (its problem has been recorded)."""


def check_index(path: str | os.PathLike[str]) -> CheckReport:
    """Audit the index at ``path`` (read only) and report every problem found."""
    directory = Path(path)
    problems = _Problems()
    if not directory.is_dir():
        return CheckReport(False, (f"{directory}: no such index directory",), 0, 0, None)
    try:
        manifest = read_manifest(directory)
    except IndexCorruptError as exc:
        return CheckReport(False, (str(exc),), 0, 0, None)
    except RecursionError:
        return CheckReport(False, (f"{directory / MANIFEST}: JSON nested too deeply",), 0, 0, None)
    except OSError as exc:
        return CheckReport(
            False, (f"{directory / MANIFEST}: cannot be read ({exc.strerror or exc})",), 0, 0, None
        )
    generation = manifest["generation"]
    where = f"{MANIFEST}"
    segments = manifest["segments"]
    try:
        schema = Schema.from_dict(manifest.get("schema"))  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError) as exc:
        problems.add(f"{where}: 'schema' is not a valid schema ({exc})")
        return _report(problems, 0, len(segments), generation)
    _check_analyzer(manifest, problems)
    _check_words(directory, manifest, problems)

    documents = 0
    seen_ids: dict[str, str] = {}
    names: set[str] = set()
    highest = -1
    for number, entry in enumerate(segments):
        label = f"{where}: segments[{number}]"
        if not isinstance(entry, dict):
            problems.add(f"{label}: not a mapping")
            continue
        name = entry.get("name")
        try:
            check_file_name(name, label)
        except IndexCorruptError as exc:
            problems.add(str(exc))
            continue
        match = _SEGMENT_NAME_RE.match(name)
        if match is None:
            problems.add(f"{label}: segment name {name!r} is not of the form sNNNNNN")
        else:
            highest = max(highest, int(match.group(1)))
        if name in names:
            problems.add(f"{label}: segment {name} is listed twice")
            continue
        names.add(name)
        try:
            live_ids = _check_segment(directory, entry, name, schema, problems)
        except _Stop:
            continue
        except (OSError, ValueError, TypeError, KeyError, IndexError, OverflowError, MemoryError) as exc:
            problems.add(f"segment {name}: cannot be checked: {type(exc).__name__}: {exc}")
            continue
        documents += len(live_ids)
        for doc_id in live_ids:
            other = seen_ids.get(doc_id)
            if other is not None:
                twice = (
                    f"twice in segment {name}" if other == name else f"in two segments: {other} and {name}"
                )
                problems.add(f"document {doc_id!r} is live {twice}")
            else:
                seen_ids[doc_id] = name

    next_segment = manifest.get("next_segment", 0)
    if not isinstance(next_segment, int) or isinstance(next_segment, bool) or next_segment < 0:
        problems.add(f"{where}: 'next_segment' must be a non-negative integer, not {next_segment!r}")
    elif next_segment <= highest:
        problems.add(
            f"{where}: 'next_segment' is {next_segment} but segment s{highest:06d} exists (names would be reused)"
        )
    doc_count = manifest.get("doc_count")
    if doc_count is not None and doc_count != documents:
        problems.add(
            f"{where}: 'doc_count' is {doc_count!r} but the segments hold {documents} live documents"
        )
    return _report(problems, documents, len(segments), generation)


def _report(problems: _Problems, documents: int, segments: int, generation: int | None) -> CheckReport:
    return CheckReport(not problems.items, tuple(problems.items), documents, segments, generation)


def _check_analyzer(manifest: Mapping[str, Any], problems: _Problems) -> None:
    from idsearch.analysis import Analyzer, AnalyzerSpec

    try:
        data = manifest.get("analyzer")
        if not isinstance(data, dict):
            raise TypeError("not a mapping")
        Analyzer(AnalyzerSpec.from_dict(data))  # builds nothing from files: lists and hashes are data
    except (ValueError, TypeError) as exc:
        problems.add(f"{MANIFEST}: 'analyzer' is not a valid analyzer description ({exc})")


def _safe_path(directory: Path, name: str, problems: _Problems, what: str) -> Path | None:
    """The path of a file the manifest names, or None (after recording why) when it must not be read."""
    try:
        check_file_name(name, what)
    except IndexCorruptError as exc:
        problems.add(str(exc))
        return None
    path = directory / name
    if path.is_symlink():
        problems.add(f"{name}: is a symbolic link (index files must be plain files inside the index)")
        return None
    if not path.is_file():
        problems.add(f"{name}: missing (named by the manifest)")
        return None
    return path


def _check_words(directory: Path, manifest: Mapping[str, Any], problems: _Problems) -> None:
    name = manifest.get("words")
    if name is None:
        return
    path = _safe_path(directory, name, problems, f"{MANIFEST}: 'words'")
    if path is None:
        return
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        problems.add(f"{name}: not valid JSON ({exc})")
        return
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("words"), list)
        or not isinstance(data.get("terms"), list)
    ):
        problems.add(f"{name}: must be an object with lists 'words' and 'terms'")
    elif len(data["words"]) != len(data["terms"]):
        problems.add(f"{name}: {len(data['words'])} words but {len(data['terms'])} term entries")
    elif not all(isinstance(v, str) for v in data["words"]) or not all(
        isinstance(v, str) for v in data["terms"]
    ):
        problems.add(f"{name}: words and terms must be strings")


# -- one segment -------------------------------------------------------------------------------------------------


class _Segment:
    """Loads the files of one segment for checking, recording problems on the way."""

    def __init__(self, directory: Path, name: str, files: Mapping[str, Any], problems: _Problems) -> None:
        self.directory = directory
        self.name = name
        self.files = files
        self.problems = problems

    def add(self, message: str) -> None:
        self.problems.add(f"segment {self.name}: {message}")

    def path(self, suffix: str) -> Path:
        if suffix not in self.files:
            self.add(f"the manifest lists no file {suffix!r}")
            raise _Stop
        path = _safe_path(self.directory, f"{self.name}.{suffix}", self.problems, f"segment {self.name}")
        if path is None:
            raise _Stop
        return path

    def array(self, suffix: str, dtypes: Sequence[np.dtype], length: int | None) -> np.ndarray:
        path = self.path(suffix)
        array = _load_array(path)
        if isinstance(array, str):
            self.add(f"{path.name}: {array}")
            raise _Stop
        if array.ndim != 1:
            self.add(f"{path.name}: expected a 1-d array, found shape {array.shape}")
            raise _Stop
        if array.dtype not in dtypes:
            expected = " or ".join(str(d) for d in dtypes)
            self.add(f"{path.name}: dtype {array.dtype}, expected {expected}")
            raise _Stop
        if length is not None and array.shape[0] != length:
            self.add(f"{path.name}: {array.shape[0]} entries, expected {length}")
            raise _Stop
        return array

    def lines(self, suffix: str) -> list[str]:
        path = self.path(suffix)
        try:
            raw = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            self.add(f"{path.name}: invalid UTF-8 at byte {exc.start}")
            raise _Stop from None
        return raw.split("\n") if raw else []


def _load_array(path: Path) -> np.ndarray | str:
    """The array in an ``.npy`` file, or a description of why it is not one (never unpickles)."""
    try:
        array = load_npy(path, mmap=True)
    except (ValueError, OSError, EOFError) as exc:
        return f"not a valid array file ({exc})"
    if not isinstance(array, np.ndarray):
        return f"not a plain array file (found {type(array).__name__})"
    return array


def _check_segment(
    directory: Path, entry: Mapping[str, Any], name: str, schema: Schema, problems: _Problems
) -> list[str]:
    """Check one segment; returns its live document ids."""
    seg = _Segment(directory, name, {}, problems)
    ndocs = entry.get("ndocs")
    if not isinstance(ndocs, int) or isinstance(ndocs, bool) or ndocs < 0:
        seg.add(f"'ndocs' must be a non-negative integer, not {ndocs!r}")
        raise _Stop
    try:
        segment_features(entry, "the manifest entry")
    except IndexError_ as exc:
        seg.add(str(exc))
        raise _Stop from None
    files = entry.get("files")
    if not isinstance(files, dict):
        seg.add("'files' must be a mapping of file suffix -> [size, crc32]")
        raise _Stop
    seg.files = files
    expected = set(segment_file_suffixes(schema))
    if "docs.off.npy" in files:  # stored documents compressed one by one (segments before 2026-11-25)
        expected = (expected - set(STORED_PARTS)) | set(LEGACY_STORED_PARTS)
    elif "docs.dicts.npy" in files:  # a merged segment: its blocks have several preset dictionaries
        expected |= set(MERGED_STORED_PARTS)
    legacy = {f"{field}.{part}" for field in schema.exact_fields for part in LEGACY_EXACT_PARTS}
    missing = sorted(expected - set(files))
    extra = sorted(set(files) - expected - legacy)
    if missing:
        seg.add(f"the manifest lists no file for {missing}")
    if extra:
        seg.add(f"the manifest lists unexpected files {extra}")
    sizes_ok = True
    for suffix in sorted(files):
        fname = f"{name}.{suffix}" if isinstance(suffix, str) else repr(suffix)
        path = _safe_path(directory, fname, problems, f"segment {name}")
        if path is None:
            sizes_ok = False
            continue
        recorded = files[suffix]
        if not (
            isinstance(recorded, list)
            and len(recorded) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in recorded)
        ):
            seg.add(f"{fname}: manifest entry must be [size, crc32], not {recorded!r}")
            sizes_ok = False
            continue
        size = path.stat().st_size
        if size != recorded[0]:
            seg.add(f"{fname}: size {size}, the manifest says {recorded[0]}")
            sizes_ok = False
        elif crc32_file(path) != recorded[1]:
            seg.add(f"{fname}: CRC-32 mismatch (contents changed since the commit)")
            sizes_ok = False
    if missing or not sizes_ok:
        raise _Stop  # the contents cannot be trusted to be checkable

    n = ndocs
    ids = seg.lines("ids.txt")
    if len(ids) != n:
        seg.add(f"ids.txt holds {len(ids)} ids, 'ndocs' is {n}")
        raise _Stop

    live = _check_deletes(directory, entry, seg, n)
    checksums = seg.array("sums.npy", (np.dtype(np.uint32),), n)
    _check_stored(seg, ids, checksums, n)
    tokens = entry.get("tokens")
    lengths = {}
    for field in schema.text_field_names:
        total, lengths[field] = _check_field(seg, field, n)
        if isinstance(tokens, dict) and field in tokens and tokens[field] != total:
            seg.add(f"field {field}: 'tokens' says {tokens[field]!r}, the lengths sum to {total}")
    for field in schema.exact_fields:
        _check_postings(seg, field, n, lengths[base_field(field)])
    for field in schema.date_fields:
        seg.array(f"{field}.days.npy", (np.dtype(np.int32),), n)
    for field in schema.keyword_fields:
        values = seg.lines(f"{field}.values.txt")
        if any(a >= b for a, b in itertools.pairwise(values)):
            seg.add(f"{field}.values.txt: values are not sorted and unique")
        codes = seg.array(f"{field}.codes.npy", (np.dtype(np.int32),), n)
        if n and (int(codes.min()) < -1 or int(codes.max()) >= len(values)):
            seg.add(f"{field}.codes.npy: codes outside -1..{len(values) - 1}")
    return [doc_id for doc_id, alive in zip(ids, live.tolist()) if alive]


def _check_deletes(directory: Path, entry: Mapping[str, Any], seg: _Segment, n: int) -> np.ndarray:
    deletes = entry.get("deletes")
    ndeleted = entry.get("ndeleted", 0)
    if not isinstance(ndeleted, int) or isinstance(ndeleted, bool) or not 0 <= ndeleted <= n:
        seg.add(f"'ndeleted' must be an integer from 0 to {n}, not {ndeleted!r}")
        raise _Stop
    if deletes is None:
        if ndeleted:
            seg.add(f"'ndeleted' is {ndeleted} but there is no deletes bitmap")
        return np.ones(n, dtype=bool)
    path = _safe_path(directory, deletes, seg.problems, f"segment {seg.name} deletes")
    if path is None:
        raise _Stop
    array = _load_array(path)
    if isinstance(array, str):
        seg.add(f"{path.name}: {array}")
        raise _Stop
    if array.dtype != np.bool_ or array.shape != (n,):
        seg.add(f"{path.name}: expected {n} booleans, found {array.dtype} of shape {array.shape}")
        raise _Stop
    count = int(np.count_nonzero(array))
    if count != ndeleted:
        seg.add(f"{path.name}: {count} documents deleted, 'ndeleted' says {ndeleted}")
    return ~np.asarray(array)


def _check_stored(seg: _Segment, ids: Sequence[str], checksums: np.ndarray, n: int) -> None:
    path = seg.path("docs.bin")
    zdict = seg.path("docs.dict").read_bytes()
    size = path.stat().st_size
    if "docs.off.npy" in seg.files:
        _check_stored_one_by_one(seg, path, zdict, size, ids, checksums, n)
        return
    blocks = np.asarray(seg.array("docs.blocks.npy", (np.dtype(np.uint64),), None))
    first = np.asarray(seg.array("docs.first.npy", (np.dtype(np.int64),), None))
    at = np.asarray(seg.array("docs.at.npy", (np.dtype(np.uint64),), n + 1))
    if len(blocks) != len(first) or not _offsets_from_zero(blocks, size):
        seg.add(f"docs.blocks.npy: block offsets must start at 0, increase, and end at the size of docs.bin ({size})")
        raise _Stop
    if not _offsets_from_zero(first, n):
        seg.add(f"docs.first.npy: first documents of the blocks must start at 0, increase, and end at {n}")
        raise _Stop
    if not _offsets_from_zero(at, None):
        seg.add("docs.at.npy: document offsets must start at 0 and increase")
        raise _Stop
    block_dicts = [zdict] * (len(first) - 1)
    if "docs.dicts.npy" in seg.files:  # each block's dictionary, a range of docs.dict
        ranges = np.asarray(seg.array("docs.dicts.npy", (np.dtype(np.uint64),), 2 * (len(first) - 1))).tolist()
        if any(not a <= b <= len(zdict) for a, b in zip(ranges[0::2], ranges[1::2])):
            seg.add(f"docs.dicts.npy: dictionary ranges must lie within docs.dict ({len(zdict)} bytes)")
            raise _Stop
        distinct: dict[tuple[int, int], bytes] = {}  # (one bytes object per dictionary, not one per block)
        block_dicts = [distinct.setdefault((a, b), zdict[a:b]) for a, b in zip(ranges[0::2], ranges[1::2])]
    sums = checksums.tolist()
    bounds, starts, doc_at = blocks.tolist(), first.tolist(), at.tolist()
    with open(path, "rb") as fh:
        for block in range(len(starts) - 1):
            fh.seek(bounds[block])
            raw = _inflate(fh.read(bounds[block + 1] - bounds[block]), block_dicts[block])
            docs = range(starts[block], starts[block + 1])
            base = doc_at[docs.start]
            if isinstance(raw, str) or len(raw) != doc_at[docs.stop] - base:
                why = raw if isinstance(raw, str) else f"{len(raw)} bytes, docs.at.npy says {doc_at[docs.stop] - base}"
                seg.add(f"docs.bin: block {block} (documents {docs.start}-{docs.stop - 1}): {why}")
                continue
            for local in docs:
                _check_stored_doc(seg, raw[doc_at[local] - base : doc_at[local + 1] - base], local, ids, sums)


def _offsets_from_zero(offsets: np.ndarray, end: int | None) -> bool:
    """Whether offsets start at 0, increase strictly and (unless ``end`` is None) end at ``end``."""
    if not len(offsets) or int(offsets[0]) != 0 or (end is not None and int(offsets[-1]) != end):
        return False
    return not np.any(np.diff(offsets.astype(np.float64)) <= 0)


def _check_stored_one_by_one(
    seg: _Segment, path: Path, zdict: bytes, size: int, ids: Sequence[str], checksums: np.ndarray, n: int
) -> None:
    offsets = seg.array("docs.off.npy", (np.dtype(np.uint64),), n + 1)
    off = np.asarray(offsets)
    if not _offsets_from_zero(off, size):
        seg.add(
            f"docs.off.npy: document offsets must start at 0, increase, and end at the size of docs.bin ({size})"
        )
        raise _Stop
    sums = checksums.tolist()
    bounds = off.tolist()
    with open(path, "rb") as fh:
        for local in range(n):
            a, b = bounds[local], bounds[local + 1]
            fh.seek(a)
            raw = _inflate(fh.read(b - a), zdict)
            if isinstance(raw, str):
                seg.add(f"docs.bin: document {local}: {raw}")
                continue
            _check_stored_doc(seg, raw, local, ids, sums)


def _check_stored_doc(seg: _Segment, raw: bytes, local: int, ids: Sequence[str], sums: Sequence[int]) -> None:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        seg.add(f"docs.bin: document {local}: not valid JSON ({exc})")
        return
    if not isinstance(doc, dict) or doc.get("id") != ids[local]:
        found = doc.get("id") if isinstance(doc, dict) else type(doc).__name__
        seg.add(f"docs.bin: document {local}: id {found!r}, ids.txt says {ids[local]!r}")
    if zlib.crc32(raw) != sums[local]:
        seg.add(f"sums.npy: document {local}: checksum differs from the stored document")


def _inflate(data: bytes, zdict: bytes) -> bytes | str:
    """A stored document decompressed, or a description of why it cannot be (bounded: no zip bombs)."""
    try:
        inflater = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
        out = inflater.decompress(data, MAX_DOC_BYTES)
    except zlib.error as exc:
        return f"does not decompress ({exc})"
    if inflater.unconsumed_tail:
        return f"decompresses to more than {MAX_DOC_BYTES} bytes"
    if not inflater.eof:
        return "truncated compressed data"
    if inflater.unused_data:
        return "trailing bytes after the compressed data"
    return out


def _check_field(seg: _Segment, field: str, n: int) -> tuple[int, np.ndarray]:
    """Check one text field's postings and positions; returns the sum of its field lengths and the lengths."""
    lengths = np.asarray(seg.array(f"{field}.len.npy", (np.dtype(np.uint32),), n), dtype=np.int64)
    total_len = int(lengths.sum())
    _check_postings(seg, field, n, lengths, positions=True)
    return total_len, lengths


def _check_postings(seg: _Segment, field: str, n: int, lengths: np.ndarray, *, positions: bool = False) -> None:
    """Check a field's term list and postings; with ``positions``, its positions too, and that every
    document's occurrences add up to its length (an exact-form field holds at most that many)."""
    terms = seg.lines(f"{field}.terms.txt")
    tpost = seg.array(f"{field}.tpost.npy", (np.dtype(np.int64),), len(terms) + 1)
    docs = seg.array(f"{field}.docs.npy", _UINTS, None)
    tf = seg.array(f"{field}.tf.npy", _UINTS, len(docs))
    prefix = f"field {field}:"
    if any(a >= b for a, b in itertools.pairwise(terms)):
        seg.add(f"{prefix} {field}.terms.txt: terms are not sorted and unique")
    if "" in terms:
        seg.add(f"{prefix} {field}.terms.txt: an empty term")
    tpost = np.asarray(tpost)
    if int(tpost[0]) != 0:
        seg.add(f"{prefix} term offsets must start at 0")
        return
    if np.any(np.diff(tpost) <= 0):
        seg.add(f"{prefix} term offsets must increase (every term has at least one posting)")
        return
    if int(tpost[-1]) != len(docs):
        seg.add(f"{prefix} term offsets end at {int(tpost[-1])}, the postings hold {len(docs)}")
        return
    # the arrays are read a slice of postings at a time (an index's postings need not fit in memory twice)
    steps = [(start, min(start + _AUDIT_STEP, len(docs))) for start in range(0, len(docs), _AUDIT_STEP)]
    top = max((int(docs[x:y].max()) for x, y in steps), default=-1)
    if top >= n:
        seg.add(f"{prefix} a posting names document {top} of a segment of {n}")
        return
    starts = np.asarray(tpost[:-1], dtype=np.int64)  # each term's first posting
    tpos = np.asarray(seg.array(f"{field}.tpos.npy", (np.dtype(np.int64),), len(terms) + 1)) if positions else None
    ascending, offsets_match, lowest = True, True, 1
    per_doc = np.zeros(n, dtype=np.float64)
    total = 0  # occurrences of the postings before the slice
    last = -1  # the document of the posting before the slice
    for x, y in steps:
        d = np.asarray(docs[x:y], dtype=np.int64)
        f = np.asarray(tf[x:y], dtype=np.int64)
        first = np.searchsorted(starts, [x, y])  # the terms that start in the slice
        new_term = np.zeros(len(d), dtype=bool)
        new_term[starts[first[0] : first[1]] - x] = True
        before = np.concatenate(([last], d[:-1]))
        ascending &= not np.any((d <= before) & ~new_term)
        lowest = min(lowest, int(f.min()))
        per_doc += np.bincount(d, weights=f, minlength=n)
        if tpos is not None:
            at = total + np.cumsum(f) - f  # each posting's first position
            offsets_match &= np.array_equal(at[starts[first[0] : first[1]] - x], tpos[first[0] : first[1]])
        total += int(f.sum())
        last = int(d[-1])
    if not ascending:
        seg.add(f"{prefix} doc ids are not strictly ascending within a term")
    if lowest < 1:
        seg.add(f"{prefix} a term frequency is 0")
        return
    if tpos is not None:
        pos = seg.array(f"{field}.pos.npy", _UINTS, None)
        if int(tpos[-1]) != len(pos):
            seg.add(f"{prefix} position offsets end at {int(tpos[-1])}, the positions hold {len(pos)}")
            return
        if not offsets_match or total != len(pos):
            seg.add(f"{prefix} position offsets do not match the term frequencies")
            return
        total = 0
        for x, y in steps:  # (a slice starts a posting: its positions start anew)
            f = np.asarray(tf[x:y], dtype=np.int64)
            p = np.asarray(pos[total : total + int(f.sum())], dtype=np.int64)
            total += len(p)
            new_posting = np.zeros(len(p), dtype=bool)
            new_posting[np.cumsum(f) - f] = True
            if len(p) > 1 and np.any((p[1:] <= p[:-1]) & ~new_posting[1:]):
                seg.add(f"{prefix} positions are not strictly ascending within a posting")
                break
    per_doc = per_doc.astype(np.int64)
    wrong = per_doc != lengths if positions else per_doc > lengths
    if np.any(wrong):
        bad = int(np.flatnonzero(wrong)[0])
        seg.add(f"{prefix} document {bad}: length {int(lengths[bad])}, its postings hold {int(per_doc[bad])} occurrences")
