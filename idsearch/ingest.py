"""Reading news documents from files into plain dicts (the input side of ``idsearch index PATH...``).

Formats, chosen by suffix (case-insensitive), each optionally gzip-compressed (``x.jsonl.gz``):

* ``.jsonl`` / ``.ndjson`` / ``.json``: one JSON object per line, streamed line by line. A ``.json`` file
  that starts with ``[``, or whose first line is ``{`` alone, is instead read as JSON values: an array of
  objects, or pretty-printed objects one after another (as ``jq`` writes them), streamed too.
* ``.csv`` / ``.tsv``: a header row, then one record per row (empty cells count as missing).
* ``.txt``: one article in the plain-text layout of Indonesian portals, see :func:`read_portal_article`.
* ``-`` (:data:`STDIN`): the standard input, JSON lines or JSON values, plain or gzipped (sniffed).

Folders are walked recursively in sorted order; files with other suffixes inside them are skipped and
counted (:attr:`IngestStats.files_skipped`). Records become dicts: ``id`` (from the mapped id field, or a
stable ``sha1:`` content hash), the text fields, ``date`` (ISO ``YYYY-MM-DD``, via
:func:`idsearch.dates.parse_date`) with the original string in ``date_raw``, and every other non-null
field as metadata.

Bad input never loses work: good documents are yielded and each problem (malformed JSON, invalid UTF-8,
a wrong CSV column count, binary junk, an empty document, an unparseable date, ...) is reported as a
:class:`Problem` naming file, line and field. With ``strict=True`` the first *error* raises
:class:`IngestError` instead; warnings never raise.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import logging
import os
import re
import sys
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from idsearch.dates import DateParseError, parse_date, search_date

__all__ = [
    "SUFFIXES",
    "FieldMapping",
    "IngestError",
    "IngestStats",
    "Problem",
    "iter_documents",
    "read_portal_article",
    "stable_id",
]

log = logging.getLogger(__name__)

#: file suffix (after removing ``.gz``) -> format name
SUFFIXES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "txt",
}

STDIN = "-"  # a path that stands for the standard input: JSON lines or JSON values, plain or gzipped
_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192
_JSON_BLOCK = 1 << 20  # bytes read at a time from a JSON file that is not one object per line
_CSV_FIELD_LIMIT = 1 << 30  # the csv module's default (128 KiB) is too small for long articles


@attrs.frozen
class Problem:
    """One thing wrong with the input: where it is and what it is. ``severity`` is "error" or "warning"."""

    path: str
    line: int | None
    field: str | None
    message: str
    severity: str = attrs.field(default="error", validator=attrs.validators.in_(("error", "warning")))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class IngestError(ValueError):
    """Input that cannot be read as documents (raised in strict mode, or by :func:`read_portal_article`)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _pairs(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(a), str(b)) for a, b in items)


