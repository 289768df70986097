"""idsearch: full-text search for Indonesian news.

Pipeline, one module per stage: ``analysis`` (tokenizer + filters, Sastrawi stemming) ->
``writer`` (buffers, analyzes, flushes immutable segments) -> ``segment`` (numpy arrays on disk) ->
``reader`` (a snapshot of one manifest generation) -> ``scoring`` (BM25F) -> ``query`` (parser) ->
``index`` (the public API) -> ``cli``.

Names are imported lazily so that ``import idsearch`` (and the CLI) start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Analyzer": "idsearch.analysis",
    "IndonesianAnalyzer": "idsearch.analysis",
    "AnalyzerSpec": "idsearch.analysis",
    "Token": "idsearch.analysis",
    "SastrawiStemmer": "idsearch.stemmer",
    "Index": "idsearch.index",
    "Hit": "idsearch.index",
    "Results": "idsearch.index",
    "Counts": "idsearch.index",
    "Schema": "idsearch.schema",
}

__all__ = ["__version__", *_EXPORTS]  # noqa: PLE0604 - the lazily imported names: strings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'idsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
