"""The schema: which fields are searched as text (and how they are weighted), which are filters.

Plain data, stored in the index manifest. Every other key of a document is stored metadata.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["FIELD_NAME_RE", "QUESTION_WORDS", "Schema", "TextField", "base_field", "exact_field"]

FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _check_name(_inst: Any, _attr: Any, value: str) -> None:
    if not isinstance(value, str) or not FIELD_NAME_RE.match(value):
        raise ValueError(f"field name {value!r} must match {FIELD_NAME_RE.pattern} (lowercase letters, digits, _)")


def _check_positive(_inst: Any, attr: Any, value: float) -> None:
    if not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f"{attr.name} must be a positive number, not {value!r}")


def _check_unit(_inst: Any, attr: Any, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"{attr.name} must be between 0 and 1, not {value!r}")


EXACT_SUFFIX = ".exact"


def exact_field(name: str) -> str:
    return name + EXACT_SUFFIX


def base_field(name: str) -> str:
    return name.removesuffix(EXACT_SUFFIX)


@attrs.frozen
class TextField:
    """A text field searched with BM25F: ``weight`` scales its term frequencies, ``b`` its length
    normalization."""

    name: str = attrs.field(validator=_check_name)
    weight: float = attrs.field(default=1.0, validator=_check_positive)
    b: float = attrs.field(default=0.75, validator=_check_unit)


def _check_unit_or_more(_inst: Any, attr: Any, value: float) -> None:
    if not (isinstance(value, (int, float)) and value >= 0):
        raise ValueError(f"{attr.name} must be zero or positive, not {value!r}")


QUESTION_WORDS = (
    "apa", "apakah", "siapa", "siapakah", "kapan", "kapankah", "berapa", "berapakah", "mana", "manakah",
    "dimana", "dimanakah", "mengapa", "kenapa", "bagaimana", "bagaimanakah",
)
"""Indonesian interrogatives: the default ``query_stopwords``. A question's answer rarely contains them."""


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ValueError("query_stopwords must be a list of words, not one string")
    words = tuple(value)
    for word in words:
        if not isinstance(word, str) or not word or word != word.casefold() or len(word.split()) != 1:
            raise ValueError(f"query stopword {word!r} must be one lowercase word")
    return words


