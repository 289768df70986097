"""Sastrawi stemming for Indonesian, reimplemented for speed.

:class:`SastrawiStemmer` is an independent implementation of the algorithm of PySastrawi 1.2.1
(Nazief & Adriani with the CS/ECS improvements: inflectional particles and possessive pronouns,
derivational suffixes, 42 prefix disambiguation rules with recoding, confix precedence adjustment,
the ECS suffix-restoring loop and the handling of hyphenated/reduplicated words). For every
normalized token it returns exactly what ``Sastrawi.Stemmer.StemmerFactory().create_stemmer().stem``
returns, quirks included (for example the order in which disambiguation candidates are tried and the
fall-through when a rule's last candidate does not apply).

It is fast because it does not build context/removal objects or run regular expressions: every
rule is a handful of ``str`` slices and set look-ups, the rules are dispatched on the first letters
of the word, and each stage stops as soon as a root is found.

:class:`ReferenceStemmer` wraps PySastrawi's own (uncached) stemmer behind the same ``stem`` method,
for differential tests and benchmarks.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
import pathlib
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

__all__ = [
    "CORRECTION_RULES",
    "DEFAULT_CORRECTIONS",
    "CorrectedStemmer",
    "ReferenceStemmer",
    "SastrawiStemmer",
    "attested_roots",
    "load_dictionary",
    "packaged_dictionary_path",
    "passive_counts",
]

DictionarySource = Iterable[str] | str | os.PathLike[str] | None

# Character classes of the rules (single characters; ``w[i:i + 1] in SET`` is False past the end).
_VOWELS = frozenset("aiueo")
_CONSONANTS = frozenset("bcdfghjklmnpqrstvwxyz")
_CONSONANTS_NO_R = _CONSONANTS - {"r"}
_CONSONANTS_35 = frozenset("bcdfghjkpqstvxz")  # rules 35 and 36: no l, m, n, r, w, y
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_LRWY = frozenset("lrwy")
_BFV = frozenset("bfv")
_CDJSTZ = frozenset("cdjstz")
_GHQK = frozenset("ghqk")
_CDJZ = frozenset("cdjz")  # men- keeps these (not s and t, which it replaces in native words)
_MEMP_NEXT = frozenset("abcdfghijklmopqrstuvwxyz")  # rule 19: memp + anything but e and n
_WY = frozenset("wy")
_INFIXES = frozenset(("er", "el", "em", "in"))  # rules 37-40: C{er,el,em,in}V -> CV
_PLAIN_PREFIXES = frozenset(("di", "ke", "se"))
_NASALS = frozenset("mn")  # pem-, pen-, peng-, peny-: the nasal prefix peN-
_CLITICS = frozenset(("ku", "mu", "nya", "lah", "kah", "tah", "pun"))


def packaged_dictionary_path() -> pathlib.Path:
    """Path of the root-word list (``kata-dasar.txt``) shipped inside the installed pysastrawi package."""
    path = pathlib.Path(str(importlib.resources.files("Sastrawi.Stemmer").joinpath("data", "kata-dasar.txt")))
    if not path.is_file():
        raise FileNotFoundError(f"pysastrawi's dictionary is missing at {path}; reinstall pysastrawi")
    return path


def load_dictionary(source: DictionarySource = None) -> frozenset[str]:
    """The set of root words from ``source``.

    ``None`` means pysastrawi's packaged dictionary; a ``str`` or path-like is a UTF-8 text file with
    one root per line; any other iterable yields the roots themselves. Surrounding whitespace is
    stripped and blank entries are ignored (as PySastrawi's ``ArrayDictionary`` ignores them).
    """
    if source is None:
        source = packaged_dictionary_path()
    if isinstance(source, (str, os.PathLike)):
        path = pathlib.Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"stemmer dictionary file not found: {path}") from None
        except UnicodeDecodeError as exc:
            line = _line_of_offset(path, exc.start)
            raise ValueError(f"{path}:{line}: stemmer dictionary is not valid UTF-8") from exc
        return frozenset(word for word in (line.strip() for line in text.split("\n")) if word)
    roots: set[str] = set()
    for index, word in enumerate(source):
        if not isinstance(word, str):
            raise TypeError(f"dictionary entry #{index} is {type(word).__name__} {word!r}, not str")
        word = word.strip()
        if word:
            roots.add(word)
    return frozenset(roots)


def _line_of_offset(path: pathlib.Path, byte_offset: int) -> int:
    """1-based line number of ``byte_offset`` in the file at ``path`` (for error messages)."""
    return path.read_bytes()[:byte_offset].count(b"\n") + 1


class _StemParts(NamedTuple):
    """The stages of one dictionary's stemmer (closures), for :class:`CorrectedStemmer`."""

    stem_word: Callable[[str], str]
    stem_singular: Callable[[str], str]
    remove_prefixes: Callable[..., str]
    remove_suffixes: Callable[[str, bool, list[tuple[str, str]] | None], str]


def _build_stem_word(roots: frozenset[str]) -> Callable[[str], str]:
    """The stemming function for one dictionary (closures keep the hot path free of attribute look-ups)."""
    return _build_stem_parts(roots).stem_word


def _build_stem_parts(
    roots: frozenset[str],
    *,
    tail_once: bool = False,
    prefix_order: bool = False,
    tail: bool = True,
    confix_first: bool = True,
    recoded_first: bool = False,
) -> _StemParts:
    """The stemming stages for one dictionary; ``stem_word`` is PySastrawi's stem.

    The keywords are corrections (PySastrawi's behaviour with their defaults): ``tail_once``: the infix
    rules and ``ku-``/``kau-`` (rules 37-42) apply only to the word as given, not after another prefix
    was removed; ``tail=False``: they never apply; ``prefix_order``: after ``meN-``/``peN-`` only a
    ``pe``/``be`` prefix (``per-``, ``ber-``) is removed; ``confix_first=False``: no confix precedence
    adjustment (suffixes always first); ``recoded_first``: where ``meN-``/``peN-`` leave two readings
    (rules 13, 15, 17, 18, 26, 28, 30, 31), the recoded one (``mengawal`` -> ``kawal``) is tried first."""
    vowels, consonants, consonants_no_r, consonants_35 = (
        _VOWELS,
        _CONSONANTS,
        _CONSONANTS_NO_R,
        _CONSONANTS_35,
    )
    letters, lrwy, bfv, cdjstz, ghqk = _LETTERS, _LRWY, _BFV, _CDJSTZ, _GHQK
    memp_next, wy, infixes, plain_prefixes = _MEMP_NEXT, _WY, _INFIXES, _PLAIN_PREFIXES
    nasals = _NASALS

    def reading(plain: str, recoded: str) -> str:
        """Of a nasal prefix's two readings (``memakai``: ``makai`` or ``pakai``), the first that is a root
        in the order chosen (``recoded_first``), else the other."""
        first, second = (recoded, plain) if recoded_first else (plain, recoded)
        return first if first in roots else second

    def disambiguate(w: str, tail: bool = True) -> str | None:
        """One pass of prefix rules 1-42 (first rule that applies wins); None if none applies.

        A rule with several recodings returns the first candidate that is a root, else its last one.
        ``w`` is known not to be a root here. ``tail=False`` leaves out rules 37-42 (infixes, ``ku-``,
        ``kau-``), which PySastrawi also applies after another prefix (a correction turns that off).
        """
        head = w[:2]
        c2 = w[2:3]
        c3 = w[3:4]
        if head == "be":
            if c2 == "r":
                if c3 in vowels:  # 1: berV -> V | rV
                    x = w[3:]
                    return x if x in roots else w[2:]
                if c3 in consonants and w[4:5] in letters:
                    if w[5:7] != "er":  # 2: berCAP -> CAP (P != er)
                        return w[3:]
                    if c3 != "r" and w[7:8] in vowels:  # 3: berCAerV -> CAerV (C != r)
                        return w[3:]
            elif w == "belajar":  # 4
                return "ajar"
            if c2 in consonants_no_r and w[3:5] == "er" and w[5:6] in consonants:  # 5: beC1erC2 -> C1erC2
                return w[2:]
        elif head == "te":
            if c2 == "r":
                if c3 in vowels:  # 6: terV -> V | rV
                    x = w[3:]
                    return x if x in roots else w[2:]
                if c3 in consonants and c3 != "r":
                    if w[4:6] != "er":  # 8: terCP -> CP (C != r, P != er)
                        return w[3:]
                    c6 = w[6:7]
                    if c6 in vowels:  # 7: terCerV -> CerV (C != r)
                        return w[3:]
                    if c3 in consonants_35 and c6 in consonants:  # 35: terC1erC2 -> C1erC2
                        return w[3:]
            elif c2 in consonants and w[3:5] == "er" and w[5:6] in consonants:  # 9: teC1erC2 -> C1erC2
                return w[2:]
        elif head == "me":
            if c2 in lrwy and c3 in vowels:  # 10: me{l,r,w,y}V -> {l,r,w,y}V
                return w[2:]
            if c2 == "m":
                if c3 in bfv:  # 11: mem{b,f,v} -> {b,f,v}
                    return w[3:]
                if c3 in vowels:  # 13: memV -> mV | pV
                    return reading("m" + w[3:], "p" + w[3:])
                if c3 == "p":
                    c4 = w[4:5]
                    if c4 == "e":  # 12: mempe -> pe
                        return w[3:]
                    if c4 in memp_next:  # 19: memp{A != e, n} -> pA
                        return w[3:]
            elif c2 == "n":
                if c3 in cdjstz:  # 14: men{c,d,j,s,t,z} -> {c,d,j,s,t,z}
                    return w[3:]
                if c3 in vowels:  # 15: menV -> nV | tV
                    return reading("n" + w[3:], "t" + w[3:])
                if c3 == "g":
                    c4 = w[4:5]
                    if c4 in ghqk:  # 16: meng{g,h,q,k} -> {g,h,q,k}
                        return w[4:]
                    if c4 in vowels:  # 17: mengV -> V | kV | (menge ->) | ngV
                        x = w[4:]
                        if recoded_first and "k" + x in roots:
                            return "k" + x
                        if x in roots:
                            return x
                        if "k" + x in roots:
                            return "k" + x
                        if c4 == "e" and w[5:] in roots:
                            return w[5:]
                        return "ng" + x
                elif c3 == "y" and w[4:5] in vowels:  # 18: menyV -> nyV | sV
                    return reading("ny" + w[4:], "s" + w[4:])
        elif head == "pe":
            if c2 in wy and c3 in vowels:  # 20: pe{w,y}V -> {w,y}V
                return w[2:]
            if c2 == "r":
                if c3 in vowels:  # 21: perV -> V | rV
                    x = w[3:]
                    return x if x in roots else w[2:]
                if c3 in consonants and w[4:5] in letters:
                    if w[5:7] != "er":  # 23: perCAP -> CAP (P != er)
                        return w[3:]
                    if c3 != "r" and w[7:8] in vowels:  # 24: perCAerV -> CAerV (C != r)
                        return w[3:]
            elif c2 == "m":
                if c3 in bfv:  # 25: pem{b,f,v} -> {b,f,v}
                    return w[3:]
                if c3 in vowels:  # 26: pemV -> mV | pV
                    return reading("m" + w[3:], "p" + w[3:])
            elif c2 == "n":
                if c3 in cdjstz:  # 27: pen{c,d,j,s,t,z} -> {c,d,j,s,t,z}
                    return w[3:]
                if c3 in vowels:  # 28: penV -> nV | tV
                    return reading("n" + w[3:], "t" + w[3:])
                if c3 == "g":
                    c4 = w[4:5]
                    if c4 in consonants:  # 29: pengC -> C
                        return w[4:]
                    if c4 in vowels:  # 30: pengV -> V | kV | (penge ->); falls through otherwise
                        x = w[4:]
                        if recoded_first and "k" + x in roots:
                            return "k" + x
                        if x in roots:
                            return x
                        if "k" + x in roots:
                            return "k" + x
                        if c4 == "e":
                            return w[5:]
                elif c3 == "y" and w[4:5] in vowels:  # 31: penyV -> nyV | sV
                    return reading("ny" + w[4:], "s" + w[4:])
            elif c2 == "l":
                if w == "pelajar":  # 32: pelajar -> ajar, pelV -> lV
                    return "ajar"
                if c3 in vowels:
                    return w[2:]
            if c2 in consonants:
                if w[3:5] != "er":  # 34: peCP -> CP (P != er)
                    return w[2:]
                if c2 in consonants_35 and w[5:6] in consonants:  # 36: peC1erC2 -> C1erC2
                    return w[2:]
        if not tail:
            return None
        c0 = w[:1]
        if c0 in consonants and w[1:3] in infixes and c3 in vowels:  # 37-40: C{er,el,em,in}V -> CV
            return c0 + w[3:]
        if head == "ku":  # 41: ku-A -> A
            return w[2:]
        if w[:3] == "kau":  # 42: kau-A -> A
            return w[3:]
        return None

    def remove_prefixes(w: str, short: bool) -> str:
        """Up to three prefix passes (plain di/ke/se first, then the rules); stops at a root."""
        after_nasal = False
        for i in range(3):
            if after_nasal and w[:2] not in ("pe", "be"):
                return w  # meN-/peN- is followed by no prefix but per- and ber-
            if w[:2] in plain_prefixes:
                w = w[2:]
            elif w in roots or short:
                return w
            else:
                x = disambiguate(w, tail and not (tail_once and i))
                if x is None:
                    return w  # further passes would see the same word
                if prefix_order:
                    after_nasal = w[:2] == "me" or (w[:2] == "pe" and w[2:3] in nasals)
                w = x
            if w in roots:
                return w
        return w

    def remove_suffixes(w: str, short: bool, removals: list[tuple[str, str]] | None) -> str:
        """Particle, then possessive pronoun, then derivational suffix; stops at a root.

        Each (word before, word after) removal is appended to ``removals`` when it is a list.
        """
        # {lah,kah,tah,pun}, with any hyphens before it
        if w.endswith(("lah", "kah", "tah", "pun")):
            x = w[:-3].rstrip("-")
            if removals is not None:
                removals.append((w, x))
            w = x
        if short or w in roots:
            return w
        # {ku,mu,nya}, with any hyphens before it
        if w.endswith("nya"):
            x = w[:-3].rstrip("-")
        elif w.endswith(("ku", "mu")):
            x = w[:-2].rstrip("-")
        else:
            x = w
        if x is not w:
            if removals is not None:
                removals.append((w, x))
            w = x
            if w in roots:
                return w
        # {i,kan,an} and the adopted {is,isme,isasi}: the longest one that ends the word
        last = w[-1:]
        if last == "i":
            x = w[:-5] if w.endswith("isasi") else w[:-1]
        elif last == "n":
            if w.endswith("kan"):
                x = w[:-3]
            elif w.endswith("an"):
                x = w[:-2]
            else:
                return w
        elif last == "s":
            if w.endswith("is"):
                x = w[:-2]
            else:
                return w
        elif last == "e":
            if w.endswith("isme"):
                x = w[:-4]
            else:
                return w
        else:
            return w
        if removals is not None:
            removals.append((w, x))
        return x

    def precedence(w: str) -> bool:
        """Confix precedence adjustment: strip the prefix before the suffix for these confixes."""
        n = len(w)
        head = w[:2]
        if head == "be":
            return (n >= 5 and w.endswith("lah")) or (n >= 4 and w.endswith("an"))
        if head in ("me", "di", "pe"):
            return n >= 3 and w[-1] == "i"
        return n >= 4 and w[:3] == "ter" and w[-1] == "i"

    def stem_singular(word: str) -> str:
        if word in roots:
            return word
        short = len(word) <= 3
        if confix_first and precedence(word):
            w = remove_prefixes(word, short)
            if w in roots:
                return w
            w = remove_suffixes(w, short, None)
            if w in roots:
                return w
        removals: list[tuple[str, str]] = []
        w = remove_suffixes(word, short, removals)
        if w in roots:
            return w
        w = remove_prefixes(w, short)
        if w in roots:
            return w
        # ECS "loop pengembalian akhiran": put the suffixes back one by one (last removed first)
        # and retry the prefixes on the original word with that much of its ending.
        for before, after in reversed(removals):
            if before[len(after) :] == "kan":
                w = remove_prefixes(after + "k", short)
                if w in roots:
                    return w
            w = remove_prefixes(before, short)
            if w in roots:
                return w
        return word

    stem_word = _make_stem_word(stem_singular, roots)
    return _StemParts(stem_word, stem_singular, remove_prefixes, remove_suffixes)


def _make_stem_word(stem_singular: Callable[[str], str], roots: frozenset[str]) -> Callable[[str], str]:
    """The whole-token stemmer around ``stem_singular``: hyphenated clitics and reduplication."""
    clitics = _CLITICS

    def stem_word(word: str) -> str:
        cut = word.rfind("-")
        if cut < 0:
            return stem_singular(word)
        first, second = word[:cut], word[cut + 1 :]
        if second in clitics:
            inner = first.rfind("-")
            if inner < 0:
                return stem_singular(word)  # nikmat-ku: a word with a hyphenated clitic
            # malaikat-malaikat-nya -> malaikat, malaikat-nya
            first, second = first[:inner], first[inner + 1 :] + "-" + second
        # reduplication: anak-anak, berbalas-balasan, meniru-nirukan
        root1 = stem_singular(first)
        root2 = stem_singular(second)
        if root2 == second and second not in roots:
            root2 = stem_singular("me" + second)
        return root1 if root1 == root2 else word

    return stem_word


class SastrawiStemmer:
    """A Sastrawi (PySastrawi 1.2.1) stemmer over a dictionary of root words.

    ``dictionary`` is ``None`` for pysastrawi's packaged dictionary, a path of a text file with one
    root per line, or an iterable of roots; ``extra_roots`` are added to it.
    """

    __slots__ = ("_hash", "_roots", "_stem_word")

    def __init__(self, dictionary: DictionarySource = None, *, extra_roots: Iterable[str] = ()) -> None:
        roots = load_dictionary(dictionary)
        if isinstance(extra_roots, str):
            raise TypeError("extra_roots must be an iterable of words, not a str")
        extra = load_dictionary(list(extra_roots))
        self._roots: frozenset[str] = roots | extra if extra else roots
        self._stem_word = _build_stem_word(self._roots)
        self._hash: str | None = None

    def stem(self, word: str) -> str:
        """The stem of one normalized token (lowercase ``[a-z0-9-]``), exactly as PySastrawi stems it.

        Words of three letters or fewer and words in the dictionary come back unchanged (except a
        short word that reduces to a root by a plain prefix or particle, as in PySastrawi). Results
        are not cached: callers that see the same word often should memoize.
        """
        return self._stem_word(word)

    @property
    def stem_function(self) -> Callable[[str], str]:
        """The bare stemming function (same as :meth:`stem`, without the method call overhead)."""
        return self._stem_word

    @property
    def roots(self) -> frozenset[str]:
        """The dictionary of root words."""
        return self._roots

    @property
    def dictionary_hash(self) -> str:
        """SHA-256 (hex) of the sorted, deduplicated roots joined by newlines: identifies the dictionary."""
        if self._hash is None:
            digest = hashlib.sha256("\n".join(sorted(self._roots)).encode("utf-8"))
            self._hash = digest.hexdigest()
        return self._hash

    def __contains__(self, word: object) -> bool:
        """Whether ``word`` is a root in the dictionary."""
        return word in self._roots

    def __len__(self) -> int:
        """Number of roots in the dictionary."""
        return len(self._roots)

    def __repr__(self) -> str:
        return f"SastrawiStemmer({len(self._roots)} roots, sha256={self.dictionary_hash[:12]})"


CORRECTION_RULES: tuple[str, ...] = (
    "tail_once",
    "particle_root",
    "keep_i",
    "keep_is",
    "kan_an",
    "wan",
    "ketidak",
    "prefix_order",
    "ber_an",
    "se_whole",
    "verb_an",
    "unknown_nya",
    "unknown_confix",
    "unknown_nasal",
    "attested_roots",
    "passive_reading",
    "confix_i",
)
"""Every correction :class:`CorrectedStemmer` knows (see its docstring); ``DEFAULT_CORRECTIONS`` is the
measured subset that ``rules=None`` means."""

DEFAULT_CORRECTIONS: tuple[str, ...] = CORRECTION_RULES


def _data_lines(name: str) -> list[str]:
    """The entries of the packaged data file ``idsearch/data/<name>`` (``#`` starts a comment)."""
    path = importlib.resources.files("idsearch").joinpath("data", name)
    text = path.read_text(encoding="utf-8")
    return [line for line in (raw.split("#", 1)[0].strip() for raw in text.splitlines()) if line]


@functools.cache
def attested_roots() -> frozenset[str]:
    """The corpus-attested roots of the ``attested_roots`` correction (``idsearch/data/attested_roots.txt``,
    derived from the news corpus by ``tools/derive_stem_evidence.py``)."""
    return frozenset(_data_lines("attested_roots.txt"))


@functools.cache
def passive_counts() -> dict[str, int]:
    """``di-`` word -> its count in the news corpus, the evidence of the ``passive_reading`` correction
    (``idsearch/data/passive_forms.txt``, derived by ``tools/derive_stem_evidence.py``)."""
    counts: dict[str, int] = {}
    for number, line in enumerate(_data_lines("passive_forms.txt"), 1):
        word, _, count = line.partition(" ")
        if not count.isdigit():
            raise ValueError(f"idsearch/data/passive_forms.txt: entry {number} {line!r} is not 'word count'")
        counts[word] = int(count)
    return counts


class CorrectedStemmer(SastrawiStemmer):
    """Sastrawi with corrections for known classes of wrong stems (not PySastrawi-exact).

    Each rule except the ``unknown_*`` ones only ever replaces PySastrawi's stem by another root of the
    dictionary (with ``attested_roots``, the dictionary and the corpus-attested roots):

    - ``tail_once``: the infix rules (``C-er-V``, ``C-el-V``, ``C-em-V``, ``C-in-V``) and ``ku-``/``kau-``
      apply to the word itself, not after another prefix was removed (``dikurangi`` -> ``kurang``, not
      ``rang``; ``menyinari`` -> ``sinar``, not ``sari``).
    - ``particle_root``: a word ending in ``-lah``/``-kah``/``-tah`` whose ending belongs to the root
      (``menikah`` -> ``nikah``, not ``meni``): when removing prefixes alone reaches a longer root than
      removing the particle did, that root wins.
    - ``keep_i``, ``keep_is``: the same for a final ``-i``/``-is`` that belongs to the root
      (``dibelinya`` -> ``beli``, not ``bel``; ``dilapis`` -> ``lapis``, not ``lap``).
    - ``kan_an``: a ``pe-``/``ke-`` noun ending in ``-kan`` is ``...k`` + ``-an`` when that gives a root
      (``penyelidikan`` -> ``selidik``, not ``lidi``; ``pergerakan`` -> ``gerak``, not ``gera``).
    - ``wan``: ``-wan``/``-wati`` after a root (``relawan`` -> ``rela``, ``karyawan`` -> ``karya``), which
      PySastrawi does not know as suffixes.
    - ``ketidak``: ``ketidak-X-an`` -> the stem of ``X`` (``ketidakadilan`` -> ``adil``).
    - ``prefix_order``: after ``meN-``/``peN-`` only ``per-``/``ber-`` can follow, so no ``se-``,
      ``ter-``, ``di-``, ``ke-`` is removed after them (``menyeberangi`` -> ``seberang``, not ``rang``;
      ``menerangi`` -> ``terang``).
    - ``ber_an``: a ``ber-...-an``/``-lah`` word read suffix-first (no confix precedence) when that
      reaches a longer root (``bersihkan`` -> ``bersih``, not ``sih``; ``berkenalan`` -> ``kenal``).
    - ``confix_i``: the same for ``di-``/``ter-`` ... ``-i``, which PySastrawi reads prefix-first: when
      reading ``-i`` first reaches a longer root that contains the prefix-first one, the root's own
      ``se-``/``pe-``/``ter-`` was no prefix (``disepakati`` -> ``sepakat``, not ``pakat``;
      ``diterangi`` -> ``terang``). Only after ``di-``/``ter-``, which keep the root's first letter.
    - ``se_whole``: ``se-`` joins a whole root and takes no ``-i``/``-is``/``-kan``, so ``se-X`` with
      a root ``X`` is ``X`` (``sebaris`` -> ``baris``, not ``sebar``).
    - ``verb_an``: ``di-``/``meN-`` take no ``-an`` (only ``-kan``/``-i``), so in ``di-X-an``/``meN-X-an``
      the ``an`` belongs to the root (``menelan`` -> ``telan``, not ``tel``; ``dilawan`` -> ``lawan``).
    - ``unknown_nya``, ``unknown_confix``, ``unknown_nasal``: a word whose stem is in no way a root of
      the dictionary (PySastrawi returns it whole) still loses what is unmistakably an affix: the
      clitic ``-nya`` (``fiturnya`` -> ``fitur``); a prefix together with ``-kan``/``-an``
      (``kelembaban`` -> ``lembab``, ``dirincikan`` -> ``rinci``; no infix/``ku-`` rules, and the rest
      must start like an Indonesian syllable); ``meN-``/``peN-`` in the forms that keep the root's first
      consonant, ``mem-b/f/v``, ``men-c/d/j/z``, ``meng-g/h/k/q`` (``menghimbau`` -> ``himbau``). These
      three are the only rules whose stem may be outside the dictionary; a bare prefix or a bare
      ``-an`` is left alone because names carry them (``bernard``, ``kalimantan``).
    - ``attested_roots``: roots the dictionary lacks join it (:func:`attested_roots`, derived from the news
      corpus by ``tools/derive_stem_evidence.py``: common lowercase words that are the base of at least
      three distinct prefixed corpus words, and in which the dictionary finds no root (``rinci``,
      ``analisa``) or which are ``se-`` words taking the nasal prefix on their own ``s``
      (``menyetujui``: ``setuju``). ``persetujuan`` -> ``setuju``, not ``tuju``. The roots are part of
      :attr:`roots` and so of the dictionary hash.
    - ``passive_reading``: ``meN-``/``peN-`` hide the first consonant of a root, so some words have two
      readings that are both roots (``mengawal``: ``awal`` or ``kawal``). The passive ``di-`` keeps that
      consonant, so the reading whose ``di-`` form the news corpus has more often wins
      (:func:`passive_counts`): first with the word's own ending (``dikawal`` 70 against ``diawal`` 13;
      ``mengawali``: ``diawali``), then bare, then with any usual verb ending; unattested: Sastrawi's.

    Every rule was kept because it raises exact-match accuracy on the gold sets in ``../shared/stemming``
    (never lowering either) and removing any one of them lowers it (see ``tests/test_stemmer_control.py``). Rules that were tried
    and lowered accuracy (keeping ``-an``/``-kan``, reading ``-kan`` as ``-k`` + ``-an`` in verbs or in
    unprefixed words, keeping a bare ``-i``, preferring the recoded ``k``/``r``/``p``/``t``/``s`` root of
    ``meng-``/``ber-``/``mem-``/``men-``/``meny-`` when both readings are roots, stripping a bare prefix
    or ``-an`` from unknown words) are not offered. Proper names (``bekasi``, ``bali``) are a job for
    protected words.
    """

    __slots__ = ("_rules",)

    def __init__(
        self,
        dictionary: DictionarySource = None,
        *,
        extra_roots: Iterable[str] = (),
        rules: Iterable[str] | None = None,
    ) -> None:
        super().__init__(dictionary, extra_roots=extra_roots)
        chosen = tuple(DEFAULT_CORRECTIONS if rules is None else rules)
        if isinstance(rules, str):
            raise TypeError("rules must be an iterable of rule names, not a str")
        unknown = sorted(set(chosen) - set(CORRECTION_RULES))
        if unknown:
            raise ValueError(
                f"unknown stemmer corrections {unknown}: expected some of {', '.join(CORRECTION_RULES)}"
            )
        self._rules: frozenset[str] = frozenset(chosen)
        if "attested_roots" in self._rules:
            self._roots = self._roots | attested_roots()
        self._stem_word = _build_corrected(self._roots, self._rules)

    @property
    def rules(self) -> frozenset[str]:
        """The corrections in force."""
        return self._rules

    def __repr__(self) -> str:
        return f"CorrectedStemmer({len(self._roots)} roots, rules={sorted(self._rules)})"


_PARTICLES = ("lah", "kah", "tah", "pun")
_PASSIVE_ENDINGS = ("", "i", "kan", "nya", "inya", "kannya")
_PASSIVE_LEVELS = (0, 1, 2)  # the same ending, the bare root, any usual ending
_ONSET_SECOND = frozenset("aiueorlywh")  # what may follow a first consonant (tr-, pl-, ny-, kh-, sw-)


def _build_corrected(roots: frozenset[str], rules: frozenset[str]) -> Callable[[str], str]:
    """The corrected whole-token stemming function (see :class:`CorrectedStemmer`)."""
    tail_once, prefix_order = "tail_once" in rules, "prefix_order" in rules
    parts = _build_stem_parts(roots, tail_once=tail_once, prefix_order=prefix_order)
    base, remove_prefixes = parts.stem_singular, parts.remove_prefixes
    # the same stages without the confix precedence (ber_an) and without rules 37-42 (unknown words)
    suffixes_first = _build_stem_parts(
        roots, tail_once=tail_once, prefix_order=prefix_order, confix_first=False
    ).stem_singular
    bare_prefixes = _build_stem_parts(roots, prefix_order=prefix_order, tail=False).remove_prefixes
    passive_reading = "passive_reading" in rules
    recoded_parts = _build_stem_parts(
        roots, tail_once=tail_once, prefix_order=prefix_order, recoded_first=True
    )
    recoded, recoded_prefixes = recoded_parts.stem_singular, recoded_parts.remove_prefixes
    passive = passive_counts() if passive_reading else {}
    particle_root = "particle_root" in rules
    kept = tuple(s for s in ("is", "i") if f"keep_{s}" in rules)  # longest first
    kan_an = "kan_an" in rules
    wan = "wan" in rules
    ketidak = "ketidak" in rules
    ber_an = "ber_an" in rules
    confix_i = "confix_i" in rules
    se_whole = "se_whole" in rules
    verb_an = "verb_an" in rules
    unknown_nya = "unknown_nya" in rules
    unknown_confix = "unknown_confix" in rules
    unknown_nasal = "unknown_nasal" in rules
    vowels, onset_second = _VOWELS, _ONSET_SECOND
    bfv, cdjz, ghqk = _BFV, _CDJZ, _GHQK

    def longer_root(w: str, current: str) -> str:
        """``w`` stripped of prefixes (PySastrawi's passes) if that is a root longer than ``current``."""
        alt = w if w in roots else remove_prefixes(w, False)
        return alt if alt in roots and len(alt) > len(current) else current

    def unknown(word: str) -> str:
        """A word with no root in the dictionary: its ``-nya`` and a prefix + ``-kan``/``-an`` confix."""
        w = word
        if unknown_nya and w.endswith("nya") and len(w) >= 7:
            w = w[:-3]
        if unknown_confix and w.endswith("an"):
            inner = w[:-3] if w.endswith("kan") else w[:-2]
            x = bare_prefixes(inner, False)
            if x != inner and len(x) >= 4 and (x[0] in vowels or x[1] in onset_second):
                return x
        if unknown_nasal and w[:2] in ("me", "pe"):
            # meN-/peN- before a root whose first consonant stays: mem-b/f/v, men-c/d/j/z, meng-g/h/k/q
            c2, c3 = w[2:3], w[3:4]
            cut = 3 if (c2 == "m" and c3 in bfv) or (c2 == "n" and c3 in cdjz) else 0
            if c2 == "n" and c3 == "g" and w[4:5] in ghqk:
                cut = 4
            if cut and len(w) - cut >= 4 and w[cut + 1] in onset_second:
                return w[cut:]
        return w

    def evidence(word: str, root: str, level: int) -> int:
        """How often the news corpus has ``root`` behind the passive ``di-``: with the ending ``word`` has
        after the root (level 0), bare (level 1), or with any of the usual verb endings (level 2)."""
        if level == 1:
            return passive.get("di" + root, 0)
        if level == 2:
            return sum(passive.get("di" + root + ending, 0) for ending in _PASSIVE_ENDINGS)
        core = root[1:]  # meN-/peN- change only the first letter
        cut = word.rfind(core)
        return passive.get("di" + root + word[cut + len(core) :], 0) if cut >= 0 else 0

    def passive_choice(word: str, r: str, alt: str) -> str:
        """Of two readings ``r`` and ``alt`` of a ``meN-``/``peN-`` word, the one whose ``di-`` form the
        corpus attests more often (``r`` when neither is attested)."""
        if alt == r or alt not in roots:
            return r
        for level in _PASSIVE_LEVELS:
            mine, other = evidence(word, r, level), evidence(word, alt, level)
            if mine or other:
                return alt if other > mine else r
        return r

    def stem_singular(word: str) -> str:
        if word in roots or len(word) <= 3:
            return base(word)
        # the word without its particle and possessive, as PySastrawi removes them
        w1 = word
        if w1.endswith(_PARTICLES):
            w1 = w1[:-3]
        if w1 not in roots:
            if w1.endswith("nya"):
                w1 = w1[:-3]
            elif w1.endswith(("ku", "mu")):
                w1 = w1[:-2]
        if ketidak and w1.startswith("ketidak") and w1.endswith("an") and len(w1) > 11:
            inner = stem_singular(w1[7:-2])
            if inner in roots:
                return inner
        if (
            verb_an
            and w1.startswith(("di", "me"))
            and w1.endswith("an")
            and not w1.endswith("kan")
            and not word.endswith(_PARTICLES)
        ):
            alt = remove_prefixes(w1, False)
            if alt in roots:
                if passive_reading and w1[:2] == "me":
                    alt = passive_choice(w1, alt, recoded_prefixes(w1, False))
                return alt
        if wan and w1 not in roots:
            stripped = w1[:-3] if w1.endswith("wan") else w1[:-4] if w1.endswith("wati") else ""
            if len(stripped) >= 3:
                alt = stripped if stripped in roots else remove_prefixes(stripped, False)
                if alt in roots:
                    return alt
        r = base(word)
        if r not in roots:
            return unknown(word) if unknown_nya or unknown_confix or unknown_nasal else r
        if passive_reading and word[:2] in ("me", "pe"):
            alt = recoded(word)
            r = passive_choice(word, r, alt)
        if ber_an and word[:2] == "be" and word.endswith(("an", "lah")):
            alt = suffixes_first(word)
            if alt in roots and len(alt) > len(r):
                r = alt
        if confix_i and w1.endswith("i") and (w1[:2] == "di" or w1[:3] == "ter"):
            # di-/ter-...-i: PySastrawi strips the prefixes first and may take the root's own se-/pe-/ter-
            # for another prefix; reading -i first keeps the whole root when that is a root containing it
            alt = suffixes_first(word)
            if alt in roots and len(alt) > len(r) and r in alt:
                r = alt
        if (
            se_whole
            and w1[:2] == "se"
            and w1.endswith(("i", "is", "kan"))
            and w1[2:] in roots
            and w1 not in roots
        ):
            return w1[2:]
        if particle_root and word.endswith(("lah", "kah", "tah")):
            r = longer_root(word, r)
        if kan_an and w1.endswith("kan") and w1.startswith(("pe", "ke")):
            alt = remove_prefixes(w1[:-2], False)
            if alt in roots and alt.endswith("k"):
                return alt
        for suffix in kept:
            if w1.endswith(suffix) and w1 not in roots:
                r = longer_root(w1, r)
                break
        return r

    return _make_stem_word(stem_singular, roots)


class ReferenceStemmer:
    """PySastrawi's own uncached ``Stemmer`` behind a ``stem(word)`` method, for comparisons.

    ``dictionary`` has the same meaning as for :class:`SastrawiStemmer`; ``None`` takes the word
    list exactly as ``StemmerFactory`` reads it.
    """

    def __init__(self, dictionary: DictionarySource = None) -> None:
        from Sastrawi.Dictionary.ArrayDictionary import ArrayDictionary
        from Sastrawi.Stemmer.Stemmer import Stemmer
        from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

        words: Iterable[str] = (
            StemmerFactory().get_words() if dictionary is None else load_dictionary(dictionary)
        )
        self._stemmer: Any = Stemmer(ArrayDictionary(words))

    def stem(self, word: str) -> str:
        """PySastrawi's stem of ``word`` (its ``Stemmer.stem``, which normalizes the text first)."""
        return str(self._stemmer.stem(word))
