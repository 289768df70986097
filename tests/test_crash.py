"""Crash safety: an indexing process killed with SIGKILL at any moment leaves the last commit intact.

A child process (tests/_crash_child.py) adds, updates and deletes documents, commits often and merges,
and logs every commit's documents before it commits and the generation after ``commit()`` returns. The
parent kills it - after a random delay (phases recorded by the child), or by making the child kill
itself at an exact point (a half-written segment file, just before/after the manifest rename, after a
merge, ...). After every kill:

* the index opens and :func:`idsearch.integrity.check_index` finds no problem;
* it holds exactly the documents (ids and versions) of the last commit the child saw return, or of the
  commit after it when the kill landed between the manifest rename and the report - told apart by the
  generation number;
* a search counts exactly those documents;
* the next writer removes every leftover file of the killed one.

The seed is fixed (override with IDSEARCH_CRASH_SEED) and printed, with a summary of the kills.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _crash_child import DIE_POINTS, MARKER, PHASE_NAMES, make_doc

from idsearch import Index
from idsearch.integrity import check_index
from idsearch.storage import LOCK, MANIFEST

SEED = int(os.environ.get("IDSEARCH_CRASH_SEED", "20241202"))
CHILD = Path(__file__).with_name("_crash_child.py")
CHILD_TIMEOUT = 120.0

#: kills summary over the session (printed by each test)
SUMMARY: Counter[str] = Counter()


class Crashed:
    """One index under test and what the parent knows about it."""

    def __init__(self, tmp_path: Path, seed: str) -> None:
        self.path = tmp_path / "idx"
        self.work = tmp_path
        self.rng = random.Random(seed)
        ix = Index.create(self.path)
        docs = [make_doc(self.rng, f"d{i:06d}", 0, 40) for i in range(100)]
        with ix.writer(workers=1) as w:
            for doc in docs:
                w.add(doc)
        ix.close()
        self.generation = 1
        self.state = {d["id"]: 0 for d in docs}
        self.runs = 0
        self.phases: Counter[str] = Counter()
        self.after_swap = 0  # kills that landed after the manifest rename, before the child's report
        self.leftovers = 0  # files the next writer had to clean up

    # -- running the child ---------------------------------------------------------------------------------

    def _start(self, mode: str, die_at: dict[str, Any] | None) -> tuple[subprocess.Popen[bytes], Path, Path]:
        self.runs += 1
        log = self.work / f"log{self.runs}.jsonl"
        phase = self.work / f"phase{self.runs}"
        phase.write_bytes(b"\0")
        config = {
            "index": str(self.path),
            "log": str(log),
            "phase": str(phase),
            "seed": self.rng.randrange(1 << 30),
            "mode": mode,
            "die_at": die_at,
        }
        child = subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a kill takes its worker processes too
            cwd=str(CHILD.parent),
        )
        return child, log, phase

    def _finish(self, child: subprocess.Popen[bytes]) -> None:
        try:
            _out, err = child.communicate(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            pytest.fail("the indexing child did not finish in time")
        if child.returncode != -signal.SIGKILL:
            pytest.fail(
                f"the indexing child exited with {child.returncode} instead of being killed:\n{err.decode()}"
            )

    def kill_after_delay(self, mode: str, delay: float) -> str:
        """Run the child, kill it ``delay`` seconds after it starts working; returns the phase it was in."""
        child, log, phase_file = self._start(mode, None)
        deadline = time.monotonic() + CHILD_TIMEOUT
        while phase_file.read_bytes()[:1] in (b"\0", b"S") and child.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        if child.poll() is None:
            time.sleep(delay)
            phase = PHASE_NAMES.get(phase_file.read_bytes()[:1], "unknown")
            os.killpg(child.pid, signal.SIGKILL)
        else:
            phase = "exited"
        self._finish(child)
        self.phases[phase] += 1
        self.verify(log)
        return phase

    def kill_at(self, point: str, nth: int, mode: str = "merge") -> None:
        child, log, _phase = self._start(mode, {"point": point, "nth": nth})
        self._finish(child)
        self.phases[f"exact:{point}"] += 1
        self.verify(log)

    # -- checking the index after a kill -----------------------------------------------------------------------

    def verify(self, log: Path) -> None:
        intents: dict[int, dict[str, int]] = {}
        done = [self.generation]
        lines = log.read_bytes().split(b"\n") if log.exists() else []
        for number, line in enumerate(lines):
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                assert number == len(lines) - 1, f"{log}: line {number + 1} is torn but not the last"
                continue  # the kill tore the last line
            if record["kind"] == "intent":
                intents[record["gen"]] = record["docs"]
            else:
                done.append(record["gen"])
        last = max(done)
        known = {self.generation: self.state, **intents}

        leftovers = unreferenced_files(self.path)
        ix = Index.open(self.path)
        try:
            generation = ix.generation
            if generation == last:
                expected = known[last]
            elif generation == last + 1 and generation in intents:
                expected = intents[generation]
                self.after_swap += 1
            else:
                pytest.fail(f"index at generation {generation}; the child last reported {last}")
            report = check_index(self.path)
            assert report.ok, str(report)
            assert report.generation == generation
            actual = live_versions(ix)
            assert actual == expected, f"generation {generation}: documents differ from the commit's"
            assert len(ix) == len(expected) == report.documents
            assert ix.search(MARKER, limit=None).total == len(expected)
            # the next writer removes what the killed one left behind
            self.leftovers += len(leftovers)
            writer = ix.writer(workers=1)
            try:
                assert unreferenced_files(self.path) == []
            finally:
                writer.close()
        finally:
            ix.close()
        self.generation, self.state = generation, expected

    def summary(self, title: str) -> str:
        SUMMARY.update(self.phases)
        phases = ", ".join(f"{k}={v}" for k, v in sorted(self.phases.items()))
        return (
            f"{title}: seed {SEED}: {sum(self.phases.values())} kills ({phases}); "
            f"{self.after_swap} landed after the manifest rename; {self.leftovers} leftover files cleaned; "
            f"final generation {self.generation} with {len(self.state)} documents"
        )


def live_versions(ix: Index) -> dict[str, int]:
    out: dict[str, int] = {}
    with ix.reader() as reader:
        for segment in reader.segments:
            for local, doc_id in enumerate(segment.ids):
                if segment.live[local]:
                    assert doc_id not in out, f"{doc_id} is live twice"
                    out[doc_id] = segment.stored(local)["v"]
    return out


def referenced_files(path: Path) -> set[str]:
    manifest = json.loads((path / MANIFEST).read_bytes())
    names = {MANIFEST, LOCK}
    for entry in manifest["segments"]:
        names.update(f"{entry['name']}.{suffix}" for suffix in entry["files"])
        if entry.get("deletes"):
            names.add(entry["deletes"])
    if manifest.get("words"):
        names.add(manifest["words"])
    return names


def unreferenced_files(path: Path) -> list[str]:
    keep = referenced_files(path)
    return sorted(p.name for p in path.iterdir() if p.name not in keep)


# -- the tests ---------------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "kills", "max_delay"),
    [("analysis", 9, 1.5), ("segments", 8, 1.0), ("merge", 8, 1.0), ("parallel", 8, 1.0),
     ("parallel-merge", 6, 1.5)],
)
def test_killed_at_random_moments(tmp_path: Path, mode: str, kills: int, max_delay: float):
    crashed = Crashed(tmp_path, f"{SEED}-{mode}-index")
    delays = random.Random(f"{SEED}-{mode}")
    for _ in range(kills):
        crashed.kill_after_delay(mode, delays.uniform(0.0, max_delay))
    print(crashed.summary(f"random kills, {mode}"))
    assert crashed.phases["exited"] == 0


#: death point -> the range of occurrences to die at (each is reached within a few commits)
POINT_RANGES = {
    "segment-partial": (1, 60),
    "segment-after": (1, 60),
    "deletes-after": (1, 4),
    "merge-streaming": (1, 40),
    "merge-after": (1, 2),
    "worker-merge-after": (1, 3),
    "words-after": (1, 4),
    "manifest-partial": (1, 4),
    "before-rename": (1, 4),
    "after-rename": (1, 4),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", DIE_POINTS)
def test_killed_at_exact_points(tmp_path: Path, point: str):
    crashed = Crashed(tmp_path, f"{SEED}-{point}-index")
    choose = random.Random(f"{SEED}-{point}")
    low, high = POINT_RANGES[point]
    mode = "parallel-merge" if point == "worker-merge-after" else "merge"  # (where the point is reached)
    for _ in range(3):
        crashed.kill_at(point, choose.randint(low, high), mode)
    print(crashed.summary(f"exact kills, {point}"))
    if point == "after-rename":
        assert crashed.after_swap == 3  # the new commit is the one that survives


def test_kill_between_rename_and_report_keeps_the_new_commit(tmp_path: Path):
    """One quick exact kill (the suite's fast path): the renamed manifest is the commit."""
    crashed = Crashed(tmp_path, f"{SEED}-quick")
    crashed.kill_at("after-rename", 1)
    assert crashed.after_swap == 1 and crashed.generation == 2
    crashed.kill_at("before-rename", 1)
    assert crashed.generation == 2
