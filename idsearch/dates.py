"""Dates as Indonesian news portals write them, parsed into :class:`datetime.date`.

Supported shapes (case-insensitive, surrounding whitespace ignored), each optionally preceded by a day
name (``Senin``, ``Senin,``) and followed by a time of day (``10:15``, ``10.15 WIB``, ``pukul 10:15 WITA``,
``00:00:00``, ``T04:15:36Z``):

=========================  ============================================================
``2024-12-02``             ISO year-month-day (also ``2024/12/02``)
``2/12/2024``              day/month/year, Indonesian order (also ``-`` and ``.`` separators)
``Senin (2/12/2024)``      any date in parentheses after a day name
``17 Oktober 2019``        day, month name, year (``02 Des 2024``, ``2 Des. 2024``)
``Sep 21, 2019``           month name, day, year (``Oktober 19, 2019``)
``10-Sep-19``              day-month name-two-digit year (tribunnews.com; read as 2019)
``2017-03-28T04:15:36Z``   ISO 8601 date-time
=========================  ============================================================

Month names are Indonesian or English, full or abbreviated (``Januari``/``Jan``, ``Pebruari``,
``Agustus``/``Agu``/``Agt``/``Aug``, ``Nop``, ``Des``, ...). Day names are Indonesian (``Jumat``,
``Jum'at``, ``Minggu``/``Ahad``, ...) or English. Time zones ``WIB``/``WITA``/``WIT``, ``UTC``/``GMT``/``Z``
and numeric offsets are accepted and ignored: the date is returned as written, never shifted.

Nothing is guessed: a numeric date with a two-digit year (``2/12/24``), a date without a year
(``2 Desember``), a month without a day, an impossible date (``31/02/2024``), an impossible time
(``25:00``) or a day name that contradicts the date (``Selasa (2/12/2024)``) is an error.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator

import attrs

__all__ = ["DateMatch", "DateParseError", "find_date", "iter_dates", "parse_date", "search_date"]


class DateParseError(ValueError):
    """A string that is not exactly one valid, complete date."""


#: month name or abbreviation (lowercase, without a trailing dot) -> month number
MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "januari january jan",
        "februari pebruari february feb peb",
        "maret march mar",
        "april apr",
        "mei may",
        "juni june jun",
        "juli july jul",
        "agustus august agu agt ags aug",
        "september sept sep",
        "oktober october okt oct",
        "november nopember nov nop",
        "desember december des dec",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number

#: day name (lowercase) -> ``date.weekday()`` (Monday = 0)
WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "senin monday mon",
        "selasa tuesday tue tues",
        "rabu wednesday wed",
        "kamis thursday thu thur thurs",
        "jumat jum'at jum’at jumaat friday fri",
        "sabtu saturday sat",
        "minggu ahad sunday sun",
    )
):
    for _name in _names.split():
        WEEKDAYS[_name] = _number


def _alternation(names: dict[str, int]) -> str:
    return "|".join(re.escape(name) for name in sorted(names, key=lambda n: (-len(n), n)))


_MONTH = rf"(?:{_alternation(MONTHS)})\.?"
_WEEKDAY = rf"(?:{_alternation(WEEKDAYS)})"

# The calendar date itself; exactly one group family (iso / dmy / dmn / mdn / dmy2) matches.
_DATE = rf"""
(?:
    (?P<iso_y>\d{{4}})(?P<iso_sep>[-/])(?P<iso_m>\d{{1,2}})(?P=iso_sep)(?P<iso_d>\d{{1,2}})
  | (?P<dmy_d>\d{{1,2}})(?P<dmy_sep>[/.-])(?P<dmy_m>\d{{1,2}})(?P=dmy_sep)(?P<dmy_y>\d{{4}})
  | (?P<dmn_d>\d{{1,2}})[ \t]*(?P<dmn_m>{_MONTH})[ \t]*,?[ \t]*(?P<dmn_y>\d{{4}})
  | (?P<mdn_m>{_MONTH})[ \t]*(?P<mdn_d>\d{{1,2}})(?:st|nd|rd|th)?[ \t]*,?[ \t]*(?P<mdn_y>\d{{4}})
  | (?P<dm2_d>\d{{1,2}})-(?P<dm2_m>{_MONTH})-(?P<dm2_y>\d{{2}}(?:\d{{2}})?)
)
"""

_TIME = r"""
(?:
    (?:[ \t]*[,|\u2013-][ \t]*|[ \t]+|T)(?:(?:pukul|pkl\.?|jam)[ \t]*)?
    (?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2})(?:\.\d{1,9})?)?
    (?:[ \t]*(?:WIB|WITA|WIT|UTC|GMT|Z)\b|Z|[ \t]*[+-]\d{2}:?\d{2})?
)
"""

_DAY_PREFIX = rf"(?:(?P<weekday>{_WEEKDAY})[ \t]*,?[ \t]*)"

_FULL_RE = re.compile(
    rf"""
    \A[ \t]*
    {_DAY_PREFIX}?
    (?: \([ \t]* {_DATE} [ \t]*\) | {_DATE.replace("(?P<", "(?P<b_").replace("(?P=", "(?P=b_")} )
    {_TIME}?
    [ \t]*\Z
    """,
    re.IGNORECASE | re.VERBOSE,
)

# In free text a date must stand alone: not glued to letters, digits or number punctuation.
_FIND_RE = re.compile(
    rf"""
    (?<![\w/.,:-])
    {_DAY_PREFIX}?
    (?: \([ \t]* {_DATE} [ \t]*\) | {_DATE.replace("(?P<", "(?P<b_").replace("(?P=", "(?P=b_")} )
    (?![\w/-]|[.,:]\d)
    """,
    re.IGNORECASE | re.VERBOSE,
)


@attrs.frozen
class DateMatch:
    """A date found in free text: the date and where its text is (``text[start:end]``)."""

    date: _dt.date
    start: int
    end: int
    text: str


def _group(m: re.Match[str], name: str) -> str | None:
    value = m.group(name)
    if value is None:
        value = m.group("b_" + name)
    return value


def _date_of(m: re.Match[str]) -> _dt.date:
    """The date a :data:`_FULL_RE` / :data:`_FIND_RE` match denotes; ValueError if impossible."""
    if (y := _group(m, "iso_y")) is not None:
        year, month, day = int(y), int(_group(m, "iso_m") or 0), int(_group(m, "iso_d") or 0)
    elif (y := _group(m, "dmy_y")) is not None:
        year, month, day = int(y), int(_group(m, "dmy_m") or 0), int(_group(m, "dmy_d") or 0)
    elif (y := _group(m, "dmn_y")) is not None:
        year, month, day = (
            int(y),
            MONTHS[(_group(m, "dmn_m") or "").lower().rstrip(".")],
            int(_group(m, "dmn_d") or 0),
        )
    elif (y := _group(m, "mdn_y")) is not None:
        year, month, day = (
            int(y),
            MONTHS[(_group(m, "mdn_m") or "").lower().rstrip(".")],
            int(_group(m, "mdn_d") or 0),
        )
    else:
        y = _group(m, "dm2_y") or ""
        year = int(y) + 2000 if len(y) == 2 else int(y)
        month = MONTHS[(_group(m, "dm2_m") or "").lower().rstrip(".")]
        day = int(_group(m, "dm2_d") or 0)
    if year < 1000:
        raise ValueError(f"year {year} is out of range")
    try:
        date = _dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"no such date (year {year}, month {month}, day {day}): {exc}") from None
    weekday = m.group("weekday")
    if weekday is not None:
        expected = WEEKDAYS[weekday.lower()]
        if date.weekday() != expected:
            actual = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")[date.weekday()]
            raise ValueError(f"{date.isoformat()} is a {actual}, not a {weekday}")
    return date


def parse_date(text: str) -> _dt.date:
    """The date that ``text`` (the whole string, e.g. a ``date`` metadata value) denotes.

    Raises :class:`DateParseError`, quoting ``text``, when it is not exactly one complete valid date.
    """
    if not isinstance(text, str):
        raise DateParseError(f"cannot parse date {text!r}: expected a string, got {type(text).__name__}")
    m = _FULL_RE.match(text)
    if m is None:
        raise DateParseError(f"cannot parse date {text!r}: not a recognised complete date")
    hour = m.group("hour")
    if hour is not None:
        second = m.group("second")
        if int(hour) > 23 or int(m.group("minute")) > 59 or (second is not None and int(second) > 59):
            raise DateParseError(f"cannot parse date {text!r}: invalid time of day")
    try:
        return _date_of(m)
    except ValueError as exc:
        raise DateParseError(f"cannot parse date {text!r}: {exc}") from None


def iter_dates(text: str) -> Iterator[DateMatch]:
    """Every valid date written in free text, in order; invalid candidates (31/02/2024) are skipped."""
    for m in _FIND_RE.finditer(text):
        try:
            date = _date_of(m)
        except ValueError:
            continue
        yield DateMatch(date, m.start(), m.end(), m.group())


def search_date(text: str) -> DateMatch | None:
    """The first valid date in free text with its position, or None."""
    return next(iter_dates(text), None)


def find_date(text: str) -> _dt.date | None:
    """The first valid date in free text (e.g. ``"Pada hari Senin (2/12/2024), ..."``), or None."""
    found = search_date(text)
    return None if found is None else found.date
