"""Readers in other processes while a writer commits and merges; the single-writer lock.

Documents are added in batches of ``BATCH`` (one commit per batch), all carrying a marker word; some
older documents are rewritten (delete + add) on the way and every seventh commit optimizes. Reader
processes search the marker in a loop - on pinned snapshots and on the index's self-following snapshot -
and must always see whole batches: exactly ``BATCH`` hits for every batch present, batches ``0..k-1``,
and for a pinned snapshot exactly the number of batches the writer had committed at that generation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _support import run_racing

from idsearch import Index
from idsearch.integrity import check_index
from idsearch.storage import LockError

CHILD = Path(__file__).with_name("_concurrency_child.py")
BATCH = 20


def spawn(role: str, config: dict[str, Any]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), role, json.dumps(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        cwd=str(CHILD.parent),
    )


def finish(child: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    try:
        _out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        _out, err = child.communicate()
        pytest.fail(f"{what} did not finish in time:\n{err.decode()}")
    assert child.returncode == 0, f"{what} failed:\n{err.decode()}"


@pytest.mark.slow
def test_readers_always_see_whole_commits(tmp_path: Path):
    path = tmp_path / "idx"
    Index.create(path).close()
    readers = []
    configs = []
    for r in range(2):
        config = {
            "index": str(path),
            "stop": str(tmp_path / "stop"),
            "ready_file": str(tmp_path / f"ready{r}"),
            "out": str(tmp_path / f"seen{r}.json"),
            "batch_size": BATCH,
        }
        configs.append(config)
        readers.append(spawn("reader", config))
    log = tmp_path / "log.jsonl"
    writer = spawn(
        "writer",
        {
            "index": str(path),
            "log": str(log),
            "batches": 40,
            "batch_size": BATCH,
            "ready": [c["ready_file"] for c in configs],
        },
    )
    try:
        finish(writer, "the writer")
    finally:
        (tmp_path / "stop").touch()
        for r, child in enumerate(readers):
            finish(child, f"reader {r}")

    batches_at = {0: 0}
    for line in log.read_text().splitlines():
        record = json.loads(line)
        batches_at[record["gen"]] = record["batches"]
    generations = set()
    searches = 0
    for config in configs:
        seen = json.loads(Path(config["out"]).read_text())
        searches += len(seen)
        for generation, batches in seen:
            if generation >= 0:
                generations.add(generation)
                assert batches_at[generation] == batches, f"generation {generation}"
    print(f"{searches} searches by 2 readers saw {len(generations)} of {len(batches_at)} generations")
    assert searches > 0 and len(generations) >= 2
    ix = Index.open(path)
    assert len(ix) == 40 * BATCH and ix.search("xqzmark", limit=None).total == 40 * BATCH
    assert check_index(path).ok


def test_second_writer_is_refused_naming_the_holder(tmp_path: Path):
    path = tmp_path / "idx"
    ix = Index.create(path)
    first = ix.writer(workers=1)
    try:
        with pytest.raises(LockError, match=f"pid={os.getpid()}") as info:
            ix.writer(workers=1)
        assert "another writer holds the write lock" in str(info.value)
        with pytest.raises(LockError):
            Index.open(path).writer(workers=1)  # another Index object: still refused
    finally:
        first.close()
    ix.writer(workers=1).close()  # released by close


def test_lock_of_a_killed_writer_is_recovered(tmp_path: Path):
    path = tmp_path / "idx"
    ix = Index.create(path)
    with ix.writer(workers=1) as w:
        w.add({"id": "a", "title": "berita pertama", "body": "isi"})
    ready = tmp_path / "ready"
    holder = spawn("hold", {"index": str(path), "ready": str(ready)})
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert holder.poll() is None, holder.communicate()[1].decode()
            assert time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.01)
        with pytest.raises(LockError, match=f"pid={holder.pid}"):
            ix.writer(workers=1)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.communicate()
    assert holder.returncode == -signal.SIGKILL
    with ix.writer(workers=1) as w:  # the kernel released the flock with the process
        w.add({"id": "b", "title": "berita kedua", "body": "isi"})
    assert sorted(["a", "b"]) == sorted(h.id for h in ix.search("berita", limit=None))
    assert "b999-000" not in ix  # the killed writer's uncommitted document
    assert check_index(path).ok


def test_writers_in_threads_sharing_one_analyzer_build_what_they_build_alone(tmp_path: Path):
    """Indexes created with one Analyzer object share its word numbering (one vocabulary per analyzer per
    process): writers filling them from several threads at once, switching as often as possible, build
    exactly the segments each builds alone, and none fails (reading the split-word table while another
    thread added to it raised BufferError)."""
    import random
    import threading

    from idsearch.analysis import Analyzer

    def docs(seed: int) -> list[dict[str, str]]:
        rnd = random.Random(seed)
        return [
            {
                "id": f"d{i}",
                "title": f"berita{rnd.randrange(300)}-ekonomi{seed}",
                # hyphenated pairs of new words: each yields two terms (the split-word table grows)
                "body": " ".join(
                    f"kata{rnd.randrange(4000)}-bagian{rnd.randrange(4000)} menulis{rnd.randrange(900)}"
                    for _ in range(30)
                ),
            }
            for i in range(700)
        ]

    def build(path: Path, analyzer: Analyzer, seed: int, errors: list[str]) -> None:
        try:
            ix = Index.create(path, analyzer=analyzer)
            with ix.writer(workers=1) as writer:
                for doc in docs(seed):
                    writer.add(doc)
            ix.close()
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is reported by the assertion below
            errors.append(f"{path.name}: {exc!r}")

    seeds = range(4)
    alone: list[str] = []
    for seed in seeds:
        build(tmp_path / f"alone{seed}", Analyzer(), seed, alone)
    shared, errors = Analyzer(), []
    threads = [
        threading.Thread(target=build, args=(tmp_path / f"shared{seed}", shared, seed, errors)) for seed in seeds
    ]
    run_racing(threads)
    assert alone == [] and errors == []
    for seed in seeds:
        a, b = Index.open(tmp_path / f"alone{seed}"), Index.open(tmp_path / f"shared{seed}")
        assert a.search(f"ekonomi{seed}").total == 700
        for query in ("bagian17", "kata5 bagian9", "kata12 OR menulis7"):
            hits_a, hits_b = a.search(query, limit=50), b.search(query, limit=50)
            assert hits_a.total == hits_b.total > 0
            assert [(h.id, h.score) for h in hits_a] == [(h.id, h.score) for h in hits_b]
        a.close()
        b.close()
