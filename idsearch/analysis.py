"""Analysis: Indonesian news text -> index terms.

A Lucene-style chain, described by plain data (:class:`AnalyzerSpec`) so an index can record which analyzer
built it:

1. **normalize**: Unicode NFKC, then case folding; typographic apostrophes and hyphens become ASCII.
2. **tokenize**: words are runs of letters and digits joined by hyphens or apostrophes (``anak-anak``,
   ``covid-19``, ``jum'at``); digit groups joined by ``.``/``,`` form one number (``2.000.000``, ``2,5``);
   everything else (spaces, punctuation, ``/`` and ``:`` in dates and times, en/em dashes) separates words.
3. **word filters**, applied once per *distinct* word and memoized (a news corpus repeats its words; the
   cost of analysis scales with the vocabulary, not the token count):

   - apostrophes are dropped (``jum'at`` -> ``jumat``, ``qur'an`` -> ``quran``); an English possessive
     ``'s`` is removed (``putin's`` -> ``putin``);
   - thousands separators are dropped from numbers (``2.000.000`` -> ``2000000``; ``2,5`` stays);
   - protected words (names, places the user lists, or the built-in ``"news"`` list) are never stemmed;
   - words with digits or letters outside ASCII are not stemmed (``g20``, ``2024``, ``café``);
   - stemming: Sastrawi (Nazief-Adriani/ECS), exactly as PySastrawi stems the word, over pysastrawi's root
     dictionary or one the user brings (``dictionary=``, ``extra_roots=``); optionally with measured
     corrections of known wrong stems (``corrections=True``, see :class:`idsearch.stemmer.CorrectedStemmer`);
   - a hyphenated word that Sastrawi reduces to one root (reduplication: ``anak-anak`` -> ``anak``,
     ``berbalas-balasan`` -> ``balas``, ``sela-sela`` -> ``sela``) is one term. Other hyphenated words
     (``al-assad``, ``covid-19``, ``serba-serbi``) become their parts at consecutive positions, each part
     analyzed on its own, so ``assad`` finds ``al-assad`` and the query ``covid-19`` is a phrase.
     A trailing hyphenated clitic (``putin-nya``, ``tuhan-mu``) is dropped;
   - stopwords are removed (after stemming checks use the surface form): they keep their position, so a
     phrase with a stopword inside still needs the words around it to be that far apart.

Two paths give the same terms: :meth:`Analyzer.analyze` (terms and positions, the indexing hot path:
C-speed regex and dict lookups) and :meth:`Analyzer.tokens` (adds character offsets into the original
text, for snippets and highlighting).
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from idsearch.stopwords import StopwordSet, resolve_stopwords

try:  # the compiled tokenizer pass of scan_words (optional: its numpy code finds the same words)
    from idsearch import _kernel
except ImportError:  # pragma: no cover - depends on the build
    _kernel = None

__all__ = [
    "Analyzer",
    "AnalyzerSpec",
    "IndonesianAnalyzer",
    "Token",
    "normalize_text",
]

# Typographic apostrophes and hyphens count as ASCII ones inside words; they are mapped per distinct word
# (memoized), not per text.
_APOSTROPHES = "'\u2019\u2018\u02bc`"
_HYPHENS = "-\u2010\u2011\u00ad"
_SOFT_HYPHEN = "\u00ad"  # invisible: joins the parts of one word
_TYPOGRAPHY = str.maketrans(
    {c: "'" for c in _APOSTROPHES[1:]} | {"\u2010": "-", "\u2011": "-", _SOFT_HYPHEN: None}
)
_PART_SPLIT_RE = re.compile("[-\u2010\u2011]")

# A word: letters/digits, optionally joined by hyphens or apostrophes; or a number with . , separators.
_WORD = f"[^\\W_]+(?:[{_HYPHENS}{_APOSTROPHES}][^\\W_]+)*"  # '-' first: a literal, not a range
_NUMBER = r"\d+(?:[.,]\d+)+(?![^\W_])"
_TOKEN_RE = re.compile(f"{_NUMBER}|{_WORD}")
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_DIGIT_RE = re.compile("[0-9]")
_CLITICS = frozenset({"nya", "ku", "mu", "lah", "kah", "tah", "pun"})


def normalize_text(text: str) -> str:
    """NFKC + case folding: the text the tokenizer sees (ASCII text needs only case folding)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).casefold()


