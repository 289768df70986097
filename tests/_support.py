"""Helpers shared by the tests: the ../shared data set beside the checkout (CI has it; tests skip clearly
when it is absent), the embedded seed article, and editing an index's files as damage or an attacker would. (A plain module, not conftest: benchmarks/ has its own
conftest, and ``import conftest`` would find whichever was imported first.)"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from idsearch import Index
from idsearch.storage import MANIFEST

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IDSEARCH_SHARED", REPO.parent / "shared"))
SEED = REPO / "corpus" / "tribunnews_putin_pezeshkian_2024-12-02.txt"


def shared_path(*parts: str) -> Path:
    """Path inside ../shared, or skip the calling test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data set beside the checkout; set IDSEARCH_SHARED to move it)")
    return path


def manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / MANIFEST).read_bytes())


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    (path / MANIFEST).write_text(json.dumps(data), encoding="utf-8")


def first_segment(path: Path) -> str:
    return manifest(path)["segments"][0]["name"]


def plant(path: Path, segment: str, suffix: str, data: bytes, *, fix_manifest: bool = True) -> None:
    """Replace a segment file; with ``fix_manifest`` also its size and CRC in the manifest, as an
    attacker would (so that only the deeper checks can catch it)."""
    (path / f"{segment}.{suffix}").write_bytes(data)
    if fix_manifest:
        m = manifest(path)
        for entry in m["segments"]:
            if entry["name"] == segment:
                entry["files"][suffix] = [len(data), zlib.crc32(data)]
        write_manifest(path, m)


def npy(array: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def run_racing(threads: list[threading.Thread]) -> None:
    """Start the threads and wait for them, switching between threads as often as the interpreter can
    (races show up)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)


def add_in_sessions(index: Index, docs: list[dict[str, Any]], *, size: int, workers: int = 1, merge: bool = False,
                    chunk_mb: float = 12.0) -> None:
    """Add the documents ``size`` at a time, each batch in a writing session of its own (without merges and
    with one worker: a segment each)."""
    for start in range(0, len(docs), size):
        with index.writer(workers=workers, merge=merge, chunk_mb=chunk_mb) as w:
            for d in docs[start : start + size]:
                w.add(d)


def build(path: Path, docs: list[dict[str, Any]], *, batches: int, workers: int = 1, merge: bool = False,
          chunk_mb: float = 12.0) -> Index:
    """A new index of the documents, added in ``batches`` writing sessions (see :func:`add_in_sessions`)."""
    index = Index.create(path)
    add_in_sessions(index, docs, size=math.ceil(len(docs) / batches), workers=workers, merge=merge, chunk_mb=chunk_mb)
    return index
