"""The idsearch query language: a forgiving search-box syntax parsed into a small immutable AST.

What a query is
---------------
``parse_query(text, text_fields=..., keyword_fields=..., date_fields=...)`` (or a reusable
:class:`QueryParser`) turns what a user typed into a tree of frozen value objects:

* :class:`Term` -- one word, as typed (raw text; the executor analyses it with the index's analyzer,
  so stopwords, case, stemming and a word that splits into several tokens are the executor's business).
  ``field=None`` means "all text fields" (BM25F).
* :class:`Phrase` -- the raw text between quotes, with a ``slop`` (0 = exact adjacency).
* :class:`KeywordFilter` -- exact, case-insensitive match of a stored keyword field (not scored).
* :class:`DateRange` -- an inclusive range of days on a date field, either end may be open (not scored).
* :class:`BooleanQuery` -- ``must`` (all required), ``should`` (optional, add score; when there is no
  ``must`` clause at least one ``should`` clause must match), ``must_not`` (excluded), and a ``boost``.
  A BooleanQuery with only ``must_not`` clauses has no positive clause; Lucene lets such a query match
  nothing, and that is what the executor is expected to do.
* :class:`MatchNothing` -- the empty query (``""``, whitespace, ``()``).

:class:`KeywordFilter` and :class:`DateRange` derive from :class:`Filter`; :func:`is_filter` also
recognises a BooleanQuery made only of filters. Filters contribute no score. Boosts multiply scores.

Every node has ``to_text()`` (also its ``str()``), which writes the query back in this syntax so that
``parser.parse(q.to_text()) == q`` for every query the parser produces, under either default operator.
:func:`iter_nodes` walks a tree.

Syntax
------
* Words are separated by whitespace. Only these characters are syntax: whitespace, ``( )``, the quotes
  ``" “ ” „``, ``^``; ``+``/``-`` at the start of a clause; ``:`` after a known field name; ``~`` directly
  after a closing quote. Everything else -- hyphens inside words (``anak-anak``, ``covid-19``),
  apostrophes (``jum'at``), digits, Unicode letters, punctuation, a backslash -- is part of a word.
  There are no escapes. (A word's trailing ``*`` or ``~``/``~n`` stays in its :class:`Term`: the planner
  reads ``presid*`` as a prefix and ``presidn~`` as a fuzzy word, see :mod:`idsearch.planner`.)
* ``AND``, ``OR``, ``NOT`` (uppercase only) are operators; ``and``/``or``/``not``/``And`` are words.
  Precedence ``NOT`` > ``AND`` > ``OR``; two adjacent clauses are joined by the default operator
  (``"or"`` or ``"and"``) with that operator's precedence, so with the default ``or``,
  ``a b AND c`` is ``a OR (b AND c)``, and with ``and``, ``a b OR c`` is ``(a AND b) OR c``.
* ``+x`` requires x, ``-x`` and ``NOT x`` exclude it, in whatever list x stands: ``+a b -c`` is
  must=a, should=b, must_not=c (Lucene's reading).
* ``"exact phrase"`` (anything but a quote inside; stopwords, hyphens, repeated words are kept as typed),
  ``"a b"~2`` for a slop. The quote characters are interchangeable: any of them closes a phrase.
* ``field:word``, ``field:"phrase"``, ``field:(group)``. Field names are matched case-insensitively and
  stored in the spelling the parser was given. Inside a field group, words and phrases take that field
  unless they name their own. A word after ``field:`` is taken literally up to whitespace, a parenthesis,
  a quote or ``^`` -- it may contain ``:``, start with ``+``/``-`` or be ``AND``.
* Text fields give :class:`Term`/:class:`Phrase`; keyword fields give :class:`KeywordFilter`
  (``source:tribunnews``, ``source:"detik news"``, ``source:(detik OR kompas)``); date fields give
  :class:`DateRange`: ``date:2024-12-02`` (that day), ``date:2024-12`` (the month), ``date:2024``
  (the year), ``date:2024-12-01..2024-12-31``, ``date:2024-12-01..``, ``date:..2024-12-31`` (ends are
  inclusive; a month or year as start means its first day, as end its last day). Month and day may have
  one or two digits; spaces are allowed inside a quoted date value (``date:"2024-12-01 .. 2024-12-31"``).
* ``^n`` directly after a word, phrase or closing parenthesis boosts it (``putin^2``,
  ``"kota bandung"^1.5``, ``(a b)^3``); ``n`` is a non-negative decimal number (``1e3`` allowed).
  Boosts multiply through groups that collapse to one clause (``(a^2)^3`` is ``a^6``).

Normal form (what equal queries look like)
------------------------------------------
``a AND b`` is must=(a, b); ``a OR b`` is should=(a, b). Groups are flattened where that changes
nothing: a required group without should clauses merges into its parent (``a AND (b AND -c)`` is
must=(a, b), must_not=(c,)), an optional group of only should clauses merges into the parent's should,
an excluded group of only should clauses becomes several exclusions (``-(a OR b)`` is
must_not=(a, b)). A group with a boost is never merged. A BooleanQuery of one required or optional clause
is that clause (boost multiplied in). Clause order follows the query.

Filters: a filter clause joined to its neighbours by the implicit operator is *required*, whatever the
default operator: ``putin source:detik`` is must=(source:detik,), should=(putin,). Several such implicit
filters on the same field are alternatives (a story has one source, one date), so
``putin source:detik source:kompas`` requires ``(source:detik OR source:kompas)``; on different fields
they are all required. A filter written with an explicit ``OR`` beside it is an ordinary optional clause
(``source:detik OR source:kompas``); with ``+``/``-`` it is required/excluded. Under
``default_operator="and"`` adjacent clauses are all required anyway (``source:a source:b`` requires both).

Forgiving choices (none of these is an error)
---------------------------------------------
* A ``+``/``-`` (or a run of them) followed by whitespace, ``)``, the end, ``AND`` or ``OR`` is ignored:
  ``putin - suriah`` is ``putin suriah``. A run like ``--x`` or ``+-x`` is one operator; it excludes if
  it contains ``-``. ``NOT`` combined with ``+``/``-`` excludes.
* Punctuation-only words (``?``, ``,``, ``...``, ``!``) are plain :class:`Term` s; analysis removes them
  later, so a query of only punctuation or stopwords matches nothing. The parser does no stopword work.
* ``()`` and ``""`` (or a phrase of only spaces) are :class:`MatchNothing`: dropped from an OR list or
  an exclusion, and an AND with them matches nothing.
* A colon is literal when the text before it is not a name (``10:30``, ``:)``, ``2:1``), and when it
  ends a word that is not a known field (``Star Wars: Battlefront``).
* ``a OR NOT b`` and ``a OR (-b)`` mean ``a -b`` (exclusion of the whole list, as Lucene does).
* Boosts and slops on filters are accepted and ignored (filters are not scored).
* Curly and straight quotes may be mixed freely (``"kota bandung”``).

Not forgiven: a ``)`` is always syntax, so a smiley ``:)`` outside parentheses is an unbalanced
parenthesis, and ``name: value`` with a space is an empty field value (both errors point at the spot).

Errors
------
:class:`QuerySyntaxError` (a ``ValueError``) with ``.query``, ``.position`` (0-based character index),
``.reason`` and a message ending in the query and a caret under the position. Raised for: an unclosed
quote; an unclosed ``(`` or an unmatched ``)``; ``name:`` where name is not a known field (put the text in
quotes to search it literally; ``unknown: x`` with a space is plain text); an empty field value (``title:``, ``title: x``, ``title:""``,
``title:()``); an invalid date (``2024-02-30``, ``2024-13``, ``24-12-01``), a date range with no ends or
reversed ends; an operator with nothing on one side (``putin AND``, ``OR putin``, ``a AND OR b``,
``NOT``); a bad boost (``x^abc``, ``x^``, ``x^2^3``, a ``^`` not attached to a clause, a boost too large
to represent) or slop (``"a b"~x``, ``"a b"~``); parentheses nested deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import math
import re
from collections.abc import Iterable, Iterator
from typing import Literal

import attrs

__all__ = [
    "MATCH_NOTHING",
    "MAX_DEPTH",
    "MAX_SLOP",
    "BooleanQuery",
    "DateRange",
    "Filter",
    "KeywordFilter",
    "MatchNothing",
    "Phrase",
    "Query",
    "QueryParser",
    "QuerySyntaxError",
    "Term",
    "is_filter",
    "iter_nodes",
    "parse_query",
    "plain_words",
]

MAX_DEPTH = 100
"""Deepest nesting of parentheses accepted (keeps recursion far from Python's limit)."""

MAX_SLOP = 1_000_000
"""Largest phrase slop accepted."""


class QuerySyntaxError(ValueError):
    """A malformed query. ``position`` is the 0-based character index the problem was found at."""

    def __init__(self, reason: str, query: str, position: int, hint: str | None = None) -> None:
        self.reason = reason
        self.query = query
        self.position = position
        self.hint = hint
        shown = "".join(" " if ch.isspace() else ch for ch in query)
        message = f"{reason} at position {position}"
        if hint:
            message += f" ({hint})"
        super().__init__(f"{message}\n  {shown}\n  {' ' * position}^")


# --------------------------------------------------------------------------------------------- AST


def _nonempty_str(instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be a non-empty string, got {value!r}"
        )


def _optional_field(instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if value is not None:
        _nonempty_str(instance, attribute, value)


def _valid_boost(instance: object, attribute: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{type(instance).__name__}.boost must be finite and >= 0, got {value!r}")


def _valid_slop(instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SLOP:
        raise ValueError(f"Phrase.slop must be an int in 0..{MAX_SLOP}, got {value!r}")


def _valid_clauses(instance: object, attribute: attrs.Attribute, value: tuple) -> None:  # type: ignore[type-arg]
    for clause in value:
        if not isinstance(clause, _Node):
            raise TypeError(f"BooleanQuery.{attribute.name} holds a non-query {clause!r}")


class _Node:
    """Base of all query nodes: ``str()`` is the query text (see ``to_text``)."""

    __slots__ = ()

    def to_text(self) -> str:
        """This query in query syntax; parsing it gives back an equal query."""
        return _render(self, nested=False)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.to_text()


class Filter(_Node):
    """Base of the non-scoring nodes (they restrict the result set and contribute no score)."""

    __slots__ = ()


@attrs.frozen
class Term(_Node):
    """One word as typed; ``field=None`` searches every text field."""

    text: str = attrs.field(validator=_nonempty_str)
    field: str | None = attrs.field(default=None, validator=_optional_field)
    boost: float = attrs.field(default=1.0, converter=float, validator=_valid_boost)


@attrs.frozen
class Phrase(_Node):
    """The raw text between quotes: its words must occur in order within ``slop`` extra positions."""

    text: str = attrs.field(validator=_nonempty_str)
    field: str | None = attrs.field(default=None, validator=_optional_field)
    slop: int = attrs.field(default=0, validator=_valid_slop)
    boost: float = attrs.field(default=1.0, converter=float, validator=_valid_boost)


@attrs.frozen
class KeywordFilter(Filter):
    """Documents whose keyword ``field`` equals ``value`` (compared case-insensitively); not scored."""

    field: str = attrs.field(validator=_nonempty_str)
    value: str = attrs.field(validator=_nonempty_str)


@attrs.frozen
class DateRange(Filter):
    """Documents whose date ``field`` lies in ``start..end`` (inclusive days; None = open); not scored."""

    field: str = attrs.field(validator=_nonempty_str)
    start: _dt.date | None = None
    end: _dt.date | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, _dt.date) or isinstance(value, _dt.datetime)):
                raise TypeError(f"DateRange.{name} must be a datetime.date or None, got {value!r}")
        if self.start is None and self.end is None:
            raise ValueError("DateRange needs a start or an end")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"DateRange start {self.start} is after end {self.end}")


@attrs.frozen
class BooleanQuery(_Node):
    """``must`` clauses all match, ``must_not`` none, ``should`` add score (one needed if no ``must``)."""

    must: tuple[Query, ...] = attrs.field(default=(), converter=tuple, validator=_valid_clauses)
    should: tuple[Query, ...] = attrs.field(default=(), converter=tuple, validator=_valid_clauses)
    must_not: tuple[Query, ...] = attrs.field(default=(), converter=tuple, validator=_valid_clauses)
    boost: float = attrs.field(default=1.0, converter=float, validator=_valid_boost)


@attrs.frozen
class MatchNothing(_Node):
    """The empty query: matches no document."""


MATCH_NOTHING = MatchNothing()

Query = Term | Phrase | KeywordFilter | DateRange | BooleanQuery | MatchNothing
"""Any node of a parsed query."""


def is_filter(query: Query) -> bool:
    """True for non-scoring queries: a filter, or a BooleanQuery made only of filters."""
    if isinstance(query, Filter):
        return True
    if type(query) is BooleanQuery:
        clauses = query.must + query.should + query.must_not
        return bool(clauses) and all(is_filter(clause) for clause in clauses)
    return False


def iter_nodes(query: Query) -> Iterator[Query]:
    """Every node of ``query``, parents before children, clauses in must/should/must_not order."""
    stack: list[Query] = [query]
    while stack:
        node = stack.pop()
        yield node
        if type(node) is BooleanQuery:
            stack.extend(reversed(node.must + node.should + node.must_not))


# ------------------------------------------------------------------------------------ tokenizer

_QUOTES = '"\u201c\u201d\u201e'
_SPACE_RE = re.compile(r"\s*")
_WORD_RE = re.compile(r'[^\s()^"\u201c\u201d\u201e]+')
_QUOTE_RE = re.compile(r'["\u201c\u201d\u201e]')
_OPS_RE = re.compile(r"[+-]+")
_SYNTAX_RE = re.compile("[()^:" + _QUOTES + "]")  # a query without these may still hold +word, -word, AND
_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_SLOP_RE = re.compile(r"[0-9]+\Z")
_DATE_RE = re.compile(r"([0-9]{4})(?:-([0-9]{1,2})(?:-([0-9]{1,2}))?)?\Z")

_WORD, _PHRASE, _LPAREN, _RPAREN, _AND, _OR, _NOT, _PLUS, _MINUS, _FIELD, _CARET = range(11)
_KEYWORDS = {"AND": _AND, "OR": _OR, "NOT": _NOT}
_CLAUSE_START = frozenset({_WORD, _PHRASE, _LPAREN, _FIELD, _NOT, _PLUS, _MINUS})

_TEXT, _KEYWORD, _DATE = "text", "keyword", "date"

# A token is (kind, position, text, extra): text is the word/phrase/field name/keyword, extra is the
# phrase slop, the field kind, or the boost value.
_Token = tuple[int, int, str | None, object]


def plain_words(query: str) -> list[str] | None:
    """The words of a query that holds no syntax at all (no quotes, parentheses, fields, boosts, ``+``/``-``
    or operators: the common query), or None. With the default operator OR such a query means any of
    its words, each a :class:`Term`."""
    if _SYNTAX_RE.search(query):
        return None
    words = query.split()
    if not words or any(w in _KEYWORDS or w[0] in "+-" for w in words):
        return None
    return words


def _tokenize(query: str, lookup: dict[str, tuple[str, str]]) -> list[_Token]:
    tokens: list[_Token] = []
    append = tokens.append
    n = len(query)
    i = 0
    last_end = -1  # where the last word, phrase or ')' ended: a '^' there is attached to it
    while True:
        i = _SPACE_RE.match(query, i).end()  # type: ignore[union-attr]
        if i >= n:
            return tokens
        c = query[i]
        if c == "(":
            append((_LPAREN, i, "(", None))
            i += 1
        elif c == ")":
            append((_RPAREN, i, ")", None))
            i += 1
            last_end = i
        elif c in _QUOTES:
            i = last_end = _phrase_token(query, i, tokens)
        elif c == "^":
            if last_end != i:
                hint = "a boost was already given" if tokens and tokens[-1][0] == _CARET else None
                raise QuerySyntaxError(
                    "'^' must directly follow a word, phrase or closing parenthesis", query, i, hint
                )
            m = _WORD_RE.match(query, i + 1)
            number = m.group() if m else ""
            if not number:
                raise QuerySyntaxError("missing boost number after '^'", query, i, "write e.g. putin^2")
            if not _NUMBER_RE.match(number):
                raise QuerySyntaxError(
                    f"invalid boost {number!r}", query, i, "expected a number like 2 or 1.5"
                )
            value = float(number)
            if not math.isfinite(value):
                raise QuerySyntaxError(f"boost {number!r} is too large", query, i)
            append((_CARET, i, number, value))
            i = m.end()  # type: ignore[union-attr]
        elif c in "+-":
            j = _OPS_RE.match(query, i).end()  # type: ignore[union-attr]
            if j >= n or query[j] == ")" or query[j].isspace():
                i = j  # a stray +/- with nothing to apply to
                continue
            m = _WORD_RE.match(query, j)
            if m is not None and m.group() in ("AND", "OR"):
                i = j  # a stray +/- before a binary operator
                continue
            append((_MINUS if "-" in query[i:j] else _PLUS, i, query[i:j], None))
            i = j
        else:
            m = _WORD_RE.match(query, i)
            word = m.group()  # type: ignore[union-attr]
            end = m.end()  # type: ignore[union-attr]
            keyword = _KEYWORDS.get(word)
            if keyword is not None:
                append((keyword, i, word, None))
                i = end
                continue
            colon = word.find(":")
            if colon > 0:
                name = word[:colon]
                spec = lookup.get(name.casefold())
                if spec is not None:
                    append((_FIELD, i, spec[0], spec[1]))
                    i += colon + 1
                    if i >= n or query[i] in ")^" or query[i].isspace():
                        raise QuerySyntaxError(
                            f"empty value for field {spec[0]!r}",
                            query,
                            i,
                            f'write {spec[0]}:word, {spec[0]}:"some words" or {spec[0]}:(...)',
                        )
                    if query[i] in _QUOTES or query[i] == "(":
                        continue
                    m = _WORD_RE.match(query, i)
                    append((_WORD, i, m.group(), None))  # type: ignore[union-attr]
                    i = last_end = m.end()  # type: ignore[union-attr]
                    continue
                trailing = colon == len(word) - 1  # "Wars: Battlefront": a colon ending a word is punctuation
                if name.isidentifier() and not trailing:
                    known = ", ".join(sorted(spec[0] for spec in lookup.values()))
                    raise QuerySyntaxError(
                        f"unknown field {name!r}",
                        query,
                        i,
                        f"known fields: {known or 'none'}; put the text in quotes to search it literally",
                    )
            append((_WORD, i, word, None))
            i = last_end = end


def _phrase_token(query: str, i: int, tokens: list[_Token]) -> int:
    m = _QUOTE_RE.search(query, i + 1)
    if m is None:
        raise QuerySyntaxError("unbalanced quote", query, i, "this quote is never closed")
    close = m.start()
    end = close + 1
    slop = 0
    if end < len(query) and query[end] == "~":
        s = _WORD_RE.match(query, end + 1)
        digits = s.group() if s else ""
        if not digits:
            raise QuerySyntaxError("missing slop number after '~'", query, end, 'write e.g. "a b"~2')
        if not _SLOP_RE.match(digits):
            raise QuerySyntaxError(f"invalid slop {digits!r}", query, end, "expected a whole number")
        if len(digits.lstrip("0")) > 7 or int(digits) > MAX_SLOP:
            raise QuerySyntaxError(f"slop {digits} is too large", query, end, f"at most {MAX_SLOP}")
        slop = int(digits)
        end = s.end()  # type: ignore[union-attr]
    tokens.append((_PHRASE, i, query[i + 1 : close], slop))
    return end


# --------------------------------------------------------------------------------------- parser

_DEFAULT, _MUST, _SHOULD, _MUST_NOT = range(4)


class _Builder:
    """Collects clauses of one BooleanQuery and produces its normal form."""

    __slots__ = ("must", "must_not", "nothing", "should")

    def __init__(self) -> None:
        self.must: list[Query | list[Filter]] = []
        self.should: list[Query] = []
        self.must_not: list[Query] = []
        self.nothing = False

    def add(self, occur: int, node: Query) -> None:
        if type(node) is MatchNothing:
            if occur == _MUST:
                self.nothing = True
            return
        if type(node) is BooleanQuery and node.boost == 1.0:
            if occur == _MUST and not node.should:
                self.must.extend(node.must)
                self.must_not.extend(node.must_not)
                return
            if occur == _SHOULD and not node.must:
                if not node.must_not:
                    self.should.extend(node.should)
                    return
                if not node.should:  # `a OR (-b)` reads as `a -b`, like `a OR NOT b`
                    self.must_not.extend(node.must_not)
                    return
            if occur == _MUST_NOT and not node.must and not node.must_not:
                self.must_not.extend(node.should)  # NOT (a OR b) == NOT a AND NOT b
                return
        if occur == _MUST:
            self.must.append(node)
        elif occur == _SHOULD:
            self.should.append(node)
        else:
            self.must_not.append(node)

    def build(self) -> Query:
        if self.nothing:
            return MATCH_NOTHING
        must: list[Query] = []
        for entry in self.must:
            if type(entry) is list:  # implicit filters on one field: any of them
                must.append(entry[0] if len(entry) == 1 else BooleanQuery(should=entry))
            else:
                must.append(entry)  # type: ignore[arg-type]
        should, must_not = self.should, self.must_not
        if not must_not and len(must) + len(should) == 1:
            return (must or should)[0]
        if not (must or should or must_not):
            return MATCH_NOTHING
        return BooleanQuery(tuple(must), tuple(should), tuple(must_not))


class _Parse:
    """State of one parse: the token list and a cursor."""

    __slots__ = ("default_and", "i", "n", "query", "tokens")

    def __init__(self, query: str, tokens: list[_Token], default_and: bool) -> None:
        self.query = query
        self.tokens = tokens
        self.n = len(tokens)
        self.i = 0
        self.default_and = default_and

    def error(self, reason: str, position: int, hint: str | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(reason, self.query, position, hint)

    def run(self) -> Query:
        if not self.tokens:
            return MATCH_NOTHING
        node = self.or_expr(None, 0)
        if self.i < self.n:  # only an unmatched ')' can stop the top level early
            raise self.error("unbalanced parenthesis", self.tokens[self.i][1], "')' has no matching '('")
        return node

    def expect_operand(self, op: _Token) -> None:
        if self.i >= self.n or self.tokens[self.i][0] == _RPAREN:
            raise self.error(f"{op[2]} has nothing after it", op[1])
        nxt = self.tokens[self.i]
        if nxt[0] in (_AND, _OR):
            raise self.error(f"{nxt[2]} has nothing before it", nxt[1])

    def or_expr(self, ctx: tuple[str, str] | None, depth: int) -> Query:
        tokens = self.tokens
        items = [self.and_expr(ctx, depth)]
        touched = [False]
        while self.i < self.n:
            kind = tokens[self.i][0]
            if kind == _OR:
                op = tokens[self.i]
                self.i += 1
                self.expect_operand(op)
                items.append(self.and_expr(ctx, depth))
                touched[-1] = True
                touched.append(True)
            elif not self.default_and and kind in _CLAUSE_START:
                items.append(self.and_expr(ctx, depth))
                touched.append(False)
            else:
                break
        if len(items) == 1 and items[0][0] == _DEFAULT:
            return items[0][1]
        builder = _Builder()
        groups: dict[str, list[Filter]] = {}
        for (occur, node), explicit in zip(items, touched):
            if occur != _DEFAULT:
                builder.add(occur, node)
            elif explicit or not is_filter(node):
                builder.add(_SHOULD, node)
            elif isinstance(node, Filter):
                group = groups.get(node.field)  # type: ignore[union-attr]
                if group is None:
                    group = groups[node.field] = []  # type: ignore[union-attr]
                    builder.must.append(group)
                group.append(node)
            else:
                builder.add(_MUST, node)
        return builder.build()

    def and_expr(self, ctx: tuple[str, str] | None, depth: int) -> tuple[int, Query]:
        tokens = self.tokens
        first = self.unary(ctx, depth)
        items = None
        while self.i < self.n:
            kind = tokens[self.i][0]
            if kind == _AND:
                op = tokens[self.i]
                self.i += 1
                self.expect_operand(op)
            elif not (self.default_and and kind in _CLAUSE_START):
                break
            if items is None:
                items = [first]
            items.append(self.unary(ctx, depth))
        if items is None:
            return first
        builder = _Builder()
        for occur, node in items:
            builder.add(_MUST_NOT if occur == _MUST_NOT else _MUST, node)
        return _DEFAULT, builder.build()

    def unary(self, ctx: tuple[str, str] | None, depth: int) -> tuple[int, Query]:
        occur = _DEFAULT
        tokens = self.tokens
        while self.i < self.n:
            tok = tokens[self.i]
            kind = tok[0]
            if kind == _NOT or kind == _MINUS:
                occur = _MUST_NOT
            elif kind == _PLUS:
                if occur != _MUST_NOT:
                    occur = _MUST
            else:
                break
            self.i += 1
            if kind == _NOT and (self.i >= self.n or tokens[self.i][0] not in _CLAUSE_START):
                raise self.error("NOT has nothing after it", tok[1])
        return occur, self.primary(ctx, depth)

    def primary(self, ctx: tuple[str, str] | None, depth: int) -> Query:
        if self.i >= self.n:
            raise self.error("expected a word, phrase or group", len(self.query))
        tok = self.tokens[self.i]
        kind = tok[0]
        if kind == _WORD:
            self.i += 1
            node = self.word(tok, ctx)
        elif kind == _PHRASE:
            self.i += 1
            node = self.phrase(tok, ctx, direct=False)
        elif kind == _LPAREN:
            node = self.group(tok, ctx, depth, direct=False)
        elif kind == _FIELD:
            self.i += 1
            field_ctx = (tok[2], tok[3])
            value = self.tokens[self.i]  # the tokenizer guarantees a value follows
            if value[0] == _WORD:
                self.i += 1
                node = self.word(value, field_ctx)  # type: ignore[arg-type]
            elif value[0] == _PHRASE:
                self.i += 1
                node = self.phrase(value, field_ctx, direct=True)  # type: ignore[arg-type]
            else:
                node = self.group(value, field_ctx, depth, direct=True)  # type: ignore[arg-type]
        elif kind == _RPAREN:
            raise self.error("unbalanced parenthesis", tok[1], "')' has no matching '('")
        else:
            raise self.error(f"{tok[2]} has nothing before it", tok[1])
        if self.i < self.n and self.tokens[self.i][0] == _CARET:
            caret = self.tokens[self.i]
            self.i += 1
            node = self.boosted(node, caret[3], caret[1])  # type: ignore[arg-type]
        return node

    def group(self, lparen: _Token, ctx: tuple[str, str] | None, depth: int, direct: bool) -> Query:
        if depth >= MAX_DEPTH:
            raise self.error("parentheses nested too deeply", lparen[1], f"at most {MAX_DEPTH} levels")
        self.i += 1
        if self.i < self.n and self.tokens[self.i][0] == _RPAREN:
            self.i += 1
            if direct:
                raise self.error(f"empty value for field {ctx[0]!r}", lparen[1])  # type: ignore[index]
            return MATCH_NOTHING
        if self.i >= self.n:
            raise self.error("unbalanced parenthesis", lparen[1], "'(' is never closed")
        node = self.or_expr(ctx, depth + 1)
        if self.i >= self.n:  # or_expr only stops early at a ')'
            raise self.error("unbalanced parenthesis", lparen[1], "'(' is never closed")
        self.i += 1
        return node

    def boosted(self, node: Query, factor: float, position: int) -> Query:
        if factor == 1.0 or not isinstance(node, (Term, Phrase, BooleanQuery)):
            return node  # filters and MatchNothing are not scored
        boost = node.boost * factor
        if not math.isfinite(boost):
            raise self.error("boost is too large", position)
        return attrs.evolve(node, boost=boost)

    def word(self, tok: _Token, ctx: tuple[str, str] | None) -> Query:
        text: str = tok[2]  # type: ignore[assignment]
        if ctx is None:
            return Term(text)
        field, kind = ctx
        if kind == _TEXT:
            return Term(text, field)
        if kind == _KEYWORD:
            return KeywordFilter(field, text)
        return self.date_range(field, text, tok[1])

    def phrase(self, tok: _Token, ctx: tuple[str, str] | None, direct: bool) -> Query:
        text: str = tok[2]  # type: ignore[assignment]
        if ctx is None or ctx[1] == _TEXT:
            if not text.strip():
                if direct:
                    raise self.error(f"empty value for field {ctx[0]!r}", tok[1])  # type: ignore[index]
                return MATCH_NOTHING
            return Phrase(text, None if ctx is None else ctx[0], tok[3])  # type: ignore[arg-type]
        field, kind = ctx
        value = text.strip() if kind == _KEYWORD else "".join(text.split())
        if not value:
            raise self.error(f"empty value for field {field!r}", tok[1])
        if kind == _KEYWORD:
            return KeywordFilter(field, value)
        return self.date_range(field, value, tok[1] + 1)

    def date_range(self, field: str, value: str, position: int) -> DateRange:
        if ".." not in value:
            start, end = self.date_span(field, value, position)
            return DateRange(field, start, end)
        low, _, high = value.partition("..")
        start = self.date_span(field, low, position)[0] if low else None
        end = self.date_span(field, high, position + len(low) + 2)[1] if high else None
        if start is None and end is None:
            raise self.error(
                f"date range for field {field!r} has neither start nor end",
                position,
                f"write {field}:2024-12-01..2024-12-31, {field}:2024-12-01.. or {field}:..2024-12-31",
            )
        if start is not None and end is not None and start > end:
            raise self.error(
                f"date range for field {field!r} ends before it starts", position, f"{low} > {high}"
            )
        return DateRange(field, start, end)

    def date_span(self, field: str, text: str, position: int) -> tuple[_dt.date, _dt.date]:
        m = _DATE_RE.match(text)
        if m is None:
            raise self.error(
                f"invalid date {text!r} for field {field!r}", position, "expected YYYY-MM-DD, YYYY-MM or YYYY"
            )
        year, month, day = m.groups()
        try:
            if day is not None:
                first = last = _dt.date(int(year), int(month), int(day))
            elif month is not None:
                first = _dt.date(int(year), int(month), 1)
                last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
            else:
                first, last = _dt.date(int(year), 1, 1), _dt.date(int(year), 12, 31)
        except ValueError as exc:
            raise self.error(f"invalid date {text!r} for field {field!r}", position, str(exc)) from None
        return first, last


class QueryParser:
    """A parser configured with an index's fields; ``parse(text)`` returns a :data:`Query`.

    ``text_fields`` are searched by words and phrases, ``keyword_fields`` filter on exact keywords,
    ``date_fields`` filter on date ranges. Field names must be identifiers and distinct
    (case-insensitively). ``default_operator`` ("or"/"and") joins adjacent clauses.
    """

    __slots__ = ("_lookup", "date_fields", "default_operator", "keyword_fields", "text_fields")

    def __init__(
        self,
        *,
        text_fields: Iterable[str],
        keyword_fields: Iterable[str] = (),
        date_fields: Iterable[str] = (),
        default_operator: Literal["or", "and"] = "or",
    ) -> None:
        if not isinstance(default_operator, str) or default_operator.lower() not in ("or", "and"):
            raise ValueError(f"default_operator must be 'or' or 'and', got {default_operator!r}")
        self.default_operator = default_operator.lower()
        for names in (text_fields, keyword_fields, date_fields):
            if isinstance(names, str):
                raise TypeError(f"field names must be a collection of names, not the string {names!r}")
        self.text_fields = frozenset(text_fields)
        self.keyword_fields = frozenset(keyword_fields)
        self.date_fields = frozenset(date_fields)
        lookup: dict[str, tuple[str, str]] = {}
        for names, kind in (
            (self.text_fields, _TEXT),
            (self.keyword_fields, _KEYWORD),
            (self.date_fields, _DATE),
        ):
            for name in sorted(names):
                if not isinstance(name, str) or not name.isidentifier():
                    raise ValueError(f"field name must be an identifier, got {name!r}")
                key = name.casefold()
                if key in lookup:
                    raise ValueError(
                        f"field {name!r} is declared twice (as {lookup[key][1]} and {kind} field)"
                    )
                lookup[key] = (name, kind)
        self._lookup = lookup

    def parse(self, text: str) -> Query:
        """Parse ``text``; raises :class:`QuerySyntaxError` if it is malformed."""
        if not isinstance(text, str):
            raise TypeError(f"query must be a str, got {type(text).__name__}")
        if self.default_operator == "or":
            words = plain_words(text)  # (the common query): what the parser would make of them
            if words is not None:
                return Term(words[0]) if len(words) == 1 else BooleanQuery(should=tuple(Term(w) for w in words))
        tokens = _tokenize(text, self._lookup)
        return _Parse(text, tokens, self.default_operator == "and").run()

    def __repr__(self) -> str:
        return (
            f"QueryParser(text_fields={sorted(self.text_fields)}, keyword_fields={sorted(self.keyword_fields)}, "
            f"date_fields={sorted(self.date_fields)}, default_operator={self.default_operator!r})"
        )


@functools.lru_cache(maxsize=64)
def _cached_parser(
    text_fields: frozenset[str],
    keyword_fields: frozenset[str],
    date_fields: frozenset[str],
    default_operator: str,
) -> QueryParser:
    return QueryParser(
        text_fields=text_fields,
        keyword_fields=keyword_fields,
        date_fields=date_fields,
        default_operator=default_operator,  # type: ignore[arg-type]
    )


def parse_query(
    text: str,
    *,
    text_fields: Iterable[str],
    keyword_fields: Iterable[str] = (),
    date_fields: Iterable[str] = (),
    default_operator: Literal["or", "and"] = "or",
) -> Query:
    """Parse a search-box query (see the module docstring); raises :class:`QuerySyntaxError`."""
    parser = _cached_parser(
        frozenset(text_fields), frozenset(keyword_fields), frozenset(date_fields), default_operator
    )
    return parser.parse(text)


# -------------------------------------------------------------------------------------- rendering


def _format_boost(boost: float) -> str:
    if boost == 1.0:
        return ""
    text = repr(boost)
    return "^" + (text.removesuffix(".0"))


def _bare_word(text: str) -> str:
    """``text`` as an unfielded word, or ValueError if the parser would not read it back as one."""
    colon = text.find(":")
    if (
        _WORD_RE.fullmatch(text) is None
        or text[0] in "+-"
        or text in _KEYWORDS
        or (colon > 0 and colon < len(text) - 1 and text[:colon].isidentifier())
    ):
        raise ValueError(f"Term text {text!r} cannot be written as a bare word in query syntax")
    return text


def _quoted(text: str) -> str:
    if _QUOTE_RE.search(text) is not None or not text.strip():
        raise ValueError(f"text {text!r} cannot be written between quotes in query syntax")
    return f'"{text}"'


def _render(node: Query, nested: bool) -> str:
    kind = type(node)
    if kind is Term:
        if node.field is None:  # type: ignore[union-attr]
            text = _bare_word(node.text)  # type: ignore[union-attr]
        elif _WORD_RE.fullmatch(node.text) is None:  # type: ignore[union-attr]
            raise ValueError(f"Term text {node.text!r} cannot be written in query syntax")  # type: ignore[union-attr]
        else:
            text = f"{node.field}:{node.text}"  # type: ignore[union-attr]
        return text + _format_boost(node.boost)  # type: ignore[union-attr]
    if kind is Phrase:
        prefix = "" if node.field is None else f"{node.field}:"  # type: ignore[union-attr]
        slop = f"~{node.slop}" if node.slop else ""  # type: ignore[union-attr]
        return prefix + _quoted(node.text) + slop + _format_boost(node.boost)  # type: ignore[union-attr]
    if kind is KeywordFilter:
        value = node.value  # type: ignore[union-attr]
        if _WORD_RE.fullmatch(value) is None:
            value = _quoted(value)
            if value[1:-1] != value[1:-1].strip():
                raise ValueError(f"keyword value {node.value!r} has surrounding whitespace")  # type: ignore[union-attr]
        return f"{node.field}:{value}"  # type: ignore[union-attr]
    if kind is DateRange:
        start, end = node.start, node.end  # type: ignore[union-attr]
        if start == end:
            return f"{node.field}:{start.isoformat()}"  # type: ignore[union-attr]
        low = "" if start is None else start.isoformat()
        high = "" if end is None else end.isoformat()
        return f"{node.field}:{low}..{high}"  # type: ignore[union-attr]
    if kind is MatchNothing:
        return "()" if nested else ""
    if kind is BooleanQuery:
        must = ["+" + _render(c, True) for c in node.must]  # type: ignore[union-attr]
        must_not = ["-" + _render(c, True) for c in node.must_not]  # type: ignore[union-attr]
        if node.should:  # type: ignore[union-attr]
            # explicit ORs make should clauses optional under either default operator
            body = " OR ".join(must + [_render(c, True) for c in node.should] + must_not)  # type: ignore[union-attr]
        else:
            body = " ".join(must + must_not)
        if not body:
            return "()" if nested else ""
        if nested or node.boost != 1.0:  # type: ignore[union-attr]
            return f"({body}){_format_boost(node.boost)}"  # type: ignore[union-attr]
        return body
    raise TypeError(f"not a query node: {node!r}")
