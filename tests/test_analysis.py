"""The analyzer: tokenizing Indonesian news, stopwords, stemming, offsets, and its plain-data description."""

from __future__ import annotations

import json
import re

import pytest
from _support import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from idsearch.analysis import (
    _TOKEN_RE,
    Analyzer,
    AnalyzerSpec,
    IndonesianAnalyzer,
    normalize_text,
    scan_words,
)
from idsearch.stopwords import MINIMAL, sastrawi_stopwords


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return IndonesianAnalyzer()


@pytest.fixture(scope="module")
def plain() -> Analyzer:
    return IndonesianAnalyzer(stemmer="none")


# -- the seed article: exact term lists --------------------------------------------------------------------


def test_seed_title_terms(analyzer, seed_text):
    title = seed_text.splitlines()[0]
    assert analyzer.terms(title) == ["putin", "dan", "pezeshkian", "bahas", "situasi", "suriah", "lewat", "telepon"]


def test_seed_lead_terms_keep_dates_as_numbers(analyzer, seed_text):
    lead = seed_text.splitlines()[1]
    assert analyzer.terms(lead) == [
        "pada", "hari", "senin", "2", "12", "2024", "presiden", "rusia", "vladimir", "putin",
        "laku", "bicara", "telepon", "dengan", "presiden", "iran", "masoud", "pezeshkian",
    ]  # fmt: skip


def test_seed_sentence_with_reduplication_and_abbreviation(analyzer):
    sentence = "Kedua pemimpin sebelumnya juga melakukan diskusi pada 23 Oktober di sela-sela KTT BRICS 2024 di Kazan, Rusia."
    assert analyzer.terms(sentence) == [
        "dua", "pimpin", "belum", "juga", "laku", "diskusi", "pada", "23", "oktober", "di", "sela",
        "ktt", "brics", "2024", "di", "kazan", "rusia",
    ]  # fmt: skip


def test_seed_quote_with_bangsa_bangsa(analyzer):
    sentence = "selain berkonsultasi dengan Dewan Keamanan Perserikatan Bangsa-Bangsa, kami telah mengusulkan"
    assert analyzer.terms(sentence) == [
        "selain", "konsultasi", "dengan", "dewan", "aman", "serikat", "bangsa", "kami", "telah", "usul",
    ]  # fmt: skip


def test_offsets_slice_the_original_text_back(analyzer, seed_text):
    tokens = analyzer.tokens(seed_text)
    assert len(tokens) > 300
    for token in tokens:
        assert seed_text[token.start : token.end] == token.text
        assert token.text.strip() == token.text and token.text
    # the same terms as the fast path
    assert [t.term for t in tokens] == analyzer.terms(seed_text)
    _terms, positions = analyzer.analyze(seed_text)
    assert positions == [t.position for t in tokens]


def test_offsets_survive_unicode_normalization(analyzer):
    text = "Ａｎａｋ «ﬁnal» Jum’at café — COVID‑19"
    tokens = analyzer.tokens(text)
    assert [(t.term, t.text) for t in tokens] == [
        ("anak", "Ａｎａｋ"), ("final", "ﬁnal"), ("jumat", "Jum’at"), ("café", "café"), ("covid", "COVID"), ("19", "19"),
    ]  # fmt: skip
    for t in tokens:
        assert text[t.start : t.end] == t.text


# -- tokenizing decisions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("anak-anak", ["anak"]),
        ("sela-sela", ["sela"]),
        ("berbalas-balasan", ["balas"]),
        ("meniru-nirukan", ["tiru"]),
        ("Bangsa-Bangsa", ["bangsa"]),
        ("kekhawatirannya", ["khawatir"]),
        ("bukanlah", ["bukan"]),
        ("hancurlah", ["hancur"]),
        ("nikmat-Ku", ["nikmat"]),
        ("Putin-nya", ["putin"]),
        ("al-Assad", ["al", "assad"]),
        ("COVID-19", ["covid", "19"]),
        ("G20", ["g20"]),
        ("KTT PBB DPR BUMN", ["ktt", "pbb", "dpr", "bumn"]),
        ("Jum'at Jum’at Jumat", ["jumat", "jumat", "jumat"]),
        ("Putin's", ["putin"]),
        ("“Kami yakin,” kata dia", ["kami", "yakin", "kata", "dia"]),
        ("2011—2024 2011–2024", ["2011", "2024", "2011", "2024"]),
        ("Rp 2.000.000 dan 2,5 persen", ["rp", "2000000", "dan", "2,5", "persen"]),
        ("1.5 juta", ["1.5", "juta"]),
        ("2/12/2024 pukul 10:15 WIB", ["2", "12", "2024", "pukul", "10", "15", "wib"]),
        ("e-mail", ["e", "mail"]),
        ("__init__ ___", ["init"]),
        ("", []),
        ("... ,,, !!!", []),
    ],
)
def test_tokenizing(analyzer, text, terms):
    assert analyzer.terms(text) == terms


