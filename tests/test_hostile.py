"""Corrupt and hostile index directories, and failing disks.

* Damaged or hostile files (truncated arrays, wrong dtypes, edited manifests, planted pickles, path
  traversal in the manifest) give :class:`~idsearch.storage.IndexCorruptError` on open/search/get/writer,
  and :func:`~idsearch.integrity.check_index` reports them; nothing is ever unpickled (a planted pickle
  would create a marker file) and nothing outside the index directory is opened or removed (an audit
  hook watches every ``open``/``remove``/``rename``).
* Content corruption that only a full audit can see (postings out of order or out of range, lengths,
  stored documents, counts) is found by ``check_index`` even when the attacker also fixed the manifest's
  sizes and CRCs.
* A full disk (ENOSPC) while writing a segment, a deletes bitmap or the manifest leaves the previous
  commit intact and raises an error that names the problem and the file.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pickle
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import first_segment, manifest, npy, plant, write_manifest

import idsearch.integrity
import idsearch.segment
import idsearch.storage
import idsearch.writer
from idsearch import Index
from idsearch.integrity import check_index
from idsearch.storage import LOCK, MANIFEST, IndexCorruptError, IndexFormatError

WORDS = [
    "presiden",
    "rusia",
    "putin",
    "iran",
    "suriah",
    "pertemuan",
    "banjir",
    "jakarta",
    "hujan",
    "gempa",
    "kereta",
    "pemilu",
    "partai",
]


def make_docs(n: int, start: int = 0) -> list[dict[str, Any]]:
    docs = []
    for i in range(start, start + n):
        body = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(5 + i % 11))
        docs.append(
            {
                "id": f"d{i:04d}",
                "title": f"{WORDS[i % len(WORDS)]} {WORDS[(i * 5) % len(WORDS)]}",
                "body": body,
                "date": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "source": ["detik.com", "kompas.com"][i % 2],
            }
        )
    return docs


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of 3 segments, one with deleted documents."""
    path = tmp_path_factory.mktemp("base") / "idx"
    ix = Index.create(path)
    for start in (0, 40, 80):
        with ix.writer(workers=1, merge=False) as w:
            for doc in make_docs(40, start):
                w.add(doc)
    with ix.writer(workers=1, merge=False) as w:
        for i in (1, 2, 3, 50):
            assert w.delete(f"d{i:04d}")
    ix.close()
    assert check_index(path).ok
    return path


@pytest.fixture
def idx(base: Path, tmp_path: Path) -> Path:
    """A fresh copy of the base index, inside ``tmp_path/"root"`` (decoys go beside it)."""
    path = tmp_path / "root" / "idx"
    shutil.copytree(base, path)
    return path


def load(path: Path, segment: str, suffix: str) -> np.ndarray:
    return np.load(path / f"{segment}.{suffix}", allow_pickle=False)


def use(path: Path, *, writer: bool = False) -> None:
    """What a user does with an index: open, count, search, read hits, get, stats (and open a writer)."""
    ix = Index.open(path)
    try:
        if writer:  # first, while the analyzer's word cache is empty (then it loads the words file)
            ix.writer(workers=1).close()
        len(ix)
        for hit in ix.search("putin suriah", limit=None):
            hit.fields  # noqa: B018 - reads the stored document
        ix.search("banjir", source="detik.com", since="2024-01-01")
        ix.get("d0005")
        ix.stats()
    finally:
        ix.close()


# -- the audit hook: nothing outside the index directory is touched --------------------------------------------------

