"""idsearch's Indonesian analysis as a Whoosh analyzer (install the extra: ``pip install idsearch[whoosh]``).

    >>> from whoosh.fields import ID, TEXT, Schema
    >>> from idsearch.whoosh import IndonesianAnalyzer
    >>> schema = Schema(id=ID(stored=True), body=TEXT(analyzer=IndonesianAnalyzer(), stored=True))

:class:`IndonesianAnalyzer` yields Whoosh tokens whose ``text`` is the idsearch term (``bertemu`` and
``pertemuan`` both give ``temu``), with word positions (``pos``, so phrase queries work) and character
offsets into the original text (``startchar``/``endchar``, so Whoosh's highlighter marks ``Bertemu`` as it
was written).

Whoosh pickles the schema into its index. This analyzer pickles by reference to its plain-data
description: only the :class:`~idsearch.analysis.AnalyzerSpec` dict is stored, and the idsearch
:class:`~idsearch.analysis.Analyzer` (stemmer, word cache) is rebuilt lazily, on first use after
unpickling. A stemmer built with a custom root dictionary is not stored either: the rebuilt analyzer uses
the default dictionary and refuses to run if its hash differs from the recorded one.

Whoosh is imported only here; the rest of idsearch never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from whoosh.analysis import Analyzer as _WhooshAnalyzer
from whoosh.analysis import Token as _WhooshToken

from idsearch.analysis import Analyzer, AnalyzerSpec, normalize_text
from idsearch.analysis import IndonesianAnalyzer as _make_analyzer

__all__ = ["IndonesianAnalyzer"]


class IndonesianAnalyzer(_WhooshAnalyzer):  # type: ignore[misc]  # whoosh is untyped
    """A Whoosh analyzer running idsearch's Indonesian analysis (normalize, tokenize, Sastrawi stemming,
    optional stopwords). Options are those of :func:`idsearch.analysis.IndonesianAnalyzer`.

    Whoosh call flags are honoured: ``positions`` (``pos``, offset by ``start_pos``), ``chars``
    (``startchar``/``endchar``, offset by ``start_char``), ``keeporiginal`` (``original`` = the text as
    written), ``removestops`` (``False`` yields stopwords too, marked ``stopped``), ``tokenize=False`` (the
    whole value as one normalized token, as Whoosh's range and wildcard queries expect) and ``mode``
    (``"index"``/``"query"``): both modes yield the same terms - a query must be analyzed like the text it
    searches - and the mode is recorded on the token."""

    is_morph = True  # it stems: Whoosh then knows indexed terms are not the words as written

    def __init__(
        self,
        *,
        stemmer: str = "sastrawi",
        stopwords: str | Iterable[str] | Path = "none",
        add_stopwords: Iterable[str] = (),
        remove_stopwords: Iterable[str] = (),
        protected: Iterable[str] | Path = (),
        sastrawi: Any = None,
    ) -> None:
        analyzer = _make_analyzer(
            stemmer=stemmer,
            stopwords=stopwords,
            add_stopwords=add_stopwords,
            remove_stopwords=remove_stopwords,
            protected=protected,
            sastrawi=sastrawi,
        )
        self._setup(analyzer.spec, analyzer, sastrawi)

    # -- construction -------------------------------------------------------------------------------------

    def _setup(self, spec: AnalyzerSpec, analyzer: Analyzer | None, sastrawi: Any) -> None:
        self._spec = spec
        self._analyzer = analyzer
        self._sastrawi = sastrawi  # a custom stemmer object, kept in memory only (never pickled)
        self._with_stops: Analyzer | None = None  # the same analysis without stopwords (removestops=False)

    @classmethod
    def from_analyzer(cls, analyzer: Analyzer) -> IndonesianAnalyzer:
        """Wrap an existing idsearch analyzer (sharing its word cache: words it has seen are not stemmed
        again). Pickles like any other: as its spec."""
        if not isinstance(analyzer, Analyzer):
            raise TypeError(f"expected an idsearch Analyzer, not {type(analyzer).__name__}")
        self = cls.__new__(cls)
        self._setup(analyzer.spec, analyzer, None)
        return self

    @classmethod
    def from_spec(cls, spec: AnalyzerSpec | Mapping[str, Any]) -> IndonesianAnalyzer:
        """The analyzer described by ``spec`` (an AnalyzerSpec or its dict); built lazily on first use."""
        if not isinstance(spec, AnalyzerSpec):
            spec = AnalyzerSpec.from_dict(spec)
        self = cls.__new__(cls)
        self._setup(spec, None, None)
        return self

    @property
    def spec(self) -> AnalyzerSpec:
        """The plain-data description of the analysis (what a pickled schema stores)."""
        return self._spec

    @property
    def analyzer(self) -> Analyzer:
        """The idsearch analyzer doing the work (built on first use after unpickling)."""
        analyzer = self._analyzer
        if analyzer is None:
            try:
                analyzer = Analyzer(self._spec)
            except ValueError as exc:
                raise ValueError(f"idsearch.whoosh.IndonesianAnalyzer: cannot rebuild the analyzer: {exc}") from None
            self._analyzer = analyzer
        return analyzer

    # -- pickling: by reference to the spec ---------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        return (_from_spec_dict, (self._spec.to_dict(),))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndonesianAnalyzer) and other._spec == self._spec

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._spec)

    def __repr__(self) -> str:
        options = {k: v for k, v in self._spec.to_dict().items() if k not in ("name", "dictionary_hash") and v}
        return f"IndonesianAnalyzer({', '.join(f'{k}={v!r}' for k, v in options.items())})"

    # -- analysis -----------------------------------------------------------------------------------------

    def _has_stopwords(self) -> bool:
        spec = self._spec
        return spec.stopwords != "none" or bool(spec.stopwords_added)

    def _stopword_analyzer(self) -> Analyzer:
        """The same analysis with no stopword list: it gives the terms of the words the real one drops."""
        if self._with_stops is None:
            spec = attrs.evolve(
                self._spec, stopwords="none", stopword_words=(), stopwords_added=(), stopwords_removed=()
            )
            self._with_stops = Analyzer(spec, stemmer=self._sastrawi)
        return self._with_stops

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Yield Whoosh tokens for ``value``. Like Whoosh's own tokenizers, one Token object is yielded
        again and again with new attributes (consumers copy what they keep)."""
        if not isinstance(value, str):
            raise TypeError(f"IndonesianAnalyzer analyzes str, not {type(value).__name__}")
        analyzer = self.analyzer
        token = _WhooshToken(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            yield from self._whole(token, value, analyzer, positions, chars, keeporiginal, start_pos, start_char)
            return
        if not (chars or keeporiginal) and (removestops or not self._has_stopwords()):
            # the indexing fast path: terms and positions without offsets
            terms, term_positions = analyzer.analyze(value)
            for term, pos in zip(terms, term_positions):
                token.text = term
                token.boost = 1.0
                token.stopped = False
                if positions:
                    token.pos = start_pos + pos
                yield token
            return
        tokens = analyzer.tokens(value)
        if not removestops and self._has_stopwords():
            kept = {t.position for t in tokens}
            everything = self._stopword_analyzer().tokens(value)
            stopped = {id(t) for t in everything if t.position not in kept}
            tokens = everything
        else:
            stopped = set()
        for t in tokens:
            token.text = t.term
            token.boost = 1.0
            token.stopped = id(t) in stopped
            if keeporiginal:
                token.original = t.text
            if positions:
                token.pos = start_pos + t.position
            if chars:
                token.startchar = start_char + t.start
                token.endchar = start_char + t.end
            yield token

    @staticmethod
    def _whole(token: Any, value: str, analyzer: Analyzer, positions: bool, chars: bool, keeporiginal: bool,
               start_pos: int, start_char: int) -> Iterator[Any]:
        """``tokenize=False``: the value as one token (Whoosh's range and wildcard queries). A value that is
        exactly one word gets its term, so a range bound compares with indexed terms; anything else (a
        wildcard pattern such as ``temu*``) is only normalized."""
        text = normalize_text(value)
        if analyzer.words(text) == [text]:
            terms = analyzer.word_terms(text)
            if len(terms) == 1:
                text = terms[0]
        token.text = text
        token.boost = 1.0
        token.stopped = False
        if keeporiginal:
            token.original = value
        if positions:
            token.pos = start_pos
        if chars:
            token.startchar = start_char
            token.endchar = start_char + len(value)
        yield token


def _from_spec_dict(spec: dict[str, Any]) -> IndonesianAnalyzer:
    """Unpickling entry point: rebuild the Whoosh analyzer from its stored spec (lazily)."""
    return IndonesianAnalyzer.from_spec(spec)