def test_split_compounds_take_consecutive_positions(analyzer):
    terms, positions = analyzer.analyze("rezim al-Assad di Suriah")
    assert terms == ["rezim", "al", "assad", "di", "suriah"]
    assert positions == [0, 1, 2, 3, 4]
    assert [t.text for t in analyzer.tokens("rezim al-Assad di Suriah")] == ["rezim", "al", "Assad", "di", "Suriah"]


def test_without_stemmer_reduplication_still_collapses(plain):
    assert plain.terms("anak-anak Pertemuan al-Assad") == ["anak", "pertemuan", "al", "assad"]


def test_normalize_text_and_typographic_word_joiners(analyzer):
    assert normalize_text("ＫＴＴ Jum’at") == "ktt jum’at"
    assert normalize_text("KTT") == "ktt"
    assert analyzer.terms("Jum’at covid‐19 covid‑19 ber\u00adtemu") == analyzer.terms("jum'at covid-19 covid-19 bertemu")


# -- stopwords -------------------------------------------------------------------------------------------------


def test_default_keeps_every_word(analyzer):
    assert analyzer.spec.stopwords == "none"
    assert analyzer.terms("yang dan di bulan") == ["yang", "dan", "di", "bulan"]


def test_stopwords_keep_their_positions():
    a = IndonesianAnalyzer(stopwords="minimal")
    terms, positions = a.analyze("Presiden dan Wakil Presiden yang baru")
    assert terms == ["presiden", "wakil", "presiden", "baru"]
    assert positions == [0, 2, 3, 5]
    assert [t.position for t in a.tokens("Presiden dan Wakil Presiden yang baru")] == positions


def test_sastrawi_list_removes_content_words_but_minimal_does_not():
    assert {"bulan", "bapak", "baru", "besar"} <= sastrawi_stopwords()
    assert not {"bulan", "bapak", "baru", "besar"} & MINIMAL
    a = IndonesianAnalyzer(stopwords="sastrawi")
    assert a.terms("bapak presiden bulan baru") == ["presiden"]


def test_stopword_edits_and_custom_lists(tmp_path):
    a = IndonesianAnalyzer(stopwords="minimal", add_stopwords=["Presiden"], remove_stopwords=["dan"])
    assert a.terms("presiden dan wakil yang") == ["dan", "wakil"]
    words = tmp_path / "stop.txt"
    words.write_text("# my list\nwakil\n\npresiden\n", encoding="utf-8")
    b = IndonesianAnalyzer(stopwords=words)
    assert b.spec.stopwords == "custom" and b.spec.stopword_words == ("presiden", "wakil")
    assert b.terms("presiden dan wakil") == ["dan"]
    c = IndonesianAnalyzer(stopwords=["Wakil"])
    assert c.terms("presiden dan wakil") == ["presiden", "dan"]


def test_tala_list_from_shared_file():
    tala = shared_path("stopwords", "tala.txt")
    a = IndonesianAnalyzer(stopwords=tala)
    assert len(a.spec.stopword_words) >= 700
    assert a.terms("yang paling penting adalah kesehatan") == ["sehat"]


def test_unknown_stopword_list_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown stopword list 'nltk'"):
        IndonesianAnalyzer(stopwords="nltk")


# -- stemming: memoized per distinct word, protected words -----------------------------------------------------


def test_stemming_is_memoized_per_distinct_word():
    a = IndonesianAnalyzer()
    text = "pertemuan bertemu pertemuan " * 50
    assert a.terms(text)[:3] == ["temu", "temu", "temu"]
    assert a.stem_calls == 2
    a.terms(text)
    assert a.stem_calls == 2
    assert a.word_cache["pertemuan"] == ("temu",)