_WATCH: list[list[tuple[str, str]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCH and event in ("open", "os.remove", "os.rename", "os.rmdir", "shutil.rmtree", "os.listdir"):
        target = args[0]
        if isinstance(target, (str, bytes, os.PathLike)):
            _WATCH[-1].append((event, os.path.abspath(os.fsdecode(target))))


sys.addaudithook(_audit)


@contextlib.contextmanager
def watching() -> Iterator[list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    _WATCH.append(seen)
    try:
        yield seen
    finally:
        _WATCH.pop()


def assert_stayed_inside(seen: list[tuple[str, str]], index: Path, area: Path) -> None:
    """No file in ``area`` outside ``index`` was opened, listed, removed or renamed."""
    index_dir = str(index.resolve())
    for event, target in seen:
        if target.startswith(str(area.resolve())):
            assert target == index_dir or target.startswith(index_dir + os.sep), (
                f"{event} outside the index: {target}"
            )


# -- edited manifests ---------------------------------------------------------------------------------------------

MANIFEST_EDITS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "not an object": lambda m: [],
    "wrong format": lambda m: {**m, "format": "something-else"},
    "generation is a string": lambda m: {**m, "generation": "7"},
    "negative generation": lambda m: {**m, "generation": -1},
    "generation is a boolean": lambda m: {**m, "generation": True},
    "segments is a mapping": lambda m: {**m, "segments": {"s000000": m["segments"][0]}},
    "missing schema": lambda m: {k: v for k, v in m.items() if k != "schema"},
    "missing analyzer": lambda m: {k: v for k, v in m.items() if k != "analyzer"},
    "schema of wrong type": lambda m: {**m, "schema": ["title", "body"]},
    "schema field of wrong type": lambda m: {**m, "schema": {**m["schema"], "text_fields": [{"name": 5}]}},
    "analyzer of wrong type": lambda m: {**m, "analyzer": 5},
    "segment entry not a mapping": lambda m: {**m, "segments": ["s000000"]},
    "segment without name": lambda m: _seg(m, name=None),
    "segment without files": lambda m: _seg(m, files=None),
    "files not a mapping": lambda m: _seg(m, files=["ids.txt"]),
    "a file missing from the listing": lambda m: _seg(m, files={"ids.txt": [1, 2]}),
    "segment without ndocs": lambda m: _seg(m, ndocs=None),
    "negative ndocs": lambda m: _seg(m, ndocs=-5),
    "ndocs of wrong type": lambda m: _seg(m, ndocs="40"),
    "ndocs too large": lambda m: _seg(m, ndocs=41),
    "ndocs too small": lambda m: _seg(m, ndocs=39),
    "deletes of wrong type": lambda m: _seg(m, deletes=5),
    "deletes file missing": lambda m: _seg(m, deletes="s000000.del99.npy"),
    "features not a list": lambda m: _seg(m, features="stored-dictionaries"),
    "features not names": lambda m: _seg(m, features=[1]),
}


def _seg(m: dict[str, Any], **changes: Any) -> dict[str, Any]:
    entry = dict(m["segments"][0])
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return {**m, "segments": [entry, *m["segments"][1:]]}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_edited_manifest_is_a_clear_error(idx: Path, case: str):
    write_manifest(idx, MANIFEST_EDITS[case](manifest(idx)))
    with pytest.raises(IndexCorruptError):
        use(idx)
    report = check_index(idx)
    assert not report.ok and report.problems


_WRITER_CASES = sorted(MANIFEST_EDITS)


@pytest.mark.parametrize("case", _WRITER_CASES)
def test_writer_on_edited_manifest_is_a_clear_error_and_removes_nothing(idx: Path, case: str):
    write_manifest(idx, MANIFEST_EDITS[case](manifest(idx)))
    files = sorted(p.name for p in idx.iterdir())
    with pytest.raises(IndexCorruptError):
        Index.open(idx).writer(workers=1).close()
    assert sorted(p.name for p in idx.iterdir()) == files  # a damaged manifest must not cost any data


def test_a_segment_from_a_newer_idsearch_is_refused_by_name_not_misread(idx: Path, capsys: pytest.CaptureFixture[str]):
    """A segment whose manifest entry needs a feature this version does not know (a newer idsearch wrote it)
    is refused with an error that says so, by searches, writers and the audit alike, and nothing is
    removed."""
    m = manifest(idx)
    name = m["segments"][1]["name"]
    m["segments"][1]["features"] = ["stored-dictionaries", "postings-in-blocks"]
    write_manifest(idx, m)
    files = sorted(p.name for p in idx.iterdir())
    message = rf"segment {name}: needs 'postings-in-blocks', which idsearch \S+ does not have: a newer idsearch"
    with pytest.raises(IndexFormatError, match=message):
        Index.open(idx).search("banjir")
    with pytest.raises(IndexFormatError, match=message):
        Index.open(idx).writer(workers=1).close()
    report = check_index(idx)
    assert not report.ok and any("postings-in-blocks" in p for p in report.problems)
    from idsearch.cli import main

    assert main(["--index", str(idx), "query", "banjir"]) == 3  # an index error
    assert "a newer idsearch wrote it" in capsys.readouterr().err
    assert sorted(p.name for p in idx.iterdir()) == files


@pytest.mark.parametrize(
    "raw",
    [b"", b"{not json", b'{"format": "idsearch-index-1", "generation": 1', b"\xff\xfe\x00garbage", b"null"],
)
def test_unparseable_manifest_is_a_clear_error(idx: Path, raw: bytes):
    (idx / MANIFEST).write_bytes(raw)
    with pytest.raises(IndexCorruptError, match=MANIFEST):
        Index.open(idx)
    report = check_index(idx)
    assert not report.ok and report.generation is None and MANIFEST in report.problems[0]


def test_missing_manifest_is_not_an_index(tmp_path: Path):
    (tmp_path / "x").mkdir()
    with pytest.raises(IndexCorruptError, match="not an idsearch index"):
        Index.open(tmp_path / "x")
    assert not check_index(tmp_path / "x").ok
    assert not check_index(tmp_path / "nowhere").ok


@pytest.mark.parametrize(
    "case",
    ["deeply nested JSON", "manifest is a directory", "unknown stopword list", "other stemmer dictionary"],
)
def test_manifest_that_escapes_as_another_error(idx: Path, case: str):
    if case == "deeply nested JSON":
        (idx / MANIFEST).write_bytes(b"[" * 200_000)
    elif case == "manifest is a directory":
        (idx / MANIFEST).unlink()
        (idx / MANIFEST).mkdir()
    elif case == "unknown stopword list":
        m = manifest(idx)
        write_manifest(idx, {**m, "analyzer": {**m["analyzer"], "stopwords": "tala"}})
    else:
        m = manifest(idx)
        write_manifest(idx, {**m, "analyzer": {**m["analyzer"], "dictionary_hash": "0" * 16}})
    assert not check_index(idx).ok
    with pytest.raises(IndexCorruptError):
        use(idx)


def test_check_index_survives_the_manifests_that_escape(idx: Path):
    (idx / MANIFEST).write_bytes(b"[" * 200_000)
    assert not check_index(idx).ok
    (idx / MANIFEST).unlink()
    (idx / MANIFEST).mkdir()
    assert not check_index(idx).ok


# -- path traversal ---------------------------------------------------------------------------------------------------


@pytest.fixture
def decoys(idx: Path) -> Path:
    """Beside the index: a complete copy of its first segment under ``decoy/`` and valid bitmaps and word
    files, so that following a traversing name would *succeed* (and the test would see it)."""
    area = idx.parent
    segment = first_segment(idx)
    decoy = area / "decoy"
    decoy.mkdir()
    for f in idx.iterdir():
        if f.name.startswith(segment + "."):
            shutil.copy(f, decoy / f.name)
    np.save(area / "outside.npy", np.zeros(40, dtype=bool))
    (area / "outside.json").write_text(json.dumps({"words": ["x"], "terms": ["x"]}))
    return area


TRAVERSALS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "name ../decoy/s": lambda m, s: _seg(m, name=f"../decoy/{s}"),
    "name with ..": lambda m, s: _seg(m, name=f"..{s}"),
    "absolute name": lambda m, s: _seg(m, name=f"/etc/{s}"),
    "name ../../etc/passwd": lambda m, s: _seg(m, name="../../etc/passwd"),
    "deletes ../outside.npy": lambda m, s: _seg(m, deletes="../outside.npy"),
    "absolute deletes": lambda m, s: _seg(m, deletes="/etc/passwd"),
    "words ../outside.json": lambda m, s: {**m, "words": "../outside.json"},
    "absolute words": lambda m, s: {**m, "words": "/etc/passwd"},
    "file suffix ../": lambda m, s: _seg(m, files={**m["segments"][0]["files"], "../../outside.npy": [1, 2]}),
}


@pytest.mark.parametrize("case", sorted(TRAVERSALS))
def test_path_traversal_in_the_manifest_reads_nothing_outside(idx: Path, decoys: Path, case: str):
    write_manifest(idx, TRAVERSALS[case](manifest(idx), first_segment(idx)))
    before = sorted(p.relative_to(decoys) for p in decoys.rglob("*") if not p.is_relative_to(idx))
    # the reader opens only the files it knows (an extra listed name is never used); the words file is
    # only read by a writer
    reading_fails = not case.startswith(("file suffix", "words", "absolute words"))
    writing_fails = case != "file suffix ../"
    with watching() as seen:
        for writer, fails in ((False, reading_fails), (True, writing_fails)):
            with pytest.raises(IndexCorruptError, match="file name") if fails else contextlib.nullcontext():
                use(idx, writer=writer)
        report = check_index(idx)
    assert not report.ok
    assert any("file name" in p for p in report.problems), report.problems
    assert_stayed_inside(seen, idx, decoys)
    after = sorted(p.relative_to(decoys) for p in decoys.rglob("*") if not p.is_relative_to(idx))
    assert after == before  # nothing outside was removed


def test_symlink_out_of_the_index_is_reported(idx: Path, tmp_path: Path):
    segment = first_segment(idx)
    target = tmp_path / "elsewhere.ids.txt"
    shutil.copy(idx / f"{segment}.ids.txt", target)
    (idx / f"{segment}.ids.txt").unlink()
    (idx / f"{segment}.ids.txt").symlink_to(target)
    with watching() as seen:
        report = check_index(idx)
    assert any("symbolic link" in p for p in report.problems), report.problems
    assert all(path != str(target) for _event, path in seen)


# -- damaged and hostile segment files -----------------------------------------------------------------------------------


def test_truncated_array_is_a_clear_error(idx: Path):
    segment = first_segment(idx)
    raw = (idx / f"{segment}.body.tpost.npy").read_bytes()
    (idx / f"{segment}.body.tpost.npy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(IndexCorruptError, match="tpost"):
        use(idx)
    report = check_index(idx)
    assert any("tpost" in p and "size" in p for p in report.problems), report.problems


@pytest.mark.parametrize("array", [
    np.arange(7, dtype=np.int32), np.arange(5, dtype=np.int64) - 2, np.array([2**64 - 1, 0], dtype=np.uint64),
    np.arange(3, dtype=np.uint32), np.arange(9, dtype=np.uint8), np.arange(4, dtype=np.int16),
    np.zeros(0, dtype=np.int64), np.arange(3, dtype=">i4"), np.arange(6, dtype=np.int32).reshape(2, 3),
    np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)), np.arange(3, dtype=np.float64), np.array([True, False]),
])  # fmt: skip
def test_mapped_arrays_read_as_numpy_reads_them(tmp_path: Path, array: np.ndarray):
    """load_npy maps the 1-d integer arrays idsearch writes through its own strict reading of the header,
    and leaves every other file to np.load: either way the array is numpy's, read-only."""
    from idsearch.segment import _map_integer_npy, load_npy

    path = tmp_path / "a.npy"
    path.write_bytes(npy(array))
    loaded = load_npy(path, mmap=True)
    expected = np.load(path, mmap_mode="r", allow_pickle=False)
    assert loaded.dtype == expected.dtype and loaded.shape == expected.shape and np.array_equal(loaded, expected)
    assert not loaded.flags.writeable
    mapped_itself = array.ndim == 1 and array.dtype.kind in "iu" and array.dtype.byteorder != ">"
    assert (_map_integer_npy(path) is not None) == mapped_itself
    if len(array):
        path.write_bytes(npy(array)[:-1])  # a byte short: an error, as np.load's
        with pytest.raises(ValueError):
            load_npy(path, mmap=True)


