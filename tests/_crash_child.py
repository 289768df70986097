"""The indexing child process of tests/test_crash.py: indexes, updates, deletes and merges until it is killed.

Run as ``python tests/_crash_child.py CONFIG_JSON``. CONFIG holds:

* ``index``: the index directory (it exists and was verified by the parent);
* ``log``: a JSON-lines file this child appends to (each line fsynced): before every commit an
  ``{"kind": "intent", "gen": g, "docs": {id: version}}`` line with the documents the commit will hold,
  after ``commit()`` returns a ``{"kind": "done", "gen": g}`` line;
* ``phase``: a one-byte file holding the code of what the child is doing right now (see ``PHASES``), which
  the parent reads just before it kills the child;
* ``seed``, ``mode`` (``analysis``, ``segments``, ``merge``, ``parallel``: which work dominates);
* ``die_at`` (optional): ``{"point": name, "nth": k}`` - the child kills itself (SIGKILL, its whole
  process group) at the k-th time it reaches that point; the points are in ``DIE_POINTS``.

The library is not modified: phases and death points are installed by wrapping its functions here.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import idsearch.segment
import idsearch.storage
import idsearch.writer
from idsearch import Index
from idsearch.writer import IndexWriter, SegmentBuilder

PHASES = {
    "startup": b"S",
    "open-writer": b"O",
    "analysis": b"A",
    "segment-write": b"W",
    "commit": b"C",
    "deletes": b"D",
    "merge": b"M",
    "words": b"V",
    "manifest-swap": b"X",
    "report": b"R",
}
PHASE_NAMES = {code: name for name, code in PHASES.items()}

DIE_POINTS = (
    "segment-partial",  # a segment file half written
    "segment-after",  # right after a segment file is fsynced
    "deletes-after",  # deletes bitmaps written, nothing else of the commit
    "merge-streaming",  # a merged segment's file half streamed (the part written so far fsynced)
    "merge-after",  # a merged segment written, manifest not yet
    "worker-merge-after",  # a segment merged by a worker process taken in, manifest not yet
    "words-after",  # the word cache file written
    "manifest-partial",  # manifest.json.tmp half written
    "before-rename",  # manifest.json.tmp complete, just before it replaces manifest.json
    "after-rename",  # manifest.json replaced, directory not yet fsynced, commit() not returned
)

MARKER = "xqzmark"  # in every title: a search for it counts the live documents
WORDS = [
    "presiden", "rusia", "iran", "suriah", "pertemuan", "telepon", "dukungan", "rezim", "jakarta", "bandung",
    "banjir", "hujan", "gempa", "kereta", "pemilu", "partai", "menteri", "ekonomi", "harga", "beras", "sekolah",
    "anak-anak", "pemain", "sepak", "bola", "pelatih", "stadion", "kota", "desa", "warga", "polisi", "kebakaran",
    "hutan", "asap", "membangun", "pembangunan", "berlari", "perekonomian", "kebijakan", "mempertanyakan",
]  # fmt: skip


def main() -> None:
    config = json.loads(sys.argv[1])
    phase_fd = os.open(config["phase"], os.O_RDWR | os.O_CREAT, 0o644)
    current = ["startup"]

    def set_phase(name: str) -> None:
        current[0] = name
        os.pwrite(phase_fd, PHASES[name], 0)

    @contextlib.contextmanager
    def phase(name: str) -> Iterator[None]:
        previous = current[0]
        set_phase(name)
        try:
            yield
        finally:
            set_phase(previous)

    die_at = config.get("die_at") or {}
    counts: dict[str, int] = {}

    def reached(point: str) -> bool:
        """Whether this is the k-th time at ``point`` that the child is to die at."""
        if die_at.get("point") != point:
            return False
        counts[point] = counts.get(point, 0) + 1
        return counts[point] == die_at["nth"]

    def die() -> None:
        os.killpg(os.getpgrp(), signal.SIGKILL)

    install_hooks(phase, reached, die)
    set_phase("startup")
    run(config, set_phase)
    sys.exit(3)  # the work ran out before the kill: the parent treats this as a failure


def install_hooks(
    phase: Callable[[str], Any], reached: Callable[[str], bool], die: Callable[[], None]
) -> None:
    """Wrap library functions to record the phase and to die at chosen points."""

    def durable(real: Callable[[Path, bytes], list[int]]) -> Callable[[Path, bytes], list[int]]:
        def write_durable(path: Path, data: bytes) -> list[int]:
            if reached("segment-partial"):
                with open(path, "xb") as fh:
                    fh.write(data[: len(data) // 2])
                    fh.flush()
                    os.fsync(fh.fileno())
                die()
            listed = real(path, data)
            if reached("segment-after"):
                die()
            return listed

        return write_durable

    idsearch.segment.write_durable = durable(idsearch.segment.write_durable)  # type: ignore[assignment]

    real_stream = idsearch.storage.DurableFile.write

    def streamed(self: Any, data: Any) -> None:  # (merges write their large files piece by piece)
        real_stream(self, data)
        if reached("merge-streaming"):
            self._fh.flush()
            os.fsync(self._fh.fileno())
            die()

    idsearch.storage.DurableFile.write = streamed  # type: ignore[method-assign]

    real_atomic = idsearch.writer.atomic_write_bytes

    def atomic_write_bytes(path: Path, data: bytes, **kwargs: Any) -> None:
        with phase("manifest-swap"):
            if reached("manifest-partial"):
                tmp = path.with_name(path.name + ".tmp")
                with open(tmp, "wb") as fh:
                    fh.write(data[: len(data) // 2])
                    fh.flush()
                    os.fsync(fh.fileno())
                die()
            real_atomic(path, data, **kwargs)

    idsearch.writer.atomic_write_bytes = atomic_write_bytes  # type: ignore[assignment]

    real_replace = os.replace

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        manifest = os.fspath(dst).endswith(idsearch.storage.MANIFEST)
        if manifest and reached("before-rename"):
            die()
        real_replace(src, dst, **kwargs)
        if manifest and reached("after-rename"):
            die()

    os.replace = replace  # type: ignore[assignment]

    def wrap(cls: type, method: str, name: str, point: str | None = None) -> None:
        real = getattr(cls, method)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with phase(name):
                result = real(*args, **kwargs)
            if point is not None and reached(point):
                die()
            return result

        setattr(cls, method, wrapper)

    wrap(SegmentBuilder, "write", "segment-write")
    wrap(IndexWriter, "__init__", "open-writer")
    wrap(IndexWriter, "commit", "commit")
    wrap(IndexWriter, "_apply_deletes", "deletes", "deletes-after")
    wrap(IndexWriter, "_run_merges", "merge")  # merges in this process or in worker processes
    wrap(IndexWriter, "_moved", "merge", "merge-after")  # after each merge is written, either way
    real_result = idsearch.writer._WorkerPool.result

    def result(self: Any, task_id: int) -> Any:
        payload = real_result(self, task_id)
        if isinstance(payload, tuple) and reached("worker-merge-after"):  # (a merge's: entry, ids, sums)
            die()
        return payload

    idsearch.writer._WorkerPool.result = result  # type: ignore[method-assign]
    wrap(IndexWriter, "_write_word_cache", "words", "words-after")


def live_documents(ix: Index) -> dict[str, int]:
    """id -> version of every live document."""
    out: dict[str, int] = {}
    with ix.reader() as reader:
        for segment in reader.segments:
            for local, doc_id in enumerate(segment.ids):
                if segment.live[local]:
                    out[doc_id] = segment.stored(local)["v"]
    return out


def make_doc(rng: random.Random, doc_id: str, version: int, words: int) -> dict[str, Any]:
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    return {
        "id": doc_id,
        "v": version,
        "title": f"{MARKER} {rng.choice(WORDS)} {rng.choice(WORDS)} versi{version}",
        "body": body,
        "date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "source": rng.choice(["tribunnews.com", "detik.com", "kompas.com"]),
    }


def append_log(path: str, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def run(config: dict[str, Any], set_phase: Callable[[str], None]) -> None:
    mode = config["mode"]
    rng = random.Random(config["seed"])
    ix = Index.open(config["index"])
    state = live_documents(ix)
    generation = ix.generation
    ix.close()
    next_id = 1 + max((int(i[1:]) for i in state), default=-1)
    options: dict[str, Any] = {"workers": 1, "merge": True, "buffer_mb": 64.0}
    batch, words = 40, 60
    if mode == "analysis":
        batch, words = 60, 1500
    elif mode == "segments":
        options["buffer_mb"] = 0.02  # a segment every few documents
    elif mode == "parallel":
        options.update(workers=2, chunk_mb=0.02)
    elif mode == "parallel-merge":  # a segment every document or two: each commit merges runs in the workers
        options.update(workers=2, chunk_mb=0.0005)
    # every session reads and writes the word cache file, as a large one does (the "words" points)
    idsearch.writer.WORD_CACHE_AFTER_DOCS = 1
    writer = Index.open(config["index"]).writer(**options)
    for round_ in range(200):
        set_phase("analysis")
        for _ in range(batch):
            doc_id = f"d{next_id:06d}"
            next_id += 1
            writer.update(make_doc(rng, doc_id, 0, rng.randint(words // 3, words)))
            state[doc_id] = 0
        existing = sorted(state)
        for doc_id in rng.sample(existing, min(len(existing), batch // 4)):
            state[doc_id] += 1
            writer.update(make_doc(rng, doc_id, state[doc_id], rng.randint(5, words)))
        cap = 700
        deletes = rng.randint(0, batch // 4) + max(0, len(state) - cap)
        for doc_id in rng.sample(sorted(state), min(len(state), deletes)):
            assert writer.delete(doc_id)
            del state[doc_id]
        optimize = mode == "merge" and round_ % 3 == 2
        set_phase("report")
        append_log(config["log"], {"kind": "intent", "gen": generation + 1, "docs": state})
        set_phase("commit")
        generation = writer.commit(optimize=optimize)
        set_phase("report")
        append_log(config["log"], {"kind": "done", "gen": generation})


if __name__ == "__main__":
    main()
