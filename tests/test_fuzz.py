"""Property-based tests: arbitrary Unicode through the analyzer and the query path, hostile input files
through ingestion and the writer.

* The analyzer never fails; its two paths (``analyze`` and ``tokens``) give the same terms and positions,
  and every token's offsets slice the original text.
* ``Index.search`` on any string raises nothing but :class:`~idsearch.query.QuerySyntaxError` (whose
  message points at a position inside the query), whatever the fields, operator and sort.
* Ingestion of files mixing valid documents with malformed JSON, invalid UTF-8, non-objects and empty
  documents reports each bad line (by line number) and yields every valid document, which the writer then
  indexes (the last version of a duplicated id wins). Binary junk, an empty document and a 10 MB document
  are handled too.
"""

from __future__ import annotations

import json
import shutil
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idsearch import Index
from idsearch.analysis import IndonesianAnalyzer
from idsearch.index import _VALUE_TYPED
from idsearch.ingest import IngestStats, Problem, iter_documents
from idsearch.query import QuerySyntaxError
from idsearch.writer import DocumentError

ANALYZER = IndonesianAnalyzer()
ANALYZER_STOPWORDS = IndonesianAnalyzer(stopwords="minimal")

# -- the analyzer ------------------------------------------------------------------------------------------------------

WORDISH = st.sampled_from(
    [
        "anak-anak", "jum'at", "Putin's", "2.000.000", "2,5", "covid-19", "al-assad", "putin-nya", "café", "g20",
        "ﬁnal", "ＡＢＣ", "İstanbul", "ß", "\u00ad", "\u2019", "\u2010", "—", "memperjuangkan", "yang", "-", "'",
        "...", "١٢٣", "🙂", "e\u0301", "\u200b", "\ufeff",
    ]
)  # fmt: skip
TEXTS = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(WORDISH, st.text(max_size=4)), max_size=12).map(" ".join),
    st.lists(st.one_of(WORDISH, st.text(max_size=3)), max_size=12).map("".join),
)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None)
@given(TEXTS, st.booleans())
def test_analyzer_on_arbitrary_unicode(text: str, stopwords: bool):
    analyzer = ANALYZER_STOPWORDS if stopwords else ANALYZER
    terms, positions = analyzer.analyze(text)
    tokens = analyzer.tokens(text)
    assert [t.term for t in tokens] == terms
    assert [t.position for t in tokens] == positions
    assert all(isinstance(t, str) and t for t in terms)
    assert positions == sorted(positions) and all(p >= 0 for p in positions)
    for token in tokens:
        assert 0 <= token.start <= token.end <= len(text)
        assert token.text == text[token.start : token.end]


# -- the query path --------------------------------------------------------------------------------------------------

DOCS = [
    {"id": "a", "title": "Putin bertemu Pezeshkian", "body": "Presiden Rusia membahas Suriah dan al-Assad.",
     "date": "2024-12-02", "source": "tribunnews.com", "category": "politik"},
    {"id": "b", "title": "Banjir di Jakarta", "body": "Hujan deras sejak Jum'at, anak-anak diungsikan. covid-19",
     "date": "2024-11-20", "source": "detik.com"},
    {"id": "c", "title": "Persib menang", "body": "Pemain mencetak 2 gol; harga tiket Rp 2.000.000.",
     "source": "kompas.com", "category": "olahraga"},
]  # fmt: skip

