"""Derive the corpus evidence of idsearch's corpus-based stemming corrections from the shared news corpus.

Two files, both read by :class:`idsearch.stemmer.CorrectedStemmer` (never by the default stemmer):

``idsearch/data/attested_roots.txt`` (rule ``attested_roots``): roots missing from pysastrawi's dictionary,
found by morphological productivity. A word X qualifies when

1. it is used as a common word: it occurs on its own at least ``--min-count`` times written in lowercase,
   and at least half of all its occurrences are lowercase (names are capitalized);
2. it is the base of at least ``--min-forms`` distinct *prefixed* words of the corpus: words that do not
   start with X and that Sastrawi, with X added to its dictionary, stems to X (``menyetujui``,
   ``disetujui``, ``persetujuan`` for ``setuju``). Such a form counts only when the dictionary alone
   reads it as X's own root (a root inside X: ``tuju`` in ``setuju``) or as no root at all, never as a
   different word (``mengubur`` is ``kubur``, so it does not attest ``ubur``);
3. and it is a root in one of two ways: (a) the dictionary finds no root in X at all (``fitur``,
   ``rinci``, ``analisa``: words the dictionary lacks), or (b) X is ``se-`` + a root that itself takes
   the nasal prefix on its ``s`` (``menyetujui``, ``penyeimbang``): a ``se-`` word that ``meN-``/``peN-``
   treat as a whole is lexicalized (a root of its own), since ``se-`` never stands inside ``meN-``.

Condition 2 is checked again with all the qualifying words added at once, until the list is stable.

``idsearch/data/passive_forms.txt`` (rule ``passive_reading``): every corpus word that begins with
``di-`` (the passive prefix, which keeps the root's first letter intact) and occurs at least
``--min-passive`` times, with its count. ``meN-``/``peN-`` hide the first consonant of a root (``mengawal``
is ``kawal`` or ``awal``); the passive form shows which reading the language uses (``dikawal``).

Reproducible: same corpus + same pysastrawi -> same files. Run from the repository root:

    python tools/derive_stem_evidence.py                 # writes both files in idsearch/data/
    python tools/derive_stem_evidence.py --output-dir - --min-forms 2   # print instead
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from derive_protected import corpus_texts  # the same article bodies (a sibling script: tools/ is on sys.path)

from idsearch.stemmer import SastrawiStemmer, _build_stem_word, load_dictionary

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared"
DEFAULT_OUTPUT = REPO / "idsearch" / "data"
ROOTS_FILE = "attested_roots.txt"
PASSIVE_FILE = "passive_forms.txt"

# a word with its hyphenated parts (``gara-gara``): only words without hyphens are counted
_TOKEN_RE = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


def count_words(shared: Path) -> tuple[Counter[str], Counter[str]]:
    """Occurrences of every lowercased word (letters only, not part of a hyphenated word), and how many of
    them were written in lowercase."""
    total: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    for text in corpus_texts(shared):
        for match in _TOKEN_RE.finditer(text):
            word = match.group()
            if "-" in word:
                continue
            low = word.lower()
            total[low] += 1
            if word == low:
                lower[low] += 1
    return total, lower


class _LookupLog(frozenset[str]):
    """A root set that records the words the stemmer looks up (the candidate bases of a word)."""

    log: set[str] | None = None

    def __contains__(self, word: object) -> bool:
        if self.log is not None and isinstance(word, str):
            self.log.add(word)
        return frozenset.__contains__(self, word)


def attested_roots(
    total: Counter[str], lower: Counter[str], min_count: int, min_forms: int
) -> list[tuple[str, int, list[str]]]:
    """(root, lowercase occurrences, its prefixed forms) for every attested root (see the module doc)."""
    roots = load_dictionary()
    plain = SastrawiStemmer().stem
    words = sorted(w for w in total if len(w) > 3)
    dict_stem = {w: plain(w) for w in words}

    def common(x: str) -> bool:
        return lower[x] >= min_count and 2 * lower[x] >= total[x]

    def attests(x: str, w: str) -> bool:
        if w.startswith(x):
            return False  # a suffixed form says nothing about what precedes X
        r = dict_stem[w]
        return r not in roots or (r != x and r in x)

    # candidates: the words the stemmer looks up while stemming each corpus word
    logged = _LookupLog(roots)
    stem = _build_stem_word(logged)
    bases: dict[str, set[str]] = defaultdict(set)
    for w in words:
        logged.log = set()
        stem(w)
        for x in logged.log:
            if x != w and x not in roots and len(x) > 3 and x in total and common(x) and attests(x, w):
                bases[x].add(w)
    logged.log = None

    def is_root(x: str, forms: set[str]) -> bool:
        if dict_stem.get(x, x) not in roots:
            return True  # (a) the dictionary finds no root in X
        # (b) a se- word that takes the nasal prefix on its own s
        return x[:2] == "se" and any(f[:4] in ("meny", "peny") and x[2:] in f for f in forms)

    chosen = {x for x, forms in bases.items() if len(forms) >= min_forms and is_root(x, forms)}
    while True:
        stem = SastrawiStemmer(extra_roots=chosen).stem
        found: dict[str, set[str]] = defaultdict(set)
        for w in words:
            s = stem(w)
            if s in chosen and s != w and attests(s, w):
                found[s].add(w)
        kept = {x for x in chosen if len(found[x]) >= min_forms and is_root(x, found[x])}
        if kept == chosen:
            break
        chosen = kept
    return [(x, lower[x], sorted(found[x])) for x in sorted(chosen)]


def passive_forms(total: Counter[str], min_count: int) -> list[tuple[str, int]]:
    """(word, occurrences) for every ``di-`` word seen at least ``min_count`` times."""
    return sorted((w, n) for w, n in total.items() if w.startswith("di") and len(w) > 4 and n >= min_count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared data folder")
    parser.add_argument(
        "--min-count", type=int, default=20, help="lowercase occurrences of a root (default 20)"
    )
    parser.add_argument(
        "--min-forms", type=int, default=3, help="distinct prefixed forms of a root (default 3)"
    )
    parser.add_argument("--min-passive", type=int, default=2, help="occurrences of a di- form (default 2)")
    parser.add_argument(
        "--output-dir", default=str(DEFAULT_OUTPUT), help="folder to write both files to, or - for stdout"
    )
    args = parser.parse_args(argv)
    if not (args.shared / "corpus").is_dir():
        print(f"no corpus at {args.shared / 'corpus'}; pass --shared", file=sys.stderr)
        return 2
    total, lower = count_words(args.shared)
    roots = attested_roots(total, lower, args.min_count, args.min_forms)
    passive = passive_forms(total, args.min_passive)
    mc, mf, mp = args.min_count, args.min_forms, args.min_passive
    root_lines = [
        "# idsearch attested roots (stemming correction 'attested_roots'): roots missing from pysastrawi's",
        "# dictionary, found by morphological productivity in the shared news corpus (27,861 articles).",
        f"# Generated by tools/derive_stem_evidence.py: a word written in lowercase at least {mc} times",
        f"# (and in at least half of its occurrences) that is the base of at least {mf} distinct prefixed",
        "# corpus words, and in which the dictionary finds no root, or a se- word taking meny-/peny- on its s.",
        "# Do not edit by hand.",
        "# root  # lowercase occurrences: some of its prefixed forms",
        *(f"{x}  # {n}: {' '.join(forms[:6])}" for x, n, forms in roots),
    ]
    passive_lines = [
        "# idsearch passive forms (stemming correction 'passive_reading'): words of the shared news corpus",
        f"# (27,861 articles) that begin with di-, seen at least {mp} times, with their counts.",
        "# Generated by tools/derive_stem_evidence.py. Do not edit by hand.",
        *(f"{w} {n}" for w, n in passive),
    ]
    outputs = {ROOTS_FILE: "\n".join(root_lines) + "\n", PASSIVE_FILE: "\n".join(passive_lines) + "\n"}
    if args.output_dir == "-":
        for text in outputs.values():
            sys.stdout.write(text)
    else:
        for name, text in outputs.items():
            (Path(args.output_dir) / name).write_text(text, encoding="utf-8")
        print(
            f"{len(roots)} roots -> {ROOTS_FILE}, {len(passive)} di- forms -> {PASSIVE_FILE}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
