"""Stopword lists, chosen per analyzer and editable (add/remove words) without forking anything.

Built-in lists:

- ``"none"``: nothing is removed (the default: BM25's IDF already discounts frequent words, and removing
  words hurt headline retrieval in our measurements; see the README's evaluation section).
- ``"minimal"``: a short list of Indonesian function words (conjunctions, prepositions, particles) written
  for idsearch; it removes no content word.
- ``"sastrawi"``: the list shipped inside the installed pysastrawi package (MIT). It contains content
  words such as ``bulan``, ``bapak``, ``baru``, ``besar``.

Any other list (e.g. Tala 2003, as distributed by NLTK) is given as words or a file; an index records the
words themselves, so it does not depend on the file later.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["BUILTIN_LISTS", "MINIMAL", "StopwordSet", "resolve_stopwords", "sastrawi_stopwords"]

StopwordSet = frozenset[str]

MINIMAL: StopwordSet = frozenset(
    """
    yang dan di ke dari ini itu dengan untuk pada dalam akan juga atau oleh karena sebagai telah
    bahwa adalah ialah yaitu yakni tersebut para sang si pun lah kah tah nya namun tetapi tapi serta
    agar supaya jika kalau bila maka sehingga sedangkan bagi daripada terhadap antara hingga sampai
    sejak selama sudah sedang masih belum
    """.split()
)


def sastrawi_stopwords() -> StopwordSet:
    """The stopword list inside the installed pysastrawi package."""
    from Sastrawi.StopWordRemover.StopWordRemoverFactory import StopWordRemoverFactory

    return frozenset(StopWordRemoverFactory().get_stop_words())


BUILTIN_LISTS = ("none", "minimal", "sastrawi")


def resolve_stopwords(
    name: str,
    words: Iterable[str] = (),
    *,
    added: Iterable[str] = (),
    removed: Iterable[str] = (),
) -> StopwordSet:
    """The stopword set for a list ``name`` (or ``"custom"`` with ``words``), edited by ``added``/``removed``."""
    if name == "none":
        base: StopwordSet = frozenset()
    elif name == "minimal":
        base = MINIMAL
    elif name == "sastrawi":
        base = sastrawi_stopwords()
    elif name == "custom":
        base = frozenset(words)
    else:
        raise ValueError(
            f"unknown stopword list {name!r}: expected one of {', '.join(BUILTIN_LISTS)}, "
            "a file path, or the words themselves"
        )
    return (base | frozenset(added)) - frozenset(removed)