QUERY_PIECES = st.sampled_from(
    [
        "putin", "suriah", "banjir", "anak-anak", "covid-19", '"', '"putin bertemu"', '"hujan deras"~2', "(", ")",
        "+", "-", "AND", "OR", "NOT", "and", "or", "not", "title:", "body:", "source:", "category:", "date:",
        "date:2024-12-01..2024-12-31", "date:..2024", "date:2024-13-45", "source:detik.com", "^", "^2", "^0",
        "^1e400", "^-1", "~", "~3", "*", "?", ":", "\\", "..", "&&", "||", "!", "'", "yang", "nya", "2.000",
        "Rp", "\u00ad", "\ufeff", "İ", "ﬁ", "\x00", "\u202e", "🙂", "  ", "\t", "\n", "pezeskian~", "putn~1",
        "~0", "~2", "~99", "pres", "title:banj",
    ]
)  # fmt: skip
QUERIES = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(QUERY_PIECES, st.text(max_size=3)), max_size=12).map(" ".join),
    st.lists(st.one_of(QUERY_PIECES, st.text(max_size=2)), max_size=12).map("".join),
)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    ix = Index.create(tmp_path_factory.mktemp("fuzz") / "idx")
    with ix.writer(workers=1) as w:
        for doc in DOCS:
            w.add(doc)
    return ix


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    QUERIES,
    st.sampled_from([None, ("title",), ("body",)]),
    st.sampled_from(["or", "and"]),
    st.sampled_from(["score", "date", "oldest"]),
    st.integers(0, 3),
)
def test_search_raises_only_query_syntax_errors(
    small_index: Index, query: str, fields: tuple[str, ...] | None, operator: str, sort: str, offset: int
):
    """Any string through search (in pages), counts, synonyms, "did you mean" and completions."""
    try:
        results = small_index.search(query, limit=5, offset=offset, fields=fields, default_operator=operator,
                                     sort=sort)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= len(query)
        assert str(exc).splitlines()[0].startswith(exc.reason)
        return
    assert results.total >= len(results) and len(results) <= 5
    assert {hit.id for hit in results} <= {"a", "b", "c"}
    assert [h.rank for h in results] == list(range(offset + 1, offset + 1 + len(results)))
    for hit in results:
        small_index.snippet(hit, style="html")
    counts = small_index.counts(query, by="source", fields=fields, default_operator=operator)
    assert counts.matched == results.total
    suggestion = small_index.suggest(query, fields=fields)
    assert suggestion is None or isinstance(suggestion, str)
    completions = small_index.complete(query, fields=fields)
    value = _VALUE_TYPED.search(query)
    if value and value.group(1).casefold() in ("source", "category"):  # a keyword value being typed
        typed: tuple[int, str] | None = (value.start(2), value.group(2).casefold())
    else:
        typed = small_index.analyzer.last_word(query)
    if typed is None:
        assert completions == []
    for text, documents in completions:  # the text before the word as typed, the word completed
        assert typed is not None and documents > 0
        assert text.startswith(query[: typed[0]]) and text[typed[0] :].casefold().startswith(typed[1])
    small_index.synonyms = [["putin", "vladimir putin"], ["suriah", "syria"]]
    try:
        with_synonyms = small_index.search(query, limit=5, fields=fields, default_operator=operator, sort=sort)
    finally:
        small_index.synonyms = None
    assert {hit.id for hit in with_synonyms} <= {"a", "b", "c"}


# -- ingestion ---------------------------------------------------------------------------------------------------------

ID_CHARS = string.ascii_lowercase + string.digits + "-_:/."
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # no lone surrogates: not UTF-8


@st.composite
def good_line(draw: Any) -> tuple[str, bytes, dict[str, Any]]:
    doc = {"id": draw(st.sampled_from(["dup1", "dup2"]) | st.text(ID_CHARS, min_size=1, max_size=12))}
    doc["title"] = draw(TEXT.filter(lambda t: t.strip()))
    if draw(st.booleans()):
        doc["body"] = draw(TEXT)
    if draw(st.booleans()):
        doc["source"] = draw(st.sampled_from(["detik.com", "Kompas.com", "tribunnews.com"]))
    if draw(st.booleans()):
        doc["date"] = draw(st.sampled_from(["2024-12-02", "2 Desember 2024", "Senin, 02/12/2024 10:15 WIB"]))
    raw = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8")
    return "good", raw, doc


BAD_LINES = st.one_of(
    st.tuples(
        st.just("json"), st.sampled_from([b"{", b'{"id": "x", "title": }', b"{'id': 'x'}", b'{"a":1}}'])
    ),
    st.tuples(
        st.just("utf8"), st.sampled_from([b'{"id": "x", "title": "\xff\xfe"}', b"\xc3\x28", b"\xed\xa0\x80"])
    ),
    st.tuples(st.just("object"), st.sampled_from([b"[1, 2]", b'"text"', b"42", b"null"])),
    st.tuples(
        st.just("empty"), st.sampled_from([b'{"id": "e", "title": "  "}', b'{"id": "e"}', b'{"body": ""}'])
    ),
    st.tuples(st.just("type"), st.sampled_from([b'{"id": "t", "title": 5}', b'{"id": [1], "title": "x"}'])),
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(good_line(), BAD_LINES), max_size=25), st.booleans())
def test_ingest_reports_bad_lines_and_indexes_every_good_one(tmp_path: Path, lines: list[tuple], blank: bool):
    lines = [("blank", b"   ", None)] + lines if blank else lines
    path = tmp_path / "input.jsonl"
    path.write_bytes(b"\n".join(line[1] for line in lines) + b"\n")
    problems: list[Problem] = []
    stats = IngestStats()
    docs = list(iter_documents([path], on_problem=problems.append, stats=stats))

    bad = {n for n, line in enumerate(lines, 1) if line[0] not in ("good", "blank")}
    assert {p.line for p in problems if p.severity == "error"} == bad
    assert all(p.path == str(path) and str(p).startswith(f"{path}:{p.line}") for p in problems)
    good = [line[2] for line in lines if line[0] == "good"]
    assert [d["id"] for d in docs] == [g["id"] for g in good]
    for doc, given_doc in zip(docs, good):
        assert doc["title"] == given_doc["title"] and doc.get("body") == given_doc.get("body")

    index_path = tmp_path / "idx"
    if index_path.exists():  # hypothesis reuses the test's tmp_path
        shutil.rmtree(index_path)
    ix = Index.create(index_path)
    with ix.writer(workers=1) as w:
        for doc in docs:
            w.update(doc)
    latest = {d["id"]: d for d in docs}
    assert len(ix) == len(latest)
    for doc_id, doc in latest.items():
        assert ix.get(doc_id) == doc


