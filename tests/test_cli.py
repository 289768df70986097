"""The ``idsearch`` command line, run as the installed console script in a fresh HOME.

Every test runs the real program in a subprocess (``idsearch`` beside the interpreter, else on PATH,
else ``python -m idsearch``) with ``IDSEARCH_INDEX`` unset and the XDG folders inside a temporary
directory, so nothing touches the user's own index.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _support import SEED, shared_path

SEED_TITLE = "Putin dan Pezeshkian Bahas Situasi Suriah Lewat Telepon"


def _command() -> list[str]:
    beside = Path(sys.executable).with_name("idsearch")
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("idsearch")
    return [found] if found else [sys.executable, "-m", "idsearch"]


IDSEARCH = _command()
_PYCACHE: list[str] = []  # one bytecode cache for every child process of this module (set below)


@pytest.fixture(scope="module", autouse=True)
def _shared_bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Let the child processes cache compiled bytecode outside the checkout (the environment may set
    PYTHONDONTWRITEBYTECODE, which would make every run compile the package again)."""
    _PYCACHE[:] = [str(tmp_path_factory.mktemp("pycache"))]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "IDSEARCH_INDEX" and not k.startswith("XDG_")}
    if _PYCACHE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE[0]
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="",
        COLUMNS="100",
    )
    env.update(extra)
    return env