def _check_window(_inst: Any, attr: Any, value: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        raise ValueError(f"{attr.name} must be a positive whole number, not {value!r}")


def _text_fields(value: Any) -> tuple[TextField, ...]:
    out = []
    for item in value:
        if isinstance(item, TextField):
            out.append(item)
        elif isinstance(item, str):
            out.append(TextField(item))
        elif isinstance(item, Mapping):
            out.append(TextField(**item))
        else:
            raise ValueError(f"text field must be a name, a TextField or a mapping, not {item!r}")
    return tuple(out)


def _names(value: Any) -> tuple[str, ...]:
    names = tuple(value)
    for name in names:
        _check_name(None, None, name)
    return names


@attrs.frozen
class Schema:
    """Fields of an index.

    - ``text_fields``: analyzed, positional, ranked with BM25F (default: title and body weighted 1, with
      length normalization b 0.75 and 1.0).
    - ``keyword_fields``: exact-match filters (``source:detik``), case-insensitive.
    - ``date_fields``: dates parsed from many formats, for ranges and sorting.
    - ``k1``: BM25 term-frequency saturation, shared by all fields (BM25F saturates once, after combining).
    - ``proximity``: strength of the bonus for query words found next to each other in the same order
      (computed for the best 100 BM25F matches); 0 turns it off.
    - ``exact``: weight of exact-form matches. Words that stemming changes (``pertemuan`` -> ``temu``) are
      also indexed as they are, in a companion field ``<field>.exact``; a query word that stemming changes
      then scores its exact form with this weight on top of its stem. 0: no exact forms are indexed.
    - ``query_stopwords``: words dropped from the optional words of a query (never from documents, phrases
      or required words) when other words remain: by default the interrogatives (``siapa``, ``apakah``,
      ``berapa``...), so ``Siapakah presiden Venezuela?`` searches ``presiden venezuela``; ``apa`` alone
      still searches ``apa``. ``()`` keeps every word.
    - ``delta``: BM25+ lower bound: a term a document contains scores at least ``delta * (k1 + 1) * idf``,
      however long the document; it rewards matching more of the query's words. 0: plain BM25F.
    - ``lead``: strength of the bonus for query words among the first ``lead_window`` words of a field
      (news put the main facts first), computed for the best 100 BM25F matches like the proximity bonus;
      0 turns it off.

    The defaults are the best measured on the shared evaluation sets (README, "Retrieval quality").
    """

    text_fields: tuple[TextField, ...] = attrs.field(
        default=(TextField("title", weight=1.0, b=0.75), TextField("body", weight=1.0, b=1.0)),
        converter=_text_fields,
    )
    keyword_fields: tuple[str, ...] = attrs.field(default=("source", "category"), converter=_names)
    date_fields: tuple[str, ...] = attrs.field(default=("date",), converter=_names)
    k1: float = attrs.field(default=2.5, validator=_check_positive)
    proximity: float = attrs.field(default=0.5, validator=_check_unit_or_more)
    exact: float = attrs.field(default=0.5, validator=_check_unit_or_more)
    query_stopwords: tuple[str, ...] = attrs.field(default=QUESTION_WORDS, converter=_words)
    delta: float = attrs.field(default=0.55, validator=_check_unit_or_more)
    lead: float = attrs.field(default=0.5, validator=_check_unit_or_more)
    lead_window: int = attrs.field(default=50, validator=_check_window)

    def __attrs_post_init__(self) -> None:
        names = [f.name for f in self.text_fields] + list(self.keyword_fields) + list(self.date_fields)
        if not self.text_fields:
            raise ValueError("a schema needs at least one text field")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"field names used twice: {duplicates}")
        if "id" in names:
            raise ValueError("'id' is the document id, not a field to declare")

    @property
    def text_field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.text_fields)

    @property
    def exact_fields(self) -> tuple[str, ...]:
        """The companion fields holding exact word forms (none when ``exact`` is 0)."""
        return tuple(exact_field(f.name) for f in self.text_fields) if self.exact else ()

    def text_field(self, name: str) -> TextField:
        """The text field ``name`` (or the one an exact-form field ``name.exact`` belongs to)."""
        name = base_field(name)
        for f in self.text_fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def with_weights(self, weights: Mapping[str, float]) -> Schema:
        unknown = set(weights) - set(self.text_field_names)
        if unknown:
            raise ValueError(f"unknown text fields: {sorted(unknown)}")
        fields = tuple(attrs.evolve(f, weight=weights.get(f.name, f.weight)) for f in self.text_fields)
        return attrs.evolve(self, text_fields=fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text_fields": [{"name": f.name, "weight": f.weight, "b": f.b} for f in self.text_fields],
            "keyword_fields": list(self.keyword_fields),
            "date_fields": list(self.date_fields),
            "k1": self.k1,
            "proximity": self.proximity,
            "exact": self.exact,
            "query_stopwords": list(self.query_stopwords),
            "delta": self.delta,
            "lead": self.lead,
            "lead_window": self.lead_window,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        if not isinstance(data, Mapping):
            raise ValueError("schema must be a mapping")
        unknown = set(data) - {"text_fields", "keyword_fields", "date_fields", "k1", "proximity", "exact",
                               "query_stopwords", "delta", "lead", "lead_window"}
        if unknown:
            raise ValueError(f"schema has unknown keys: {sorted(unknown)}")
        # an index written before a setting existed keeps ranking as it did: no exact forms, no query
        # stopwords, no BM25+ lower bound, no lead bonus
        data = {"exact": 0.0, "query_stopwords": (), "delta": 0.0, "lead": 0.0, **data}
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"bad schema: {exc}") from exc