@attrs.frozen(slots=True)
class Token:
    """One analyzed term with where it came from.

    ``text`` is the original slice ``source[start:end]``; ``term`` is what is indexed; ``position`` counts
    word slots (a removed stopword still takes one)."""

    term: str
    position: int
    start: int
    end: int
    text: str


def _string_tuple(value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(sorted({normalize_text(v).strip() for v in value if v and v.strip()}))


def _root_tuple(value: Iterable[str] | str | None) -> tuple[str, ...]:
    """Dictionary roots as the stemmer reads them (stripped, deduplicated, sorted; case kept, so the
    dictionary hash is that of the same words given to :class:`~idsearch.stemmer.SastrawiStemmer`)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(sorted({v.strip() for v in value if v and v.strip()}))


def _rule_tuple(value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(sorted(set(value)))


BUILTIN_PROTECTED = ("none", "news")
"""Built-in protected-word lists: ``"news"`` is ``idsearch/data/protected_news.txt`` (names and places of
the shared news corpus that Sastrawi turns into another root, derived by ``tools/derive_protected.py``)."""


def builtin_protected_words(name: str) -> tuple[str, ...]:
    """The words of a built-in protected list (``"none"`` or ``"news"``)."""
    if name == "none":
        return ()
    if name != "news":
        raise ValueError(
            f"unknown built-in protected list {name!r}: expected one of {', '.join(BUILTIN_PROTECTED)}"
        )
    import importlib.resources

    text = (
        importlib.resources.files("idsearch")
        .joinpath("data", "protected_news.txt")
        .read_text(encoding="utf-8")
    )
    return tuple(w for w in (line.split("#", 1)[0].strip() for line in text.splitlines()) if w)


@attrs.frozen
class AnalyzerSpec:
    """Plain-data description of an analyzer: stored in an index manifest, rebuilt on open. No pickle.

    - ``stemmer``: ``"sastrawi"`` or ``"none"``.
    - ``stopwords``: a built-in list name (``"none"``, ``"minimal"``, ``"sastrawi"``) or ``"custom"`` with
      the words in ``stopword_words``; ``stopwords_added``/``stopwords_removed`` edit the chosen list.
    - ``protected``: words never stemmed (all of them, including those of a built-in list, so that a
      saved index does not depend on the list shipped with a later version); ``protected_builtin``
      names the built-in list they include (``"none"`` or ``"news"``), for the record.
    - ``dictionary``: ``"pysastrawi"`` (the root list inside the pysastrawi package) or ``"custom"``
      with the roots in ``dictionary_words``; ``extra_roots`` are added to either.
    - ``corrections``: names of the :class:`~idsearch.stemmer.CorrectedStemmer` rules in force (empty:
      stems are exactly PySastrawi's).
    - ``dictionary_hash``: identity of the stemmer's root dictionary (set when the analyzer is built).
    """

    name: str = "indonesian"
    stemmer: str = attrs.field(default="sastrawi")
    stopwords: str = "none"
    stopword_words: tuple[str, ...] = attrs.field(default=(), converter=_string_tuple)
    stopwords_added: tuple[str, ...] = attrs.field(default=(), converter=_string_tuple)
    stopwords_removed: tuple[str, ...] = attrs.field(default=(), converter=_string_tuple)
    protected: tuple[str, ...] = attrs.field(default=(), converter=_string_tuple)
    protected_builtin: str = "none"
    dictionary: str = attrs.field(default="pysastrawi")
    dictionary_words: tuple[str, ...] = attrs.field(default=(), converter=_root_tuple, repr=False)
    extra_roots: tuple[str, ...] = attrs.field(default=(), converter=_root_tuple)
    corrections: tuple[str, ...] = attrs.field(default=(), converter=_rule_tuple)
    dictionary_hash: str | None = None

    @stemmer.validator
    def _check_stemmer(self, _attr: Any, value: str) -> None:
        if value not in ("sastrawi", "none"):
            raise ValueError(f"unknown stemmer {value!r}: expected 'sastrawi' or 'none'")

    @dictionary.validator
    def _check_dictionary(self, _attr: Any, value: str) -> None:
        if value not in ("pysastrawi", "custom"):
            raise ValueError(f"unknown dictionary {value!r}: expected 'pysastrawi' or 'custom'")
        if value == "custom" and not self.dictionary_words:
            raise ValueError("a custom dictionary needs its words (dictionary_words)")
        if value == "pysastrawi" and self.dictionary_words:
            raise ValueError("dictionary_words are only for dictionary='custom'")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stemmer": self.stemmer,
            "stopwords": self.stopwords,
            "stopword_words": list(self.stopword_words),
            "stopwords_added": list(self.stopwords_added),
            "stopwords_removed": list(self.stopwords_removed),
            "protected": list(self.protected),
            "protected_builtin": self.protected_builtin,
            "dictionary": self.dictionary,
            "dictionary_words": list(self.dictionary_words),
            "extra_roots": list(self.extra_roots),
            "corrections": list(self.corrections),
            "dictionary_hash": self.dictionary_hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalyzerSpec:
        known = {a.name for a in attrs.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"analyzer description has unknown keys: {sorted(unknown)}")
        kwargs = dict(data)
        for key in (
            "stopword_words",
            "stopwords_added",
            "stopwords_removed",
            "protected",
            "dictionary_words",
            "extra_roots",
            "corrections",
        ):
            value = kwargs.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"analyzer description: {key!r} must be a list of strings")
        for key in ("name", "stemmer", "stopwords", "protected_builtin", "dictionary"):
            if key in kwargs and not isinstance(kwargs[key], str):
                raise ValueError(f"analyzer description: {key!r} must be a string")
        return cls(**kwargs)


class Analyzer:
    """Turns text into terms. Built from an :class:`AnalyzerSpec`; the same analyzer serves indexing and
    queries. Word results are memoized per distinct word (``word_cache``), which an index persists."""

    def __init__(self, spec: AnalyzerSpec | None = None, *, stemmer: Any = None) -> None:
        spec = spec or AnalyzerSpec()
        self._stopwords: StopwordSet = resolve_stopwords(
            spec.stopwords, spec.stopword_words, added=spec.stopwords_added, removed=spec.stopwords_removed
        )
        self._protected = frozenset(spec.protected)
        self._stem: Callable[[str], str] | None = None
        if spec.stemmer == "sastrawi":
            if stemmer is None:
                stemmer = _build_stemmer(spec)
            else:
                spec = _describe_stemmer(spec, stemmer)
            self._stem = stemmer.stem
            dictionary_hash = getattr(stemmer, "dictionary_hash", None)
            if spec.dictionary_hash is not None and dictionary_hash != spec.dictionary_hash:
                raise ValueError(
                    f"the stemmer's dictionary (hash {dictionary_hash}) is not the one this analyzer was built"
                    f" with (hash {spec.dictionary_hash}); pass the same dictionary"
                )
            spec = attrs.evolve(spec, dictionary_hash=dictionary_hash)
        self.spec = spec
        # distinct normalized word -> its terms: () for a stopword, (t,) usually, (t1, t2, ...) for compounds
        self.word_cache: dict[str, tuple[str, ...]] = {}
        self.exact_cache: dict[str, str | None] = {}
        self.stem_calls = 0

    # -- per-word analysis (memoized) -------------------------------------------------------------------------

    def word_terms(self, word: str) -> tuple[str, ...]:
        """Terms for one normalized word (as the tokenizer yields it). Memoized."""
        terms = self.word_cache.get(word)
        if terms is None:
            terms = self._analyze_word(word)
            self.word_cache[word] = terms
        return terms

    def word_exact(self, word: str) -> str | None:
        """The exact form of a normalized word when stemming changed it (``pertemuan`` for ``temu``,
        ``bekasi`` for ``bekas``), else None: indexed beside the stem so exact matches can score higher
        while inflections still match. Memoized."""
        cache = self.exact_cache
        if word in cache:
            return cache[word]
        exact = None
        if self._stem is not None:
            terms = self.word_terms(word)
            if len(terms) == 1:
                cleaned = _clean_word(word)
                if cleaned != terms[0] and _stemmable(cleaned):
                    exact = cleaned
        cache[word] = exact
        return exact

    def word_analyses(self, words: Iterable[str]) -> list[tuple[tuple[str, ...], str | None]]:
        """``(word_terms(w), word_exact(w))`` for every word, memoized the same way; a word of ASCII letters
        (most of them) takes a short path: it has nothing to clean or split."""
        cache, exact_cache, stem = self.word_cache, self.exact_cache, self._stem
        out: list[tuple[tuple[str, ...], str | None]] = []
        append = out.append
        for word in words:
            terms = cache.get(word)
            if terms is not None and word in exact_cache:
                append((terms, exact_cache[word]))
            elif word.isascii() and word.isalpha():  # nothing to clean or split: the word is its own term
                if terms is None:
                    term = self._term(word)
                    terms = cache[word] = (term,) if term else ()
                exact = word if stem is not None and len(terms) == 1 and terms[0] != word else None
                exact_cache[word] = exact
                append((terms, exact))
            else:
                append((self.word_terms(word), self.word_exact(word)))
        return out

    def _analyze_word(self, word: str) -> tuple[str, ...]:
        word = _clean_word(word)
        if not word.strip("-"):  # only apostrophes (U+02BC is a letter to Unicode): nothing to index
            return ()
        if "-" not in word:
            term = self._term(word)
            return (term,) if term else ()
        parts = word.split("-")
        while len(parts) > 1 and parts[-1] in _CLITICS:
            parts.pop()
        if len(parts) == 1:
            term = self._term(parts[0])
            return (term,) if term else ()
        if word in self._stopwords:
            return ()
        if self._stem is not None and word not in self._protected and _stemmable(word):
            root = self._stem(word)
            self.stem_calls += 1
            if "-" not in root:
                return (root,)
        elif all(p == parts[0] for p in parts):  # exact reduplication without a stemmer
            return (self._term(parts[0]) or parts[0],)
        terms = []
        for part in parts:
            term = self._term(part)
            terms.append(term if term else "")
        return tuple(terms)

    def _term(self, word: str) -> str:
        """One unhyphenated word -> its term, or '' when it is a stopword."""
        if word in self._stopwords:
            return ""
        if self._stem is None or word in self._protected or not _stemmable(word):
            return word
        self.stem_calls += 1
        return self._stem(word)

    # -- text analysis ----------------------------------------------------------------------------------------

    def words(self, text: str) -> list[str]:
        """The normalized words of ``text`` (before stopwords and stemming)."""
        return _TOKEN_RE.findall(normalize_text(text))

    def analyze(self, text: str) -> tuple[list[str], list[int]]:
        """Terms and their positions: the indexing hot path."""
        cache = self.word_cache
        word_terms = self.word_terms
        terms: list[str] = []
        positions: list[int] = []
        pos = 0
        for word in _TOKEN_RE.findall(normalize_text(text)):
            wt = cache.get(word) or word_terms(word)
            if len(wt) == 1:
                terms.append(wt[0])
                positions.append(pos)
                pos += 1
            elif not wt:
                pos += 1
            else:
                for t in wt:
                    if t:
                        terms.append(t)
                        positions.append(pos)
                    pos += 1
        return terms, positions

    def terms(self, text: str) -> list[str]:
        """Just the terms, in order (queries use this)."""
        return self.analyze(text)[0]

    def last_word(self, text: str) -> tuple[int, str] | None:
        """The word ``text`` ends with (a search box's word being typed), normalized, with where it starts
        in ``text``; None when ``text`` ends with a space or punctuation, or has no word."""
        normalized, offsets = _normalize_with_offsets(text)
        last = None
        for last in _TOKEN_RE.finditer(normalized):
            pass
        if last is None or offsets[last.end() - 1] + 1 != len(text):
            return None
        return offsets[last.start()], last.group()

    def tokens(self, text: str) -> list[Token]:
        """Terms with positions and character offsets into ``text`` (for snippets and highlighting)."""
        normalized, offsets = _normalize_with_offsets(text)
        out: list[Token] = []
        pos = 0
        for match in _TOKEN_RE.finditer(normalized):
            word = match.group()
            wt = self.word_terms(word)
            if not wt:
                pos += 1
                continue
            if len(wt) == 1:
                start, end = offsets[match.start()], offsets[match.end() - 1] + 1
                out.append(Token(wt[0], pos, start, end, text[start:end]))
                pos += 1
                continue
            # a split compound: offsets of each hyphen-separated part (clitic parts were dropped at the end)
            part_start = match.start()
            for term, part in zip(wt, _PART_SPLIT_RE.split(word)):
                part_end = part_start + len(part)
                if term:
                    start, end = offsets[part_start], offsets[part_end - 1] + 1
                    out.append(Token(term, pos, start, end, text[start:end]))
                pos += 1
                part_start = part_end + 1
        return out

    def __repr__(self) -> str:
        return f"Analyzer({self.spec!r})"


def IndonesianAnalyzer(
    *,
    stemmer: str = "sastrawi",
    stopwords: str | Iterable[str] | Path = "none",
    add_stopwords: Iterable[str] = (),
    remove_stopwords: Iterable[str] = (),
    protected: Iterable[str] | Path | str = (),
    protected_builtin: str = "none",
    dictionary: Iterable[str] | str | Path | None = None,
    extra_roots: Iterable[str] = (),
    corrections: bool | Iterable[str] = False,
    sastrawi: Any = None,
) -> Analyzer:
    """The ready analyzer for Indonesian news.

    ``stopwords`` is a list name (``"none"`` - the default, measured best for retrieval; ``"minimal"``;
    ``"sastrawi"``), a path to a file with one word per line (e.g. Tala's list), or the words themselves.
    ``protected`` words (a path or the words) are never stemmed; ``protected="news"`` is short for
    ``protected_builtin="news"``, the built-in list of news names and places that Sastrawi mangles
    (``bekasi`` -> ``bekas``), which can be combined with words of one's own.
    ``dictionary`` replaces pysastrawi's root list (a path with one root per line, or the roots);
    ``extra_roots`` are added to it; both are recorded in the spec (the words themselves), so an index
    reopens with the same stemmer. ``corrections=True`` turns on the measured stemming corrections
    (:data:`idsearch.stemmer.DEFAULT_CORRECTIONS`; or name the rules). ``sastrawi`` overrides the stemmer
    object (its dictionary and corrections are recorded as well).
    """
    if isinstance(stopwords, str) and not _looks_like_path(stopwords):
        name, words = stopwords, ()
    else:
        name, words = "custom", tuple(_read_word_list(stopwords))
    if isinstance(protected, str) and protected in BUILTIN_PROTECTED:
        protected_builtin, protected = protected, ()
    protected_words = [*builtin_protected_words(protected_builtin), *_read_word_list(protected)]
    if dictionary is None:
        dictionary_name, dictionary_words = "pysastrawi", ()
    else:
        from idsearch.stemmer import load_dictionary

        dictionary_name, dictionary_words = "custom", tuple(load_dictionary(dictionary))
    if corrections is True:
        from idsearch.stemmer import DEFAULT_CORRECTIONS

        rules: tuple[str, ...] = DEFAULT_CORRECTIONS
    elif corrections is False:
        rules = ()
    else:
        rules = tuple(corrections)
    if isinstance(extra_roots, str):
        raise TypeError("extra_roots must be an iterable of words, not a str")
    return Analyzer(
        AnalyzerSpec(
            stemmer=stemmer,
            stopwords=name,
            stopword_words=words,
            stopwords_added=tuple(add_stopwords),
            stopwords_removed=tuple(remove_stopwords),
            protected=tuple(protected_words),
            protected_builtin=protected_builtin,
            dictionary=dictionary_name,
            dictionary_words=dictionary_words,
            extra_roots=tuple(extra_roots),
            corrections=rules,
        ),
        stemmer=sastrawi,
    )


def _build_stemmer(spec: AnalyzerSpec) -> Any:
    """The stemmer a spec describes: its dictionary, extra roots and corrections."""
    from idsearch.stemmer import CorrectedStemmer, SastrawiStemmer

    dictionary = spec.dictionary_words if spec.dictionary == "custom" else None
    if spec.corrections:
        return CorrectedStemmer(dictionary, extra_roots=spec.extra_roots, rules=spec.corrections)
    if dictionary is None and not spec.extra_roots:
        return _packaged_stemmer()
    return SastrawiStemmer(dictionary, extra_roots=spec.extra_roots)


_PACKAGED: list[Any] = []


def _packaged_stemmer() -> Any:
    """One shared stemmer over pysastrawi's dictionary (immutable; loading it takes tens of milliseconds)."""
    if not _PACKAGED:
        from idsearch.stemmer import SastrawiStemmer

        _PACKAGED.append(SastrawiStemmer())
    return _PACKAGED[0]


def _describe_stemmer(spec: AnalyzerSpec, stemmer: Any) -> AnalyzerSpec:
    """Record a user-given stemmer object in the spec: its roots when they are not pysastrawi's (so that
    the index can rebuild it), and its corrections. Objects without ``roots`` are recorded by hash only."""
    roots = getattr(stemmer, "roots", None)
    rules = tuple(getattr(stemmer, "rules", ()))
    if rules:
        spec = attrs.evolve(spec, corrections=rules)
    if roots is None or spec.dictionary == "custom" or spec.extra_roots:
        return spec
    if stemmer.dictionary_hash != _packaged_stemmer().dictionary_hash:
        spec = attrs.evolve(spec, dictionary="custom", dictionary_words=tuple(roots))
    return spec


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.endswith(".txt")


def _read_word_list(source: Iterable[str] | Path | str) -> Iterable[str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        with path.open(encoding="utf-8") as fh:
            return [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    return list(source)


def _clean_word(word: str) -> str:
    """A token as the word filters see it: typographic joiners mapped, apostrophes and an English ``'s``
    dropped, thousands separators removed from numbers."""
    if not word.isascii():
        word = word.translate(_TYPOGRAPHY)
    if "'" in word:
        word = word.replace("'s-", "-")
        word = word.removesuffix("'s")
        word = word.replace("'", "")
    if word[:1].isdigit() and _THOUSANDS_RE.match(word):
        word = word.replace(".", "")
    return word


def _stemmable(word: str) -> bool:
    """Sastrawi knows ASCII Indonesian words; words with digits or other scripts are kept as they are."""
    return word.isascii() and (word.isalpha() or _DIGIT_RE.search(word) is None)


def _normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Normalize ``text`` like :func:`normalize_text` and map every normalized index back to the original.

    ``offsets[i]`` is the original index of normalized character ``i`` (a token of normalized characters
    ``[a, b)`` is ``text[offsets[a] : offsets[b - 1] + 1]``). Where one original character becomes several (NFKC of a ligature, casefold of 'ß'), all
    of them map to that character."""
    normalized = normalize_text(text)
    if len(normalized) == len(text) and normalized.isascii() and text.isascii():
        return normalized, list(range(len(text) + 1))
    pieces: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            piece = ch.lower()
        else:
            piece = normalize_text(ch)
        pieces.append(piece)
        offsets.extend([i] * len(piece))
    offsets.append(len(text))
    joined = "".join(pieces)
    if joined != normalized:
        # NFKC composed across characters (e.g. a combining mark): normalize per grapheme run instead
        return _normalize_by_runs(text)
    return joined, offsets


def _normalize_by_runs(text: str) -> tuple[str, list[int]]:
    """Slow, exact fallback: normalize runs of a base character plus its combining marks."""
    pieces: list[str] = []
    offsets: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        piece = normalize_text(text[i:j])
        pieces.append(piece)
        offsets.extend([i] * len(piece))
        i = j
    offsets.append(n)
    return "".join(pieces), offsets


# -- the tokenizer over a whole batch, vectorized (the indexing hot path) -----------------------------------------
#
# ``_TOKEN_RE.findall`` costs about 40 ns per character, and numbering its words one dict lookup per token. For
# a batch of documents joined by NUL, :func:`scan_words` finds the same words with numpy: every character gets
# a class, a table over each window of four classes says where a word starts and ends, and a word made of at
# most 16 ASCII characters is identified by its bytes packed into two 64-bit integers (an exact key: no two
# words share one). The rest - numbers with ``.``/``,`` (where the regex backtracks), words with letters
# outside ASCII, longer words - are cut out as spans and split by the regex itself.

_OTHER, _LETTER, _DIGIT, _JOINER, _NUMBER_SEP, _NUL = range(6)
_CLASSES = 6
_ALNUM_RE = re.compile(r"[^\W_]")
_UNICODE_DIGIT_RE = re.compile(r"\d")


def _char_class(ch: str) -> int:
    """The class of one character, as the token grammar (``_NUMBER``, ``_WORD``) sees it."""
    if ch == "\x00":
        return _NUL
    if _UNICODE_DIGIT_RE.match(ch):
        return _DIGIT
    if _ALNUM_RE.match(ch):
        return _LETTER
    if ch in _HYPHENS or ch in _APOSTROPHES:
        return _JOINER
    if ch in ".,":
        return _NUMBER_SEP
    return _OTHER


def _in_word(before: int, this: int, after: int) -> bool:
    """Whether a character of class ``this`` is part of a word, given its neighbours' classes (a NUL is a
    word of its own: the batch separator)."""
    if this in (_LETTER, _DIGIT, _NUL):
        return True
    if this == _JOINER:
        return before in (_LETTER, _DIGIT) and after in (_LETTER, _DIGIT)
    if this == _NUMBER_SEP:
        return before == _DIGIT and after == _DIGIT
    return False


_STARTS, _ENDS, _NUMBER_SEP_INSIDE = 1, 2, 4  # bits of the window table


def _window_table() -> Any:
    """Over the classes of 4 consecutive characters ``(a, b, c, d)`` (code ``((a*6 + b)*6 + c)*6 + d``):
    bit ``_STARTS`` if a word starts at ``c``, ``_ENDS`` if one ends at ``b``, ``_NUMBER_SEP_INSIDE`` if ``c``
    is a ``.``/``,`` inside a word (a number: the regex decides)."""
    import numpy as np

    table = np.zeros(_CLASSES**4, dtype=np.uint8)
    for a in range(_CLASSES):
        for b in range(_CLASSES):
            for c in range(_CLASSES):
                for d in range(_CLASSES):
                    code = ((a * _CLASSES + b) * _CLASSES + c) * _CLASSES + d
                    if _in_word(b, c, d):
                        if c == _NUMBER_SEP:
                            table[code] |= _NUMBER_SEP_INSIDE
                        if not _in_word(a, b, c) or _NUL in (b, c):
                            table[code] |= _STARTS
                    if _in_word(a, b, c) and (not _in_word(b, c, d) or _NUL in (b, c)):
                        table[code] |= _ENDS
    return table


@functools.lru_cache(maxsize=1)
def _scan_tables() -> tuple[Any, Any, Any]:
    import numpy as np

    ascii_classes = np.array([_char_class(chr(i)) for i in range(128)], dtype=np.uint16)
    masks = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
    return ascii_classes, _window_table(), masks


@attrs.frozen(slots=True, eq=False)
class WordScan:
    """The words of a text, in order, as :func:`scan_words` found them: ``count`` words; the word at index
    ``keyed_at[i]`` is identified by the exact key ``(key_lo[i], key_hi[i])`` (its bytes), and its text is
    ``text[keyed_start[i]:keyed_start[i] + keyed_length[i]]``; the words at ``other_at`` are ``other``."""

    text: str
    count: int
    keyed_at: Any
    keyed_start: Any
    keyed_length: Any
    key_lo: Any
    key_hi: Any
    other_at: Any
    other: list[str]

    def keyed_word(self, i: int) -> str:
        start = int(self.keyed_start[i])
        return self.text[start : start + int(self.keyed_length[i])]

    def words(self) -> list[str]:
        """All the words, in order (what ``_TOKEN_RE.findall`` returns for the text)."""
        out = [""] * self.count
        for i, at in enumerate(self.keyed_at.tolist()):
            out[at] = self.keyed_word(i)
        for at, word in zip(self.other_at.tolist(), self.other):
            out[at] = word
        return out


@functools.lru_cache(maxsize=1)
def _kernel_tables() -> tuple[Any, Any]:
    """Every code point's class for the compiled scan (255: not known yet; ASCII known from the start: the
    kernel asks for the others as it meets them) and the window table."""
    import numpy as np

    ascii_classes, window_table, _masks = _scan_tables()
    classes = np.full(0x110000, 255, dtype=np.uint8)
    classes[:128] = ascii_classes
    return classes, window_table


_SCAN_BUFFERS = threading.local()
_SCAN_BUFFERS_KEPT = 1 << 20  # words of room a thread keeps between calls (33 bytes each; a batch of the
# shared corpus needs about 225 k): a larger text gets arrays of its own, freed after it


def _scan_buffers(n: int) -> tuple[Any, Any, Any, Any, Any]:
    """Output arrays for the compiled scan of ``n`` words, this thread's, reused from call to call (fresh
    ones cost a page fault per 4 KiB written: a tenth of the scan's time)."""
    import numpy as np

    def arrays(size: int) -> tuple[Any, Any, Any, Any, Any]:
        return tuple(np.empty(size, dtype=t) for t in (np.int64, np.int64, np.bool_, np.uint64, np.uint64))  # type: ignore[return-value]

    if n > _SCAN_BUFFERS_KEPT:
        return arrays(n)
    held = getattr(_SCAN_BUFFERS, "arrays", None)
    if held is None or len(held[0]) < n:
        held = _SCAN_BUFFERS.arrays = arrays(max(n, 1 << 16))
    return held  # type: ignore[no-any-return]


def _word_bounds(padded: Any, window_table: Any, outside_ascii: Any) -> tuple[Any, Any, Any]:
    """Every word's start and length in a text, and whether it is irregular (longer than 16 characters, or
    holding a number's separator or a character outside ASCII), from its classes (``padded``: two of class
    OTHER before and after), in numpy."""
    import numpy as np

    pairs = padded[:-1] * _CLASSES
    pairs += padded[1:]
    window = pairs[:-2] * (_CLASSES * _CLASSES)
    window += pairs[2:]
    flags = window_table[window]  # flags[j]: the window (j-2, j-1, j, j+1)
    marked = np.flatnonzero(flags)  # one pass over the text; the rest works on the few marked characters
    bits = flags[marked]
    starts = marked[(bits & _STARTS) != 0]
    ends = marked[(bits & _ENDS) != 0]  # flags[j] marks a word ending at j - 1: its end (exclusive) is j
    lengths = ends - starts
    irregular = lengths > 16
    odd = marked[(bits & _NUMBER_SEP_INSIDE) != 0]
    if outside_ascii is not None:
        odd = np.concatenate((odd, outside_ascii))
    if len(odd):
        word = np.searchsorted(starts, odd, side="right") - 1
        inside = word >= 0
        word, odd = word[inside], odd[inside]
        irregular[word[odd < ends[word]]] = True
    return starts, lengths, irregular


def scan_words(text: str, *, compiled: bool = True) -> WordScan:
    """The words ``_TOKEN_RE.findall`` finds in ``text`` (already normalized; a NUL is a word of its own),
    located in one pass of the compiled kernel (``idsearch._kernel.scan_words``), or with numpy when it is
    not built or ``compiled`` is False (the reference: the same words, keys and spans); see the section
    comment above."""
    import numpy as np

    n = len(text)
    if compiled and _kernel is not None:
        starts, lengths, irregular, all_lo, all_hi = _scan_buffers(n + 1)
        char_classes, window_table = _kernel_tables()
        while True:
            count = _kernel.scan_words(text, char_classes, window_table, starts, lengths, irregular, all_lo, all_hi)
            if isinstance(count, int):
                break
            for ch in set(count):  # characters met for the first time: classified once per process
                char_classes[ord(ch)] = _char_class(ch)
        starts, lengths, irregular = starts[:count], lengths[:count], irregular[:count]
        regular = np.flatnonzero(~irregular)
        start, length = starts[regular], lengths[regular]
        key_lo, key_hi = all_lo[regular], all_hi[regular]
    else:
        ascii_classes, window_table, masks = _scan_tables()
        padded = np.zeros(n + 4, dtype=np.uint16)  # two characters of class OTHER before the text and after it
        classes = padded[2 : n + 2]
        if text.isascii():
            raw = text.encode("ascii")
            np.take(ascii_classes, np.frombuffer(raw, dtype=np.uint8), out=classes)
            outside_ascii = None
        else:
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            np.take(ascii_classes, codes, out=classes, mode="clip")  # the others are classified below
            outside_ascii = np.flatnonzero(codes >= 128)
            distinct, which = np.unique(codes[outside_ascii], return_inverse=True)
            classes[outside_ascii] = np.array([_char_class(chr(c)) for c in distinct.tolist()], dtype=np.uint16)[which]
            raw = codes.astype(np.uint8).tobytes()  # a word with a character outside ASCII is not keyed: its bytes do not matter
        starts, lengths, irregular = _word_bounds(padded, window_table, outside_ascii)
        regular = np.flatnonzero(~irregular)
        start, length = starts[regular], lengths[regular]
        # every 8 bytes from every offset, read in place (little-endian, unaligned): a word's first 16 bytes
        eight = np.ndarray((n + 9,), dtype="<u8", buffer=raw + bytes(17), strides=(1,))
        key_lo = eight[start] & masks[np.minimum(length, 8)]
        key_hi = eight[start + 8] & masks[np.clip(length - 8, 0, 8)]
    ends = starts + lengths
    spans = np.flatnonzero(irregular)
    if not len(spans):
        return WordScan(text, len(starts), regular, start, length, key_lo, key_hi, spans, [])
    parts = [_TOKEN_RE.findall(text[a:b]) for a, b in zip(starts[spans].tolist(), ends[spans].tolist())]
    counts = np.ones(len(starts), dtype=np.int64)
    counts[spans] = [len(p) for p in parts]
    first = np.cumsum(counts) - counts  # index of every span's first word
    span_counts = counts[spans]
    other_at = np.repeat(first[spans], span_counts) + (
        np.arange(int(span_counts.sum())) - np.repeat(np.cumsum(span_counts) - span_counts, span_counts)
    )
    other = [w for p in parts for w in p]
    return WordScan(text, int(counts.sum()), first[regular], start, length, key_lo, key_hi, other_at, other)
