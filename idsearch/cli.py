"""The ``idsearch`` command line: search, build and maintain an index from a shell.

Commands: ``query``, ``index``, ``stats``, ``get``, ``delete``, ``optimize``, ``bench`` and ``check``.
Run ``idsearch COMMAND --help`` for each one's options and examples.

Start-up is kept short: this module imports only the standard library at load time; the index, the
analyzer (and numpy) are imported by the command that needs them, and ``idsearch.ingest`` only by the
commands that read input files.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from idsearch.index import Index, Results
    from idsearch.ingest import IngestStats, Problem

__all__ = ["EXIT_INDEX", "EXIT_INPUT", "EXIT_NO_HITS", "EXIT_OK", "EXIT_USAGE", "default_index_path", "main"]

EXIT_OK = 0
EXIT_NO_HITS = 1  # no hits (query), no such document (get, delete)
EXIT_USAGE = 2  # bad arguments, malformed query, unknown field, bad date
EXIT_INDEX = 3  # missing or corrupt index, write lock held by another process
EXIT_INPUT = 4  # bad input records with --strict (nothing committed)
EXIT_INTERRUPTED = 130

ENV_INDEX = "IDSEARCH_INDEX"
SAMPLE_DIR_NAME = "corpus"


class CliError(Exception):
    """An expected failure: printed as one line (no traceback), exiting with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------- index paths


def default_index_path(env: Mapping[str, str] | None = None) -> Path:
    """The per-user default index: ``$XDG_DATA_HOME/idsearch/default.idx``, else
    ``~/.local/share/idsearch/default.idx``."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "idsearch" / "default.idx"



def _resolve_index(args: argparse.Namespace) -> tuple[Path, bool]:
    """(index path, whether it is the per-user default chosen by neither --index nor the environment)."""
    given = getattr(args, "index", None)
    if given:
        return Path(given).expanduser(), False
    env = os.environ.get(ENV_INDEX)
    if env:
        return Path(env).expanduser(), False
    return default_index_path(), True


def sample_corpus_dir() -> Path | None:
    """The embedded sample corpus: ``corpus/`` beside the package in a source checkout (or an editable
    install), else ``idsearch/data/corpus/`` if a wheel ships it as package data; None when neither exists."""
    import idsearch

    package = Path(idsearch.__file__).resolve().parent
    for folder in (package.parent / SAMPLE_DIR_NAME, package / "data" / SAMPLE_DIR_NAME):
        if folder.is_dir():
            return folder
    return None


def _has_index(path: Path) -> bool:
    return (path / "manifest.json").is_file()


def _open_index(path: Path) -> Index:
    from idsearch.index import Index

    if not path.exists():
        raise CliError(f"no index at {path} (create one with: idsearch index FILES... --index {path})", EXIT_INDEX)
    if not _has_index(path):
        raise CliError(f"{path} is not an idsearch index (no manifest.json)", EXIT_INDEX)
    return Index.open(path)


def _build_sample_index(path: Path, err: IO[str]) -> None:
    """Build the default index from the embedded sample corpus, atomically (a temporary directory renamed
    into place, so two first runs at once do not trip over each other)."""
    sample = sample_corpus_dir()
    if sample is None:
        raise CliError(
            f"no index at {path}, and the sample corpus ({SAMPLE_DIR_NAME}/ beside the idsearch package) is not "
            f"installed; build an index with: idsearch index FILES...",
            EXIT_INDEX,
        )
    import shutil

    from idsearch.index import Index
    from idsearch.ingest import IngestStats, iter_documents

    err.write(f"idsearch: no index yet at {path}; building it from the sample corpus in {sample}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    stats = IngestStats()
    try:
        ix = Index.create(tmp)
        with ix.writer(workers=1) as w:
            for doc in iter_documents([sample], stats=stats, on_problem=lambda p: err.write(f"{p}\n")):
                w.update(doc)
        ix.close()
        try:
            os.rename(tmp, path)
        except OSError:
            if not _has_index(path):
                raise
            # another run built it first: use theirs
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    err.write(f"idsearch: indexed {stats.docs} sample document(s) into {path}\n")


# ---------------------------------------------------------------------------------------------- formatting


def _use_color(choice: str, stream: IO[str]) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def _human_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _csv_list(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected one or more comma-separated names")
    return items


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, not {n}")
    return n


# ------------------------------------------------------------------------------------------------- query


def cmd_query(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    started = time.perf_counter()
    path, is_default = _resolve_index(args)
    if not _has_index(path) and is_default and not path.exists():
        _build_sample_index(path, err)
    ix = _open_index(path)
    try:
        return _run_query(ix, args, out, started)
    finally:
        ix.close()


def _filter_options(args: argparse.Namespace) -> dict[str, Any]:
    """The fields searched and the filters (:func:`_add_filter_options`), as keyword arguments."""
    filters = {k: v for k, v in (("source", args.source), ("category", args.category)) if v is not None}
    return {"fields": args.fields, "since": args.since, "until": args.until, "filters": filters or None}


def _has_filters(args: argparse.Namespace) -> bool:
    """Whether any filter of :func:`_add_filter_options` was given."""
    return any(v is not None for v in (args.since, args.until, args.source, args.category))


def _operator_options(args: argparse.Namespace) -> dict[str, Any]:
    """How the query's words combine (:func:`_add_operator_options`), as keyword arguments."""
    return {"default_operator": "or" if args.any else "and", "syntax": not args.plain}


def _result_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``query`` and ``related`` that choose which hits are shown, as keyword arguments."""
    return {"limit": args.limit, "offset": (args.page - 1) * args.limit, "sort": args.sort, **_filter_options(args)}


def _use_synonyms(ix: Index, args: argparse.Namespace) -> None:
    """The synonym groups of ``--synonyms FILE`` (:func:`_add_operator_options`), for the query's words."""
    if args.synonyms is None:
        return
    from idsearch.index import read_synonyms

    try:
        ix.synonyms = read_synonyms(args.synonyms)  # type: ignore[assignment]
    except OSError as exc:
        raise CliError(f"--synonyms: cannot read {args.synonyms}: {exc.strerror or exc}", EXIT_USAGE) from None
    except ValueError as exc:
        raise CliError(f"--synonyms: {exc}", EXIT_USAGE) from None


