"""Fixtures of the test suite (helpers that tests import live in ``_support``)."""

from __future__ import annotations

import os

import pytest
from _support import SEED
from hypothesis import settings

# CI runs the property tests derandomized (a fixed seed: a red CI is reproducible, never a coin toss);
# developers' runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")