def test_protected_words_are_not_stemmed(tmp_path):
    a = IndonesianAnalyzer(protected=["Bekasi", "pemilu"])
    assert a.terms("Bekasi pemilu berikan") == ["bekasi", "pemilu", "ikan"]
    listing = tmp_path / "names.txt"
    listing.write_text("bekasi\n", encoding="utf-8")
    assert IndonesianAnalyzer(protected=listing).terms("Bekasi pemilu") == ["bekasi", "milu"]


# -- the analyzer as plain data ----------------------------------------------------------------------------------


def test_spec_round_trips_through_json():
    a = IndonesianAnalyzer(stopwords="minimal", add_stopwords=["x"], remove_stopwords=["dan"], protected=["bali"])
    data = json.loads(json.dumps(a.spec.to_dict()))
    spec = AnalyzerSpec.from_dict(data)
    assert spec == a.spec
    assert spec.dictionary_hash and len(spec.dictionary_hash) == 64
    b = Analyzer(spec)
    text = "Bali dan pertemuan x yang"
    assert b.terms(text) == a.terms(text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"stemmer": "porter"}, "unknown stemmer 'porter'"),
        ({"colour": "red"}, "unknown keys"),
        ({"protected": "bali"}, "'protected' must be a list of strings"),
        ({"stopwords": 3}, "'stopwords' must be a string"),
    ],
)
def test_bad_spec_is_a_clear_error(data, message):
    with pytest.raises(ValueError, match=message):
        Analyzer(AnalyzerSpec.from_dict(data))


def test_dictionary_mismatch_is_refused():
    spec = AnalyzerSpec(dictionary_hash="0" * 64)
    with pytest.raises(ValueError, match="dictionary"):
        Analyzer(spec)


# -- robustness ---------------------------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_any_unicode_text_analyzes_consistently(text):
    a = _SHARED_ANALYZER
    tokens = a.tokens(text)
    terms, positions = a.analyze(text)
    assert [t.term for t in tokens] == terms
    assert [t.position for t in tokens] == positions
    for t in tokens:
        assert 0 <= t.start < t.end <= len(text)
        assert t.term


_SHARED_ANALYZER = IndonesianAnalyzer(stopwords="minimal")


@pytest.mark.parametrize("text", ["ʼ", "ʼʼ", "ʼ-ʼ", "x ʼ y"])
def test_words_of_only_apostrophes_analyze_to_nothing(analyzer, text):
    # U+02BC MODIFIER LETTER APOSTROPHE is a letter to Unicode, so it forms a word; dropped, it leaves nothing
    assert [t for t in analyzer.terms(text) if not t.isalpha()] == []
    assert [t.term for t in analyzer.tokens(text)] == analyzer.terms(text)


# -- the vectorized batch tokenizer (the indexing path) equals the regex, word for word ---------------------

_TRICKY = "ab9z0-.,'`_ \x00\u2010\u2019\u02bcé٣\u00ad\u201c"


def _regex_words(text: str) -> list[str]:
    return re.findall("\x00|" + _TOKEN_RE.pattern, text)  # a NUL is a word of its own, as in the writer


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00",
        "\x00\x00a\x00\x00",
        "anak-anak 2.000.000 rp2,5 jum'at",
        "1.5a 2.000.000a a1.5 1.5 1,5. 5.a a.5 1..2 1.-2",
        "x- -x -- x--y x-y-z x'y 'x x' a-1 1-a",
        "abcdefgh abcdefghi abcdefghijklmnop abcdefghijklmnopq abcdefghijklmnopqrstuvwxyz",
        "café naïve x-é é-x ʼ ʼʼ ab_cd _x x_",
        "covid\u201019 jum\u2019at soft\u00adhyphen",
        "a\x00-b -\x00- 1.\x002 1\x00.2",
    ],
)
def test_scan_words_finds_what_the_regex_finds(text):
    assert scan_words(text).words() == _regex_words(text)
    _same_scans(text)


_SCAN_ARRAYS = ("keyed_at", "keyed_start", "keyed_length", "key_lo", "key_hi", "other_at")


