"""Helpers shared by the tests: the ../shared data set beside the checkout (CI has it; tests skip clearly
when it is absent) and the embedded seed article. (A plain module, not conftest: benchmarks/ has its own
conftest, and ``import conftest`` would find whichever was imported first.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IDSEARCH_SHARED", REPO.parent / "shared"))
SEED = REPO / "corpus" / "tribunnews_putin_pezeshkian_2024-12-02.txt"


def shared_path(*parts: str) -> Path:
    """Path inside ../shared, or skip the calling test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data set beside the checkout; set IDSEARCH_SHARED to move it)")
    return path