def run(env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 300,
        stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    if stdin is not None:  # (bytes in, text out)
        proc = subprocess.run([*IDSEARCH, *args], env=env, cwd=cwd, input=stdin, capture_output=True,
                              timeout=timeout, check=False)
        return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    return subprocess.run(
        [*IDSEARCH, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


# ------------------------------------------------------------------------------------------ sample index


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A fresh HOME where the first ``idsearch query`` built the sample index (kept for later tests)."""
    home = tmp_path_factory.mktemp("home")
    env = _env(home)
    first = run(env, "query", "Putin Suriah", cwd=home)
    return {"home": home, "env": env, "first": first, "index": home / ".local" / "share" / "idsearch" / "default.idx"}


def test_first_query_builds_the_sample_index_and_finds_the_seed(sample_home: dict) -> None:
    first = sample_home["first"]
    assert first.returncode == 0, first.stderr
    assert "building it from the sample corpus" in first.stderr
    assert str(sample_home["index"]) in first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"1. {SEED_TITLE}"
    assert "2024-12-02 · tribunnews.com" in lines[1]
    assert "[Putin]" in first.stdout and "[Suriah]" in first.stdout  # piped: plain markers, no colour
    assert "\x1b[" not in first.stdout
    assert lines[-1].startswith("1 hit in ")
    assert (sample_home["index"] / "manifest.json").is_file()


def test_second_query_reuses_the_index(sample_home: dict) -> None:
    manifest = sample_home["index"] / "manifest.json"
    before = manifest.stat().st_mtime_ns
    second = run(sample_home["env"], "query", "Putin", "Suriah", cwd=sample_home["home"])  # words joined
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""
    assert second.stdout.splitlines()[0] == f"1. {SEED_TITLE}"
    assert manifest.stat().st_mtime_ns == before


def test_query_json_colour_and_filters(sample_home: dict) -> None:
    env, home = sample_home["env"], sample_home["home"]
    proc = run(env, "query", "pezeshkian", "--json", "--since", "2024-12-01", "--until", "2024-12-31",
               "--source", "tribunnews.com", "--fields", "title,body", "--sort", "date", cwd=home)
    assert proc.returncode == 0, proc.stderr
    (hit,) = json_lines(proc.stdout)
    assert set(hit) == {"id", "score", "title", "date", "source", "url", "snippet"}
    assert hit["title"] == SEED_TITLE and hit["date"] == "2024-12-02" and hit["source"] == "tribunnews.com"
    assert hit["id"].startswith("sha1:") and hit["score"] > 0
    assert "[Pezeshkian]" in hit["snippet"] and "\x1b" not in hit["snippet"]

    coloured = run(env, "query", "pezeshkian", "--color", "always", cwd=home)
    assert "\x1b[1;31mPezeshkian\x1b[0m" in coloured.stdout

    # filters that exclude the only document: no hits, exit 1 like grep
    for extra in (["--since", "2025-01-01"], ["--source", "detik.com"], ["--category", "olahraga"]):
        proc = run(env, "query", "pezeshkian", *extra, cwd=home)
        assert proc.returncode == 1, (extra, proc.stdout, proc.stderr)
        assert "0 hits" in proc.stdout
    # another spelling of the name, marked fuzzy, finds the seed and marks the name as the article writes it
    fuzzy = run(env, "query", "pezeskian~", "--json", cwd=home)
    assert fuzzy.returncode == 0, fuzzy.stderr
    (hit,) = json_lines(fuzzy.stdout)
    assert hit["title"] == SEED_TITLE and "[Pezeshkian]" in hit["snippet"]
    assert run(env, "query", "pezeskian", cwd=home).returncode == 1  # (as typed, no document has it)
    # the word being typed, completed
    completed = run(env, "complete", "putin", "pezesh", cwd=home)
    assert completed.returncode == 0 and completed.stdout == "putin pezeshkian\t1\n", completed.stderr
    assert json_lines(run(env, "complete", "Suri", "--json", cwd=home).stdout) == [{"text": "suriah", "documents": 1}]
    assert run(env, "complete", "putin ", cwd=home).returncode == 1  # nothing being typed
    # AND by default, --or widens
    assert run(env, "query", "putin", "kucingxyz", cwd=home).returncode == 1
    assert run(env, "query", "putin", "kucingxyz", "--or", cwd=home).returncode == 0


def test_query_errors_and_exit_codes(sample_home: dict, tmp_path: Path) -> None:
    env, home = sample_home["env"], sample_home["home"]
    syntax = run(env, "query", "putin (suriah", cwd=home)
    assert syntax.returncode == 2
    assert_no_traceback(syntax)
    err = syntax.stderr.splitlines()
    assert "unbalanced parenthesis at position 6" in err[0]
    assert err[1].strip() == "putin (suriah" and err[2].index("^") == err[1].index("(")

    assert run(env, "query", "putin", "--sort", "nonsense", cwd=home).returncode == 2  # argparse
    for bad in (["--since", "kemarin lusa"], ["--fields", "judul"]):
        proc = run(env, "query", "putin", *bad, cwd=home)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert_no_traceback(proc)
        assert proc.stderr.startswith("idsearch: ")

    missing = run(env, "query", "putin", "--index", str(tmp_path / "nothing.idx"), cwd=home)
    assert missing.returncode == 3 and "no index at" in missing.stderr
    assert not (tmp_path / "nothing.idx").exists()  # an explicit path is never built from the sample
    via_env = run({**env, "IDSEARCH_INDEX": str(tmp_path / "also-nothing.idx")}, "query", "putin", cwd=home)
    assert via_env.returncode == 3 and "also-nothing.idx" in via_env.stderr

    broken = tmp_path / "broken.idx"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    corrupt = run(env, "stats", "--index", str(broken), cwd=home)
    assert corrupt.returncode == 3
    assert_no_traceback(corrupt)
    assert len(corrupt.stderr.strip().splitlines()) == 1


def test_stats_get_and_check(sample_home: dict) -> None:
    env, home = sample_home["env"], sample_home["home"]
    stats = run(env, "stats", "--json", cwd=home)
    assert stats.returncode == 0
    (data,) = json_lines(stats.stdout)
    assert data["documents"] == 1 and data["segments"] == 1
    assert data["analyzer"]["stemmer"] == "sastrawi"
    assert [f["name"] for f in data["schema"]["text_fields"]] == ["title", "body"]
    assert data["terms"]["body"] > 100 and data["size_bytes"] > 0
    human = run(env, "stats", cwd=home).stdout
    assert "documents" in human and "sastrawi" in human and "title (weight 1" in human

    doc_id = json_lines(run(env, "query", "putin", "--json", cwd=home).stdout)[0]["id"]
    got = run(env, "get", doc_id, cwd=home)
    assert got.returncode == 0
    doc = json.loads(got.stdout)
    assert doc["id"] == doc_id and doc["title"] == SEED_TITLE and doc["source"] == "tribunnews.com"
    assert doc["body"].startswith("Pada hari Senin (2/12/2024)")
    assert run(env, "get", "no-such-id", cwd=home).returncode == 1

    check = run(env, "check", "--json", cwd=home)
    assert check.returncode == 0, check.stdout
    assert json_lines(check.stdout)[0]["ok"] is True


def test_help_and_version(tmp_path: Path) -> None:
    env = _env(tmp_path)
    top = run(env, "--help")
    assert top.returncode == 0
    for text in ("exit status", "no hits", "malformed query", "write lock", "IDSEARCH_INDEX", "default.idx"):
        assert text in top.stdout, text
    query_help = run(env, "query", "--help").stdout
    for text in ('"presiden joko widodo"', "+putin -suriah", "AND OR NOT", "title:putin",
                 "date:2024-12-01..2024-12-31", "source:detik.com", "putin^2", "examples:"):
        assert text in query_help, text
    for command in ("index", "stats", "get", "delete", "optimize", "bench", "check"):
        proc = run(env, command, "--help")
        assert proc.returncode == 0, command
        assert "examples:" in proc.stdout, command
        if command != "bench":  # bench always uses a temporary index
            assert "--index" in proc.stdout, command
    version = run(env, "--version")
    assert version.returncode == 0 and version.stdout.startswith("idsearch 0.")
    import idsearch.analysis

    built = idsearch.analysis._kernel is not None
    assert ("(Python" in version.stdout) and (("compiled kernel)" in version.stdout) == built)
    assert run(env).returncode == 2  # no command: help, usage status
    assert run(env, "frobnicate").returncode == 2


def test_parser_does_not_import_the_index() -> None:
    """``idsearch --help`` and argument parsing stay light: numpy and the index load only when needed."""
    code = (
        "import sys, idsearch.cli as c; c.build_parser().parse_args(['query', 'x']);"
        "heavy = sorted(m for m in ('numpy', 'idsearch.index', 'idsearch.ingest', 'idsearch.writer') if m in sys.modules);"
        "print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""



def test_writing_does_not_import_the_query_side(tmp_path: Path) -> None:
    """Opening an index and committing a document loads neither the query planner nor the reader's search
    code (about 20 ms of imports that ``idsearch index``/``delete`` never use)."""
    code = (
        "import sys; from idsearch import Index; ix = Index.create(sys.argv[1]);"
        "w = ix.writer(workers=1); w.add({'id': 'a', 'body': 'banjir'}); w.commit(); w.close();"
        "print(','.join(sorted(m for m in ('idsearch.planner', 'idsearch.query') if m in sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ix")], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


# -------------------------------------------------------------------------------------- indexing input


def _jsonl(records: list[dict], bad_line: str | None = None) -> str:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    if bad_line is not None:
        lines.insert(1, bad_line)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def input_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every input format, plain and gzipped, in nested folders, with malformed records mixed in.

    Each good document carries a marker word (``fmtjsonl1``, ``fmtcsvgz2``, ...) to find it by."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "a" / "b").mkdir(parents=True)
    (root / "c").mkdir()
    jsonl = _jsonl(
        [
            {"id": "j1", "title": "Banjir di Jakarta fmtjsonl1", "body": "Banjir melanda Jakarta.", "date": "2024-01-15",
             "source": "detik.com"},
            {"id": "j2", "title": "Harga beras fmtjsonl2", "body": "Harga beras naik.", "date": "17 Oktober 2019"},
            {"id": "j3", "title": 42, "body": "judul berupa angka"},
        ],
        bad_line='{"id": "jbad", "title": "kurang koma" "body": "x"}',
    )
    (root / "news.jsonl").write_text(jsonl, encoding="utf-8")
    jsonl_gz = _jsonl([{"id": "g1", "title": "Gempa fmtjsonlgz1", "body": "Gempa di Cianjur.", "date": "2022-11-21"}])
    (root / "a" / "more.jsonl.gz").write_bytes(gzip.compress(jsonl_gz.encode()))
    csv_text = (
        "id,title,body,date,source\n"
        "c1,Pemilu fmtcsv1,Pemungutan suara berlangsung damai,2024-02-14,tempo.co\n"
        "c2,terlalu,banyak,kolom,di,sini\n"
        "c3,Kereta cepat fmtcsv2,Kereta cepat mulai beroperasi,2023-10-02,kompas.com\n"
    )
    (root / "a" / "b" / "table.csv").write_text(csv_text, encoding="utf-8")
    csv_gz = "id,title,body\nz1,Tol baru fmtcsvgz1,Jalan tol baru dibuka\n"
    (root / "c" / "table2.csv.gz").write_bytes(gzip.compress(csv_gz.encode()))
    seed = SEED.read_text(encoding="utf-8")
    (root / "a" / "b" / "portal.txt").write_text(seed.replace("Lewat Telepon", "Lewat Telepon fmttxt1", 1), encoding="utf-8")
    other = seed.replace("Lewat Telepon", "Lewat Telepon fmttxtgz1", 1)
    (root / "c" / "portal2.txt.gz").write_bytes(gzip.compress(other.encode()))
    (root / "c" / "notes.md").write_text("not indexed", encoding="utf-8")
    return root


GOOD_MARKERS = {"fmtjsonl1", "fmtjsonl2", "fmtjsonlgz1", "fmtcsv1", "fmtcsv2", "fmtcsvgz1", "fmttxt1", "fmttxtgz1"}


@pytest.fixture(scope="module")
def indexed(input_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("home-index")
    index = home / "news.idx"
    env = _env(home, IDSEARCH_INDEX=str(index))
    first = run(env, "index", str(input_tree), cwd=home)
    again = run(env, "index", str(input_tree), cwd=home)
    return {"home": home, "env": env, "index": index, "first": first, "again": again}


def test_index_reads_every_format_and_reports_bad_records(indexed: dict, input_tree: Path) -> None:
    first = indexed["first"]
    assert first.returncode == 0, first.stderr
    assert_no_traceback(first)
    err = first.stderr
    assert "created a new index" in err
    assert f"{input_tree / 'news.jsonl'}:2: malformed JSON" in err
    assert f"{input_tree / 'news.jsonl'}:4: title: expected a string, got number" in err
    assert f"{input_tree / 'a' / 'b' / 'table.csv'}:3: expected 5 columns, got 6" in err
    assert "8 added, 0 updated, 0 skipped" in first.stdout
    assert "3 problems" in first.stdout
    assert "1 file of other types skipped" in first.stdout

    env, home = indexed["env"], indexed["home"]
    hits = json_lines(run(env, "query", " ".join(sorted(GOOD_MARKERS)), "--or", "--json", "--limit", "50", cwd=home).stdout)
    found = {w for h in hits for w in GOOD_MARKERS if w in (h["title"] or "")}
    assert found == GOOD_MARKERS
    assert len(hits) == len(GOOD_MARKERS)
    by_marker = {w: h for h in hits for w in GOOD_MARKERS if w in (h["title"] or "")}
    assert by_marker["fmttxt1"]["source"] == "tribunnews.com" and by_marker["fmttxt1"]["date"] == "2024-12-02"
    assert by_marker["fmttxt1"]["url"].endswith("portal.txt")
    assert by_marker["fmtjsonl2"]["date"] == "2019-10-17"  # normalized from "17 Oktober 2019"
    assert by_marker["fmtcsv2"]["id"] == "c3" and by_marker["fmtcsv2"]["source"] == "kompas.com"
    assert by_marker["fmtcsvgz1"]["id"] == "z1"
    assert by_marker["fmttxtgz1"]["id"].startswith("sha1:")  # portal articles get a content hash
    stats = json_lines(run(env, "stats", "--json", cwd=home).stdout)[0]
    assert stats["documents"] == 8


def test_reindexing_the_same_files_skips_them(indexed: dict) -> None:
    again = indexed["again"]
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated, 8 skipped" in again.stdout
    assert "created a new index" not in again.stderr


def test_strict_stops_at_the_first_bad_record_and_commits_nothing(input_tree: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    target = tmp_path / "strict.idx"
    proc = run(env, "index", str(input_tree), "--strict", "--index", str(target))
    assert proc.returncode == 4
    assert_no_traceback(proc)
    # folders are read in sorted order: a/b/portal.txt, a/b/table.csv (bad line 3), ..., news.jsonl
    assert f"{input_tree / 'a' / 'b' / 'table.csv'}:3: expected 5 columns, got 6" in proc.stderr
    assert "news.jsonl" not in proc.stderr  # stopped before reading further files
    assert "nothing was committed" in proc.stderr
    assert not target.exists()  # the empty index this run created is removed

    # into an existing index: its documents stay as they were
    good = tmp_path / "good.jsonl"
    good.write_text(_jsonl([{"id": "ok1", "title": "Satu", "body": "Dokumen yang baik."}]), encoding="utf-8")
    assert run(env, "index", str(good), "--index", str(target)).returncode == 0
    bad = tmp_path / "mixed.jsonl"
    bad.write_text(_jsonl([{"id": "ok2", "title": "Dua", "body": "Baik."}, {"id": "x", "title": ""}]), encoding="utf-8")
    proc = run(env, "index", str(bad), "--strict", "--index", str(target))
    assert proc.returncode == 4 and f"{bad}:2: empty document" in proc.stderr
    assert json_lines(run(env, "stats", "--json", "--index", str(target)).stdout)[0]["documents"] == 1
    # without --strict the good record goes in
    proc = run(env, "index", str(bad), "--index", str(target))
    assert proc.returncode == 0 and "1 added" in proc.stdout and f"{bad}:2: empty document" in proc.stderr


def test_index_mapping_options_and_usage_errors(tmp_path: Path) -> None:
    env = _env(tmp_path)
    csv_path = tmp_path / "berita.csv"
    csv_path.write_text("url,judul,isi\nhttps://x.id/1,Pilkada serentak,Pemilihan kepala daerah digelar\n", encoding="utf-8")
    target = tmp_path / "mapped.idx"
    proc = run(env, "index", str(csv_path), "--id-field", "url", "--text-fields", "judul,isi", "--workers", "1",
               "--index", str(target))
    assert proc.returncode == 0, proc.stderr
    (hit,) = json_lines(run(env, "query", "pilkada", "--json", "--index", str(target)).stdout)
    assert hit["id"] == "https://x.id/1"
    fields = json_lines(run(env, "stats", "--json", "--index", str(target)).stdout)[0]["schema"]["text_fields"]
    assert [f["name"] for f in fields] == ["judul", "isi"]
    wrong = run(env, "index", str(csv_path), "--text-fields", "title", "--index", str(target))
    assert wrong.returncode == 2 and "not text fields" in wrong.stderr
    analyzer_change = run(env, "index", str(csv_path), "--stopwords", "minimal", "--index", str(target))
    assert analyzer_change.returncode == 2 and "--overwrite" in analyzer_change.stderr

    missing = run(env, "index", str(tmp_path / "nope.jsonl"), "--index", str(target))
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    assert run(env, "index", str(csv_path), "--workers", "0", "--index", str(target)).returncode == 2


def test_delete_optimize_and_the_write_lock(indexed: dict, tmp_path: Path) -> None:
    copy = tmp_path / "copy.idx"
    shutil.copytree(indexed["index"], copy)
    env = _env(tmp_path, IDSEARCH_INDEX=str(copy))
    assert run(env, "get", "j1").returncode == 0
    proc = run(env, "delete", "j1", "c1")
    assert proc.returncode == 0 and "deleted 2 documents" in proc.stdout and "6 documents" in proc.stdout
    assert run(env, "get", "j1").returncode == 1
    assert run(env, "query", "fmtjsonl1").returncode == 1
    partly = run(env, "delete", "c3", "never-there")
    assert partly.returncode == 1 and "never-there" in partly.stderr
    assert run(env, "get", "c3").returncode == 1

    proc = run(env, "optimize")
    assert proc.returncode == 0, proc.stderr
    stats = json_lines(run(env, "stats", "--json").stdout)[0]
    assert stats["segments"] == 1 and stats["deleted"] == 0 and stats["documents"] == 5
    assert run(env, "query", "fmtcsv2").returncode == 1 and run(env, "query", "fmtcsvgz1").returncode == 0

    from idsearch.index import Index

    ix = Index.open(copy)
    writer = ix.writer(workers=1)  # hold the write lock
    try:
        locked = run(env, "delete", "z1")
        assert locked.returncode == 3
        assert_no_traceback(locked)
        assert "lock" in locked.stderr.lower()
    finally:
        writer.close()
        ix.close()
    assert run(env, "delete", "z1").returncode == 0


def test_bench_on_a_small_folder(input_tree: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = run(env, "bench", str(input_tree), "--json", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    (data,) = json_lines(proc.stdout)
    assert data["documents"] == 8 and data["files"] == 6 and data["problems"] == 3
    assert data["docs_per_s"] > 0 and data["mb_per_s"] > 0
    assert 0 < data["distinct_words_analyzed"] < data["tokens_indexed"]
    assert 0 < data["word_cache_hit_rate"] < 1
    assert data["stem_calls_in_process"] > 0
    assert set(data["stages"]) >= {"read_and_parse_input", "commit_and_merge"}
    import idsearch.analysis

    assert data["compiled_kernel"] is (idsearch.analysis._kernel is not None)
    human = run(env, "bench", str(input_tree))
    assert human.returncode == 0 and "docs/s" in human.stdout and "served from the cache" in human.stdout
    assert not list(tmp_path.glob("**/*.idx"))  # the temporary index is gone



def test_a_missing_compiled_kernel_is_said(input_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the compiled kernel (no C compiler at install) everything works in numpy, slower: --version
    and bench say so, so that a slow build has a visible reason."""
    import importlib.util
    import io

    from idsearch import cli

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "idsearch._kernel" else real_find_spec(name, *a))
    assert "no compiled kernel" in cli._kernel_note()
    monkeypatch.setattr(cli, "_kernel_loaded", lambda: False)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["bench", str(input_tree), "--workers", "1", "--progress", "never"], out=out, err=err) == 0
    assert "no compiled kernel: analysis ran in numpy" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["bench", str(input_tree), "--json", "--workers", "1", "--progress", "never"], out=out, err=err) == 0
    assert json.loads(out.getvalue())["compiled_kernel"] is False

