"""The code passes ruff (its version's default rules, less the two that pyproject.toml ignores with reasons):
CI runs this, so a finding fails the build like a failing test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff() -> str | None:
    beside = Path(sys.executable).with_name("ruff")  # the venv's, when its bin is not on PATH
    return str(beside) if beside.exists() else shutil.which("ruff")


def test_ruff_finds_nothing():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]' installs it)")
    result = subprocess.run([ruff, "check", "--no-cache", "idsearch", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
