"""Merges streamed in steps (idsearch.merge): the same segment whatever the step, the same postings as one
segment built from the live documents, memory bounded by the step, and damaged inputs refused."""

from __future__ import annotations

import io
import random
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import build, manifest, npy, plant

from idsearch import Index
from idsearch import merge as merge_module
from idsearch.merge import merge_segments, npy_header
from idsearch.schema import Schema
from idsearch.segment import SegmentReader
from idsearch.storage import IndexCorruptError

COMMON = "presiden menteri jakarta banjir harga beras pemilu partai warga kota".split()


def _docs(n: int, seed: int = 3, words: int = 60) -> list[dict[str, Any]]:
    """News-like documents: a few words in most of them, a long tail of rare ones, and one document long
    enough for positions past 65535."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        body = [rng.choice(COMMON) if rng.random() < 0.6 else f"kata{rng.randint(0, 400)}" for _ in range(words)]
        docs.append({"id": f"m{i:04d}", "title": " ".join(rng.sample(COMMON, 3)).title(), "body": " ".join(body),
                     "date": f"2024-01-{1 + i % 28:02d}", "source": rng.choice(["kompas.com", "detik.com"])})
    docs[n // 3]["body"] = " ".join(["warga"] * 40_000 + ["hujan", "deras"] * 15_000 + ["ujung"])
    return docs


def _segments(path: Path) -> tuple[Schema, list[SegmentReader]]:
    m = manifest(path)
    schema = Schema.from_dict(m["schema"])
    return schema, [SegmentReader(path, entry, schema) for entry in m["segments"]]


@pytest.fixture(scope="module")
def segmented(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Four segments with deletes in three of them (``kata7`` only in deleted documents, as far as the
    deletes go); returns the index and its live documents, in order."""
    path = tmp_path_factory.mktemp("merge") / "ix"
    docs = _docs(240)
    build(path, docs, batches=4)
    gone = {d["id"] for d in docs[::7]} | {d["id"] for d in docs if "kata7 " in d["body"] + " "}
    with Index.open(path).writer(workers=1, merge=False) as w:
        for doc_id in sorted(gone):
            w.delete(doc_id)
    assert len(manifest(path)["segments"]) == 4
    return path, [d for d in docs if d["id"] not in gone]


@pytest.fixture(scope="module")
def undeleted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Three segments without deletes: every position of a step is kept, and the segments' postings
    interleave."""
    path = tmp_path_factory.mktemp("merge") / "ix"
    docs = _docs(150, seed=9)
    build(path, docs, batches=3)
    return path, docs


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A segment with one live document left, and one whose documents have no title (a field without a
    single posting)."""
    path = tmp_path_factory.mktemp("merge") / "ix"
    docs = _docs(30, seed=11)[:10] + [{**d, "title": ""} for d in _docs(30, seed=12)[10:20]]
    for i, doc in enumerate(docs):
        doc["id"] = f"p{i:03d}"
    build(path, docs, batches=2)
    with Index.open(path).writer(workers=1, merge=False) as w:
        for doc in docs[1:10]:
            w.delete(doc["id"])
    return path, [docs[0], *docs[10:]]


SOURCES = ["segmented", "undeleted", "sparse"]


def _merge_into(directory: Path, source: Path, **options: Any) -> dict[str, Any]:
    directory.mkdir()
    schema, readers = _segments(source)
    try:
        entry, ids, sums = merge_segments(directory, schema, readers, "m", **options)
    finally:
        for reader in readers:
            reader.close()
    assert len(ids) == len(sums) == entry["ndocs"]
    return entry


@pytest.mark.parametrize("source", SOURCES)
def test_a_merge_in_small_steps_writes_what_one_step_for_everything_writes(tmp_path: Path, source: str, request) -> None:
    source, live = request.getfixturevalue(source)
    whole = _merge_into(tmp_path / "whole", source, step=10**12)
    assert whole["ndocs"] == len(live)
    for step, read, threads in ((1, 1, 1), (2, 5000, 2), (37, None, 3), (4096, 1, 2)):  # one term per step (the
        # common words in pieces) up to a few hundred; stored blocks read one at a time, a few at a time, or
        # all at once; the fields and the stored blocks merged one after another or side by side in threads
        with pytest.MonkeyPatch.context() as patch:
            if read is not None:
                patch.setattr(merge_module, "_READ_BYTES", read)
            entry = _merge_into(tmp_path / f"step{step}", source, step=step, threads=threads)
        assert entry == whole, step
        for suffix in entry["files"]:
            assert (tmp_path / f"step{step}" / f"m.{suffix}").read_bytes() == (tmp_path / "whole" / f"m.{suffix}").read_bytes(), (step, suffix)


def _values(directory: Path, name: str, suffix: str) -> Any:
    path = directory / f"{name}.{suffix}"
    if suffix.endswith(".npy"):
        return np.load(path, allow_pickle=False).astype(np.int64).tolist()
    return path.read_bytes()