@pytest.mark.parametrize("suffix", ["ids.txt", "docs.bin", "body.pos.npy", "date.days.npy"])
def test_truncated_file_is_reported_by_check(idx: Path, suffix: str):
    segment = first_segment(idx)
    path = idx / f"{segment}.{suffix}"
    path.write_bytes(path.read_bytes()[:-3])
    report = check_index(idx)
    assert not report.ok and any(suffix in p for p in report.problems), report.problems


def test_flipped_byte_is_a_checksum_mismatch(idx: Path):
    segment = first_segment(idx)
    path = idx / f"{segment}.body.docs.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    report = check_index(idx)
    assert any("CRC-32" in p for p in report.problems), report.problems


WRONG_ARRAYS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "float offsets": ("body.tpost.npy", lambda a: a.astype(np.float64)),
    "float postings": ("body.docs.npy", lambda a: a.astype(np.float32)),
    "signed lengths": ("title.len.npy", lambda a: a.astype(np.int8)),
    "2-d array": ("sums.npy", lambda a: np.stack([a, a])),
    "wrong length": ("date.days.npy", lambda a: a[:-1]),
    "complex codes": ("source.codes.npy", lambda a: a.astype(np.complex64)),
    "string array": ("body.tf.npy", lambda a: a.astype("U3")),
    "object array": ("body.tpos.npy", lambda a: a.astype(object)),
}