def _names(value: Iterable[str] | str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _optional_names(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    return None if value is None else _names(value)


@attrs.frozen
class FieldMapping:
    """How the keys of a JSONL/CSV record become document fields.

    ``rename`` (old name -> new name) is applied first; every other option names fields after renaming.
    ``id_field`` becomes ``id`` (a missing or empty id gets :func:`stable_id` of the text fields).
    ``text_fields`` must be strings when present, and at least one must hold text. ``date_field`` is
    parsed into ``date`` (ISO) with the original in ``date_raw``; when it is missing or unparseable, the
    ``date_fallback_fields`` are tried in order (the shared corpus has 142 detik.com rows whose date sits
    in ``time``). ``keep_fields`` limits the metadata kept (None keeps every other non-null key).
    """

    id_field: str | None = "id"
    text_fields: tuple[str, ...] = attrs.field(default=("title", "body"), converter=_names)
    date_field: str | None = "date"
    date_fallback_fields: tuple[str, ...] = attrs.field(default=("time",), converter=_names)
    rename: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    keep_fields: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_names)

    @text_fields.validator
    def _check_text_fields(self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        if not value:
            raise ValueError("FieldMapping.text_fields must name at least one field")


@attrs.define
class IngestStats:
    """Progress of one :func:`iter_documents` run, updated as it goes (watch it for a progress bar).

    ``bytes_read`` counts bytes of the files as stored on disk (compressed bytes for ``.gz``), so
    ``bytes_read / bytes_total`` is the fraction done. ``problems`` keeps the first ``max_kept`` problems;
    ``errors`` and ``warnings`` count all of them.
    """

    files_total: int = 0
    bytes_total: int = 0
    files_done: int = 0
    files_skipped: int = 0
    bytes_read: int = 0
    docs: int = 0
    errors: int = 0
    warnings: int = 0
    current_path: str | None = None
    current_line: int | None = None  # line of the document just yielded (JSON lines, CSV), for error messages
    problems: list[Problem] = attrs.field(factory=list)
    max_kept: int = 1000

    @property
    def fraction(self) -> float:
        """Share of the input bytes read so far, 0.0 to 1.0."""
        return 1.0 if self.bytes_total <= 0 else min(1.0, self.bytes_read / self.bytes_total)


class _Reporter:
    """Routes problems to the stats, the callback (or the log) and, in strict mode, raises on errors."""

    def __init__(
        self, strict: bool, on_problem: Callable[[Problem], None] | None, stats: IngestStats | None
    ) -> None:
        self.strict = strict
        self.on_problem = on_problem
        self.stats = stats

    def __call__(self, problem: Problem) -> None:
        stats = self.stats
        if stats is not None:
            if problem.severity == "error":
                stats.errors += 1
            else:
                stats.warnings += 1
            if len(stats.problems) < stats.max_kept:
                stats.problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)
        elif stats is None:
            log.warning("%s", problem)
        if self.strict and problem.severity == "error":
            raise IngestError(problem)


# --------------------------------------------------------------------------------------------- records


def _normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def stable_id(texts: Iterable[str | None]) -> str:
    """``"sha1:"`` + 16 hex digits of the SHA-1 of the normalized texts (NFC, whitespace collapsed)."""
    joined = "\x1e".join(_normalize(t) if t else "" for t in texts)
    return "sha1:" + hashlib.sha1(joined.encode("utf-8")).hexdigest()[:16]


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def _build(
    record: Mapping[str, Any], mapping: FieldMapping, path: str, line: int | None, report: _Reporter
) -> dict[str, Any] | None:
    """The document for one record, or None after reporting why there is none."""
    if mapping.rename:
        renames = dict(mapping.rename)
        record = {renames.get(k, k): v for k, v in record.items()}
    texts: list[str | None] = []
    for name in mapping.text_fields:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            report(Problem(path, line, name, f"expected a string, got {_type_name(value)}", "error"))
            return None
        texts.append(value)
    if not any(t and not t.isspace() for t in texts):
        names = ", ".join(mapping.text_fields)
        report(Problem(path, line, None, f"empty document: no text in {names}", "error"))
        return None

    doc: dict[str, Any] = {}
    raw_id = record.get(mapping.id_field) if mapping.id_field else None
    if raw_id is None or raw_id == "":
        doc["id"] = stable_id(texts)
    elif isinstance(raw_id, str):
        doc["id"] = raw_id
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        doc["id"] = str(raw_id)
    else:
        report(
            Problem(path, line, mapping.id_field, f"expected a string id, got {_type_name(raw_id)}", "error")
        )
        return None
    for name, text in zip(mapping.text_fields, texts):
        if text is not None:
            doc[name] = text

    reserved = {mapping.id_field, mapping.date_field, *mapping.text_fields}
    keep = mapping.keep_fields
    for key, value in record.items():
        if value is None or key in reserved or (keep is not None and key not in keep):
            continue
        doc[key] = value

    if mapping.date_field or mapping.date_fallback_fields:
        _add_date(doc, record, mapping, path, line, report)
    return doc


def _add_date(
    doc: dict[str, Any],
    record: Mapping[str, Any],
    mapping: FieldMapping,
    path: str,
    line: int | None,
    report: _Reporter,
) -> None:
    raw = record.get(mapping.date_field) if mapping.date_field else None
    failure: str | None = None
    if raw is not None:
        doc.setdefault("date_raw", raw)  # (a record exported by idsearch has its original already)
        if isinstance(raw, str):
            try:
                doc["date"] = parse_date(raw).isoformat()
                return
            except DateParseError as exc:
                failure = str(exc)
        else:
            failure = f"expected a date string, got {_type_name(raw)} {raw!r}"
    for name in mapping.date_fallback_fields:
        value = record.get(name)
        if isinstance(value, str):
            try:
                doc["date"] = parse_date(value).isoformat()
                return
            except DateParseError:
                continue
    if failure is not None:
        report(Problem(path, line, mapping.date_field, f"{failure}; kept as date_raw only", "warning"))


# ------------------------------------------------------------------------------------------ portal .txt

_BYLINE_RE = re.compile(r"(?P<key>penulis|reporter|editor)\s*:\s*(?P<value>.+)", re.IGNORECASE)
_READ_ALSO_RE = re.compile(r"(?:baca|simak|lihat)\s+(?:juga|pula)\b\s*:?", re.IGNORECASE)
_DOMAIN = r"[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_CREDIT_RE = re.compile(rf"\(\s*(?P<source>{_DOMAIN})\s*(?:[,/]\s*(?P<names>[^()]*?))?\s*\)")
_DATELINE_RE = re.compile(
    rf"(?:(?P<city>[A-Z][A-Za-z .'-]{{1,40}}),\s*)?(?P<source>{_DOMAIN})\s*[-\u2013\u2014]+\s+"
)
_COMMENTS_START_RE = re.compile(r"kirim\s+komentar", re.IGNORECASE)
_COMMENT_BOILERPLATE_RE = re.compile(
    r"isi\s+komentar\s+sepenuhnya\s+adalah\s+tanggung\s+jawab", re.IGNORECASE
)


def read_portal_article(text: str, *, path: str = "<text>") -> dict[str, Any]:
    """One article in the plain-text portal layout, as a document dict.

    Layout: title line, lead, ``Penulis:``/``Editor:`` lines, body starting with a ``SOURCE.COM - ``
    dateline, ``Baca juga:`` lines, a ``(Source.com, Author)`` credit line, then ``Kirim Komentar`` and
    comment boilerplate. Returns ``id`` (:func:`stable_id` of title and body), ``title`` (first non-empty
    line), ``body`` (lead and article text without bylines, ``Baca juga`` lines, the dateline prefix,
    the credit line and everything from ``Kirim Komentar`` on), and when found ``date`` (ISO, the first
    date in the text) with ``date_raw`` (its text), ``source`` (lowercase domain of the dateline, else of
    the credit line), ``author`` (``Penulis``/``Reporter``, else the credit line) and ``editor``.
    Raises :class:`IngestError` when there is no text at all.
    """
    kept: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if _COMMENTS_START_RE.fullmatch(line):
            break
        if line and not _COMMENT_BOILERPLATE_RE.match(line):
            kept.append(line)
    if not kept:
        raise IngestError(Problem(path, None, None, "empty document: no text", "error"))

    title, body_lines = kept[0], []
    meta: dict[str, str] = {}
    dateline_source = credit_source = credit_names = None
    for line in kept[1:]:
        if len(line) <= 120 and (m := _BYLINE_RE.fullmatch(line)):
            key = "editor" if m["key"].lower() == "editor" else "author"
            meta.setdefault(key, m["value"].strip())
            continue
        if _READ_ALSO_RE.match(line):
            continue
        if m := _CREDIT_RE.fullmatch(line):
            credit_source, credit_names = m["source"].lower(), (m["names"] or "").strip() or None
            continue
        if dateline_source is None and (m := _DATELINE_RE.match(line)):
            dateline_source = m["source"].lower()
            line = line[m.end() :]
            if not line:
                continue
        body_lines.append(line)

    body = "\n".join(body_lines)
    doc: dict[str, Any] = {"id": stable_id((title, body)), "title": title, "body": body}
    found = search_date("\n".join(kept))
    if found is not None:
        doc["date"] = found.date.isoformat()
        doc["date_raw"] = found.text
    source = dateline_source or credit_source
    if source:
        doc["source"] = source
    if "author" not in meta and credit_names:
        meta["author"] = credit_names
    doc.update(sorted(meta.items()))
    return doc


# ------------------------------------------------------------------------------------------------ files


def _format_of(path: Path) -> tuple[str | None, bool]:
    """(format name or None, gzip-compressed?) from the file name."""
    name = path.name.lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[:-3]
    return SUFFIXES.get(os.path.splitext(name)[1]), compressed


def _walk(folder: Path, files: list[Path], stats: IngestStats) -> None:
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir():
            _walk(path, files, stats)
        elif _format_of(path)[0] is not None and entry.is_file():
            files.append(path)
        else:
            stats.files_skipped += 1


class _CountedInput(io.RawIOBase):
    """The standard input, counting the bytes read from it."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read1(len(buffer))  # type: ignore[attr-defined]
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class _Progress:
    """Turns the position in the raw (possibly compressed) file into :attr:`IngestStats.bytes_read`."""

    def __init__(self, raw: IO[bytes], stats: IngestStats) -> None:
        self.raw = raw
        self.stats = stats
        self.base = stats.bytes_read

    def tick(self) -> None:
        try:
            self.stats.bytes_read = self.base + self.raw.tell()
        except OSError:  # a pipe: no position
            pass


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw line) without a leading byte-order mark."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        yield number, raw


def _utf8_problem(path: str, line: int, exc: UnicodeDecodeError) -> Problem:
    return Problem(path, line, None, f"invalid UTF-8 at byte {exc.start} of the line", "error")


def _read_jsonl(
    stream: IO[bytes], path: str, mapping: FieldMapping, report: _Reporter, progress: _Progress
) -> Iterator[dict[str, Any]]:
    for number, raw in _lines(stream):
        if raw.isspace() or not raw:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report(_utf8_problem(path, number, exc))
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            report(Problem(path, number, None, f"malformed JSON: {exc.msg} (column {exc.colno})", "error"))
            continue
        yield from _json_document(value, None, path, number, mapping, report, progress)


class _JsonProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


_JSON_SPACE = re.compile(r"[ \t\r\n]*")


class _JsonText:
    """The text of a JSON file decoded a block at a time, parsed value by value: what was parsed is
    dropped, so memory holds a block and the value being read, whatever the file's size."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._decoder = json.JSONDecoder()
        self._utf8 = codecs.getincrementaldecoder("utf-8-sig")()
        self._text = ""
        self._pos = 0
        self._eof = False
        self._trimmed = False  # whether the text no longer starts at the file's start
        self._broken: _JsonProblem | None = None  # invalid UTF-8 where the decoded text ends
        self.line = 1  # the line of the position

    def _fill(self, count: int) -> bool:
        """Decode until ``count`` characters past the position are (or the file ends); whether one is."""
        if self._pos >= _JSON_BLOCK:
            self._text = self._text[self._pos :]
            self._pos = 0
            self._trimmed = True
        while len(self._text) - self._pos < count and not self._eof:
            block = self._stream.read(_JSON_BLOCK)
            self._eof = not block
            pending, flag = self._utf8.getstate()  # bytes of a character the last block cut, and the BOM flag
            try:
                self._text += self._utf8.decode(block, final=self._eof)
            except UnicodeDecodeError as exc:
                # the text before it is parsed first: the problem is raised where the text ends
                self._utf8.setstate((b"", flag))
                self._text += self._utf8.decode((pending + block)[: exc.start])
                line = self.line + self._text.count("\n", self._pos)
                self._broken = _JsonProblem(line, "invalid UTF-8")
                self._eof = True
        return len(self._text) > self._pos

    def next_char(self) -> str:
        """The next character that is not whitespace ("" at the end), without consuming it."""
        while True:
            text, pos = self._text, self._pos
            end = _JSON_SPACE.match(text, pos).end()  # type: ignore[union-attr]  # (matches the empty string)
            self.line += text.count("\n", pos, end)
            self._pos = end
            if end < len(text):
                return text[end]
            if not self._fill(1):
                if self._broken:
                    raise self._broken
                return ""

    def skip(self) -> None:
        """Consume the character :meth:`next_char` returned."""
        self._pos += 1

    def value(self) -> Any:
        """Decode the value at the next non-whitespace character."""
        self.next_char()
        while True:
            text, pos = self._text, self._pos
            try:
                value, end = self._decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                # cut off by the end of the block: read on (at least twice as much, so that a long value
                # is decoded a few times, not once per block), unless the file ended
                cut = exc.pos >= len(text) - 8 or exc.msg.startswith("Unterminated string")
                if self._eof and cut and self._broken:
                    raise self._broken from None
                if self._eof or not cut:
                    line = self.line + text.count("\n", pos, exc.pos)
                    line_start = text.rfind("\n", 0, exc.pos) + 1
                    known = line_start > 0 or not self._trimmed
                    where = f" (column {exc.pos - line_start + 1})" if known else ""
                    raise _JsonProblem(line, f"malformed JSON: {exc.msg}{where}") from None
                self._fill(max(_JSON_BLOCK, 2 * (len(text) - pos)))
                continue
            if end > len(text) - 8 and not self._eof:
                # a number may go on in the next block ("-12." decodes as -12): decoded again with more text
                self._fill(end - pos + 8)
                continue
            self.line += text.count("\n", pos, end)
            self._pos = end
            return value


def _read_json_values(
    stream: IO[bytes], path: str, mapping: FieldMapping, report: _Reporter, progress: _Progress
) -> Iterator[dict[str, Any]]:
    """A JSON file that is not one object per line: an array of objects, or objects one after another
    (pretty-printed, as ``jq`` writes them). Streamed: an array's objects become documents as they are
    read, each problem names the line its object starts on. A syntax error ends the file (JSON cannot be
    resumed after one), after the documents before it."""
    text = _JsonText(stream)
    try:
        while char := text.next_char():
            if char != "[":
                line = text.line
                yield from _json_document(text.value(), None, path, line, mapping, report, progress)
                continue
            text.skip()
            index = 0
            if text.next_char() == "]":
                text.skip()
                continue
            while True:
                text.next_char()
                line = text.line
                value = text.value()
                yield from _json_document(value, f"[{index}]", path, line, mapping, report, progress)
                index += 1
                char = text.next_char()
                text.skip()
                if char == "]":
                    break
                if char != ",":
                    found = repr(char) if char else "the end of the file"
                    message = f"malformed JSON: expected ',' or ']' after element {index - 1}, found {found}"
                    raise _JsonProblem(text.line, message)
    except _JsonProblem as exc:
        report(Problem(path, exc.line, None, exc.message, "error"))


def _json_document(
    value: Any,
    label: str | None,
    path: str,
    line: int,
    mapping: FieldMapping,
    report: _Reporter,
    progress: _Progress,
) -> Iterator[dict[str, Any]]:
    """The document of one value of a JSON file (``label``: its index in an array), or a problem."""
    progress.tick()
    if not isinstance(value, dict):
        report(Problem(path, line, label, f"expected a JSON object, got {_type_name(value)}", "error"))
        return
    doc = _build(value, mapping, path, line, report)
    if doc is not None:
        progress.stats.current_line = line
        yield doc


def _read_csv(
    stream: IO[bytes],
    path: str,
    mapping: FieldMapping,
    report: _Reporter,
    progress: _Progress,
    delimiter: str,
) -> Iterator[dict[str, Any]]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    bad_lines: dict[int, UnicodeDecodeError] = {}

    def decoded() -> Iterator[str]:
        for number, raw in _lines(stream):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_lines[number] = exc
                yield raw.decode("utf-8", "replace")

    # strict: a stray quote (a,"b"c) or a quote never closed is an error, not a silently merged row
    reader = csv.reader(decoded(), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    previous_end = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            start, previous_end = previous_end + 1, reader.line_num
            where = f" (lines {start}-{previous_end})" if previous_end > start else ""
            report(Problem(path, start, None, f"malformed CSV{where}: {exc}", "error"))
            if header is None:
                return
            continue
        start, end = previous_end + 1, reader.line_num
        previous_end = end
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        bad = next((n for n in range(start, end + 1) if n in bad_lines), None)
        if bad is not None:
            report(_utf8_problem(path, bad, bad_lines[bad]))
            if header is None:
                return
            continue
        if header is None:
            header = [name.strip() for name in row]
            duplicates = sorted({n for n in header if header.count(n) > 1})
            if duplicates:
                report(Problem(path, start, None, f"duplicate column names {duplicates}", "error"))
                return
            continue
        if len(row) != len(header):
            report(Problem(path, start, None, f"expected {len(header)} columns, got {len(row)}", "error"))
            continue
        record = {name: value for name, value in zip(header, row) if value != ""}
        doc = _build(record, mapping, path, start, report)
        progress.tick()
        if doc is not None:
            progress.stats.current_line = start
            yield doc


def _read_txt(
    stream: IO[bytes], path: str, mapping: FieldMapping, report: _Reporter, progress: _Progress
) -> Iterator[dict[str, Any]]:
    data = stream.read()
    progress.tick()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report(_utf8_problem(path, data.count(b"\n", 0, exc.start) + 1, exc))
        return
    try:
        doc = read_portal_article(text, path=path)
    except IngestError as exc:
        report(exc.problem)
        return
    doc["path"] = path
    yield doc


def _read_file(
    path: Path, fmt: str, compressed: bool, mapping: FieldMapping, report: _Reporter, stats: IngestStats
) -> Iterator[dict[str, Any]]:
    name = str(path)
    standard_input = name == STDIN
    counted = None
    if standard_input:
        name = "<stdin>"
        counted = _CountedInput(sys.stdin.buffer)
        raw: IO[bytes] = io.BufferedReader(counted)  # type: ignore[arg-type]
        compressed = raw.peek(2)[:2] == b"\x1f\x8b"  # type: ignore[attr-defined]  # (gzip's magic number)
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as exc:
            report(Problem(name, None, None, f"cannot open: {exc.strerror or exc}", "error"))
            return
    progress = _Progress(raw, stats)
    try:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]  # type: ignore[attr-defined]
        if b"\x00" in head:
            report(Problem(name, None, None, "binary data (NUL bytes), not a UTF-8 text file", "error"))
            return
        if fmt == "json":
            first = head.lstrip(_BOM + b" \t\r\n")[:1]
            first_line = head.split(b"\n", 1)[0].strip().lstrip(_BOM)
            fmt = "json-values" if first == b"[" or first_line == b"{" else "jsonl"
        if fmt == "jsonl":
            yield from _read_jsonl(stream, name, mapping, report, progress)
        elif fmt == "json-values":
            yield from _read_json_values(stream, name, mapping, report, progress)
        elif fmt in ("csv", "tsv"):
            delimiter = "\t" if fmt == "tsv" else ","
            yield from _read_csv(stream, name, mapping, report, progress, delimiter)
        else:
            yield from _read_txt(stream, name, mapping, report, progress)
    except (OSError, EOFError, zlib.error) as exc:
        kind = "corrupt or truncated gzip data" if compressed else "read error"
        report(Problem(name, None, None, f"{kind}: {exc}", "error"))
    finally:
        if counted is not None:  # (a pipe has no size: what was read is counted instead)
            stats.bytes_total += counted.count
            stats.bytes_read += counted.count
        else:
            raw.close()


def iter_documents(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    mapping: FieldMapping = FieldMapping(),
    strict: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    stats: IngestStats | None = None,
) -> Iterator[dict[str, Any]]:
    """The documents in the given files and folders, in order, as dicts (see the module docstring).

    Problems go to ``on_problem`` and into ``stats`` (to the ``idsearch.ingest`` log when neither is
    given); ``strict=True`` raises :class:`IngestError` at the first error. The file list is resolved up
    front (so ``stats.files_total``/``bytes_total`` are known), then files are streamed one by one.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    report = _Reporter(strict, on_problem, stats)
    stats = stats if stats is not None else IngestStats()
    files: list[tuple[Path, str, bool]] = []
    for given in paths:
        path = Path(given)
        if os.fspath(given) == STDIN:
            files.append((path, "json", False))  # (JSON lines or JSON values, plain or gzipped: sniffed)
        elif path.is_dir():
            found: list[Path] = []
            try:
                _walk(path, found, stats)
            except OSError as exc:
                report(Problem(str(path), None, None, f"cannot list folder: {exc.strerror or exc}", "error"))
            for found_path in found:
                fmt, compressed = _format_of(found_path)
                if fmt is not None:
                    files.append((found_path, fmt, compressed))
        elif path.is_file():
            fmt, compressed = _format_of(path)
            if fmt is None:
                known = ", ".join(sorted(SUFFIXES))
                report(
                    Problem(str(path), None, None, f"unsupported file type (known: {known}, +.gz)", "error")
                )
                stats.files_skipped += 1
            else:
                files.append((path, fmt, compressed))
        else:
            report(Problem(str(path), None, None, "no such file or folder", "error"))
    stats.files_total += len(files)
    for path, _fmt, _compressed in files:
        if os.fspath(path) == STDIN:
            continue
        try:
            stats.bytes_total += path.stat().st_size
        except OSError:
            pass

    for path, fmt, compressed in files:
        stats.current_path = str(path)
        stats.current_line = None
        start = stats.bytes_read
        for doc in _read_file(path, fmt, compressed, mapping, report, stats):
            stats.docs += 1
            yield doc
        try:
            stats.bytes_read = start + path.stat().st_size
        except OSError:
            pass
        stats.files_done += 1
    stats.current_path = None
