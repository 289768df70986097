"""Stored documents: compressed together in blocks, read back one at a time, and segments written before
blocks (each document compressed on its own) still read, checked and merged."""

from __future__ import annotations

import io
import itertools
import json
import random
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import build, manifest, npy, plant, write_manifest

from idsearch import Index
from idsearch.integrity import check_index
from idsearch.segment import STORED_BLOCK, STORED_LEVEL, SegmentReader
from idsearch.storage import IndexCorruptError


def _docs(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    words = ["putin", "suriah", "banjir", "jakarta", "pemilu", "gempa", "kereta", "harga", "beras", "naik"]
    docs = []
    for i in range(n):
        size = rng.choice([0, 1, 5, 40, 400, 3000])  # empty bodies up to documents larger than a block
        body = " ".join(rng.choice(words) for _ in range(size))
        docs.append({"id": f"d{i:04d}", "title": f"berita {i} {rng.choice(words)}", "body": body,
                     "source": rng.choice(["detik.com", "kompas.com"]), "note": "é" * (i % 3)})
    return docs


def _build(path: Path, docs: list[dict[str, Any]]) -> Index:
    ix = Index.create(path)
    with ix.writer(workers=1) as w:
        for doc in docs:
            w.add(doc)
    return ix


def test_documents_round_trip_across_block_boundaries(tmp_path: Path):
    docs = _docs(300)
    ix = _build(tmp_path / "ix", docs)
    entry = manifest(tmp_path / "ix")["segments"][0]
    first = np.load(tmp_path / "ix" / f"{entry['name']}.docs.first.npy", allow_pickle=False)
    assert len(first) > 10  # many blocks: ~1 MB of documents in blocks of STORED_BLOCK bytes
    sizes = np.diff(first)
    assert sizes.max() > 1 and sizes.min() >= 1  # small documents share a block, a big one has its own
    order = list(range(len(docs)))
    random.Random(3).shuffle(order)  # any order: the block read last is no shortcut
    for i in order:
        assert ix.get(docs[i]["id"]) == docs[i]
    assert check_index(tmp_path / "ix").ok


def test_a_block_holds_documents_up_to_about_the_block_size(tmp_path: Path):
    docs = [{"id": f"d{i}", "body": "kata " * 100} for i in range(200)]
    _build(tmp_path / "ix", docs)
    entry = manifest(tmp_path / "ix")["segments"][0]
    reader = SegmentReader(tmp_path / "ix", entry, Index.open(tmp_path / "ix").schema)
    try:
        at = reader._doc_at.astype(np.int64)
        first = reader._block_first
        raw = [int(at[b]) - int(at[a]) for a, b in itertools.pairwise(first)]
        assert all(size >= STORED_BLOCK for size in raw[:-1])  # only the last block is smaller
        assert all(size < STORED_BLOCK + 600 for size in raw)  # a block closes once it is full
    finally:
        reader.close()


def _to_one_by_one(path: Path) -> None:
    """Rewrite every segment's stored documents the way segments before 2026-11-25 stored them: each
    document compressed on its own with the preset dictionary, located by ``docs.off.npy``."""
    m = manifest(path)
    ix = Index.open(path)
    for entry in m["segments"]:
        reader = SegmentReader(path, entry, ix.schema)
        stored = [reader.stored_bytes(i) for i in range(entry["ndocs"])]
        zdict = (path / f"{entry['name']}.docs.dict").read_bytes()
        reader.close()
        chunks = []
        for doc in stored:
            c = zlib.compressobj(STORED_LEVEL, zdict=zdict) if zdict else zlib.compressobj(STORED_LEVEL)
            chunks.append(c.compress(doc) + c.flush())
        offsets = np.zeros(len(chunks) + 1, dtype=np.uint64)
        np.cumsum([len(c) for c in chunks], out=offsets[1:])
        buf = io.BytesIO()
        np.save(buf, offsets, allow_pickle=False)
        files = {"docs.bin": b"".join(chunks), "docs.off.npy": buf.getvalue()}
        for suffix, data in files.items():
            (path / f"{entry['name']}.{suffix}").write_bytes(data)
            entry["files"][suffix] = [len(data), zlib.crc32(data)]
        for suffix in ("docs.blocks.npy", "docs.first.npy", "docs.at.npy"):
            (path / f"{entry['name']}.{suffix}").unlink()
            del entry["files"][suffix]
    write_manifest(path, m)


def test_segments_stored_one_by_one_are_read_checked_and_merged(tmp_path: Path):
    path = tmp_path / "ix"
    docs = _docs(120)
    _build(path, docs)
    _to_one_by_one(path)
    assert "docs.off.npy" in manifest(path)["segments"][0]["files"]
    ix = Index.open(path)
    assert all(ix.get(d["id"]) == d for d in docs)
    hits = ix.search("putin suriah", limit=5)
    assert hits and hits[0].fields["id"] == hits[0].id
    report = check_index(path)
    assert report.ok, report.problems
    # a damaged old-style document is still found by the audit
    m = manifest(path)
    name = m["segments"][0]["name"]
    blob = bytearray((path / f"{name}.docs.bin").read_bytes())
    blob[5] ^= 0x55
    damaged = tmp_path / "damaged"
    shutil.copytree(path, damaged)
    (damaged / f"{name}.docs.bin").write_bytes(bytes(blob))
    m["segments"][0]["files"]["docs.bin"] = [len(blob), zlib.crc32(bytes(blob))]
    write_manifest(damaged, m)
    assert any("docs.bin: document 0" in p for p in check_index(damaged).problems)
    # new documents and a merge: everything ends up in blocks
    with Index.open(path).writer(workers=1) as w:
        w.add({"id": "new", "title": "putin bertemu", "body": "kata " * 50})
        w.commit(optimize=True)
    m = manifest(path)
    assert len(m["segments"]) == 1 and "docs.blocks.npy" in m["segments"][0]["files"]
    ix = Index.open(path)
    assert all(ix.get(d["id"]) == d for d in docs) and ix.get("new")["title"] == "putin bertemu"
    assert check_index(path).ok


def test_blocks_that_do_not_cover_the_documents_are_corruption(tmp_path: Path):
    path = tmp_path / "ix"
    _build(path, _docs(100))
    name = manifest(path)["segments"][0]["name"]
    first = np.load(path / f"{name}.docs.first.npy", allow_pickle=False)
    plant(path, name, "docs.first.npy", npy(np.concatenate([first[:-1], [first[-1] - 1]])))
    with pytest.raises(IndexCorruptError, match="stored blocks"):
        Index.open(path).search("putin")
    assert any("docs.first.npy" in p for p in check_index(path).problems)


def test_document_offsets_that_disagree_with_a_block_are_corruption(tmp_path: Path):
    path = tmp_path / "ix"
    docs = _docs(100)
    _build(path, docs)
    name = manifest(path)["segments"][0]["name"]
    at = np.load(path / f"{name}.docs.at.npy", allow_pickle=False)
    at = at.copy()
    at[1:] += 1  # every document one byte later: no block inflates to the size expected
    plant(path, name, "docs.at.npy", npy(at))
    with pytest.raises(IndexCorruptError, match="bytes expected"):
        Index.open(path).get(docs[0]["id"])
    assert any("docs.bin: block 0" in p for p in check_index(path).problems)


@pytest.mark.parametrize("positional", [True, False], ids=["pread", "no pread (Windows)"])
def test_threads_read_documents_of_one_segment_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       positional: bool):
    """Hits are loaded from several threads (a web server): positional reads (or a lock where the system has
    none), and the block read last taken as one value, so no thread reads another's bytes."""
    import threading

    import idsearch.segment

    if not positional:
        monkeypatch.setattr(idsearch.segment, "_PREAD", None)
    docs = _docs(400, seed=11)
    _build(tmp_path / "ix", docs)
    entry = manifest(tmp_path / "ix")["segments"][0]
    reader = SegmentReader(tmp_path / "ix", entry, Index.open(tmp_path / "ix").schema)
    expected = [json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode() for d in docs]
    errors: list[str] = []

    def read(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(3000):
            i = rng.randrange(len(docs))
            try:
                if reader.stored_bytes(i) != expected[i]:
                    errors.append(f"document {i}: wrong bytes")
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(f"document {i}: {exc!r}")

    threads = [threading.Thread(target=read, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader.close()
    assert not errors, errors[:5]


def test_a_merge_copies_whole_blocks_compressed_and_compresses_again_only_blocks_with_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Merged segments keep their blocks as they were compressed, each with its own preset dictionary
    (docs.dicts.npy); blocks holding deleted documents are compressed again without them; a merge of merged
    segments keeps every dictionary. Every live document reads back as it was added, and the audit passes."""
    docs = _docs(400, seed=5)
    path = tmp_path / "ix"
    ix = build(path, docs, batches=4)
    deleted = {d["id"] for d in docs[3:400:9]} | {d["id"] for d in docs[100:140]}  # whole blocks too
    with ix.writer(workers=1) as w:
        for doc_id in sorted(deleted):
            w.delete(doc_id)
    before = {e["name"]: (path / f"{e['name']}.docs.bin").read_bytes() for e in manifest(path)["segments"]}
    inflated: list[int] = []
    real_inflate = SegmentReader.inflate_block

    def inflate_block(self: SegmentReader, block: int, raw: bytes) -> bytes:
        inflated.append(block)
        return real_inflate(self, block, raw)

    monkeypatch.setattr(SegmentReader, "inflate_block", inflate_block)
    ix.optimize()
    entry = manifest(path)["segments"][0]
    assert len(manifest(path)["segments"]) == 1 and "docs.dicts.npy" in entry["files"]
    merged = (path / f"{entry['name']}.docs.bin").read_bytes()
    dicts = np.load(path / f"{entry['name']}.docs.dicts.npy", allow_pickle=False)
    first = np.load(path / f"{entry['name']}.docs.first.npy", allow_pickle=False)
    assert len(dicts) == 2 * (len(first) - 1) and len({(a, b) for a, b in zip(dicts[0::2], dicts[1::2])}) == 4
    # the blocks without deletes are in the merged file byte for byte; the others were inflated, only they
    blocks = np.load(path / f"{entry['name']}.docs.blocks.npy", allow_pickle=False)
    copied = [merged[a:b] for a, b in itertools.pairwise(blocks.tolist())]
    originals = b"".join(before.values())
    assert 0 < sum(block in originals for block in copied) < len(copied)
    assert 0 < len(inflated) < len(first)
    reopened = Index.open(path)
    assert len(reopened) == len(docs) - len(deleted)
    for doc in docs:
        assert reopened.get(doc["id"]) == (None if doc["id"] in deleted else doc)
    assert check_index(path).ok
    # merged again with new segments: every dictionary is kept, and nothing is inflated without deletes
    with reopened.writer(workers=1, merge=False) as w:
        for doc in _docs(30, seed=9):
            w.add({**doc, "id": f"n{doc['id']}"})
    inflated.clear()
    reopened.optimize()
    assert inflated == []
    entry = manifest(path)["segments"][0]
    dicts = np.load(path / f"{entry['name']}.docs.dicts.npy", allow_pickle=False)
    assert len({(a, b) for a, b in zip(dicts[0::2], dicts[1::2])}) == 5
    final = Index.open(path)
    assert all(final.get(d["id"]) == (None if d["id"] in deleted else d) for d in docs)
    assert final.get("nd0007") == {**_docs(30, seed=9)[7], "id": "nd0007"}
    assert check_index(path).ok


def test_a_damaged_stored_file_stops_the_merge_and_the_last_commit_stays(tmp_path: Path):
    """A merge copies compressed blocks without inflating them: a docs.bin whose bytes differ from the CRC-32
    its manifest entry records stops the merge, naming the file, and the index keeps its last commit."""
    path = tmp_path / "ix"
    docs = _docs(120)
    build(path, docs, batches=3)
    name = manifest(path)["segments"][1]["name"]
    blob = bytearray((path / f"{name}.docs.bin").read_bytes())
    blob[len(blob) // 2] ^= 0x55
    (path / f"{name}.docs.bin").write_bytes(bytes(blob))
    generation = manifest(path)["generation"]
    with pytest.raises(IndexCorruptError, match=f"{name}.docs.bin: size or CRC-32"):
        Index.open(path).optimize()
    assert manifest(path)["generation"] == generation and len(manifest(path)["segments"]) == 3
    assert sorted(p.name for p in path.iterdir() if p.name.startswith("s00000")) == sorted(
        f"{e['name']}.{suffix}" for e in manifest(path)["segments"] for suffix in e["files"]
    )


def test_dictionary_ranges_outside_the_dictionaries_are_corruption(tmp_path: Path):
    path = tmp_path / "ix"
    docs = _docs(150)
    ix = build(path, docs, batches=3)
    ix.optimize()
    name = manifest(path)["segments"][0]["name"]
    dicts = np.load(path / f"{name}.docs.dicts.npy", allow_pickle=False).copy()
    size = (path / f"{name}.docs.dict").stat().st_size
    dicts[-1] = size + 1
    plant(path, name, "docs.dicts.npy", npy(dicts))
    with pytest.raises(IndexCorruptError, match="docs.dicts.npy"):
        Index.open(path).get(docs[0]["id"])
    assert any("docs.dicts.npy" in p for p in check_index(path).problems)
    dicts[-2:] = dicts[:2]  # the last block given the first one's dictionary: inside docs.dict, the wrong one
    plant(path, name, "docs.dicts.npy", npy(dicts))
    assert any("docs.bin: block" in p for p in check_index(path).problems)
    with pytest.raises(IndexCorruptError, match="stored block"):
        Index.open(path).get(docs[-1]["id"])
