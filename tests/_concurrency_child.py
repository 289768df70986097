"""Child processes of tests/test_concurrency.py.

``python tests/_concurrency_child.py ROLE CONFIG_JSON`` with ROLE:

* ``writer``: adds ``batches`` batches of ``batch_size`` documents, one commit per batch, rewriting some
  older documents on the way and optimizing every few commits; after each commit it appends
  ``{"gen": g, "batches": k}`` to ``log``. It starts once every reader has created its ``ready`` file.
* ``reader``: until the ``stop`` file exists, takes snapshots and searches them; every search must see
  whole batches: each batch present holds exactly ``batch_size`` documents and the batches are exactly
  0..k-1. Writes its observations ``[[generation, batches], ...]`` to ``out``; exits 1 on any error.
* ``hold``: opens a writer (taking the lock), creates ``ready`` and sleeps until killed.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from idsearch import Index

MARKER = "xqzmark"
WORDS = [
    "presiden",
    "rusia",
    "iran",
    "suriah",
    "banjir",
    "jakarta",
    "hujan",
    "gempa",
    "kereta",
    "pemilu",
    "partai",
    "menteri",
    "ekonomi",
]


def doc(batch: int, i: int, version: int) -> dict[str, Any]:
    body = " ".join(WORDS[(batch * 31 + i * 7 + version * 3 + k) % len(WORDS)] for k in range(8 + i % 13))
    return {"id": f"b{batch:03d}-{i:03d}", "title": f"{MARKER} berita {i} versi {version}", "body": body}


def writer(config: dict[str, Any]) -> None:
    deadline = time.monotonic() + 60
    while not all(Path(p).exists() for p in config["ready"]):
        if time.monotonic() > deadline:
            raise SystemExit("readers never became ready")
        time.sleep(0.01)
    ix = Index.open(config["index"])
    size = config["batch_size"]
    w = ix.writer(workers=1, merge=True)
    try:
        for batch in range(config["batches"]):
            for i in range(size):
                w.add(doc(batch, i, 0))
            for old in range(0, batch, 3):  # rewrite a document of some older batches: delete + add
                w.update(doc(old, batch % size, batch))
            generation = w.commit(optimize=batch % 7 == 6)
            with open(config["log"], "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"gen": generation, "batches": batch + 1}) + "\n")
    finally:
        w.close()


def reader(config: dict[str, Any]) -> None:
    ix = Index.open(config["index"])
    size = config["batch_size"]
    stop = Path(config["stop"])
    seen: list[tuple[int, int]] = []
    Path(config["ready_file"]).touch()
    pinned = True
    while not stop.exists():
        if pinned:
            with ix.reader() as snapshot:
                results = ix.search(MARKER, limit=None, reader=snapshot)
                generation = snapshot.generation
        else:  # the index's own snapshot, which follows commits
            results = ix.search(MARKER, limit=None)
            generation = -1
        pinned = not pinned
        ids = [hit.id for hit in results]
        assert results.total == len(ids), (results.total, len(ids))
        assert len(set(ids)) == len(ids), "a document was seen twice"
        per_batch = Counter(i.split("-")[0] for i in ids)
        batches = len(per_batch)
        assert set(per_batch) == {f"b{b:03d}" for b in range(batches)}, sorted(per_batch)
        assert all(n == size for n in per_batch.values()), per_batch
        assert results.total == size * batches
        seen.append((generation, batches))
    Path(config["out"]).write_text(json.dumps(seen))


def hold(config: dict[str, Any]) -> None:
    ix = Index.open(config["index"])
    w = ix.writer(workers=1)
    w.add(doc(999, 0, 0))  # uncommitted work: it dies with the process
    Path(config["ready"]).touch()
    time.sleep(600)


def main() -> None:
    role, config = sys.argv[1], json.loads(sys.argv[2])
    {"writer": writer, "reader": reader, "hold": hold}[role](config)  # an error exits 1 with its traceback


if __name__ == "__main__":
    main()
