"""Snippets: the best passage of a stored text with the matched words marked.

Matching is stem-aware: every word of the text is analyzed (memoized, as at indexing) and marked when one
of its terms is a query term, so the query ``pertemuan`` (term ``temu``) marks ``bertemu`` and
``pertemuan``. The marked words are the original words of the text, with their original spelling.

The passage is the window of at most ``max_chars`` characters that holds the most distinct query terms
(then the most matches), widened to word boundaries; ``…`` shows where text was cut.
"""

from __future__ import annotations

import html
from collections.abc import Collection

import attrs

from idsearch.analysis import _TOKEN_RE, Analyzer, _normalize_with_offsets

__all__ = ["STYLES", "Highlighter", "Style", "snippet"]


@attrs.frozen
class Style:
    """How marked words and cuts look: ``before``/``after`` around a match; ``escape`` for HTML."""

    before: str
    after: str
    ellipsis: str = "…"
    escape: bool = False


STYLES = {
    "plain": Style("[", "]"),
    "ansi": Style("\x1b[1;31m", "\x1b[0m"),
    "html": Style("<mark>", "</mark>", escape=True),
    "none": Style("", ""),
}


def _matches(analyzer: Analyzer, text: str, terms: Collection[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) in ``text`` of every word (or compound part) whose analysis hits a term."""
    if not terms:
        return []
    if text.isascii():
        normalized, offsets = text.lower(), None
    else:
        normalized, offsets = _normalize_with_offsets(text)
    word_terms = analyzer.word_terms
    out = []
    for m in _TOKEN_RE.finditer(normalized):
        wt = word_terms(m.group())
        hit = next((t for t in wt if t in terms), None)
        if hit is None:
            continue
        if len(wt) > 1:  # mark the matching parts of a split compound only
            for tok in analyzer.tokens(text[_orig(offsets, m.start()) : _orig_end(offsets, m.end())]):
                if tok.term in terms:
                    base = _orig(offsets, m.start())
                    out.append((base + tok.start, base + tok.end, tok.term))
            continue
        out.append((_orig(offsets, m.start()), _orig_end(offsets, m.end()), hit))
    return out


def _orig(offsets: list[int] | None, i: int) -> int:
    return i if offsets is None else offsets[i]


def _orig_end(offsets: list[int] | None, i: int) -> int:
    return i if offsets is None else offsets[i - 1] + 1


class Highlighter:
    """Makes snippets with one analyzer (the index's)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer

    def snippet(
        self,
        text: str,
        terms: Collection[str],
        *,
        max_chars: int = 240,
        style: str | Style = "plain",
    ) -> str:
        """The best passage of ``text`` for the query ``terms`` (analyzed terms), matches marked."""
        st = STYLES[style] if isinstance(style, str) else style
        text = text or ""
        terms = frozenset(terms)
        matches = _matches(self.analyzer, text, terms)
        start, end = _best_window(text, matches, max_chars)
        return _render(text, start, end, [m for m in matches if m[0] >= start and m[1] <= end], st)

    def highlight(self, text: str, terms: Collection[str], *, style: str | Style = "plain") -> str:
        """The whole ``text`` with matches marked."""
        st = STYLES[style] if isinstance(style, str) else style
        return _render(text, 0, len(text), _matches(self.analyzer, text, frozenset(terms)), st)


def _best_window(text: str, matches: list[tuple[int, int, str]], max_chars: int) -> tuple[int, int]:
    n = len(text)
    if n <= max_chars:
        return 0, n
    if not matches:
        return 0, _word_end(text, max_chars)
    best = (-1, -1, 0)
    j = 0
    counts: dict[str, int] = {}
    for i in range(len(matches)):
        # extend j while the window [matches[i].start, matches[j].end] fits
        while j < len(matches) and matches[j][1] - matches[i][0] <= max_chars:
            counts[matches[j][2]] = counts.get(matches[j][2], 0) + 1
            j += 1
        score = (len(counts), j - i)
        if score > best[:2]:
            best = (score[0], score[1], i)
        term = matches[i][2]
        counts[term] -= 1
        if not counts[term]:
            del counts[term]
    first = matches[best[2]]
    last = matches[best[2] + best[1] - 1]
    span = last[1] - first[0]
    slack = max_chars - span
    start = max(0, first[0] - min(slack // 3, first[0]))
    end = min(n, start + max_chars)
    start = max(0, end - max_chars)
    return _word_start(text, start), _word_end(text, end)


def _word_start(text: str, i: int) -> int:
    if i <= 0:
        return 0
    j = i
    while j < len(text) and not text[j - 1].isspace():
        j += 1
        if j - i > 20:
            return i
    return j


def _word_end(text: str, i: int) -> int:
    if i >= len(text):
        return len(text)
    j = i
    while j > 0 and not text[j].isspace():
        j -= 1
        if i - j > 20:
            return i
    return j


def _render(text: str, start: int, end: int, matches: list[tuple[int, int, str]], st: Style) -> str:
    esc = html.escape if st.escape else (lambda s: s)
    out = []
    if start > 0:
        out.append(st.ellipsis)
    pos = start
    for a, b, _term in matches:
        if a < pos:
            continue
        out.append(esc(text[pos:a]))
        out.append(st.before + esc(text[a:b]) + st.after)
        pos = b
    out.append(esc(text[pos:end]))
    if end < len(text):
        out.append(st.ellipsis)
    return " ".join("".join(out).split())


def snippet(analyzer: Analyzer, text: str, terms: Collection[str], **options: object) -> str:
    """Shortcut for ``Highlighter(analyzer).snippet(text, terms, ...)``."""
    return Highlighter(analyzer).snippet(text, terms, **options)  # type: ignore[arg-type]