def _ready(ix: Index) -> None:
    """Open the current commit's segments and import the query planner, so that the search timed next is
    the search alone (both happen at a process's first search)."""
    import importlib

    importlib.import_module("idsearch.planner")
    len(ix)


def _run_query(ix: Index, args: argparse.Namespace, out: IO[str], started: float) -> int:
    _use_synonyms(ix, args)
    text = " ".join(args.query)
    _ready(ix)
    searching = time.perf_counter()
    results = ix.search(text, **_operator_options(args), **_result_options(args))
    code = _print_results(ix, results, args, out, started, time.perf_counter() - searching)
    if not results.total and not args.json:
        suggestion = ix.suggest(text, fields=args.fields)
        if suggestion is not None:
            out.write(f"did you mean: {suggestion}\n")
        elif not args.any:  # every word is in some document, but none has them all
            options = {**_result_options(args), "limit": 0, "offset": 0}
            anywhere = ix.search(text, default_operator="or", syntax=not args.plain, **options).total
            if anywhere:
                out.write(f"no document has every word; --or finds {_plural(anywhere, 'document')}\n")
    return code


def _print_results(
    ix: Index, results: Results, args: argparse.Namespace, out: IO[str], started: float, searched: float
) -> int:
    """The hits as text (or JSON lines), then how many there are, the time the search took (``searched``)
    and the time since the command ``started`` (opening the index included)."""
    import json

    if args.json:
        for hit in results:
            fields = hit.fields
            record = {
                "id": hit.id,
                "score": round(hit.score, 6),
                "title": fields.get("title"),
                "date": fields.get("date"),
                "source": fields.get("source"),
                "url": fields.get("url") or fields.get("path"),
                "snippet": ix.snippet(hit, max_chars=args.snippet_chars, style="plain"),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return EXIT_OK if results else EXIT_NO_HITS

    color = _use_color(args.color, out)
    bold, dim, reset = ("\x1b[1m", "\x1b[2m", "\x1b[0m") if color else ("", "", "")
    width = len(str(len(results))) if results else 1
    for hit in results:
        fields = hit.fields
        title = fields.get("title") or f"(no title) {hit.id}"
        pad = " " * (width + 2)
        out.write(f"{hit.rank:>{width}}. {bold}{' '.join(str(title).split())}{reset}\n")
        meta = [str(v) for v in (fields.get("date"), fields.get("source")) if v]
        meta.append(f"score {hit.score:.2f}")
        out.write(f"{pad}{dim}{' · '.join(meta)}{reset}\n")
        where = fields.get("url") or fields.get("path")
        if where:
            out.write(f"{pad}{dim}{where}{reset}\n")
        snippet = ix.snippet(hit, max_chars=args.snippet_chars, style="ansi" if color else "plain")
        if snippet:
            out.write(f"{pad}{' '.join(snippet.split())}\n")
        if getattr(args, "explain", False):
            explained = ix.explain(" ".join(args.query), hit.id, **_operator_options(args), **_filter_options(args))
            for line in str(explained).splitlines()[1:]:
                out.write(f"{pad}{dim}{line}{reset}\n")
        out.write("\n")
    elapsed = time.perf_counter() - started
    shown = after = ""
    if not results and results.total:
        pages = -(-results.total // args.limit)
        after = f"; page {args.page} is past the last ({_plural(pages, 'page')} of {args.limit})"
    elif len(results) == 1 and results.total > 1:
        shown = f" (hit {results[0].rank} shown)"
    elif results and len(results) < results.total:
        shown = f" ({results[0].rank}-{results[-1].rank} shown)"
    took = f"{searched * 1000:.2f} ms" if searched < 0.01 else _human_seconds(searched)
    line = f"{_plural(results.total, 'hit')}{shown} in {took} ({_human_seconds(elapsed)} in all){after}"
    out.write(f"{dim}{line}{reset}\n")
    return EXIT_OK if results else EXIT_NO_HITS


# ------------------------------------------------------------------------------------------------- index


class _Progress:
    """A one-line progress bar on a terminal (stderr): docs/s, MB/s and the ETA from input bytes."""

    BAR = 24

    def __init__(self, stream: IO[str], stats: IngestStats, enabled: bool) -> None:
        self.stream = stream
        self.stats = stats
        self.enabled = enabled
        self.started = time.perf_counter()
        self.last = 0.0
        self.shown = False

    def update(self, force: bool = False, note: str | None = None) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        st = self.stats
        elapsed = max(now - self.started, 1e-9)
        frac = st.fraction
        filled = int(frac * self.BAR)
        bar = "#" * filled + "-" * (self.BAR - filled)
        rate = st.bytes_read / elapsed
        eta = (st.bytes_total - st.bytes_read) / rate if rate > 0 and frac < 1 else 0.0
        line = (
            f"[{bar}] {frac * 100:5.1f}% {st.docs:,} docs  {st.docs / elapsed:,.0f} docs/s  "
            f"{rate / 2**20:.1f} MB/s  ETA {_human_seconds(eta) if eta else '-'}"
        )
        if note:
            line += f"  {note}"
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _mapping(args: argparse.Namespace) -> Any:
    from idsearch.ingest import FieldMapping

    options: dict[str, Any] = {}
    if args.id_field is not None:
        options["id_field"] = args.id_field or None
    if args.text_fields is not None:
        options["text_fields"] = tuple(args.text_fields)
    return FieldMapping(**options)


def _index_for_writing(path: Path, args: argparse.Namespace, err: IO[str]) -> Index:
    """Open the index at ``path``, creating it when missing (or replacing it with --overwrite)."""
    from idsearch.index import Index

    if _has_index(path) and not args.overwrite:
        if args.stemmer is not None or args.stopwords is not None:
            raise CliError(
                f"--stemmer/--stopwords apply when an index is created; {path} exists (add --overwrite to rebuild it)",
                EXIT_USAGE,
            )
        ix = Index.open(path)
        if args.text_fields is not None:
            unknown = [f for f in args.text_fields if f not in ix.schema.text_field_names]
            if unknown:
                ix.close()
                raise CliError(
                    f"--text-fields {','.join(unknown)}: not text fields of the index at {path} "
                    f"(it has {','.join(ix.schema.text_field_names)})",
                    EXIT_USAGE,
                )
        return ix
    schema = None
    if args.text_fields is not None:
        from idsearch.schema import Schema, TextField

        try:
            defaults = {f.name: f for f in Schema().text_fields}  # title/body keep their tuned weights
            schema = Schema(text_fields=tuple(defaults.get(n) or TextField(n) for n in args.text_fields))
        except ValueError as exc:
            raise CliError(f"--text-fields: {exc}", EXIT_USAGE) from None
    from idsearch.analysis import IndonesianAnalyzer

    try:
        analyzer = IndonesianAnalyzer(stemmer=args.stemmer or "sastrawi", stopwords=args.stopwords or "none")
    except (ValueError, OSError) as exc:
        raise CliError(f"analyzer: {exc}", EXIT_USAGE) from None
    ix = Index.create(path, schema=schema, analyzer=analyzer, overwrite=args.overwrite)
    err.write(f"idsearch: created a new index at {path}\n")
    return ix


def _check_inputs(paths: Sequence[str]) -> None:
    missing = [p for p in paths if p != "-" and not os.path.exists(p)]
    if missing:
        raise CliError(f"no such file or folder: {', '.join(missing)}", EXIT_USAGE)


def _where(stats: Any) -> str:
    """``path:line`` of the document being indexed (``path`` alone when the format has no lines)."""
    line = getattr(stats, "current_line", None)
    return f"{stats.current_path}:{line}" if line is not None else f"{stats.current_path}"


def cmd_index(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from idsearch.ingest import IngestError, IngestStats, iter_documents
    from idsearch.writer import DocumentError

    _check_inputs(args.paths)
    mapping = _mapping(args)
    path, _default = _resolve_index(args)
    started = time.perf_counter()
    created = not _has_index(path) or args.overwrite
    ix = _index_for_writing(path, args, err)
    stats = IngestStats()
    progress = _Progress(err, stats, enabled=_use_progress(args, err))
    bad_docs = 0
    strict_failed_new_index = False

    def report(problem: Problem) -> None:
        progress.clear()
        if problem.severity == "error" or not args.quiet:
            suffix = "" if problem.severity == "error" else " (warning)"
            err.write(f"{problem}{suffix}\n")

    try:
        with ix.writer(workers=args.workers) as w:
            try:
                for doc in iter_documents(args.paths, mapping=mapping, strict=args.strict, on_problem=report, stats=stats):
                    try:
                        w.update(doc)
                    except DocumentError as exc:
                        if args.strict:
                            raise
                        bad_docs += 1
                        progress.clear()
                        err.write(f"{_where(stats)}: {exc}\n")
                    progress.update()
            except (IngestError, DocumentError) as exc:
                progress.clear()
                if isinstance(exc, DocumentError):
                    err.write(f"{_where(stats)}: {exc}\n")
                if created:
                    strict_failed_new_index = True
                raise CliError(
                    f"stopped at the first bad record (--strict); nothing was committed to {path}", EXIT_INPUT
                ) from None
            progress.update(force=True, note="writing segments and committing…")
            w.flush()
            progress.clear()
            counts = (w.added, w.updated, w.skipped)
        total_docs = len(ix)
    finally:
        progress.clear()
        ix.close()
        if strict_failed_new_index:
            import shutil

            shutil.rmtree(path, ignore_errors=True)  # the empty index this run created
    elapsed = time.perf_counter() - started
    added, updated, skipped = counts
    problems = stats.errors + bad_docs
    out.write(
        f"{_plural(stats.docs, 'document')} read from {_plural(stats.files_done, 'file')} "
        f"({_human_bytes(stats.bytes_total)}) in {_human_seconds(elapsed)}: "
        f"{added:,} added, {updated:,} updated, {skipped:,} skipped (unchanged); "
        f"{_plural(problems, 'problem')}"
        + (f", {_plural(stats.warnings, 'warning')}" if stats.warnings else "")
        + f"\n{path}: {_plural(total_docs, 'document')}"
        + (f", {stats.docs / elapsed:,.0f} docs/s, {stats.bytes_total / elapsed / 2**20:.1f} MB/s" if elapsed > 0 else "")
        + "\n"
    )
    if stats.files_skipped:
        out.write(f"({_plural(stats.files_skipped, 'file')} of other types skipped)\n")
    return EXIT_OK


def _use_progress(args: argparse.Namespace, err: IO[str]) -> bool:
    if getattr(args, "progress", "auto") == "never":
        return False
    if getattr(args, "progress", "auto") == "always":
        return True
    isatty = getattr(err, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


# ----------------------------------------------------------------------------------------- maintenance


def cmd_stats(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import json

    path, _default = _resolve_index(args)
    ix = _open_index(path)
    try:
        st = ix.stats()
    finally:
        ix.close()
    data = {
        "path": st.path,
        "generation": st.generation,
        "documents": st.documents,
        "deleted": st.deleted,
        "segments": st.segments,
        "terms": st.terms,
        "tokens": st.tokens,
        "size_bytes": st.size_bytes,
        "analyzer": st.analyzer,
        "schema": st.schema,
    }
    if args.json:
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
        return EXIT_OK
    an = st.analyzer
    analyzer = f"stemmer {an.get('stemmer')}, stopwords {an.get('stopwords')}"
    for key, label in (("stopwords_added", "added"), ("stopwords_removed", "removed"), ("protected", "protected")):
        if an.get(key):
            analyzer += f", {label} {len(an[key])} word(s)"
    sc = st.schema
    text = ", ".join(f"{f['name']} (weight {f['weight']:g}, b {f['b']:g})" for f in sc["text_fields"])
    rows = [
        ("index", st.path),
        ("documents", f"{st.documents:,}" + (f" ({st.deleted:,} deleted, not yet merged away)" if st.deleted else "")),
        ("segments", f"{st.segments:,} (generation {st.generation})"),
        ("terms", ", ".join(f"{k} {v:,}" for k, v in st.terms.items())),
        ("tokens", ", ".join(f"{k} {v:,}" for k, v in st.tokens.items())),
        ("size", _human_bytes(st.size_bytes)),
        ("analyzer", analyzer),
        ("text fields", text + f"; k1 {sc.get('k1', 1.2):g}"),
        ("keywords", ", ".join(sc.get("keyword_fields", [])) or "-"),
        ("dates", ", ".join(sc.get("date_fields", [])) or "-"),
    ]
    width = max(len(k) for k, _v in rows)
    for key, value in rows:
        out.write(f"{key:<{width}}  {value}\n")
    return EXIT_OK


def cmd_get(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import json

    path, _default = _resolve_index(args)
    ix = _open_index(path)
    try:
        doc = ix.get(args.id)
    finally:
        ix.close()
    if doc is None:
        err.write(f"idsearch: no document with id {args.id!r} in {path}\n")
        return EXIT_NO_HITS
    out.write(json.dumps(doc, ensure_ascii=False, indent=None if args.compact else 2) + "\n")
    return EXIT_OK


def cmd_count(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import json

    path, _default = _resolve_index(args)
    ix = _open_index(path)
    try:
        query = " ".join(args.query) if args.query else None
        _use_synonyms(ix, args)
        counts = ix.counts(query, by=args.by, per=args.per, **_filter_options(args), **_operator_options(args))
    finally:
        ix.close()
    shown = counts if args.limit is None else counts[: args.limit]
    if args.json:
        for value, count in shown:
            out.write(json.dumps({"value": value, "count": count}, ensure_ascii=False) + "\n")
        return EXIT_OK if counts.matched else EXIT_NO_HITS
    width = max([len(args.by), *(len(v) for v, _n in shown)])
    digits = max([9, *(len(f"{n:,}") for _v, n in shown)])
    out.write(f"{args.by:<{width}}  {'documents':>{digits}}\n")
    for value, count in shown:
        share = 100 * count / counts.matched
        out.write(f"{value:<{width}}  {count:>{digits},}  {share:5.1f}%\n")
    what = f"matching {' '.join(args.query)!r}" if args.query else "matching the filters" if _has_filters(args) else "in the index"
    more = f"; {_plural(len(counts) - len(shown), 'more value')} (--limit)" if len(shown) < len(counts) else ""
    out.write(f"{_plural(counts.matched, 'document')} {what}, {counts.missing:,} without a {args.by}{more}\n")
    return EXIT_OK if counts.matched else EXIT_NO_HITS


def cmd_complete(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import json

    path, _default = _resolve_index(args)
    ix = _open_index(path)
    try:
        completions = ix.complete(" ".join(args.text), limit=args.limit, fields=args.fields)
    finally:
        ix.close()
    for text, documents in completions:
        out.write(json.dumps({"text": text, "documents": documents}, ensure_ascii=False) + "\n" if args.json
                  else f"{text}\t{documents}\n")
    return EXIT_OK if completions else EXIT_NO_HITS


def cmd_related(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    started = time.perf_counter()
    path, _default = _resolve_index(args)
    ix = _open_index(path)
    try:
        _ready(ix)
        searching = time.perf_counter()
        try:
            results = ix.related(args.id, terms=args.terms, **_result_options(args))
        except KeyError:
            err.write(f"idsearch: no document with id {args.id!r} in {path}\n")
            return EXIT_NO_HITS
        return _print_results(ix, results, args, out, started, time.perf_counter() - searching)
    finally:
        ix.close()


def cmd_export(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import io

    started = time.perf_counter()
    path, _default = _resolve_index(args)
    ix = _open_index(path)
    try:
        if args.output:
            try:
                count = ix.export(args.output)
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}", EXIT_USAGE) from None
            where = args.output
        else:
            out.flush()
            binary = getattr(out, "buffer", None)
            if binary is None:  # (a text stream without bytes underneath)
                data = io.BytesIO()
                count = ix.export(data)
                out.write(data.getvalue().decode("utf-8"))
            else:
                count = ix.export(binary)
                binary.flush()
            where = "standard output"
    finally:
        ix.close()
    if not args.quiet:
        err.write(f"idsearch: {_plural(count, 'document')} exported to {where} in "
                  f"{_human_seconds(time.perf_counter() - started)}\n")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    path, _default = _resolve_index(args)
    selecting = args.query is not None or _has_filters(args)
    if selecting == bool(args.ids):
        raise CliError("give document ids, or --query and/or filters (--since, --until, --source, --category)",
                       EXIT_USAGE)
    ix = _open_index(path)
    if selecting:
        try:
            deleted = ix.delete_matching(args.query, dry_run=args.dry_run, **_filter_options(args))
            remaining = len(ix)
        finally:
            ix.close()
        if args.dry_run:
            out.write(f"would delete {_plural(deleted, 'document')} of {remaining:,} (--dry-run: nothing deleted)\n")
        else:
            out.write(f"deleted {_plural(deleted, 'document')}; {path}: {_plural(remaining, 'document')}\n")
        return EXIT_OK if deleted else EXIT_NO_HITS
    missing = []
    try:
        with ix.writer(workers=1) as w:
            for doc_id in args.ids:
                if not w.delete(doc_id):
                    missing.append(doc_id)
            deleted = w.deleted
        remaining = len(ix)
    finally:
        ix.close()
    for doc_id in missing:
        err.write(f"idsearch: no document with id {doc_id!r}\n")
    out.write(f"deleted {_plural(deleted, 'document')}; {path}: {_plural(remaining, 'document')}\n")
    return EXIT_OK if not missing else EXIT_NO_HITS


def cmd_optimize(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    path, _default = _resolve_index(args)
    ix = _open_index(path)
    try:
        before = ix.stats()
        started = time.perf_counter()
        ix.optimize()
        elapsed = time.perf_counter() - started
        after = ix.stats()
    finally:
        ix.close()
    out.write(
        f"{path}: {_plural(before.segments, 'segment')} -> {after.segments}, "
        f"{before.deleted:,} deleted document(s) purged, {_human_bytes(before.size_bytes)} -> "
        f"{_human_bytes(after.size_bytes)} in {_human_seconds(elapsed)}\n"
    )
    return EXIT_OK


def _check_available() -> bool:
    """Whether an integrity check exists in this version of the library."""
    try:
        from idsearch.index import Index
    except ImportError:  # pragma: no cover
        return False
    if hasattr(Index, "check"):
        return True
    try:
        from idsearch import integrity
    except ImportError:
        return False
    return hasattr(integrity, "check_index")


def cmd_check(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import json

    from idsearch.index import Index

    path, _default = _resolve_index(args)
    if hasattr(Index, "check"):
        ix = _open_index(path)
        try:
            report = ix.check()
        finally:
            ix.close()
    else:
        from idsearch.integrity import check_index

        report = check_index(path)
    ok = bool(getattr(report, "ok", True))
    if args.json:
        problems = list(getattr(report, "problems", ()))
        out.write(json.dumps({"path": str(path), "ok": ok, "problems": problems,
                              "documents": getattr(report, "documents", None),
                              "segments": getattr(report, "segments", None)}, ensure_ascii=False) + "\n")
    else:
        out.write(f"{path}: {report}\n")
    return EXIT_OK if ok else EXIT_INDEX


# ------------------------------------------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Index the given files into a temporary index and time each stage (see the command's help)."""
    import json
    import tempfile

    from idsearch.index import Index
    from idsearch.ingest import IngestStats, iter_documents
    from idsearch.writer import words_known

    _check_inputs(args.paths)
    mapping = _mapping(args)
    stats = IngestStats()
    progress = _Progress(err, stats, enabled=_use_progress(args, err))
    problems: list[object] = []

    def report(problem: Problem) -> None:
        problems.append(problem)

    clock = time.perf_counter
    with tempfile.TemporaryDirectory(prefix="idsearch-bench-") as tmp:
        t0 = clock()
        ix = Index.create(Path(tmp) / "bench.idx")
        t_open = clock() - t0
        analyzer = ix.analyzer
        read_s = write_s = 0.0
        try:
            w = ix.writer(workers=args.workers)
            try:
                workers = w.workers
                docs = iter_documents(args.paths, mapping=mapping, on_problem=report, stats=stats)
                t_start = clock()
                while True:
                    a = clock()
                    doc = next(docs, None)
                    b = clock()
                    read_s += b - a
                    if doc is None:
                        break
                    try:
                        w.update(doc)
                    except ValueError as exc:  # DocumentError: counted like an input problem
                        problems.append(exc)
                    write_s += clock() - b
                    progress.update()
                a = clock()
                progress.update(force=True, note="writing segments…")
                w.flush()
                flush_s = clock() - a
                progress.clear()
                a = clock()
                w.commit()
                commit_s = clock() - a
                total_s = clock() - t_start
                added = w.added
            finally:
                w.close()
            st = ix.stats()
        finally:
            progress.clear()
            ix.close()
        tokens = sum(st.tokens.values())
        distinct = words_known(analyzer)  # (with workers: a word counts once per process that analyzed it)
    result = {
        "documents": added,
        "files": stats.files_done,
        "input_bytes": stats.bytes_total,
        "workers": workers,
        "seconds": round(total_s, 4),
        "docs_per_s": round(added / total_s, 1) if total_s else None,
        "mb_per_s": round(stats.bytes_total / total_s / 2**20, 3) if total_s else None,
        "stages": {
            "create_index": round(t_open, 4),
            "read_and_parse_input": round(read_s, 4),
            "prepare_and_dispatch": round(write_s, 4),
            "analyze_and_write_segments_wait": round(flush_s, 4),
            "commit_and_merge": round(commit_s, 4),
        },
        "tokens_indexed": tokens,
        "distinct_words_analyzed": distinct,
        "word_cache_hit_rate": round(1 - distinct / tokens, 4) if tokens else None,
        "stem_calls_in_process": analyzer.stem_calls if workers == 1 else None,
        "index_bytes": st.size_bytes,
        "segments": st.segments,
        "problems": len(problems),
        "compiled_kernel": _kernel_loaded(),
    }
    if args.json:
        out.write(json.dumps(result) + "\n")
        return EXIT_OK
    s = result["stages"]
    lines = [
        (f"indexed {_plural(added, 'document')} from {_plural(stats.files_done, 'file')} "
        f"({_human_bytes(stats.bytes_total)}) with {_plural(workers, 'worker')} in {_human_seconds(total_s)}"),
        f"  throughput        {result['docs_per_s']:,} docs/s, {result['mb_per_s']:.2f} MB/s of input",
        "  time per stage (wall time of this process; with workers, analysis overlaps reading):",
        f"    read + parse input             {_human_seconds(s['read_and_parse_input'])}",
        f"    validate + analyze/dispatch    {_human_seconds(s['prepare_and_dispatch'])}"
        + ("   (analysis runs here)" if workers == 1 else "   (chunks sent to workers)"),
        f"    finish segments (flush/wait)   {_human_seconds(s['analyze_and_write_segments_wait'])}",
        f"    commit (+ merges)              {_human_seconds(s['commit_and_merge'])}",
        f"  word cache        {tokens:,} tokens, {distinct:,} distinct words analyzed "
        f"-> {(result['word_cache_hit_rate'] or 0) * 100:.2f}% of tokens served from the cache"
        + (f"; {analyzer.stem_calls:,} stemmer calls" if workers == 1 else
           " (each worker analyzes a new word once)"),
        (f"  index             {_human_bytes(st.size_bytes)} in {_plural(st.segments, 'segment')} "
        f"({st.size_bytes / max(stats.bytes_total, 1) * 100:.0f}% of the input)"),
    ]
    if problems:
        lines.append(f"  {_plural(len(problems), 'problem')} in the input (run `idsearch index` to see them)")
    if not result["compiled_kernel"]:
        lines.append("  no compiled kernel: analysis ran in numpy, about 2x slower (reinstall with a C compiler)")
    out.write("\n".join(lines) + "\n")
    return EXIT_OK


def _kernel_loaded() -> bool:
    try:
        from idsearch import _kernel  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------------------ parser

QUERY_SYNTAX = """\
query syntax:
  putin suriah                 all words (--or: any word), ranked by BM25F
  "presiden joko widodo"       a phrase; "kota bandung"~2 allows 2 words between
  +putin -suriah               + the word must appear, - it must not
  putin AND NOT (iran OR irak) operators AND OR NOT and parentheses (NOT > AND > OR)
  title:putin  body:"gencatan senjata"     search one text field
  putin^2                      boost a word or phrase
  presid*  pemberant*          the words that begin so (the 64 in the most documents)
  pezeshkian~  jokowi~1        the word and the words within 2 edits of it (1 up to 5 letters, or ~N)
  date:2024-12-01..2024-12-31  date:2024-12  date:..2019-09-30   date filter (not scored)
  source:detik.com  -category:olahraga     keyword filters (case-insensitive, not scored)
Words are stemmed like the documents (pertemuan finds bertemu). A query that starts
with "-" needs "--" before it, after the options: idsearch query -n 5 -- -suriah putin
"""

QUERY_EXAMPLES = """\
examples:
  idsearch query "Putin Suriah"
  idsearch query '"gencatan senjata" gaza' --since 2024-01-01 --sort date
  idsearch query banjir --source detik.com --limit 5 --json | jq .title
  idsearch query 'title:jokowi -prabowo' --fields title,body --index news.idx
"""

RELATED_EXAMPLES = """\
examples:
  idsearch related clickid-aa9f4c2dfa112316
  idsearch related ID --since 2019-10-01 --sort oldest --limit 20
"""


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    """The fields searched and the filters: options of ``query``, ``related`` and ``count``."""
    parser.add_argument("--fields", type=_csv_list, metavar="A,B", help="text fields to search (default: all)")
    parser.add_argument("--since", metavar="DATE",
                        help="only documents dated on or after DATE (2024-12-01, 2/12/2024, ...)")
    parser.add_argument("--until", metavar="DATE", help="only documents dated on or before DATE")
    parser.add_argument("--source", metavar="NAME", help="only documents of this source (e.g. detik.com)")
    parser.add_argument("--category", metavar="NAME", help="only documents of this category")


def _add_operator_options(parser: argparse.ArgumentParser) -> None:
    """How a query's words combine: options of ``query`` and ``count``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--and", dest="any", action="store_false", default=False,
                       help="every word must match (the default)")
    group.add_argument("--or", dest="any", action="store_true", help="any word may match (more hits)")
    parser.add_argument("--plain", action="store_true",
                        help="read the query as plain words: no operators, quotes or fields (for pasted headlines)")
    parser.add_argument("--synonyms", metavar="FILE",
                        help="synonym groups, one a line, comma-separated (kpk, komisi pemberantasan korupsi): "
                             "a query word or run of words that spells one searches them all")


def _add_result_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``query`` and ``related``: which hits, and how they are printed."""
    parser.add_argument("--limit", "-n", type=_positive_int, default=10, metavar="N", help="hits to show (default 10)")
    parser.add_argument("--page", "-p", type=_positive_int, default=1, metavar="P",
                        help="page P of the results, --limit hits a page (default 1: hits 1 to N)")
    _add_filter_options(parser)
    parser.add_argument("--sort", choices=("score", "date", "oldest"), default="score",
                        help="best first (score), newest first (date) or oldest first")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per hit per line: id, score, title, date, source, url, snippet")
    parser.add_argument("--color", "--colour", choices=("auto", "always", "never"), default="auto",
                        help="highlight matches with ANSI colours (auto: only on a terminal)")
    parser.add_argument("--snippet-chars", type=_positive_int, default=240, metavar="N",
                        help="snippet length (default 240)")


COMPLETE_EXAMPLES = """\
examples:
  idsearch complete presid                  presiden, president, presidium...
  idsearch complete "presiden jok" -n 3     presiden joko, presiden jokowi, ...
  idsearch complete title:banj              words of titles only
  idsearch complete "banjir source:de"      a keyword field's values: banjir source:detik.com
"""


COUNT_EXAMPLES = """\
examples:
  idsearch count banjir --by source                   which outlets covered floods
  idsearch count '"gempa palu"' --by date --per day   coverage day by day
  idsearch count --by category                        the whole index per category
"""


TOP_EPILOG = """\
commands at a glance:
  idsearch query "Putin Suriah"              search (builds the sample index on first use)
  idsearch index news/ archive.jsonl.gz      create or extend an index from files and folders
  idsearch stats                             what the index holds
  idsearch related ID                        the documents most like one (more like this)
  idsearch count banjir --by source          matching documents per source, category or month
  idsearch export -o backup.jsonl.gz         every document as JSON lines (index reads them back)
  idsearch get ID / delete ID... / optimize / check / bench FILES...

the index used: --index PATH, else $IDSEARCH_INDEX, else
  $XDG_DATA_HOME/idsearch/default.idx (~/.local/share/idsearch/default.idx)

exit status:
  0  success
  1  no hits (query), or no such document (get, delete)
  2  usage error: bad option, malformed query (shown with a caret), unknown field, bad date
  3  index error: missing or corrupt index, or another process holds the write lock
  4  input error: a bad record with index --strict (nothing was committed)
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _add_index_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index", "-i", metavar="PATH", default=argparse.SUPPRESS,
        help=f"index directory (default: ${ENV_INDEX}, else the per-user default index)",
    )


def _add_mapping_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--id-field", metavar="NAME", help="record key holding the document id (default: id; "
                   "an empty name or a missing id gives a stable content hash)")
    p.add_argument("--text-fields", metavar="A,B", type=_csv_list,
                   help="record keys holding the searched text (default: title,body)")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="processes analyzing documents (default: every core)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress bar on stderr (auto: only on a terminal)")


def _kernel_note() -> str:
    """Whether the compiled kernel is installed (found, not loaded: the parser stays light). Without it,
    indexing and queries run in numpy, with the same results, slower."""
    import importlib.util

    if importlib.util.find_spec("idsearch._kernel") is not None:
        return "compiled kernel"
    return "no compiled kernel: indexing and queries run in numpy, slower (reinstall with a C compiler)"


def build_parser() -> argparse.ArgumentParser:
    from idsearch import __version__

    parser = argparse.ArgumentParser(
        prog="idsearch",
        description="Full-text search for Indonesian news: Sastrawi-aware analysis, BM25F ranking.",
        epilog=TOP_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"idsearch {__version__} (Python {sys.version.split()[0]}, {_kernel_note()})")
    parser.add_argument("--index", "-i", metavar="PATH", default=None,
                        help="index directory, for every command (default: $IDSEARCH_INDEX, else the per-user index)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    q = sub.add_parser("query", aliases=["q", "search"], help="search the index",
                       description="Search the index and print the best hits.\n\n" + QUERY_SYNTAX,
                       epilog=QUERY_EXAMPLES, formatter_class=_Formatter)
    q.add_argument("query", nargs="+", help="the query (several arguments are joined with spaces)")
    _add_index_option(q)
    _add_result_options(q)
    _add_operator_options(q)
    q.add_argument("--explain", action="store_true",
                   help="show under each hit what each query clause adds to its score, and its bonuses")
    q.set_defaults(func=cmd_query)

    r = sub.add_parser("related", aliases=["like"], help="the documents most like one (more like this)",
                       description="The documents most like a stored one, best first (a portal's 'Baca juga'\n"
                                   "links): its most distinctive words, searched as an OR, the document left out.",
                       epilog=RELATED_EXAMPLES, formatter_class=_Formatter)
    r.add_argument("id", help="the id of a stored document")
    _add_index_option(r)
    _add_result_options(r)
    r.add_argument("--terms", type=_positive_int, default=25, metavar="N",
                   help="how many of its most distinctive terms to search (default 25)")
    r.set_defaults(func=cmd_related)

    co = sub.add_parser("complete", help="complete the last word of a query (search as you type)",
                        description="The index's words that begin with the last word of TEXT, the most documents\n"
                                    "first, each as TEXT with that word completed, a tab, and how many documents\n"
                                    "(not deleted ones) have the word; after a keyword field's name\n"
                                    "(source:de), that field's values.",
                        epilog=COMPLETE_EXAMPLES, formatter_class=_Formatter)
    co.add_argument("text", nargs="+", help="the text typed so far (several arguments are joined with spaces)")
    _add_index_option(co)
    co.add_argument("--limit", "-n", type=_positive_int, default=10, metavar="N", help="completions to show (default 10)")
    co.add_argument("--fields", type=_csv_list, metavar="A,B", help="text fields whose words complete (default: all)")
    co.add_argument("--json", action="store_true", help="one JSON object per completion per line: text, documents")
    co.set_defaults(func=cmd_complete)

    c = sub.add_parser("count", aliases=["facets"], help="how many matching documents per source, category or month",
                       description="How the documents matching a query (or all of them) spread over a keyword\n"
                                   "field's values (most first) or a date field's days, months or years (in order).",
                       epilog=COUNT_EXAMPLES, formatter_class=_Formatter)
    c.add_argument("query", nargs="*", help="the query (none: every document)")
    _add_index_option(c)
    c.add_argument("--by", required=True, metavar="FIELD", help="a keyword field (source, category) or a date field (date)")
    c.add_argument("--per", choices=("day", "month", "year"), default="month", help="date periods (default month)")
    c.add_argument("--limit", "-n", type=_positive_int, default=None, metavar="N", help="show the N first values only")
    _add_filter_options(c)
    _add_operator_options(c)
    c.add_argument("--json", action="store_true", help="one JSON object per value per line: value, count")
    c.set_defaults(func=cmd_count)

    ix = sub.add_parser(
        "index", help="create or extend an index from files and folders",
        description=(
            "Read documents from files and folders and add them to the index (created when missing).\n"
            "Formats by suffix, each optionally gzip-compressed (.gz): .jsonl/.ndjson/.json (one JSON\n"
            "object per line; or an array of objects, or pretty-printed objects one after another,\n"
            "streamed too), .csv/.tsv (header row), .txt (one portal article: title line, lead,\n"
            "Penulis:/Editor: lines, body). Folders are read recursively.\n\n"
            "A document whose id is already indexed is replaced when it changed, and skipped when it is\n"
            "identical, so re-running over the same files is cheap. Bad records are reported on stderr\n"
            "as path:line: field: message and skipped; the good ones are committed. With --strict the\n"
            "first bad record stops the run and nothing is committed."
        ),
        epilog=(
            "examples:\n"
            "  idsearch index ../shared/corpus/                 every supported file below a folder\n"
            "  idsearch index articles.csv --id-field url --text-fields judul,isi\n"
            "  idsearch index dump.jsonl.gz --index news.idx --strict\n"
            "  idsearch index new/ --workers 2                  extend (unchanged docs are skipped)\n"
        ),
        formatter_class=_Formatter,
    )
    ix.add_argument("paths", nargs="+", metavar="PATH",
                    help="files and folders to read; - reads JSON lines or JSON from the standard input (gzipped too)")
    _add_index_option(ix)
    _add_mapping_options(ix)
    ix.add_argument("--strict", action="store_true", help="stop at the first bad record; commit nothing")
    ix.add_argument("--quiet", "-q", action="store_true", help="do not print warnings (errors still print)")
    ix.add_argument("--overwrite", action="store_true", help="replace an existing index instead of extending it")
    ix.add_argument("--stemmer", choices=("sastrawi", "none"), default=None,
                    help="stemming, for a new index (default sastrawi)")
    ix.add_argument("--stopwords", default=None, metavar="LIST",
                    help="stopwords for a new index: none (default), minimal, sastrawi or a file of words")
    ix.set_defaults(func=cmd_index)

    st = sub.add_parser("stats", help="documents, segments, terms, size, analyzer and schema",
                        description="Describe the index: documents, segments, distinct terms and tokens per "
                                    "field, size on disk, analyzer and schema.",
                        epilog="examples:\n  idsearch stats\n  idsearch stats --json | jq .documents\n",
                        formatter_class=_Formatter)
    _add_index_option(st)
    st.add_argument("--json", action="store_true", help="one JSON object")
    st.set_defaults(func=cmd_stats)

    g = sub.add_parser("get", help="print a stored document as JSON",
                       description="Print the stored document with this id as JSON (exit 1 when there is none).",
                       epilog="examples:\n  idsearch get clickid-3fe3a84adfddaeec\n"
                              "  idsearch query banjir --json | head -1 | jq -r .id | xargs idsearch get\n",
                       formatter_class=_Formatter)
    g.add_argument("id", help="document id")
    _add_index_option(g)
    g.add_argument("--compact", action="store_true", help="one line instead of indented JSON")
    g.set_defaults(func=cmd_get)

    x = sub.add_parser("export", help="write every document as JSON lines (a backup, or to rebuild)",
                       description="Write every stored document as one JSON object per line, what 'idsearch index'\n"
                                   "reads back: a backup, or the input of a rebuild with other analysis options.\n"
                                   "A file is written under a temporary name and renamed once complete.",
                       epilog="examples:\n  idsearch export -o backup.jsonl.gz\n"
                              "  idsearch export | jq -r .title | sort | uniq -c | sort -rn | head\n"
                              "  idsearch export -i old.idx -o all.jsonl && "
                              "idsearch index all.jsonl -i new.idx --stopwords sastrawi\n",
                       formatter_class=_Formatter)
    _add_index_option(x)
    x.add_argument("--output", "-o", metavar="FILE", help="write to FILE (gzip when it ends in .gz) instead of stdout")
    x.add_argument("--quiet", "-q", action="store_true", help="do not print the summary on stderr")
    x.set_defaults(func=cmd_export)

    d = sub.add_parser("delete", help="delete documents by id, or every one a query and filters match",
                       description="Delete documents by id (exit 1 when some id was not found; the others "
                                   "are deleted), or every\ndocument that --query and the filters match (every "
                                   "word of the query required; exit 1 when none).\nThe space is reclaimed by "
                                   "merges or `idsearch optimize`.",
                       epilog="examples:\n  idsearch delete clickid-3fe3a84adfddaeec\n"
                              "  idsearch delete --source spam.example --dry-run     how many, deleting nothing\n"
                              "  idsearch delete --until 2015-12-31                  an archive's retention\n"
                              "  idsearch delete --query '\"iklan bersponsor\"' --source detik.com\n",
                       formatter_class=_Formatter)
    d.add_argument("ids", nargs="*", metavar="ID", help="document ids")
    _add_index_option(d)
    d.add_argument("--query", metavar="QUERY", help="delete what this query matches (with the filters below)")
    _add_filter_options(d)
    d.add_argument("--dry-run", action="store_true", help="say how many documents would be deleted; delete none")
    d.set_defaults(func=cmd_delete)

    o = sub.add_parser("optimize", help="merge all segments into one",
                       description="Merge every segment into one and drop deleted documents: smaller, and "
                                   "slightly faster to search. Scores do not change.",
                       epilog="examples:\n  idsearch optimize\n  idsearch optimize --index news.idx\n",
                       formatter_class=_Formatter)
    _add_index_option(o)
    o.set_defaults(func=cmd_optimize)

    b = sub.add_parser(
        "bench", help="measure indexing speed on your own files (temporary index)",
        description=(
            "Index the given files into a temporary index (deleted afterwards) and report docs/s, MB/s,\n"
            "the word-cache hit rate (tokens indexed vs distinct words analyzed: every other token is a\n"
            "cache lookup, not a stemmer call) and the wall time of each stage in this process: reading\n"
            "and parsing the input, validating and analyzing (with --workers 1) or handing chunks to the\n"
            "worker processes, waiting for the last segments, committing (with merges). With several\n"
            "workers, analysis runs in parallel with reading, so the stages overlap."
        ),
        epilog="examples:\n  idsearch bench ../shared/corpus/\n  idsearch bench news.jsonl --workers 1 --json\n",
        formatter_class=_Formatter,
    )
    b.add_argument("paths", nargs="+", metavar="PATH", help="files and folders to read (- : the standard input)")
    _add_mapping_options(b)
    b.add_argument("--json", action="store_true", help="one JSON object with every figure")
    b.set_defaults(func=cmd_bench)

    c = sub.add_parser("check", help="audit the index files (sizes, checksums, postings, documents)",
                       description="Read the whole index and verify everything its format promises; "
                                   "exit 3 when a problem is found.",
                       epilog="examples:\n  idsearch check\n  idsearch check --index news.idx --json\n",
                       formatter_class=_Formatter)
    _add_index_option(c)
    c.add_argument("--json", action="store_true", help="one JSON object: ok, problems")
    c.set_defaults(func=cmd_check)

    e = sub.add_parser("eval", help="retrieval quality on judged query files (MRR@10, Recall, nDCG)",
                       description="Run query files in the shared format ({qid, query, relevant}) against an "
                                   "index and print MRR@10, Recall@10/100 and nDCG@10 per file.",
                       epilog="examples:\n"
                              "  idsearch eval news.idx ../shared/eval/facqa_questions.jsonl\n"
                              "  idsearch eval news.idx ../shared/eval/clickid_titles.jsonl --fields body\n"
                              "  idsearch eval news.idx q.jsonl --k1 0.9 --b 0.8 --json\n"
                              "(run 'idsearch eval -- --help' for every option)\n",
                       formatter_class=_Formatter, add_help=False)
    e.add_argument("rest", nargs=argparse.REMAINDER, help="INDEX QUERIES.jsonl... [--fields F] [--k1 K] [--b B] [--json]")
    e.set_defaults(func=cmd_eval)
    return parser


def cmd_eval(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from idsearch.evaluation import main as evaluation_main

    rest = [a for a in args.rest if a != "--"] if args.rest[:1] == ["--"] else list(args.rest)
    return evaluation_main(rest or ["--help"])




# -------------------------------------------------------------------------------------------------- main


def _fail(err: IO[str], message: str) -> None:
    err.write(f"idsearch: {message}\n")


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run the command line; returns the exit status (see ``idsearch --help``)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(out)
        return EXIT_USAGE
    handler: Callable[[argparse.Namespace, IO[str], IO[str]], int] = args.func
    try:
        code = handler(args, out, err)
        out.flush()
        return code
    except CliError as exc:
        _fail(err, str(exc))
        return exc.code
    except KeyboardInterrupt:
        _fail(err, "interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our output went away (| head): not an error; silence the final flush
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except Exception as exc:  # expected failures only; anything else keeps its traceback
        code = _expected_failure(exc)
        if code is None:
            raise
        _fail(err, _one_line(exc) if code != EXIT_USAGE or "\n" not in str(exc) else str(exc))
        return code


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split()) if "\n" in text else text


def _expected_failure(exc: BaseException) -> int | None:
    """The exit status of an expected failure, or None for a bug (which keeps its traceback)."""
    modules = sys.modules
    query = modules.get("idsearch.query")
    if query is not None and isinstance(exc, query.QuerySyntaxError):
        return EXIT_USAGE
    storage = modules.get("idsearch.storage")
    if storage is not None and isinstance(exc, storage.IndexError_):
        return EXIT_INDEX
    ingest = modules.get("idsearch.ingest")
    if ingest is not None and isinstance(exc, ingest.IngestError):
        return EXIT_INPUT
    writer = modules.get("idsearch.writer")
    if writer is not None and isinstance(exc, writer.DocumentError):
        return EXIT_INPUT
    if isinstance(exc, OSError):
        return EXIT_INDEX
    if isinstance(exc, ValueError):  # unknown field, bad date, since after until: a usage error
        return EXIT_USAGE
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
