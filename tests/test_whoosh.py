"""idsearch.whoosh.IndonesianAnalyzer inside real Whoosh indexes: stemmed matching, reopening in a fresh
process, pickling by spec, highlighting of the original words, phrase queries on positions."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

whoosh = pytest.importorskip("whoosh", reason="needs whoosh (pip install idsearch[whoosh])")

from whoosh import highlight
from whoosh.fields import ID, TEXT, Schema
from whoosh.index import create_in, open_dir
from whoosh.qparser import QueryParser

from idsearch.analysis import AnalyzerSpec
from idsearch.analysis import IndonesianAnalyzer as make_analyzer
from idsearch.whoosh import IndonesianAnalyzer

REPO = Path(__file__).resolve().parents[1]

DOCS = [
    ("d1", "Presiden Bertemu Perdana Menteri", "Presiden Joko Widodo bertemu dengan Perdana Menteri Jepang di Istana Bogor."),
    ("d2", "Harga Beras Naik", "Harga beras di pasar tradisional naik menjelang akhir tahun, kata pedagang."),
    ("d3", "Banjir di Jakarta", "Banjir merendam ribuan rumah di Jakarta Timur setelah hujan deras semalam."),
    ("d4", "Menteri Jepang Berkunjung", "Menteri luar negeri Jepang berkunjung ke Jakarta untuk membahas kerja sama."),
]


def _build(path: Path, analyzer: IndonesianAnalyzer) -> None:
    schema = Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(analyzer=analyzer, stored=True),
        body=TEXT(analyzer=analyzer, stored=True),
    )
    ix = create_in(str(path), schema)
    with ix.writer() as w:
        for doc_id, title, body in DOCS:
            w.add_document(id=doc_id, title=title, body=body)


def _search(path: Path, query: str, field: str = "body") -> list[str]:
    ix = open_dir(str(path))
    with ix.searcher() as s:
        q = QueryParser(field, ix.schema).parse(query)
        return [hit["id"] for hit in s.search(q, limit=10)]


@pytest.fixture()
def index_dir(tmp_path: Path) -> Path:
    _build(tmp_path, IndonesianAnalyzer())
    return tmp_path


# -- tokens -----------------------------------------------------------------------------------------------


def test_tokens_carry_terms_positions_and_original_offsets() -> None:
    text = "Mereka Bertemu di Jakarta; pertemuan anak-anak."
    tokens = [(t.text, t.pos, t.startchar, t.endchar) for t in IndonesianAnalyzer()(text, positions=True, chars=True)]
    expected = [(t.term, t.position, t.start, t.end) for t in make_analyzer().tokens(text)]
    assert tokens == expected
    assert ("temu", 1, 7, 14) in tokens and text[7:14] == "Bertemu"
    assert ("anak", 5, 37, 46) in tokens  # reduplication: one term, offsets cover the whole word


def test_fast_path_and_offset_path_agree() -> None:
    text = "Pemerintah menaikkan harga BBM, covid-19 dan Putin-nya; Rp 2.000.000 untuk jum'at."
    ana = IndonesianAnalyzer()
    fast = [(t.text, t.pos) for t in ana(text, positions=True)]
    slow = [(t.text, t.pos) for t in ana(text, positions=True, chars=True)]
    assert fast == slow
    assert [t.text for t in ana(text, mode="query")] == [t.text for t in ana(text, mode="index")]


def test_start_pos_start_char_and_keeporiginal() -> None:
    toks = [
        (t.text, t.pos, t.startchar, t.endchar, t.original)
        for t in IndonesianAnalyzer()("Harga Naik", positions=True, chars=True, keeporiginal=True,
                                      start_pos=10, start_char=100)
    ]
    assert toks == [("harga", 10, 100, 105, "Harga"), ("naik", 11, 106, 110, "Naik")]


def test_removestops_false_yields_stopwords_marked_stopped() -> None:
    ana = IndonesianAnalyzer(stopwords=["di", "dengan"])
    text = "Presiden bertemu dengan menteri di Bogor"
    removed = [(t.text, t.pos) for t in ana(text, positions=True)]
    assert removed == [("presiden", 0), ("temu", 1), ("menteri", 3), ("bogor", 5)]
    kept = [(t.text, t.pos, t.stopped) for t in ana(text, positions=True, chars=True, removestops=False)]
    assert [(w, p) for w, p, s in kept if not s] == removed
    assert [(w, p) for w, p, s in kept if s] == [("dengan", 2), ("di", 4)]


def test_tokenize_false_gives_one_token() -> None:
    ana = IndonesianAnalyzer()
    assert [t.text for t in ana("Pertemuan", tokenize=False)] == ["temu"]
    assert [t.text for t in ana("TEMU*", tokenize=False)] == ["temu*"]  # a wildcard pattern: only normalized


def test_protected_and_options_like_the_core_analyzer() -> None:
    ana = IndonesianAnalyzer(protected=["pertamina"])
    assert [t.text for t in ana("Pertamina menaikkan harga")] == ["pertamina", "naik", "harga"]
    assert [t.text for t in IndonesianAnalyzer(stemmer="none")("Pertemuan")] == ["pertemuan"]


def test_rejects_bytes() -> None:
    with pytest.raises(TypeError, match="str"):
        list(IndonesianAnalyzer()(b"bytes"))


# -- pickling ---------------------------------------------------------------------------------------------


def test_pickles_as_its_spec_only() -> None:
    ana = IndonesianAnalyzer(stopwords="minimal", protected=["bogor"])
    list(ana("Bertemu di Bogor"))  # warm the word cache: it must not travel
    data = pickle.dumps(ana)
    assert b"word_cache" not in data and b"Stemmer" not in data and b"bertemu" not in data
    assert len(data) < 1000
    again = pickle.loads(data)
    assert isinstance(again, IndonesianAnalyzer)
    assert again == ana and hash(again) == hash(ana)
    assert again._analyzer is None  # rebuilt lazily
    assert again.spec == ana.spec
    text = "Mereka bertemu di Bogor, pertemuan berikutnya di Jakarta"
    assert [(t.text, t.pos) for t in again(text, positions=True)] == [(t.text, t.pos) for t in ana(text, positions=True)]
    assert again.analyzer.spec == ana.spec


def test_from_analyzer_shares_the_word_cache_and_from_spec_rebuilds() -> None:
    core = make_analyzer()
    core.terms("bertemu")
    ana = IndonesianAnalyzer.from_analyzer(core)
    assert ana.analyzer is core
    assert ana == IndonesianAnalyzer()
    assert IndonesianAnalyzer.from_spec(core.spec.to_dict()) == ana
    assert IndonesianAnalyzer.from_spec(AnalyzerSpec(stemmer="none")) != ana
    with pytest.raises(TypeError):
        IndonesianAnalyzer.from_analyzer("not an analyzer")  # type: ignore[arg-type]


def test_foreign_dictionary_hash_fails_clearly_on_use() -> None:
    spec = AnalyzerSpec(dictionary_hash="0" * 64)
    ana = pickle.loads(pickle.dumps(IndonesianAnalyzer.from_spec(spec)))
    with pytest.raises(ValueError, match="cannot rebuild"):
        list(ana("bertemu"))


# -- Whoosh indexes -----------------------------------------------------------------------------------------


def test_stemmed_query_finds_the_other_form(index_dir: Path) -> None:
    assert _search(index_dir, "pertemuan") == ["d1"]  # bertemu and pertemuan share the root temu
    assert set(_search(index_dir, "kunjungan")) == {"d4"}  # berkunjung
    assert set(_search(index_dir, "jakarta")) == {"d3", "d4"}
    assert _search(index_dir, "gempa") == []


def test_reopened_in_a_fresh_process(index_dir: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys, warnings
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        from whoosh.index import open_dir
        from whoosh.qparser import QueryParser
        ix = open_dir(sys.argv[1])
        analyzer = ix.schema["body"].analyzer
        with ix.searcher() as s:
            ids = [h["id"] for h in s.search(QueryParser("body", ix.schema).parse("pertemuan menteri"))]
            both = [h["id"] for h in s.search(QueryParser("body", ix.schema).parse("jepang"))]
        print(json.dumps({"ids": ids, "both": sorted(both), "type": type(analyzer).__module__ + "." + type(analyzer).__name__}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(index_dir)], capture_output=True, text=True, cwd=REPO, check=True
    )
    result = json.loads(out.stdout)
    assert result["type"] == "idsearch.whoosh.IndonesianAnalyzer"
    assert result["ids"] == ["d1"]  # Whoosh's default AND: only d1 has a form of "temu" and "menteri"
    assert result["both"] == ["d1", "d4"]


def test_highlighter_marks_the_original_words(index_dir: Path) -> None:
    ix = open_dir(str(index_dir))
    with ix.searcher() as s:
        results = s.search(QueryParser("body", ix.schema).parse("pertemuan"))
        results.formatter = highlight.UppercaseFormatter()
        results.fragmenter = highlight.WholeFragmenter()
        html = results[0].highlights("body")
    assert "BERTEMU" in html  # the word as written, found through its stem
    assert "Presiden Joko Widodo" in html  # the rest untouched


def test_highlighter_with_html_formatter(index_dir: Path) -> None:
    ix = open_dir(str(index_dir))
    with ix.searcher() as s:
        results = s.search(QueryParser("title", ix.schema).parse("bertemu"))
        results.formatter = highlight.HtmlFormatter(tagname="b", classname="m")
        assert results[0].highlights("title") == 'Presiden <b class="m term0">Bertemu</b> Perdana Menteri'


def test_phrase_queries_use_positions(index_dir: Path) -> None:
    assert _search(index_dir, '"perdana menteri"') == ["d1"]
    assert _search(index_dir, '"menteri perdana"') == []
    assert _search(index_dir, '"pertemuan dengan"') == ["d1"]  # a phrase through the stem of bertemu
    assert _search(index_dir, '"presiden widodo"') == []  # two words apart
    assert _search(index_dir, '"presiden widodo"~2') == ["d1"]  # ... within slop 2


def test_schema_pickled_into_the_index_holds_no_stemmer(index_dir: Path) -> None:
    blob = b"".join(p.read_bytes() for p in index_dir.glob("_MAIN_*.toc"))
    assert blob and b"idsearch.whoosh" in blob and b"_from_spec_dict" in blob
    assert b"SastrawiStemmer" not in blob and b"word_cache" not in blob