@pytest.mark.parametrize("case", sorted(WRONG_ARRAYS))
def test_wrong_array_type_is_a_clear_error(idx: Path, case: str):
    suffix, change = WRONG_ARRAYS[case]
    segment = first_segment(idx)
    array = change(load(idx, segment, suffix))
    plant(idx, segment, suffix, npy(array, allow_pickle=array.dtype == object))
    with pytest.raises(IndexCorruptError, match=suffix.replace(".", r"\.")):
        use(idx)
    report = check_index(idx)
    assert any(suffix in p for p in report.problems), report.problems


def test_wrong_deletes_bitmap_is_a_clear_error(idx: Path):
    m = manifest(idx)
    entry = next(e for e in m["segments"] if e.get("deletes"))
    path = idx / entry["deletes"]
    path.write_bytes(npy(np.zeros(entry["ndocs"], dtype=np.int64)))
    with pytest.raises(IndexCorruptError, match="deletes bitmap"):
        use(idx)
    assert any(entry["deletes"] in p for p in check_index(idx).problems)


class _Marker:
    """Unpickling this creates a marker file: proof that something was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _raw_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Marker(marker))


def _npy_pickle(marker: Path) -> bytes:
    array = np.empty(3, dtype=object)
    array[:] = [_Marker(marker), 1, 2]
    return npy(array, allow_pickle=True)


@pytest.mark.parametrize("make", [_raw_pickle, _npy_pickle], ids=["raw pickle", "npy object array"])
@pytest.mark.parametrize(
    "target", ["body.tpost.npy", "sums.npy", "docs.at.npy", "deletes", "words", "manifest"]
)
def test_planted_pickle_is_never_executed(
    idx: Path, tmp_path: Path, make: Callable[[Path], bytes], target: str
):
    marker = tmp_path / "PWNED"
    data = make(marker)
    m = manifest(idx)
    if target == "deletes":
        (idx / next(e["deletes"] for e in m["segments"] if e.get("deletes"))).write_bytes(data)
    elif target == "words":
        (idx / m["words"]).write_bytes(data)
    elif target == "manifest":
        (idx / MANIFEST).write_bytes(data)
    else:
        plant(idx, first_segment(idx), target, data)
    if target == "words":
        use(idx, writer=True)  # the word cache is only a cache: a bad one is rebuilt, never unpickled
    else:
        with pytest.raises(IndexCorruptError):
            use(idx)
        with pytest.raises(IndexCorruptError):
            use(idx, writer=True)
    report = check_index(idx)
    assert not report.ok
    assert not marker.exists()
    # the payload works: unpickling it would have created the marker
    pickle.loads(_raw_pickle(tmp_path / "control")).close()
    assert (tmp_path / "control").exists()


# -- content corruption: only the full audit sees it -----------------------------------------------------------------------


def _edit_array(suffix: str, change: Callable[[np.ndarray], None]) -> Callable[[Path, str], None]:
    def edit(path: Path, segment: str) -> None:
        array = load(path, segment, suffix).copy()
        change(array)
        plant(path, segment, suffix, npy(array))

    return edit


def _swap(a: np.ndarray, i: int, j: int) -> None:
    a[i], a[j] = a[j], a[i]


def _edit_positions(path: Path, segment: str) -> None:
    tf = load(path, segment, "body.tf.npy")
    first = int(np.flatnonzero(tf >= 2)[0])  # a posting with two positions
    start = int(tf[:first].sum())
    _edit_array("body.pos.npy", lambda a: _swap(a, start, start + 1))(path, segment)


def _edit_terms(path: Path, segment: str) -> None:
    terms = (path / f"{segment}.body.terms.txt").read_text(encoding="utf-8").split("\n")
    terms[0], terms[1] = terms[1], terms[0]
    plant(path, segment, "body.terms.txt", "\n".join(terms).encode())


def _edit_stored_id(path: Path, segment: str) -> None:
    m = manifest(path)
    ids = (path / f"{segment}.ids.txt").read_text(encoding="utf-8").split("\n")
    ids[4] = "someone-else"
    plant(path, segment, "ids.txt", "\n".join(ids).encode())
    del m


def _edit_ndeleted(path: Path, segment: str) -> None:
    m = manifest(path)
    entry = next(e for e in m["segments"] if e.get("deletes"))
    entry["ndeleted"] += 1
    write_manifest(path, m)


def _edit_doc_count(path: Path, segment: str) -> None:
    m = manifest(path)
    write_manifest(path, {**m, "doc_count": m["doc_count"] + 1})


def _edit_next_segment(path: Path, segment: str) -> None:
    m = manifest(path)
    write_manifest(path, {**m, "next_segment": 1})


def _edit_stored_doc(path: Path, segment: str) -> None:
    blob = bytearray((path / f"{segment}.docs.bin").read_bytes())
    blob[3] ^= 0x55
    plant(path, segment, "docs.bin", bytes(blob))


CONTENT_EDITS: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "posting beyond the segment": (
        _edit_array("body.docs.npy", lambda a: a.__setitem__(-1, 40)),
        "names document",
    ),
    "postings out of order": (_edit_array("body.docs.npy", lambda a: _swap(a, 0, 1)), "strictly ascending"),
    "positions out of order": (_edit_positions, "positions"),
    "zero term frequency": (_edit_array("body.tf.npy", lambda a: a.__setitem__(0, 0)), "frequency"),
    "offsets not increasing": (_edit_array("body.tpost.npy", lambda a: a.__setitem__(1, 0)), "increase"),
    "position offsets off": (_edit_array("body.tpos.npy", lambda a: a.__setitem__(1, a[1] + 1)), "do not match the term"),
    "wrong field length": (_edit_array("body.len.npy", lambda a: a.__setitem__(0, a[0] + 1)), "length"),
    "checksum of a document": (_edit_array("sums.npy", lambda a: a.__setitem__(2, a[2] ^ 1)), "checksum"),
    "keyword code out of range": (_edit_array("source.codes.npy", lambda a: a.__setitem__(0, 99)), "codes"),
    "terms out of order": (_edit_terms, "sorted"),
    "id differs from the stored one": (_edit_stored_id, "ids.txt says"),
    "ndeleted differs from the bitmap": (_edit_ndeleted, "ndeleted"),
    "doc_count differs": (_edit_doc_count, "doc_count"),
    "segment names would be reused": (_edit_next_segment, "next_segment"),
    "stored document damaged": (_edit_stored_doc, "docs.bin"),
}


@pytest.mark.parametrize("step", [None, 1])
@pytest.mark.parametrize("case", sorted(CONTENT_EDITS))
def test_check_index_finds_content_corruption(idx: Path, case: str, step: int | None, monkeypatch: pytest.MonkeyPatch):
    """(``step``: the audit reads postings a slice at a time; one posting a slice puts every neighbour in
    the next slice.)"""
    if step is not None:
        monkeypatch.setattr(idsearch.integrity, "_AUDIT_STEP", step)
    edit, expected = CONTENT_EDITS[case]
    edit(idx, first_segment(idx))
    report = check_index(idx)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


def test_check_report_of_a_healthy_index(idx: Path):
    report = check_index(idx)
    assert report.ok and report.problems == ()
    assert report.documents == len(Index.open(idx)) == 116
    assert report.segments == 3 and report.generation == manifest(idx)["generation"]
    assert "ok" in str(report)


@pytest.mark.parametrize("suffix", ["body.terms.txt", "ids.txt", "source.values.txt"])
def test_invalid_utf8_in_segment_text_file(idx: Path, suffix: str):
    segment = first_segment(idx)
    raw = (idx / f"{segment}.{suffix}").read_bytes()
    plant(idx, segment, suffix, b"\xff" + raw[1:])
    assert any("UTF-8" in p for p in check_index(idx).problems)
    with pytest.raises(IndexCorruptError):
        use(idx)


# -- a failing disk during a commit ---------------------------------------------------------------------------------------


def _enospc(path: Any) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))


def _fail_after(real: Callable[..., Any], calls: int) -> Callable[..., Any]:
    count = [0]

    def fake(path: Any, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        if count[0] >= calls:
            raise _enospc(path)
        return real(path, *args, **kwargs)

    return fake


class _FillingDisk(io.RawIOBase):
    """A new file on a disk that fills up: writes fail after ``room`` bytes, as the system says it (no
    file name)."""

    def __init__(self, real: Any, room: int) -> None:
        self.real, self.room = real, room

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = len(memoryview(data).cast("B"))
        if size > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= size
        return self.real.write(data)

    def fileno(self) -> int:
        return self.real.fileno()

    def close(self) -> None:
        self.real.close()
        super().close()


def _full_open(real: Callable[..., Any]) -> Callable[..., Any]:
    def fake(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode and os.fspath(path).endswith(MANIFEST + ".tmp"):
            return _FillingDisk(real(path, mode), 0)  # the file appears, then the disk is full
        return real(path, mode, *args, **kwargs)

    return fake


def _fail_replace(real: Callable[..., Any]) -> Callable[..., Any]:
    def fake(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(dst).endswith(MANIFEST):
            raise _enospc(dst)
        return real(src, dst, *args, **kwargs)

    return fake


FAILURES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "segment file": lambda mp: mp.setattr(
        idsearch.segment, "write_durable", _fail_after(idsearch.segment.write_durable, 5)
    ),
    "deletes bitmap": lambda mp: mp.setattr(
        idsearch.writer, "write_durable", _fail_after(idsearch.writer.write_durable, 1)
    ),
    "manifest temp file": lambda mp: mp.setattr(idsearch.storage, "open", _full_open(open), raising=False),
    "manifest rename": lambda mp: mp.setattr(os, "replace", _fail_replace(os.replace)),
}


@pytest.mark.parametrize("where", sorted(FAILURES))
def test_full_disk_during_commit_keeps_the_previous_commit(
    idx: Path, monkeypatch: pytest.MonkeyPatch, where: str
):
    ix = Index.open(idx)
    before = {doc_id: ix.get(doc_id) for doc_id in sorted(_live_ids(ix))}
    generation = ix.generation
    with monkeypatch.context() as mp:
        FAILURES[where](mp)
        with pytest.raises(OSError, match="No space left on device") as info, ix.writer(workers=1) as w:
            for doc in make_docs(30, 500):
                w.add(doc)
            w.delete("d0010")
            w.update({**make_docs(1, 20)[0], "body": "diubah"})
    assert info.value.errno == errno.ENOSPC and info.value.filename  # says what and where
    reopened = Index.open(idx)
    assert reopened.generation == generation
    assert {doc_id: reopened.get(doc_id) for doc_id in sorted(_live_ids(reopened))} == before
    assert check_index(idx).ok
    # once there is space again, the same work commits and the leftovers are gone
    with reopened.writer(workers=1) as w:
        for doc in make_docs(30, 500):
            w.add(doc)
    assert len(reopened) == len(before) + 30 and check_index(idx).ok
    assert _unreferenced(idx) == []


def test_io_error_after_the_manifest_rename_keeps_a_consistent_index(
    idx: Path, monkeypatch: pytest.MonkeyPatch
):
    ix = Index.open(idx)

    def failing_fsync(path: Path) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))

    with monkeypatch.context() as mp:
        mp.setattr(idsearch.storage, "fsync_dir", failing_fsync)  # only atomic_write_bytes uses this binding
        with pytest.raises(OSError), ix.writer(workers=1) as w:
            for doc in make_docs(30, 500):
                w.add(doc)
    # the rename happened, so the new generation is the index now: it must be whole
    report = check_index(idx)
    assert report.ok, str(report)


@pytest.mark.parametrize("part", ["docs.bin", "body.pos.npy", "title.exact.docs.npy", "body.tpost.npy"])
def test_full_disk_during_a_streamed_merge_keeps_the_last_commit_and_names_the_file(
    idx: Path, monkeypatch: pytest.MonkeyPatch, part: str
):
    """optimize() writes the merged segment's files as it makes them (docs.bin and the postings piece by
    piece): the disk filling up in the middle of one stops it with an error that names that file, and the
    last commit stays; once there is room, the same optimize() goes through."""
    ix = Index.open(idx)
    before = {doc_id: ix.get(doc_id) for doc_id in sorted(_live_ids(ix))}
    generation, real_open = ix.generation, open

    def filling(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(path, mode, *args, **kwargs)
        if "x" in mode and os.fspath(path).endswith(f".{part}"):
            return io.BufferedWriter(_FillingDisk(fh, 100), buffer_size=64)
        return fh

    with monkeypatch.context() as mp:
        mp.setattr(idsearch.storage, "open", filling, raising=False)
        with pytest.raises(OSError, match="No space left on device") as info:
            ix.optimize()
    assert info.value.errno == errno.ENOSPC and os.fspath(info.value.filename).endswith(f".{part}")
    reopened = Index.open(idx)
    assert reopened.generation == generation and reopened.stats().segments == 3
    assert {doc_id: reopened.get(doc_id) for doc_id in sorted(_live_ids(reopened))} == before
    assert check_index(idx).ok
    reopened.optimize()
    assert reopened.stats().segments == 1 and check_index(idx).ok and _unreferenced(idx) == []
    assert {doc_id: reopened.get(doc_id) for doc_id in sorted(_live_ids(reopened))} == before


def _live_ids(ix: Index) -> set[str]:
    with ix.reader() as reader:
        return {i for s in reader.segments for local, i in enumerate(s.ids) if s.live[local]}


def _unreferenced(path: Path) -> list[str]:
    m = manifest(path)
    keep = {MANIFEST, LOCK, m.get("words")}
    for entry in m["segments"]:
        keep.update(f"{entry['name']}.{s}" for s in entry["files"])
        keep.add(entry.get("deletes"))
    return sorted(p.name for p in path.iterdir() if p.name not in keep)


_SEARCH_CHILD = """
import sys
from idsearch import Index
ix = Index.open(sys.argv[1])
reader = ix.reader()
reader.compiled = sys.argv[2] == "compiled"
for query in sys.argv[3:]:
    try:
        [h.id for h in ix.search(query, limit=10, reader=reader)]
    except Exception as exc:  # a clear error is fine; a crash is not
        print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize("path_kind", ["compiled", "numpy"])