# ------------------------------------------------------------------------------------------- full corpus


def test_query_pages(indexed: dict) -> None:
    env, home = indexed["env"], indexed["home"]
    query = " ".join(sorted(GOOD_MARKERS))
    everything = json_lines(run(env, "query", query, "--or", "--json", "--limit", "50", cwd=home).stdout)
    pages = [json_lines(run(env, "query", query, "--or", "--json", "-n", "3", "--page", str(p), cwd=home).stdout)
             for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 3, len(GOOD_MARKERS) - 6]
    assert [h["id"] for p in pages for h in p] == [h["id"] for h in everything]
    text = run(env, "query", query, "--or", "-n", "3", "--page", "2", "--color", "never", cwd=home)
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].startswith("4. ")
    assert f"{len(GOOD_MARKERS)} hits (4-6 shown) in " in text.stdout
    past = run(env, "query", query, "--or", "-n", "3", "--page", "9", "--color", "never", cwd=home)
    assert past.returncode == 1  # nothing shown
    assert past.stdout.strip().endswith("page 9 is past the last (3 pages of 3)")
    bad = run(env, "query", query, "--page", "0", cwd=home)
    assert bad.returncode == 2 and "at least 1" in bad.stderr


def test_related_documents(tmp_path: Path) -> None:
    from idsearch import Index

    index = Index.create(tmp_path / "r.idx")
    with index.writer(workers=1) as w:
        w.add({"id": "gempa1", "title": "Gempa guncang Palu", "body": "Gempa magnitudo 3,4 guncang Palu dan Sigi.",
               "date": "2019-10-01"})
        w.add({"id": "gempa2", "title": "Palu diguncang gempa", "body": "Gempa terasa di Palu hingga Sigi.",
               "date": "2019-10-02"})
        w.add({"id": "banjir", "title": "Banjir Jakarta", "body": "Banjir merendam Jakarta."})
    env = _env(tmp_path, IDSEARCH_INDEX=str(tmp_path / "r.idx"))
    proc = run(env, "related", "gempa1", "--color", "never")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "1. Palu diguncang gempa"
    assert "1 hit in " in proc.stdout and "banjir" not in proc.stdout.lower()
    hits = json_lines(run(env, "like", "gempa2", "--json").stdout)
    assert [h["id"] for h in hits] == ["gempa1"] and "[Palu]" in hits[0]["snippet"]
    missing = run(env, "related", "nope")
    assert missing.returncode == 1 and "no document with id 'nope'" in missing.stderr
    assert_no_traceback(missing)
    assert run(env, "related", "gempa1", "--terms", "0").returncode == 2