JSON_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), JSON_TEXT)
JSON_RECORD = st.fixed_dictionaries(
    {"id": JSON_TEXT, "title": JSON_TEXT},
    optional={"body": JSON_TEXT, "n": JSON_SCALAR, "tags": st.lists(JSON_SCALAR, max_size=3)},
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.one_of(JSON_RECORD, JSON_SCALAR), max_size=12),
    st.sampled_from([None, 0, 1, 3]),
    st.booleans(),
    st.integers(1, 48),
)
def test_json_values_stream_like_json_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: list[Any], indent: int | None, array: bool, block: int
):
    """A JSON array (or objects one after another), read a few bytes at a time, gives the documents and
    the problems that the same values one per line give."""
    from idsearch import ingest

    values = values if array else [v for v in values if isinstance(v, dict)]
    lines = tmp_path / "oracle.jsonl"
    lines.write_text("".join(json.dumps(v, ensure_ascii=False) + "\n" for v in values), "utf-8")
    oracle: list[Problem] = []
    expected = list(iter_documents([lines], on_problem=oracle.append))

    monkeypatch.setattr(ingest, "_JSON_BLOCK", block)
    path = tmp_path / "values.json"
    if array:
        text = json.dumps(values, indent=indent, ensure_ascii=False)
    else:
        text = "\n".join(json.dumps(v, indent=1, ensure_ascii=False) for v in values)
    path.write_text(text, "utf-8")
    problems: list[Problem] = []
    docs = list(iter_documents([path], on_problem=problems.append))
    assert docs == expected
    assert [(p.message, p.severity) for p in problems] == [(p.message, p.severity) for p in oracle]


def test_binary_junk_is_one_clear_problem(tmp_path: Path):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(bytes(range(256)) * 50)
    problems: list[Problem] = []
    assert list(iter_documents([path], on_problem=problems.append)) == []
    assert len(problems) == 1 and "binary" in problems[0].message


@pytest.mark.slow
def test_empty_and_huge_documents(tmp_path: Path):
    words = ["presiden", "rusia", "iran", "suriah", "banjir", "jakarta", "hujan", "gempa", "kereta", "pemilu"]
    body = " ".join(words[i % len(words)] + str(i % 997) for i in range(1_100_000))  # about 10 MB
    assert len(body) > 10_000_000
    path = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"id": "empty", "title": "", "body": ""}),
        json.dumps({"id": "huge", "title": "dokumen besar", "body": body}),
        "",
        json.dumps({"id": "small", "title": "kecil", "body": "isi pendek"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems: list[Problem] = []
    docs = list(iter_documents([path], on_problem=problems.append))
    assert [p.line for p in problems] == [1] and "empty document" in problems[0].message
    assert [d["id"] for d in docs] == ["huge", "small"]
    ix = Index.create(tmp_path / "idx")
    with ix.writer(workers=1) as w:
        for doc in docs:
            w.update(doc)
    assert len(ix) == 2 and ix.get("huge")["body"] == body
    assert [h.id for h in ix.search("suriah996", limit=None)] == ["huge"]
    assert ix.search('"hujan6 gempa7"').total == 1


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"id": "s1", "title": "lone \ud800 surrogate"}, "cannot be stored"),
        ({"id": "   ", "title": "blank id"}, "no 'id'"),
        ({"id": "a\nb", "title": "line break in id"}, "line breaks"),
        ({"id": "x" * 600, "title": "long id"}, "at most"),
        ({"id": "t", "title": "x", "source": 5}, "'source'"),
        ({"id": "d", "title": "x", "date": "2024-13-45"}, "'date'"),
    ],
)
def test_ingested_documents_the_writer_refuses_get_a_clear_error(tmp_path: Path, doc: dict, message: str):
    """Ingestion passes these on (they are JSON objects with text); the writer names what is wrong."""
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(doc) + "\n" + json.dumps({"id": "ok", "title": "baik"}) + "\n")
    docs = list(iter_documents([path], on_problem=lambda p: None))
    ix = Index.create(tmp_path / "idx")
    refused = []
    with ix.writer(workers=1) as w:
        for d in docs:
            try:
                w.update(d)
            except DocumentError as exc:
                refused.append(str(exc))
    assert list(ix.search("baik")) and "ok" in ix
    if doc["id"] != "d":  # an unparseable date is kept as date_raw by ingestion, not refused
        assert len(refused) == 1 and message in refused[0]
    else:
        assert "d" in ix and ix.get("d")["date_raw"] == "2024-13-45"