@pytest.mark.parametrize("case", ["posting beyond the segment", "postings out of order", "positions out of order",
                                  "zero term frequency", "offsets not increasing"])
def test_searching_damaged_postings_never_crashes(idx: Path, case: str, path_kind: str):
    """Postings an attacker edited (sizes and CRCs fixed up, so only deep checks see it): searches, with the
    compiled kernel or in numpy, give results or a Python exception; the process survives."""
    import subprocess

    from idsearch import reader as reader_module

    if path_kind == "compiled" and reader_module._kernel is None:
        pytest.skip("idsearch._kernel is not built")
    edit, _expected = CONTENT_EDITS[case]
    edit(idx, first_segment(idx))
    queries = [" ".join(WORDS), *WORDS[:3], f"{WORDS[0]} {WORDS[-1]}"]  # every posting list, and a few
    done = subprocess.run([sys.executable, "-c", _SEARCH_CHILD, str(idx), path_kind, *queries], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])


def test_hit_ids_are_read_from_the_ids_file_and_a_damaged_one_is_corruption(idx: Path):
    """A search reads its hits' ids from ids.txt without listing every id of the segment: the same ids as
    the list; a file with a line too few, or an id that is not UTF-8, is an IndexCorruptError naming it."""
    ix = Index.open(idx)
    hits = ix.search("putin OR banjir OR jakarta", limit=None)
    assert len(hits) > 5
    with ix.reader() as reader:
        _scores, segs, docs, _total = reader.best(ix.compile("putin OR banjir"), limit=None)
        found = list(zip(segs.tolist(), docs.tolist()))
        lazily = [reader.segments[s].doc_id(d) for s, d in found]
        assert all("ids" not in segment.__dict__ for segment in reader.segments)  # (the list was never built)
        listed = [reader.segments[s].ids[d] for s, d in found]
    assert lazily == listed and len(lazily) > 1
    assert all(ix.get(h.id) is not None for h in hits)
    ix.close()
    segment = first_segment(idx)
    ids = (idx / f"{segment}.ids.txt").read_bytes().split(b"\n")
    for damaged, match in ((b"\n".join(ids[:-1]), "ids for"), (b"\n".join([b"\xff\xfe", *ids[1:]]), "UTF-8")):
        plant(idx, segment, "ids.txt", damaged)
        with pytest.raises(IndexCorruptError, match=match):
            [h.id for h in Index.open(idx).search("putin OR banjir OR jakarta", limit=None)]