def test_count_documents_per_value(tmp_path: Path) -> None:
    from idsearch import Index

    index = Index.create(tmp_path / "c.idx")
    with index.writer(workers=1) as w:
        for i, (source, date) in enumerate([("detik.com", "2019-09-01"), ("detik.com", "2019-10-02"),
                                            ("kompas.com", "2019-10-03"), (None, None)]):
            w.add({"id": str(i), "title": f"banjir {i}", "source": source, "date": date})
    env = _env(tmp_path, IDSEARCH_INDEX=str(tmp_path / "c.idx"))
    proc = run(env, "count", "banjir", "--by", "source")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "source      documents",
        "detik.com           2   50.0%",
        "kompas.com          1   25.0%",
        "4 documents matching 'banjir', 1 without a source",
    ]
    assert json_lines(run(env, "facets", "--by", "date", "--json").stdout) == [
        {"value": "2019-09", "count": 1}, {"value": "2019-10", "count": 2}]
    assert run(env, "count", "--by", "source", "-n", "1").stdout.endswith(", 1 without a source; 1 more value (--limit)\n")
    assert run(env, "count", "xyzzy", "--by", "source").returncode == 1
    bad = run(env, "count", "banjir", "--by", "judul")
    assert bad.returncode == 2 and "cannot count by 'judul'" in bad.stderr
    assert_no_traceback(bad)