def _same_scans(text: str) -> None:
    """The compiled scan (the default, when the kernel is built) and the numpy one give the same WordScan:
    every array element for element, with its dtype, and the same irregular words."""
    compiled, reference = scan_words(text), scan_words(text, compiled=False)
    assert compiled.count == reference.count
    for name in _SCAN_ARRAYS:
        got, want = getattr(compiled, name), getattr(reference, name)
        assert got.dtype == want.dtype, name
        assert got.tolist() == want.tolist(), name
    assert compiled.other == reference.other


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet=_TRICKY, max_size=40), max_size=6))
def test_scan_words_equals_the_regex_on_tricky_batches(texts):
    text = "\x00".join(texts)
    assert scan_words(text).words() == _regex_words(text)
    _same_scans(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_scan_words_equals_the_regex_on_any_normalized_text(text):
    text = normalize_text(text)
    assert scan_words(text).words() == _regex_words(text)
    _same_scans(text)


@pytest.mark.parametrize("text", [
    "a" * 7 + " " + "b" * 8 + " " + "c" * 9 + " " + "d" * 15 + " " + "e" * 16 + " " + "f" * 17,  # key widths
    "kata di ujung",  # words near the end: fewer than 16 bytes follow them
    "x",
    "é",  # the whole text outside ASCII
    "\U0001f600 kata \U0001f600x y\U00020000z 𝟘 ٣٤ 2.000",  # beyond the BMP: four bytes a character
    "ĀāĂ kata-kata Ω ω",  # two bytes a character
    "\u00ad-\u00ad \u2010x\u2010 1\u20102",
])
def test_scan_words_compiled_equals_numpy_on_every_width_of_text(text):
    assert scan_words(text).words() == _regex_words(text)
    _same_scans(text)


def test_scan_words_keeps_no_output_arrays_for_a_long_text(monkeypatch):
    """A thread keeps its scan's output arrays between calls up to a bound; a longer text gets arrays of its
    own, and the same words."""
    import idsearch.analysis as analysis_module

    _same_scans("kata pendek")
    before = getattr(analysis_module._SCAN_BUFFERS, "arrays", None)
    monkeypatch.setattr(analysis_module, "_SCAN_BUFFERS_KEPT", 64)
    text = "kata-kata 2.500 panjang " * 10_000
    assert scan_words(text).words() == _regex_words(text)
    _same_scans(text)
    assert getattr(analysis_module._SCAN_BUFFERS, "arrays", None) is before


def test_scan_words_compiled_equals_numpy_on_the_shared_corpus():
    """Every batch of the shared corpus as the writer joins it (256 documents, NUL between), both ways."""
    docs: list[dict] = []
    for name in ("clickid.jsonl", "indosum.jsonl", "facqa_passages.jsonl"):
        with shared_path("corpus", name).open(encoding="utf-8") as fh:
            docs.extend(json.loads(line) for line in fh if line.strip())
    assert len(docs) > 27_000
    for start in range(0, len(docs), 256):
        for field in ("title", "body"):
            _same_scans("\x00".join(normalize_text(d.get(field) or "") for d in docs[start : start + 256]))


def test_scan_words_keys_are_exact_bytes():
    scan = scan_words("abc abcdefgh abcdefghi abc")
    assert scan.count == 4
    lo, hi = scan.key_lo.tolist(), scan.key_hi.tolist()
    assert lo[0] == lo[3] == int.from_bytes(b"abc", "little") and hi[0] == 0
    assert lo[1] == lo[2] == int.from_bytes(b"abcdefgh", "little")
    assert (hi[1], hi[2]) == (0, ord("i"))


@pytest.mark.parametrize("spec", [AnalyzerSpec(), AnalyzerSpec(stopwords="minimal", protected=("bekasi",)),
                                  AnalyzerSpec(stemmer="none")])
def test_word_analyses_equal_word_terms_and_word_exact(spec):
    words = ["pertemuan", "bekasi", "yang", "dan", "anak-anak", "jum'at", "putin's", "2.000", "g20", "café",
             "berbalas-balasan", "al-assad", "ʼ", "kota", "menyetujui", "pertemuan"]
    batch, single = Analyzer(spec), Analyzer(spec)
    assert batch.word_analyses(words) == [(single.word_terms(w), single.word_exact(w)) for w in words]
    assert batch.word_cache == single.word_cache
    assert batch.exact_cache == single.exact_cache
