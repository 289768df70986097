"""Tests for idsearch.ingest: formats, gzip, folders, field mapping, problems and strict mode."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

import attrs
import pytest
from _support import SEED, shared_path

from idsearch.ingest import (
    FieldMapping,
    IngestError,
    IngestStats,
    Problem,
    iter_documents,
    read_portal_article,
    stable_id,
)

SEED_TITLE = "Putin dan Pezeshkian Bahas Situasi Suriah Lewat Telepon"


def read(paths: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], list[Problem]]:
    problems: list[Problem] = []
    docs = list(iter_documents(paths, on_problem=problems.append, **kwargs))
    return docs, problems


def jsonl(*records: Any) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


# ------------------------------------------------------------------------------------------------ JSONL


def test_jsonl_records_become_documents(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        jsonl(
            {
                "id": "d1",
                "title": "Judul",
                "body": "Isi berita.",
                "date": "19/09/2019",
                "source": "kompas.com",
                "url": "https://x/1",
                "category": "news",
                "sub_category": None,
                "extra": [1, 2],
            },
            {"id": "d2", "title": None, "body": "Hanya isi.", "date": None},
        ),
        encoding="utf-8",
    )
    docs, problems = read([path])
    assert problems == []
    assert docs == [
        {
            "id": "d1",
            "title": "Judul",
            "body": "Isi berita.",
            "source": "kompas.com",
            "url": "https://x/1",
            "category": "news",
            "extra": [1, 2],
            "date_raw": "19/09/2019",
            "date": "2019-09-19",
        },
        {"id": "d2", "body": "Hanya isi."},
    ]


def test_json_suffix_is_one_object_per_line(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(jsonl({"id": "1", "body": "satu"}, {"id": "2", "body": "dua"}), "utf-8")
    docs, problems = read([tmp_path / "a.json"])
    assert [d["id"] for d in docs] == ["1", "2"] and problems == []


def test_json_array_file_is_read_element_by_element(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps([{"id": "1", "body": "satu"}, 7, {"id": "3", "body": "tiga"}], indent=2), "utf-8"
    )
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["1", "3"]
    assert len(problems) == 1 and problems[0].field == "[1]" and "got number" in problems[0].message
    assert problems[0].line == 6  # where the element is: "[", 4 lines of the first object, then 7


def _json_values_cases() -> list[str]:
    """JSON texts that exercise every place a block boundary can fall: numbers and literals at the top
    level and inside objects, escapes, text outside ASCII (UTF-8 of 2 to 4 bytes), empty arrays, nested
    values, objects one after another, whitespace of every kind."""
    docs = [
        {"id": f"d{i}", "body": f"berita {i} caf\u00e9 \u2014 \U0001f600 \\ \"kutip\"\n", "n": 10**i, "x": [True, None, -1.5e3]}
        for i in range(6)
    ]
    return [
        json.dumps(docs),
        json.dumps(docs, indent=2, ensure_ascii=False),
        "\n".join(json.dumps(d, indent=1, ensure_ascii=False) for d in docs) + "\n",
        " [ ] \r\n\t" + json.dumps(docs[:2]) + "\n" + json.dumps(docs[2], indent=4) + " [12345, " + json.dumps(docs[3]) + "]",
        '[-12.5e3, {"id": "n", "body": "angka"}]',
    ]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 20])
def test_json_values_are_the_same_whatever_the_block_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    from idsearch import ingest

    expected, _ = read(_write_cases(tmp_path / "whole"))
    monkeypatch.setattr(ingest, "_JSON_BLOCK", block)
    docs, problems = read(_write_cases(tmp_path / f"b{block}"))
    assert docs == expected and len(docs) == 6 + 6 + 6 + 4 + 1
    mixed = _json_values_cases()[3]
    assert [(p.line, p.field) for p in problems] == [(mixed.count("\n", 0, mixed.index("12345")) + 1, "[0]"), (1, "[0]")]
    assert [d["body"] for d in docs[:6]] == [f"berita {i} caf\u00e9 \u2014 \U0001f600 \\ \"kutip\"\n" for i in range(6)]
    assert docs[5]["n"] == 10**5 and docs[0]["x"] == [True, None, -1500.0]


def _write_cases(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for i, case in enumerate(_json_values_cases()):
        path = folder / f"c{i}.json"
        path.write_text(case, "utf-8")
        paths.append(path)
    return paths


def test_json_objects_one_after_another_name_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "jq.json"
    path.write_text(
        json.dumps({"id": "1", "body": "satu"}, indent=2)  # lines 1-4
        + "\n"
        + json.dumps({"id": "2", "body": 42}, indent=2)  # lines 5-8
        + "\n"
        + json.dumps({"id": "3", "body": "tiga"}, indent=2),
        "utf-8",
    )
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["1", "3"]
    assert [str(p) for p in problems] == [f"{path}:5: body: expected a string, got number"]


def test_a_json_syntax_error_keeps_the_documents_before_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.json.gz"
    good = [{"id": str(i), "body": f"berita nomor {i}"} for i in range(3)]
    text = json.dumps(good, indent=2)[:-2] + ',\n  {"id": "x", "body": "tanpa penutup"\n  {"id": "y"}\n]'
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(text)
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["0", "1", "2"]
    assert len(problems) == 1 and problems[0].line == text.count("\n", 0, text.index('{"id": "y"}')) + 1
    assert "malformed JSON: Expecting ',' delimiter (column 3)" in problems[0].message
    with pytest.raises(IngestError, match="broken.json.gz:"):
        list(iter_documents([path], strict=True))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[{"id": "1", "body": "a"}\n{"id": "2", "body": "b"}]', 2, "expected ',' or ']' after element 0, found '{'"),
        ('[{"id": "1", "body": "a"},\n', 2, "Expecting value"),
        ('[{"id": "1", "body": "a"}', 1, "expected ',' or ']' after element 0, found the end of the file"),
        ('[{"id": "1", "body": "a"}, {"id": "2", "body": "unterminated}]', 1, "Unterminated string"),
    ],
)
def test_json_array_errors_say_what_and_where(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "e.json"
    path.write_text(text, "utf-8")
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["1"]
    assert len(problems) == 1 and problems[0].line == line and message in problems[0].message


@pytest.mark.parametrize("block", [1, 2, 5, 1 << 20])
def test_invalid_utf8_in_a_json_array_keeps_the_documents_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    from idsearch import ingest

    monkeypatch.setattr(ingest, "_JSON_BLOCK", block)
    path = tmp_path / "latin1.json"
    path.write_bytes(
        b'\xef\xbb\xbf[\n{"id": "1", "body": "caf\xc3\xa9 \xf0\x9f\x98\x80"},\n'  # a BOM, UTF-8 of 2 and 4 bytes
        + '{"id": "2", "body": "caf\u00e9"}\n]'.encode("latin-1")
    )
    docs, problems = read([path])
    assert [(d["id"], d["body"]) for d in docs] == [("1", "caf\u00e9 \U0001f600")]
    assert [(p.line, p.message) for p in problems] == [(3, "invalid UTF-8")]


def test_invalid_utf8_right_after_a_character_cut_by_a_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from idsearch import ingest

    head = b'[{"id": "1", "body": "a"}, {"id": "2", "body": "caf'
    monkeypatch.setattr(ingest, "_JSON_BLOCK", len(head) + 1)  # the first block ends inside the \xc3\xa9
    path = tmp_path / "cut.json"
    path.write_bytes(head + b'\xc3\xa9\xff"}]')
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["1"]
    assert [(p.line, p.message) for p in problems] == [(1, "invalid UTF-8")]


def test_a_large_json_array_is_read_in_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "big.json"
    body = "kata " * 400
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        fh.write(",\n".join(json.dumps({"id": str(i), "body": body}) for i in range(8000)))
        fh.write("\n]\n")
    size = path.stat().st_size
    assert size > 16_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_documents([path]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 8000
    assert peak < 8_000_000, f"{peak / 1e6:.1f} MB at the peak for a {size / 1e6:.1f} MB file"


def test_blank_lines_and_bom_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"id": "1", "body": "x"}\n\n   \r\n{"id": "2", "body": "y"}')
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["1", "2"] and problems == []


def test_malformed_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        json.dumps({"id": "ok1", "body": "baik"}),
        '{"id": "broken", "body": ',  # line 2: truncated
        "[1, 2, 3]",  # line 3: not an object
        json.dumps({"id": "ok2", "body": "baik juga"}),
        "",  # line 5: blank, fine
        json.dumps({"id": "num", "body": 42}),  # line 6: text field not a string
        json.dumps({"id": "empty", "title": "  ", "body": ""}),  # line 7: no text
        json.dumps({"id": "ok3", "body": "terakhir"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["ok1", "ok2", "ok3"]
    assert [(p.line, p.field, p.severity) for p in problems] == [
        (2, None, "error"),
        (3, None, "error"),
        (6, "body", "error"),
        (7, None, "error"),
    ]
    assert "malformed JSON" in problems[0].message
    assert "expected a JSON object, got array" in problems[1].message
    assert "expected a string, got number" in problems[2].message
    assert "empty document" in problems[3].message
    assert str(problems[2]) == f"{path}:6: body: expected a string, got number"


def test_invalid_utf8_reports_the_line_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(
        b'{"id": "1", "body": "baik"}\n'
        + '{"id": "2", "body": "caf\u00e9"}\n'.encode("latin-1")
        + b'{"id": "3", "body": "juga baik"}\n'
    )
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["1", "3"]
    assert [(p.line, p.severity) for p in problems] == [(2, "error")]
    assert "invalid UTF-8" in problems[0].message


def test_binary_junk_is_one_error_not_a_crash(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(bytes(range(256)) * 64)
    good = tmp_path / "zgood.jsonl"
    good.write_text(jsonl({"id": "g", "body": "baik"}), encoding="utf-8")
    docs, problems = read([junk, good])
    assert [d["id"] for d in docs] == ["g"]
    assert len(problems) == 1 and problems[0].path == str(junk) and "binary" in problems[0].message


def test_binary_junk_without_nul_bytes_is_reported_per_line(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"\xff\xfe\x80garbage\n\x89PNG\r\n" + jsonl({"id": "x", "body": "teks"}).encode())
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["x"]
    assert [p.line for p in problems] == [1, 2]


def test_a_ten_megabyte_document_streams(tmp_path: Path) -> None:
    body = ("kata " * 2_100_000).strip()
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(
            jsonl({"id": "small", "body": "kecil"}, {"id": "big", "body": body}, {"id": "after", "body": "z"})
        )
    docs, problems = read([path])
    assert problems == []
    assert [d["id"] for d in docs] == ["small", "big", "after"]
    assert len(docs[1]["body"]) > 10_000_000


# -------------------------------------------------------------------------------------------------- CSV


def test_csv_rows_become_documents(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "id,title,body,date,source\r\n"
        'c1,Judul,"Isi, dengan koma\ndan baris baru",17 Oktober 2019,tempo.co\r\n'
        "c2,,Hanya isi,,\r\n",
        encoding="utf-8",
    )
    docs, problems = read([path])
    assert problems == []
    assert docs == [
        {
            "id": "c1",
            "title": "Judul",
            "body": "Isi, dengan koma\ndan baris baru",
            "source": "tempo.co",
            "date_raw": "17 Oktober 2019",
            "date": "2019-10-17",
        },
        {"id": "c2", "body": "Hanya isi"},
    ]


def test_csv_wrong_column_count_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "id,body\n"
        'a,"dua\nbaris"\n'  # lines 2-3
        "b,terlalu,banyak\n"  # line 4
        "c\n"  # line 5
        "d,baik\n",
        encoding="utf-8",
    )
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["a", "d"]
    assert [(p.line, p.message) for p in problems] == [
        (4, "expected 2 columns, got 3"),
        (5, "expected 2 columns, got 1"),
    ]


def test_csv_stray_and_unclosed_quotes_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('id,body\n1,ok\n2,"b"c\n3,ok\n4,"tidak ditutup\n5,baik\n', encoding="utf-8")
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["1", "3"]
    assert [p.line for p in problems] == [3, 5]
    assert "malformed CSV" in problems[0].message
    assert "lines 5-6" in problems[1].message


def test_csv_invalid_utf8_row_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"id,body\n1,baik\n2,caf\xe9\n3,juga baik\n")
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["1", "3"]
    assert [(p.line, p.severity) for p in problems] == [(3, "error")]


def test_tsv_and_duplicate_header(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("id\tbody\nt1\tisi, dengan koma\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,body,body\n1,x,y\n", encoding="utf-8")
    docs, problems = read([tmp_path])
    assert docs == [{"id": "t1", "body": "isi, dengan koma"}]
    assert len(problems) == 1 and problems[0].line == 1 and "duplicate column" in problems[0].message


def test_csv_long_field_beyond_the_csv_module_default(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("id,body\nx," + "a" * 300_000 + "\n", encoding="utf-8")
    docs, problems = read([path])
    assert problems == [] and len(docs[0]["body"]) == 300_000


# ----------------------------------------------------------------------------------- portal .txt (seed)


def test_seed_article_is_parsed(seed_text: str) -> None:
    doc = read_portal_article(seed_text, path=str(SEED))
    assert doc["title"] == SEED_TITLE
    assert doc["date"] == "2024-12-02"
    assert doc["date_raw"] == "Senin (2/12/2024)"
    assert doc["source"] == "tribunnews.com"
    assert doc["author"] == "Andari Wulan Nugrahani"
    assert doc["editor"] == "Nuryanti"
    body = doc["body"]
    for gone in (
        "Baca juga",
        "Kirim Komentar",
        "Penulis:",
        "Editor:",
        "Isi komentar",
        "TRIBUNNEWS.COM -",
        "(Tribunnews.com, Andari Wulan Nugrahani)",
    ):
        assert gone not in body
    assert body.startswith("Pada hari Senin (2/12/2024), Presiden Rusia")  # the lead is article text
    assert "Keduanya membicarakan situasi terkini di Suriah." in body
    assert body.endswith("yang telah berlangsung sejak 2011.")
    assert SEED_TITLE not in body
    assert doc["id"] == stable_id([doc["title"], doc["body"]])


def test_seed_article_through_iter_documents(tmp_path: Path, seed_text: str) -> None:
    plain, problems = read([SEED])
    (tmp_path / "seed.txt.gz").write_bytes(gzip.compress(seed_text.encode("utf-8")))
    packed, more = read([tmp_path / "seed.txt.gz"])
    assert problems == more == []
    assert len(plain) == len(packed) == 1
    assert plain[0]["path"] == str(SEED)
    assert {k: v for k, v in plain[0].items() if k != "path"} == {
        k: v for k, v in packed[0].items() if k != "path"
    }


def test_portal_variants() -> None:
    text = (
        "\n  Judul Lain  \n"
        "Reporter: Budi\n"
        "JAKARTA, KOMPAS.com - Rapat digelar Jumat, 25 Oktober 2019.\n"
        "BACA JUGA: Berita lain\n"
        "Simak juga: Video\n"
        "Paragraf kedua.\n"
        "(Kompas.com/Budi)\n"
    )
    doc = read_portal_article(text)
    assert doc["title"] == "Judul Lain"
    assert doc["body"] == "Rapat digelar Jumat, 25 Oktober 2019.\nParagraf kedua."
    assert (doc["source"], doc["author"], doc["date"]) == ("kompas.com", "Budi", "2019-10-25")
    assert "editor" not in doc


def test_portal_source_from_credit_line_and_no_date() -> None:
    doc = read_portal_article("Judul\nIsi tanpa tanggal.\n(Tribunnews.com, Nama Penulis)\n")
    assert doc["source"] == "tribunnews.com" and doc["author"] == "Nama Penulis"
    assert "date" not in doc and doc["body"] == "Isi tanpa tanggal."


def test_empty_and_undecodable_txt(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="empty document"):
        read_portal_article(" \n\nKirim Komentar\nIsi komentar sepenuhnya adalah tanggung jawab pengguna.")
    (tmp_path / "a.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(b"Judul\nbaris dua caf\xe9\n")
    docs, problems = read([tmp_path])
    assert docs == []
    assert [(Path(p.path).name, p.line) for p in problems] == [("a.txt", None), ("b.txt", 2)]


# ------------------------------------------------------------------------------ gzip, folders, progress


def test_gzip_every_format(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(jsonl({"id": "j", "body": "json"}).encode()))
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(b"id,body\nc,csv\n"))
    (tmp_path / "c.JSON.GZ").write_bytes(gzip.compress(jsonl({"id": "k", "body": "json2"}).encode()))
    docs, problems = read([tmp_path])
    assert [d["id"] for d in docs] == ["j", "c", "k"] and problems == []


def test_corrupt_gzip_keeps_documents_read_before(tmp_path: Path) -> None:
    data = gzip.compress(jsonl(*({"id": str(i), "body": "x" * 50 + str(i)} for i in range(2000))).encode())
    (tmp_path / "a.jsonl.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "b.jsonl.gz").write_bytes(b"not gzip at all\n")
    docs, problems = read([tmp_path])
    assert 0 < len(docs) < 2000 and docs[0]["id"] == "0"
    assert [Path(p.path).name for p in problems] == ["a.jsonl.gz", "b.jsonl.gz"]
    assert all("gzip" in p.message for p in problems)


def test_folders_are_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "d").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    for rel, ident in [("z.jsonl", "z"), ("b/d/x.jsonl", "bdx"), ("b/c.jsonl", "bc"), ("a/y.jsonl", "ay")]:
        (tmp_path / rel).write_text(jsonl({"id": ident, "body": ident}), encoding="utf-8")
    (tmp_path / "notes.md").write_text("# not a corpus", encoding="utf-8")
    (tmp_path / "b" / "image.png").write_bytes(b"\x89PNG")
    stats = IngestStats()
    docs, problems = read([tmp_path], stats=stats)
    assert [d["id"] for d in docs] == ["ay", "bc", "bdx", "z"]
    assert problems == []
    assert (stats.files_total, stats.files_done, stats.files_skipped, stats.docs) == (4, 4, 2, 4)
    assert stats.bytes_read == stats.bytes_total == sum(p.stat().st_size for p in tmp_path.rglob("*.jsonl"))
    assert stats.fraction == 1.0 and stats.current_path is None


def test_progress_is_visible_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(jsonl(*({"id": str(i), "body": "isi " * 100} for i in range(50))), encoding="utf-8")
    stats = IngestStats()
    seen = [(stats.bytes_read, stats.current_path) for _ in iter_documents([path], stats=stats)]
    assert seen[0][1] == str(path)
    assert [b for b, _ in seen] == sorted(b for b, _ in seen) and 0 < seen[0][0] <= seen[-1][0]
    assert stats.bytes_read == path.stat().st_size


def test_missing_and_unsupported_paths(tmp_path: Path) -> None:
    (tmp_path / "x.xml").write_text("<a/>", encoding="utf-8")
    docs, problems = read([tmp_path / "nope.jsonl", tmp_path / "x.xml"])
    assert docs == []
    assert len(problems) == 2
    assert "no such file" in problems[0].message
    assert "unsupported file type" in problems[1].message


def test_a_single_path_string_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(jsonl({"id": "1", "body": "x"}), encoding="utf-8")
    assert [d["id"] for d in iter_documents(str(tmp_path / "a.jsonl"))] == ["1"]


# --------------------------------------------------------------------------------- mapping, ids, dates


def test_missing_ids_are_stable_content_hashes(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        jsonl(
            {"title": "Judul", "body": "Isi  berita."},
            {"title": "Judul", "body": "Isi berita.", "id": ""},
            {"title": "Judul lain", "body": "Isi berita."},
            {"title": "Isi berita.", "body": "Judul"},
        ),
        encoding="utf-8",
    )
    first, _ = read([path])
    again, _ = read([path])
    ids = [d["id"] for d in first]
    assert ids == [d["id"] for d in again]
    assert all(i.startswith("sha1:") and len(i) == 5 + 16 for i in ids)
    assert ids[0] == ids[1]  # same text up to whitespace
    assert len({ids[0], ids[2], ids[3]}) == 3  # field boundaries matter


def test_numeric_ids_and_bad_ids(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(jsonl({"id": 17, "body": "x"}, {"id": {"a": 1}, "body": "y"}), encoding="utf-8")
    docs, problems = read([path])
    assert [d["id"] for d in docs] == ["17"]
    assert [(p.line, p.field) for p in problems] == [(2, "id")]


def test_field_mapping_options(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("kode,judul,isi,tanggal,penulis,catatan\nk1,Judul,Isi,2/12/2024,Budi,abaikan\n", "utf-8")
    mapping = FieldMapping(
        id_field="kode",
        rename={"judul": "title", "isi": "body", "tanggal": "date"},
        keep_fields=("penulis",),
    )
    docs, problems = read([path], mapping=mapping)
    assert problems == []
    assert docs == [
        {
            "id": "k1",
            "title": "Judul",
            "body": "Isi",
            "penulis": "Budi",
            "date_raw": "2/12/2024",
            "date": "2024-12-02",
        }
    ]
    only_body = FieldMapping(text_fields="body", date_field=None, date_fallback_fields=())
    docs, _ = read([path], mapping=attrs.evolve(only_body, rename={"isi": "body"}))
    assert docs[0]["id"] == stable_id(["Isi"]) and "date" not in docs[0] and docs[0]["tanggal"] == "2/12/2024"
    with pytest.raises(ValueError, match="at least one"):
        FieldMapping(text_fields=())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        mapping.id_field = "x"  # type: ignore[misc]


def test_unparseable_dates_are_kept_raw_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        jsonl(
            {"id": "bad", "body": "x", "date": "31/02/2024"},
            {"id": "swap", "body": "x", "date": "18:59", "time": "25 Okt 2019"},
            {"id": "timeonly", "body": "x", "time": "10:05:33"},
            {"id": "number", "body": "x", "date": 20240202},
        ),
        encoding="utf-8",
    )
    docs, problems = read([path])
    by_id = {d["id"]: d for d in docs}
    assert by_id["bad"]["date_raw"] == "31/02/2024" and "date" not in by_id["bad"]
    assert by_id["swap"]["date"] == "2019-10-25" and by_id["swap"]["date_raw"] == "18:59"
    assert "date" not in by_id["timeonly"] and by_id["timeonly"]["time"] == "10:05:33"
    assert by_id["number"]["date_raw"] == 20240202 and "date" not in by_id["number"]
    assert [(p.line, p.field, p.severity) for p in problems] == [
        (1, "date", "warning"),
        (4, "date", "warning"),
    ]
    assert "'31/02/2024'" in problems[0].message


# ------------------------------------------------------------------------------- strict mode, reporting


def test_strict_mode_raises_on_the_first_error(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        jsonl({"id": "1", "body": "x", "date": "nonsense"}) + "{oops\n" + jsonl({"id": "3", "body": "z"}),
        encoding="utf-8",
    )
    got: list[str] = []
    with pytest.raises(IngestError) as info:
        for doc in iter_documents([path], strict=True):
            got.append(doc["id"])
    assert got == ["1"]  # the date warning did not raise
    assert info.value.problem.line == 2 and info.value.problem.severity == "error"
    assert str(info.value).startswith(f"{path}:2: malformed JSON")


def test_problems_are_counted_in_stats_and_logged_without_a_callback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("{oops\n" + jsonl({"id": "2", "body": "y", "date": "kemarin"}), encoding="utf-8")
    stats = IngestStats(max_kept=1)
    assert len(list(iter_documents([path], stats=stats))) == 1
    assert (stats.errors, stats.warnings, len(stats.problems)) == (1, 1, 1)
    with caplog.at_level(logging.WARNING, logger="idsearch.ingest"):
        assert len(list(iter_documents([path]))) == 1
    assert any(":1: malformed JSON" in r.getMessage() for r in caplog.records)


def test_problem_str_and_validation() -> None:
    assert str(Problem("f.jsonl", 3, "body", "pesan", "error")) == "f.jsonl:3: body: pesan"
    assert str(Problem("f.jsonl", None, None, "pesan", "warning")) == "f.jsonl: pesan"
    with pytest.raises(ValueError):
        Problem("f", None, None, "m", "fatal")


# ------------------------------------------------------------------------------------- shared corpus


@pytest.mark.shared
def test_whole_shared_corpus() -> None:
    folder = shared_path("corpus")
    stats = IngestStats()
    problems: list[Problem] = []
    ids: set[str] = set()
    dated = with_title = 0
    for doc in iter_documents([folder], stats=stats, on_problem=problems.append):
        ids.add(doc["id"])
        dated += "date" in doc
        with_title += "title" in doc
        assert isinstance(doc["body"], str) and doc["body"].strip()
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert [str(p) for p in problems] == []
    assert stats.docs == len(ids) == 27_861
    assert dated == 23_029 + 3_463  # every clickid and indosum record gets a date (facqa has none)
    assert with_title == 23_029
    assert stats.files_total == 3 and stats.bytes_read == stats.bytes_total
