"""Spelling suggestions for query words that no document has ("did you mean"): the index's own words
within a small edit distance, the closest first, then the most frequent.

The candidates of a word are the index's words near it (:meth:`~idsearch.reader.IndexReader.words_near`:
the same first letter, which spelling mistakes rarely change, and one edit at most for words of up to
four letters, two for longer ones): the terms of the searched fields and their exact forms (the words
as written, where stemming changed them), with how many documents have each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from idsearch.analysis import Analyzer
from idsearch.reader import IndexReader

__all__ = ["suggest_query", "suggest_word"]


def _allowed(word: str) -> int:
    """The edits a suggestion may be away: one for words of up to four letters, two for longer ones."""
    return 1 if len(word) <= 4 else 2


def suggest_word(reader: IndexReader, fields: Sequence[str], word: str, *, limit: int = 5) -> list[tuple[str, int]]:
    """Up to ``limit`` index words close to a normalized ``word`` (not ``word`` itself), as ``(word,
    documents)``: the fewest edits first, then the most documents, then in order."""
    near = reader.words_near(fields, word, _allowed(word)) if word else []
    return [(w, n) for w, _exact, n, _d in near if w != word][:limit]


_OPERATORS = frozenset({"AND", "OR", "NOT"})


def suggest_query(
    reader: IndexReader, analyzer: Analyzer, fields: Sequence[str], text: str, filter_fields: Sequence[str] = ()
) -> str | None:
    """``text`` with every word that no document has (in ``fields``) replaced by the closest index word,
    the rest of it (case, punctuation, operators, field names, the values of ``filter_fields:value``)
    as typed; None when no word needs it or none is close."""
    kept = []  # character ranges left as typed: filters (source:detik.com, date:2024-12)
    if filter_fields:
        names = "|".join(re.escape(f) for f in filter_fields)
        kept = [m.span() for m in re.finditer(rf'(?<![\w.])(?:{names}):(?:"[^"]*"?|\S*)', text)]
    changed = False
    pieces = []
    at = 0
    for token in analyzer.tokens(text):
        words = analyzer.words(token.text)
        if len(words) != 1 or not words[0].isalpha():
            continue  # (a number, or a part of a compound: left as typed)
        if token.text in _OPERATORS or text.startswith((":", "*", "~"), token.end) or any(a <= token.start < b for a, b in kept):
            continue
        if any(reader.document_frequency(f, token.term) for f in fields):
            continue
        best = suggest_word(reader, fields, words[0], limit=1)
        if not best:
            continue
        pieces.append(text[at : token.start])
        pieces.append(best[0][0])
        at = token.end
        changed = True
    if not changed:
        return None
    pieces.append(text[at:])
    return "".join(pieces)
