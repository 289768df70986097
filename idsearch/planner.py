"""The query planner: a parsed query (``idsearch.query``'s syntax tree) -> an executable tree of analyzed
terms, phrases and filters (``idsearch.reader``'s nodes).

Words and phrases are analyzed with the index's analyzer here, so queries and documents agree:

- a word that analyzes to several terms (``covid-19``, ``al-Assad``, ``2/12/2024``) becomes a phrase;
- a word or phrase that analyzes to nothing (a stopword, punctuation) is dropped; a query left with no
  positive clause matches nothing (so does a query of only exclusions, as in Lucene);
- a phrase keeps the gaps of removed stopwords, as the indexed documents do;
- unfielded words search the text fields chosen for the search; ``title:putin`` searches that field;
- identical clauses count once (``pertemuan bertemu`` both stem to ``temu``);
- a word that stemming changes also scores its exact form (``pertemuan`` in the ``.exact`` fields), with
  the schema's ``exact`` weight: exact matches rank higher, inflections still match. Exclusions and
  phrases use stems only.
- the schema's ``query_stopwords`` (interrogatives: ``siapa``, ``apakah``...) are dropped from a query's
  optional words when another word remains: a question's answer rarely repeats them, and they would
  favour documents that are questions themselves. Phrases and required words keep them.
- a word with a trailing ``*`` (``presid*``) is a :class:`~idsearch.reader.PrefixNode`, which a reader
  expands into the index's words that begin so (its terms, and its exact forms: ``pemberant*`` finds
  ``pemberantasan``, whose stem is ``berantas``);
- a word with a trailing ``~`` (``presidn~``, ``pezeshkian~1``) is a :class:`~idsearch.reader.FuzzyNode`:
  the word as it analyzes, and the index's words within that many edits of it (without a number: one
  for words of three to five letters, two for longer ones; two at most), which a reader finds;
- with a :class:`SynonymTable`, unquoted words that spell one expression of a synonym group (``kpk``,
  ``komisi pemberantasan korupsi``: compared as the analyzer's terms, so case and inflection do not
  matter) become an OR of every expression of the group, the words of an expression as a phrase;
  quoted phrases stay as they are.
"""

from __future__ import annotations

import datetime as _dt
import re
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from idsearch.analysis import Analyzer
from idsearch.query import (
    BooleanQuery,
    DateRange,
    KeywordFilter,
    MatchNothing,
    Phrase,
    Query,
    QueryParser,
    Term,
    plain_words,
)
from idsearch.reader import BoolNode, DateNode, FuzzyNode, KeywordNode, Node, PhraseNode, PrefixNode, TermNode
from idsearch.schema import Schema, exact_field

__all__ = ["SynonymTable", "compile_query", "plan"]