def test_export_then_index_rebuilds_the_same_documents(tmp_path: Path) -> None:
    """An export read back by ``index`` into a new index (other analysis options) gives the same
    documents, byte for byte: dates already normalized keep their original text in date_raw."""
    source = tmp_path / "news.jsonl"
    source.write_text(jsonl_text([
        {"id": "a", "title": "Banjir Jakarta", "body": "Banjir merendam kota.", "date": "Senin (2/12/2024)",
         "source": "detik.com"},
        {"id": "b", "title": "Gempa Palu", "body": "Gempa \u00e9 guncang.", "date": "17 Oktober 2019", "tags": ["x", 1]},
        {"title": "Tanpa id", "body": "Isi tanpa tanggal."},
    ]), encoding="utf-8")
    env = _env(tmp_path)
    assert run(env, "index", str(source), "-i", str(tmp_path / "old.idx")).returncode == 0
    first = run(env, "export", "-i", str(tmp_path / "old.idx"))
    assert first.returncode == 0 and "3 documents exported to standard output" in first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert [d.get("date_raw") for d in lines] == ["Senin (2/12/2024)", "17 Oktober 2019", None]
    saved = run(env, "export", "-i", str(tmp_path / "old.idx"), "-o", str(tmp_path / "all.jsonl.gz"), "-q")
    assert saved.returncode == 0 and saved.stderr == ""
    rebuilt = run(env, "index", str(tmp_path / "all.jsonl.gz"), "-i", str(tmp_path / "new.idx"), "--stopwords", "sastrawi")
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = run(env, "export", "-i", str(tmp_path / "new.idx"), "-q")
    assert again.stdout == first.stdout
    unwritable = run(env, "export", "-i", str(tmp_path / "new.idx"), "-o", str(tmp_path / "no" / "x.jsonl"))
    assert unwritable.returncode == 2 and f"cannot write {tmp_path / 'no' / 'x.jsonl'}" in unwritable.stderr
    stats = json_lines(run(env, "stats", "--json", "-i", str(tmp_path / "new.idx")).stdout)[0]
    assert stats["analyzer"]["stopwords"] != json_lines(run(env, "stats", "--json", "-i",
                                                            str(tmp_path / "old.idx")).stdout)[0]["analyzer"]["stopwords"]


