"""Shared fixtures: the ../shared data set beside the checkout (CI has it; skip clearly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests derandomized (a fixed seed: a red CI is reproducible, never a coin toss);
# developers' runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IDSEARCH_SHARED", REPO.parent / "shared"))
SEED = REPO / "corpus" / "tribunnews_putin_pezeshkian_2024-12-02.txt"


def shared_path(*parts: str) -> Path:
    """Path inside ../shared, or skip the calling test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data set beside the checkout; set IDSEARCH_SHARED to move it)")
    return path


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")