_EPOCH = _dt.date(1970, 1, 1)
_PARSERS: dict[tuple[Schema, str], QueryParser] = {}
# per analyzer, how query words were planned: words recur across queries, and an analyzer's analysis of a
# word never changes (its spec is fixed); cleared when it holds more than _MEMO_SIZE entries (three per word
# of a plain query: its node, whether it is a stopword, and both together, all from one analysis; 15 k entries
# took about 7 MB with the word analyses they cached; the benchmark's 300 eval questions alone plan about
# 3,000 words, which cleared a memo of 4 k entries before its shorter queries ran)
_MEMO: weakref.WeakKeyDictionary[Analyzer, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()
_MEMO_SIZE = 1 << 15
_MISSING = object()


def _memo(analyzer: Analyzer) -> dict[tuple[Any, ...], Any]:
    memo = _MEMO.get(analyzer)
    if memo is None:
        memo = _MEMO[analyzer] = {}
    elif len(memo) > _MEMO_SIZE:
        memo.clear()
    return memo


def _parser(schema: Schema, default_operator: str) -> QueryParser:
    key = (schema, default_operator)
    parser = _PARSERS.get(key)
    if parser is None:
        parser = QueryParser(
            text_fields=set(schema.text_field_names),
            keyword_fields=set(schema.keyword_fields),
            date_fields=set(schema.date_fields),
            default_operator=default_operator,  # type: ignore[arg-type]
        )
        _PARSERS[key] = parser
    return parser


def compile_query(
    text: str,
    schema: Schema,
    analyzer: Analyzer,
    fields: Sequence[str],
    default_operator: str = "or",
    *,
    syntax: bool = True,
    synonyms: SynonymTable | None = None,
) -> Node | None:
    """Parse and plan a query string for an index with this schema and analyzer.

    With ``syntax=False`` the text is plain words (nothing is an operator: for pasted headlines and
    questions). Raises :class:`idsearch.query.QuerySyntaxError` for a malformed query."""
    if default_operator not in ("or", "and"):
        raise ValueError(f"default_operator must be 'or' or 'and', not {default_operator!r}")
    if not isinstance(text, str):
        raise TypeError(f"query must be a str, got {type(text).__name__}")
    stop = frozenset(schema.query_stopwords)
    # plain words (the common query) are planned as they are: what the parser and plan() would make of
    # them with OR, without building its query objects first
    plain = text.split() if not syntax else plain_words(text) if default_operator == "or" else None
    if plain is not None and syntax and ("*" in text or "~" in text) and any(_is_pattern(w) for w in plain):
        plain = None  # a prefix (presid*) or a fuzzy word (presidn~): the parser's way
    if plain is not None:
        fields = tuple(fields)
        memo = _memo(analyzer)
        items = []
        for w in plain:  # (a word's node and whether it is a query stopword, remembered together)
            key = ("word", w, fields, schema.exact, stop)
            item = memo.get(key)
            if item is None:
                item = memo[key] = _plain_word(analyzer, w, fields, schema.exact, stop)
            items.append(item)
        if synonyms is not None:
            items = synonyms.replace(plain, items, fields, schema.exact)
        words = tuple(dict.fromkeys(_without_stopwords(items)))
        if not words:
            return None
        if len(words) == 1:
            return words[0]
        return BoolNode(must=words) if default_operator == "and" else BoolNode(should=words)
    return plan(_parser(schema, default_operator).parse(text), analyzer, tuple(fields), schema.exact, stop, synonyms)


class SynonymTable:
    """Groups of words and phrases that a query treats as one (``kpk``, ``komisi pemberantasan
    korupsi``), each expression known by the terms the index's analyzer makes of it."""

    def __init__(self, groups: Iterable[Iterable[str]], analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.groups: list[tuple[str, ...]] = []
        self._starts: dict[str, list[tuple[tuple[str, ...], int]]] = {}  # first term -> (terms, group)
        for group in groups:
            if isinstance(group, str):
                raise TypeError(f"a synonym group is a list of words or phrases, not the string {group!r}")
            expressions: dict[tuple[str, ...], str] = {}  # terms -> the text first given for them
            for text in group:
                text = " ".join(text.split())
                terms = tuple(analyzer.analyze(text)[0])
                if not terms:
                    raise ValueError(f"synonym {text!r} is only stopwords or punctuation to this index's analyzer")
                expressions.setdefault(terms, text)
            if len(expressions) < 2:
                raise ValueError(f"a synonym group needs two words or phrases at least, not {list(group)!r}")
            number = len(self.groups)
            self.groups.append(tuple(expressions.values()))
            for terms in expressions:
                self._starts.setdefault(terms[0], []).append((terms, number))
        for entries in self._starts.values():
            entries.sort(key=lambda entry: -len(entry[0]))  # the longest expression first

    def runs(self, words: Sequence[str]) -> list[tuple[int, int, int]]:
        """``(first word, end word, group)`` of each expression spelled by whole consecutive words, the
        longest first, left to right, without overlaps."""
        flat: list[str] = []
        owner: list[int] = []  # the word each term comes from
        for i, word in enumerate(words):
            for term in self.analyzer.analyze(word)[0]:
                flat.append(term)
                owner.append(i)
        found = []
        k = 0
        while k < len(flat):
            for terms, group in self._starts.get(flat[k], ()):
                end = k + len(terms)
                if end > len(flat) or tuple(flat[k:end]) != terms:
                    continue
                if (k == 0 or owner[k - 1] != owner[k]) and (end == len(flat) or owner[end] != owner[end - 1]):
                    found.append((owner[k], owner[end - 1] + 1, group))
                    k = end
                    break
            else:
                k += 1
        return found

    def replace(self, words: Sequence[str], items: list[Any], fields: tuple[str, ...], exact: float) -> list[Any]:
        """``items`` (one per word, as ``(node, is a query stopword)``) with each run of words that spells an
        expression replaced by one item: the group's :meth:`node` in ``fields``, not a stopword."""
        runs = self.runs(words)
        if not runs:
            return items
        out = list(items)
        for start, end, group in reversed(runs):
            out[start:end] = [(self.node(group, fields, exact), False)]
        return out

    def node(self, group: int, fields: tuple[str, ...], exact: float, boost: float = 1.0) -> Node | None:
        """An OR of the group's expressions (a word with its exact form, several words as a phrase)."""
        nodes = (_analyzed(self.analyzer, text, fields, 0, boost, exact) for text in self.groups[group])
        alternatives = tuple(dict.fromkeys(n for n in nodes if n is not None))
        return BoolNode(should=alternatives) if len(alternatives) > 1 else (alternatives[0] if alternatives else None)


def _without_stopwords(items: Sequence[tuple[Node | None, bool]], *, other_words: bool = False) -> list[Node]:
    """The nodes of ``(node, is a query stopword)`` items, without the stopwords when another word is
    left (``other_words``: one is elsewhere in the query)."""
    if other_words or any(node is not None and not stop for node, stop in items):
        items = [item for item in items if not item[1]]
    return [node for node, _stop in items if node is not None]


def _plain_word(
    analyzer: Analyzer, text: str, fields: tuple[str, ...], exact: float, stop: frozenset[str]
) -> tuple[Node | None, bool]:
    """A plain query word's node and whether it is a query stopword, from one analysis of the word; both
    are remembered where :func:`_analyzed` and :func:`_is_stopword` remember them, so that a parsed query
    (a question with punctuation, say) reuses them for the same word."""
    words = analyzer.words(text)
    return _analyzed(analyzer, text, fields, 0, 1.0, exact, words), _is_stopword(analyzer, text, stop, words)


def _is_stopword(analyzer: Analyzer, text: str, stop: frozenset[str], words: list[str] | None = None) -> bool:
    """Whether a query word is a query stopword (every normalized word of it in ``stop``); ``words``: its
    normalized words, when known already."""
    if not stop:
        return False
    memo = _memo(analyzer)
    key = ("stop", text, stop)
    found = memo.get(key)
    if found is None:
        if words is None:
            words = analyzer.words(text)
        found = memo[key] = bool(words) and all(w in stop for w in words)
    return found


def _analyzed(
    analyzer: Analyzer,
    text: str,
    fields: tuple[str, ...],
    slop: int,
    boost: float,
    exact: float = 0.0,
    words: list[str] | None = None,
) -> Node | None:
    memo = _memo(analyzer)
    key = ("node", text, fields, slop, boost, exact)
    found = memo.get(key, _MISSING)
    if found is _MISSING:
        found = memo[key] = _analyze_node(analyzer, text, fields, slop, boost, exact, words)
    return found  # type: ignore[no-any-return]


def _analyze_node(
    analyzer: Analyzer,
    text: str,
    fields: tuple[str, ...],
    slop: int,
    boost: float,
    exact: float,
    words: list[str] | None = None,
) -> Node | None:
    """The node of a word or phrase; ``words``: its normalized words, when known already."""
    if words is None:
        words = analyzer.words(text)
    if len(words) == 1:  # one word (the common case): its terms and exact form as indexing memoized them
        ((word_terms, form),) = analyzer.word_analyses(words)
        if not word_terms:
            return None
        if len(word_terms) == 1:
            node = TermNode(word_terms[0], fields, boost)
            if exact and form is not None:  # the word as written scores on top of its stem
                return BoolNode(should=(node, TermNode(form, tuple(exact_field(f) for f in fields), boost * exact)))
            return node
    terms, positions = analyzer.analyze(text)
    if not terms:
        return None
    if len(terms) == 1:
        node = TermNode(terms[0], fields, boost)
        if exact:
            form = analyzer.word_exact(words[0]) if len(words) == 1 else None
            if form is not None:  # the word as written scores on top of its stem
                return BoolNode(should=(node, TermNode(form, tuple(exact_field(f) for f in fields), boost * exact)))
        return node
    base = positions[0]
    return PhraseNode(tuple(terms), tuple(p - base for p in positions), fields, slop, boost)


def plan(
    query: Query,
    analyzer: Analyzer,
    fields: tuple[str, ...],
    exact: float = 0.0,
    stop: frozenset[str] = frozenset(),
    synonyms: SynonymTable | None = None,
) -> Node | None:
    """The executable node of a parsed query, or None when it can match nothing. ``exact`` > 0 adds an
    exact-form clause with that weight to every word that stemming changes; optional words in ``stop``
    are dropped when another positive clause remains; ``synonyms`` expand unquoted words."""
    if isinstance(query, Term):
        searched = (query.field,) if query.field else fields
        prefix = _prefix(analyzer, query.text)
        if prefix is not None:
            return PrefixNode(prefix, searched, query.boost)
        fuzzy = _fuzzy(analyzer, query.text)
        if fuzzy is not None:
            word, edits, typed = fuzzy
            base = _analyzed(analyzer, typed, searched, 0, query.boost, exact)
            return FuzzyNode(word, edits, searched, query.boost, base) if edits else base
        if synonyms is not None and query.field is None:
            runs = synonyms.runs([query.text])
            if runs:
                return synonyms.node(runs[0][2], fields, exact, query.boost)
        return _analyzed(analyzer, query.text, searched, 0, query.boost, exact)
    if isinstance(query, Phrase):
        return _analyzed(analyzer, query.text, (query.field,) if query.field else fields, query.slop, query.boost)
    if isinstance(query, KeywordFilter):
        return KeywordNode(query.field, " ".join(query.value.split()).casefold())
    if isinstance(query, DateRange):
        start = None if query.start is None else (query.start - _EPOCH).days
        end = None if query.end is None else (query.end - _EPOCH).days
        return DateNode(query.field, start, end)
    if isinstance(query, MatchNothing):
        return None
    if isinstance(query, BooleanQuery):
        # identical clauses count once: "pertemuan bertemu" is one term (temu) after stemming
        # (a plain word's synonyms are _expand's, with the runs of words around it: not looked up twice)
        must_items = [(plan(q, analyzer, fields, exact, stop, None if _plain_word_clause(q) else synonyms), False)
                      for q in query.must]
        optional = [(plan(q, analyzer, fields, exact, stop, None if _plain_word_clause(q) else synonyms),
                     isinstance(q, Term) and _is_stopword(analyzer, q.text, stop)) for q in query.should]
        if synonyms is not None:
            must_items = _expand(query.must, must_items, synonyms, fields, exact)
            optional = _expand(query.should, optional, synonyms, fields, exact)
        must = tuple(dict.fromkeys(n for n, _stop in must_items if n is not None))
        scoring_must = any(not isinstance(n, (KeywordNode, DateNode)) for n in must)
        should = tuple(dict.fromkeys(_without_stopwords(optional, other_words=scoring_must)))
        must_not = tuple(dict.fromkeys(n for n in (plan(q, analyzer, fields) for q in query.must_not) if n is not None))
        should = tuple(n for n in should if n not in must)
        if not must and not should:
            return None
        if len(must) + len(should) == 1 and not must_not and query.boost == 1.0:
            return (must or should)[0]
        return BoolNode(should=should, must=must, must_not=must_not, boost=query.boost)
    raise TypeError(f"not a query node: {query!r}")


def _expand(
    clauses: Sequence[Query], items: list[Any], synonyms: SynonymTable, fields: tuple[str, ...], exact: float
) -> list[Any]:
    """The planned ``items`` of a BooleanQuery's clauses, each run of consecutive plain words (unfielded,
    not boosted) that spells a synonym expression replaced by the group's OR."""
    out: list[Any] = []
    run: list[int] = []  # clauses of the current run of plain words

    def flush() -> None:
        if not run:
            return
        words = [clauses[i].text for i in run]  # type: ignore[union-attr]
        out.extend(synonyms.replace(words, [items[i] for i in run], fields, exact))
        run.clear()

    for i, clause in enumerate(clauses):
        if _plain_word_clause(clause):
            run.append(i)
            continue
        flush()
        out.append(items[i])
    flush()
    return out


def _plain_word_clause(clause: Query) -> bool:
    """Whether a clause is a plain word (unfielded, not boosted, no prefix or fuzzy mark): what a run of
    words that may spell a synonym expression is made of."""
    return isinstance(clause, Term) and clause.field is None and clause.boost == 1.0 and not _is_pattern(clause.text)


_FUZZY_RE = re.compile(r"(.*[^~])~([0-9]*)\Z", re.DOTALL)
MAX_EDITS = 2  # the most edits a fuzzy word may ask for (presidn~9 allows two)


def _is_pattern(text: str) -> bool:
    """Whether a word is typed as a prefix (``presid*``) or as a fuzzy word (``presidn~``, ``jokowi~1``)."""
    return text.endswith("*") or _FUZZY_RE.match(text) is not None


def _fuzzy(analyzer: Analyzer, text: str) -> tuple[str, int, str] | None:
    """A word typed with a trailing ``~`` and an optional number of edits (``presidn~``, ``jokowi~1``) as
    ``(word, edits, text before the tilde)``, the word normalized as words are (not stemmed: it is compared
    with the index's words), or None: no tilde, or not one word of letters, two at least (then the text is
    searched as it is). Without a number a word may be :func:`_fuzzy_edits` edits away, with one that
    many, up to ``MAX_EDITS``."""
    m = _FUZZY_RE.match(text)
    if m is None:
        return None
    words = analyzer.words(m.group(1))
    if len(words) != 1 or len(words[0]) < 2 or not words[0].isalpha():
        return None
    edits = min(int(m.group(2)), MAX_EDITS) if m.group(2) else _fuzzy_edits(words[0])
    return words[0], min(edits, len(words[0]) - 1), m.group(1)  # (fewer edits than letters: ab~2 is ab~1)


def _fuzzy_edits(word: str) -> int:
    """The edits a fuzzy word without a number allows (Elasticsearch's ``AUTO``): none for words of two
    letters, one for three to five, two for longer ones."""
    return 0 if len(word) <= 2 else 1 if len(word) <= 5 else MAX_EDITS


def _prefix(analyzer: Analyzer, text: str) -> str | None:
    """The prefix of a word typed with a trailing ``*`` (``presid*``, ``Pezeshk*``), normalized as words
    are (not stemmed: it is compared with the index's words), or None: no star, or fewer than two
    letters before it (then the word is searched as it is)."""
    if not text.endswith("*"):
        return None
    words = analyzer.words(text.rstrip("*"))
    if len(words) != 1 or len(words[0]) < 2:
        return None
    return words[0]