def test_query_and_count_with_a_synonym_file(tmp_path: Path) -> None:
    from idsearch import Index

    index = Index.create(tmp_path / "s.idx")
    with index.writer(workers=1) as w:
        w.add({"id": "1", "title": "KPK periksa saksi", "source": "detik.com"})
        w.add({"id": "2", "title": "Komisi Pemberantasan Korupsi memeriksa saksi", "source": "kompas.com"})
        w.add({"id": "3", "title": "Banjir di Bogor", "source": "kompas.com"})
    groups = tmp_path / "sinonim.txt"
    groups.write_text("# singkatan\nkpk, komisi pemberantasan korupsi\n", encoding="utf-8")
    env = _env(tmp_path, IDSEARCH_INDEX=str(tmp_path / "s.idx"))
    alone = json_lines(run(env, "query", "kpk", "--json").stdout)
    assert [h["id"] for h in alone] == ["1"]
    both = json_lines(run(env, "query", "kpk", "--json", "--synonyms", str(groups)).stdout)
    assert sorted(h["id"] for h in both) == ["1", "2"]
    counted = run(env, "count", "komisi pemberantasan korupsi", "--by", "source", "--synonyms", str(groups))
    assert "detik.com" in counted.stdout and "2 documents matching" in counted.stdout
    groups.write_text("kpk\n", encoding="utf-8")
    bad = run(env, "query", "kpk", "--synonyms", str(groups))
    assert bad.returncode == 2 and f"--synonyms: {groups}:1: a synonym group needs two" in bad.stderr
    missing = run(env, "query", "kpk", "--synonyms", str(tmp_path / "none.txt"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert_no_traceback(missing)


def test_query_explain(tmp_path: Path) -> None:
    from idsearch import Index

    index = Index.create(tmp_path / "x.idx")
    with index.writer(workers=1) as w:
        w.add({"id": "1", "title": "Presiden Jokowi ke Bogor", "body": "Presiden bertemu warga."})
        w.add({"id": "2", "title": "Banjir di Bogor"})
    env = _env(tmp_path, IDSEARCH_INDEX=str(tmp_path / "x.idx"))
    proc = run(env, "query", "presiden", "bogor", "--explain", "--color", "never")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "1. Presiden Jokowi ke Bogor"
    assert any(line.strip().endswith("BM25F") for line in lines)
    assert any("title,body: presiden  (frequency" in line for line in lines)
    assert any(line.strip().endswith("proximity and lead bonuses") for line in lines)


def test_delete_by_filters(tmp_path: Path) -> None:
    from idsearch import Index

    index = Index.create(tmp_path / "d.idx")
    with index.writer(workers=1) as w:
        for i in range(4):
            w.add({"id": str(i), "title": f"berita {i}", "source": "spam.example" if i % 2 else "detik.com"})
    env = _env(tmp_path, IDSEARCH_INDEX=str(tmp_path / "d.idx"))
    dry = run(env, "delete", "--source", "spam.example", "--dry-run")
    assert dry.returncode == 0 and dry.stdout == "would delete 2 documents of 4 (--dry-run: nothing deleted)\n"
    done = run(env, "delete", "--source", "spam.example")
    assert done.returncode == 0 and done.stdout.startswith("deleted 2 documents;")
    assert run(env, "delete", "--source", "spam.example").returncode == 1  # none left
    assert run(env, "delete", "--query", "berita 0").stdout.startswith("deleted 1 document;")
    both = run(env, "delete", "2", "--source", "detik.com")
    assert both.returncode == 2 and "give document ids, or --query" in both.stderr
    assert run(env, "delete").returncode == 2


def test_index_reads_the_standard_input(tmp_path: Path) -> None:
    import gzip

    env = _env(tmp_path)
    records = [{"id": "a", "title": "Banjir Jakarta", "date": "Senin (2/12/2024)"}, {"id": "b", "title": 5},
               {"id": "c", "title": "Gempa Palu"}]
    lines = jsonl_text(records).encode()
    for name, data in [("lines", lines), ("array", json.dumps(records).encode()), ("gzip", gzip.compress(lines))]:
        proc = run(env, "index", "-", "-i", str(tmp_path / f"{name}.idx"), "--progress", "never", stdin=data)
        assert proc.returncode == 0, (name, proc.stderr)
        assert "2 added" in proc.stdout and f"({len(data)} B)" in proc.stdout, name
        assert "<stdin>" in proc.stderr and "title: expected a string, got number" in proc.stderr, name
    exported = run(env, "export", "-i", str(tmp_path / "lines.idx"), "-q").stdout
    again = run(env, "index", "-", "-i", str(tmp_path / "again.idx"), "--progress", "never", stdin=exported.encode())
    assert again.returncode == 0 and run(env, "export", "-i", str(tmp_path / "again.idx"), "-q").stdout == exported
    truncated = run(env, "index", "-", "-i", str(tmp_path / "cut.idx"), stdin=gzip.compress(lines)[:-12])
    assert "<stdin>: corrupt or truncated gzip data" in truncated.stderr


def jsonl_text(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


@pytest.mark.slow
def test_full_shared_corpus_through_the_cli(tmp_path: Path) -> None:
    corpus = shared_path("corpus")
    files = sorted(str(p) for p in corpus.glob("*.jsonl"))
    env = _env(tmp_path, IDSEARCH_INDEX=str(tmp_path / "full.idx"))
    proc = run(env, "index", *files, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    assert "27,861 added" in proc.stdout
    stats = json_lines(run(env, "stats", "--json").stdout)[0]
    assert stats["documents"] == 27861

    hits = json_lines(run(env, "query", "Putin Suriah", "--json", "--limit", "5").stdout)
    assert len(hits) == 5
    for hit in hits:
        text = f"{hit['title']} {hit['snippet']}".lower()
        assert "putin" in text and "suriah" in text
    assert hits == sorted(hits, key=lambda h: -h["score"])

    dated = json_lines(run(env, "query", "banjir", "--json", "--sort", "date", "--since", "2019-09-01",
                           "--until", "2019-10-31", "--limit", "20").stdout)
    assert dated and all("2019-09-01" <= h["date"] <= "2019-10-31" for h in dated)
    assert [h["date"] for h in dated] == sorted((h["date"] for h in dated), reverse=True)


def test_writer_rejection_names_file_and_line(tmp_path):
    import io

    from idsearch.cli import main as cli_main

    source = tmp_path / "x.jsonl"
    source.write_text('{"id": "a", "body": "kereta"}\n\n{"id": "b", "body": "y", "source": ["list"]}\n', encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--index", str(tmp_path / "i.idx"), "index", str(source), "--progress", "never"], out=out, err=err)
    assert code == 0
    assert f"{source}:3: document 'b': field 'source' must be a string" in err.getvalue()