@pytest.mark.parametrize("name", SOURCES)
def test_a_merged_segment_holds_what_one_segment_of_its_live_documents_holds(tmp_path: Path, name: str, request) -> None:
    source, live = request.getfixturevalue(name)
    merged = _merge_into(tmp_path / "merged", source, step=50)
    fresh_ix = build(tmp_path / "fresh", live, batches=1)
    (fresh,) = manifest(tmp_path / "fresh")["segments"]
    assert set(merged["files"]) - set(fresh["files"]) == {"docs.dicts.npy"}  # the merged segments' dictionaries
    assert merged["features"] == ["stored-dictionaries"] and "features" not in fresh  # (what a reader must know)
    assert merged["tokens"] == fresh["tokens"] and merged["ndocs"] == fresh["ndocs"]
    stored = {"docs.bin", "docs.dict", "docs.blocks.npy", "docs.first.npy", "docs.at.npy"}
    for suffix in sorted(set(fresh["files"]) - stored):  # postings, terms, ids, dates, keywords: the same values
        assert _values(tmp_path / "merged", "m", suffix) == _values(tmp_path / "fresh", fresh["name"], suffix), suffix
    if name == "segmented":
        assert b"kata7\n" not in (tmp_path / "merged" / "m.body.terms.txt").read_bytes()  # (only in deleted documents)
    assert np.load(tmp_path / "merged" / "m.body.pos.npy", allow_pickle=False).dtype == np.uint32
    schema = Schema.from_dict(manifest(source)["schema"])
    reader = SegmentReader(tmp_path / "merged", merged, schema)
    try:
        assert [reader.stored(i) for i in range(reader.ndocs)] == [fresh_ix.get(d["id"]) for d in live] == live
        _bounds, first, _at = reader.stored_layout()
        assert np.all(np.diff(first) > 0)  # no block without documents (a block of deleted ones is dropped)
        sources = sum(e["files"]["docs.bin"][0] for e in manifest(source)["segments"])
        assert merged["files"]["docs.bin"][0] <= sources
    finally:
        reader.close()


def test_a_merge_holds_a_step_of_postings_in_memory_not_the_segments(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ix"
    build(path, _docs(300, seed=5, words=400), batches=3)

    def peak(step: int, name: str) -> int:
        schema, readers = _segments(path)
        for reader in readers:  # (what the readers load once, whatever the merge: the same for both)
            _ = reader.ids, [f.terms for f in reader.fields.values()]
        (tmp_path / name).mkdir()
        tracemalloc.start()
        try:
            merge_segments(tmp_path / name, schema, readers, "m", step=step)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            for reader in readers:
                reader.close()

    monkeypatch.setattr(merge_module, "_READ_BYTES", 1 << 16)
    everything = peak(10**12, "one")
    stepped = peak(4096, "steps")
    positions = (tmp_path / "one" / "m.body.pos.npy").stat().st_size
    assert everything > positions * 3  # one step: every occurrence of the body at once, with its order
    assert stepped < everything / 8, (stepped, everything)  # (0.08 of it here; 0.16 without pieces for a big term)


def test_npy_headers_are_those_np_save_writes() -> None:
    for dtype in (np.uint16, np.uint32, np.int64):
        for count in (0, 1, 65_535, 10**9):
            buf = io.BytesIO()
            np.save(buf, np.zeros(min(count, 3), dtype=dtype), allow_pickle=False)
            saved = buf.getvalue()
            header = npy_header(dtype, count)
            if count <= 3:
                assert saved.startswith(header) and len(saved) == len(header) + count * np.dtype(dtype).itemsize
            else:
                assert len(header) == len(npy_header(dtype, 0)) and str(count).encode() in header


def test_terms_out_of_order_stop_the_merge(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    build(path, _docs(40), batches=2)
    name = manifest(path)["segments"][1]["name"]
    terms = (path / f"{name}.body.terms.txt").read_bytes().split(b"\n")
    terms[3], terms[4] = terms[4], terms[3]
    plant(path, name, "body.terms.txt", b"\n".join(terms))
    with pytest.raises(IndexCorruptError, match=f"segment {name}: field body: terms not sorted"):
        _merge_into(tmp_path / "out", path)


def test_frequencies_that_disagree_with_the_positions_stop_the_merge(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    build(path, _docs(40), batches=2)
    name = manifest(path)["segments"][0]["name"]
    tf = np.load(path / f"{name}.title.tf.npy", allow_pickle=False).copy()
    tf[0] += 1
    plant(path, name, "title.tf.npy", npy(tf))
    with pytest.raises(IndexCorruptError, match=f"segment {name}: field title: frequencies"):
        _merge_into(tmp_path / "out", path)
    # through optimize(): the error stops it, and the last commit stays as it was
    before = manifest(path)
    with pytest.raises(IndexCorruptError, match="frequencies"):
        Index.open(path).optimize()
    assert manifest(path) == before


def test_postings_naming_documents_the_segment_does_not_have_stop_the_merge(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    build(path, _docs(40), batches=2)
    name = manifest(path)["segments"][0]["name"]
    for value in (-1, 10**6):  # (a reader takes int32 postings too: a negative one would wrap around)
        docs = np.load(path / f"{name}.body.docs.npy", allow_pickle=False).astype(np.int32)
        docs[5] = value
        plant(path, name, "body.docs.npy", npy(docs))
        with pytest.raises(IndexCorruptError, match=f"segment {name}: field body: a posting names a document"):
            _merge_into(tmp_path / f"out{value}", path)
