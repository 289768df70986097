"""Stemmer control: protected words, the built-in news list, custom root dictionaries, corrections of known
wrong stems and editable stopwords - each checked through an index (documents and queries), in the saved
analyzer description, and after reopening the index (in this process and in a fresh one)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _support import REPO, shared_path

from idsearch.analysis import Analyzer, AnalyzerSpec, IndonesianAnalyzer, builtin_protected_words
from idsearch.index import Index
from idsearch.stemmer import (
    CORRECTION_RULES,
    DEFAULT_CORRECTIONS,
    CorrectedStemmer,
    ReferenceStemmer,
    SastrawiStemmer,
    load_dictionary,
)

# -- the wrong stems reported in the issue, and what fixes each -------------------------------------------------

# word -> (PySastrawi's stem, the stem with the fix)
FIXED_BY_CORRECTIONS = {
    "penyelidikan": ("lidi", "selidik"),  # kan_an: a pe-...-an noun of a root ending in k
    "dikurangi": ("rang", "kurang"),  # tail_once: ku- is not stripped after di-
    "dibelinya": ("bel", "beli"),  # keep_i: the -i belongs to the root
    "menyinari": ("sari", "sinar"),  # tail_once: no infix rule after meny-
    "menikah": ("meni", "nikah"),  # particle_root: -kah belongs to the root
    "relawan": ("rawan", "rela"),  # wan: -wan after a root
}
FIXED_BY_NEWS_LIST = {"bekasi": "bekas", "bali": "bal", "susi": "sus"}  # names kept whole by protected="news"
# Words of the language missing from pysastrawi's dictionary: an extra root keeps them whole (the user's fix);
# berikan/berapi are genuinely ambiguous for Sastrawi (ber-ikan, ber-api/berap-i) and need the user's word.
FIXED_BY_USER = {"pemilu": "milu", "pasukan": "pasu", "berikan": "ikan", "berapi": "rap"}


@pytest.fixture(scope="module")
def reference() -> ReferenceStemmer:
    return ReferenceStemmer()


@pytest.mark.parametrize("word", sorted(FIXED_BY_CORRECTIONS))
def test_reported_stems_fixed_by_corrections(word: str, reference: ReferenceStemmer) -> None:
    wrong, right = FIXED_BY_CORRECTIONS[word]
    assert reference.stem(word) == wrong
    assert IndonesianAnalyzer().terms(word) == [wrong]
    assert IndonesianAnalyzer(corrections=True).terms(word) == [right]
    assert CorrectedStemmer().stem(word) == right


@pytest.mark.parametrize("word", sorted(FIXED_BY_NEWS_LIST))
def test_reported_names_fixed_by_the_news_list(word: str, reference: ReferenceStemmer) -> None:
    assert reference.stem(word) == FIXED_BY_NEWS_LIST[word]
    assert IndonesianAnalyzer().terms(word.title()) == [FIXED_BY_NEWS_LIST[word]]
    # not a job for correction rules
    assert IndonesianAnalyzer(corrections=True).terms(word) == [FIXED_BY_NEWS_LIST[word]]
    assert IndonesianAnalyzer(protected="news").terms(word.title()) == [word]
    assert word in builtin_protected_words("news")


@pytest.mark.parametrize("word", sorted(FIXED_BY_USER))
def test_reported_stems_fixed_by_the_users_words(word: str, reference: ReferenceStemmer) -> None:
    wrong = FIXED_BY_USER[word]
    assert reference.stem(word) == wrong
    for options in ({}, {"corrections": True}, {"protected": "news"}):
        assert IndonesianAnalyzer(**options).terms(word) == [wrong]
    assert IndonesianAnalyzer(protected=[word]).terms(word) == [word]
    assert IndonesianAnalyzer(extra_roots=[word]).terms(word) == [word]


def test_default_analyzer_stays_pysastrawi_exact(reference: ReferenceStemmer) -> None:
    a = IndonesianAnalyzer()
    assert a.spec.corrections == () and a.spec.protected == () and a.spec.dictionary == "pysastrawi"
    words = [*FIXED_BY_CORRECTIONS, *FIXED_BY_NEWS_LIST, *FIXED_BY_USER, "pertemuan", "ketidakadilan"]
    assert [a.word_terms(w)[0] for w in words] == [reference.stem(w) for w in words]


def test_corrections_only_ever_choose_a_root() -> None:
    corrected, plain = CorrectedStemmer(), SastrawiStemmer()
    for word in ("ketidakadilan", "karyawan", "wartawannya", "pergerakan", "dilapis", "berbantah"):
        stem = corrected.stem(word)
        assert stem != plain.stem(word)
        assert stem in corrected


def test_correction_rules_are_named_and_checked() -> None:
    assert set(DEFAULT_CORRECTIONS) == set(CORRECTION_RULES)
    assert CorrectedStemmer(rules=["tail_once"]).stem("dikurangi") == "kurang"
    assert CorrectedStemmer(rules=["tail_once"]).stem("menikah") == "meni"
    assert CorrectedStemmer(rules=[]).stem("menikah") == "meni"
    with pytest.raises(ValueError, match="unknown stemmer corrections \\['porter'\\]"):
        CorrectedStemmer(rules=["porter"])
    with pytest.raises(ValueError, match="unknown stemmer corrections"):
        IndonesianAnalyzer(corrections=["porter"])
    with pytest.raises(TypeError, match="not a str"):
        CorrectedStemmer(rules="tail_once")
    a = IndonesianAnalyzer(corrections=["keep_i"])
    assert a.spec.corrections == ("keep_i",)
    assert a.terms("dibelinya dikurangi") == ["beli", "rang"]


# one example per rule: word -> (PySastrawi's stem, the stem with only that rule)
RULE_EXAMPLES = {
    "tail_once": ("dikurangi", "rang", "kurang"),
    "particle_root": ("menikah", "meni", "nikah"),
    "keep_i": ("dibelinya", "bel", "beli"),
    "keep_is": ("dilapis", "lap", "lapis"),
    "kan_an": ("pergerakan", "gera", "gerak"),
    "wan": ("karyawan", "karyawan", "karya"),
    "ketidak": ("ketidakadilan", "ketidakadilan", "adil"),
    "prefix_order": ("mendiami", "ami", "diam"),  # no di- after men-
    "ber_an": ("bersihkan", "sih", "bersih"),  # ber- + bersih + -kan, not ber- + sih
    "se_whole": ("sebaris", "sebar", "baris"),  # se- takes no -is
    "verb_an": ("menelan", "tel", "telan"),  # meN- takes no -an
    "unknown_nya": ("fiturnya", "fiturnya", "fitur"),
    "unknown_confix": ("kelembaban", "kelembaban", "lembab"),
    "unknown_nasal": ("menghimbau", "menghimbau", "himbau"),
    "attested_roots": ("persetujuan", "tuju", "setuju"),  # setuju: a root attested in the news corpus
    "passive_reading": ("mengawal", "awal", "kawal"),  # dikawal, not diawal, in the news corpus
    "confix_i": ("disepakati", "pakat", "sepakat"),  # di-sepakat-i: -i first keeps the root's se-
}


@pytest.mark.parametrize("rule", CORRECTION_RULES)
def test_each_rule_fixes_its_example(rule: str, reference: ReferenceStemmer) -> None:
    word, wrong, right = RULE_EXAMPLES[rule]
    assert reference.stem(word) == SastrawiStemmer().stem(word) == wrong
    assert CorrectedStemmer(rules=[rule]).stem(word) == right
    assert CorrectedStemmer().stem(word) == right
    others = [r for r in CORRECTION_RULES if r != rule]
    assert CorrectedStemmer(rules=others).stem(word) != right or rule in ("tail_once", "wan")


@pytest.mark.parametrize(
    "word",
    # names and other unknown words with only a bare prefix or a bare -an, or a nasal that replaces a
    # consonant, or a particle-like ending: the unknown_* rules leave them whole
    ["kalimantan", "bernard", "persija", "mention", "jokowi", "abdullah", "kenya", "semarang", "ternate"],
)
def test_unknown_word_rules_leave_names_alone(word: str) -> None:
    assert SastrawiStemmer().stem(word) == word
    assert CorrectedStemmer().stem(word) == word


def test_unknown_word_rules_need_a_clear_affix() -> None:
    c = CorrectedStemmer(rules=["unknown_nya", "unknown_confix", "unknown_nasal"])
    assert c.stem("karirnya") == "karir"
    assert c.stem("sonya") == "sonya"  # too short to be X + -nya
    assert c.stem("dirincikan") == "rinci"  # di- + -kan
    assert c.stem("pemkotan") == "pemkotan"  # the rest (mkot) does not start like a syllable
    assert c.stem("membully") == "bully"  # mem-b keeps the b
    assert c.stem("mentoring") == "mentoring"  # men- replaces a t: no way to tell the root


# -- accuracy on the gold sets: every rule earns its place ------------------------------------------------------


def _gold() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    def rows(name: str) -> list[dict[str, str]]:
        with shared_path("stemming", name).open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))

    unimorph = [(r["form"], r["root"]) for r in rows("unimorph_form_root.tsv")]
    ud = [
        (r["form"], r["lemma"])
        for r in rows("ud_csui_form_lemma.tsv")
        if r["lemma"] not in (r["form"], "dia")
    ]
    return unimorph, ud


def _correct(stemmer: SastrawiStemmer, pairs: list[tuple[str, str]]) -> int:
    stem = stemmer.stem
    return sum(stem(form) == root for form, root in pairs)


def test_corrections_raise_gold_accuracy() -> None:
    unimorph, ud = _gold()
    plain, corrected = SastrawiStemmer(), CorrectedStemmer()
    assert _correct(plain, unimorph) == 16_115 and _correct(plain, ud) == 1_007  # PySastrawi: 0.9250, 0.9655
    um_acc = _correct(corrected, unimorph) / len(unimorph)
    ud_acc = _correct(corrected, ud) / len(ud)
    # measured: 0.9534 (16,610 / 17,421) and 0.9837 (1,026 / 1,043); the targets: 0.95, and
    # no lower than PySastrawi on UD-CSUI
    assert um_acc >= 0.95
    assert ud_acc >= 0.98


@pytest.mark.parametrize("rule", CORRECTION_RULES)
def test_each_correction_rule_helps(rule: str) -> None:
    """Leaving any one rule out loses gold rows on one set and gains none on the other."""
    unimorph, ud = _gold()
    full = CorrectedStemmer()
    without = CorrectedStemmer(rules=[r for r in CORRECTION_RULES if r != rule])
    um_gain = _correct(full, unimorph) - _correct(without, unimorph)
    ud_gain = _correct(full, ud) - _correct(without, ud)
    assert um_gain >= 0 and ud_gain >= 0
    assert um_gain + ud_gain > 0


def test_news_list_costs_almost_no_gold_accuracy() -> None:
    unimorph, ud = _gold()
    protected = set(builtin_protected_words("news"))
    # the gold sets hardly contain names: only generated forms like desaku, lukaku, perhubungan
    assert sum(form in protected for form, _ in unimorph) <= 20
    assert not any(form in protected for form, _ in ud)


# -- protected words through an index: documents and queries alike ----------------------------------------------


DOCS = [
    {"id": "kota", "title": "Banjir di Bekasi", "body": "Warga Bekasi mengungsi setelah hujan deras."},
    {"id": "pasar", "title": "Pasar loak", "body": "Pedagang menjual barang bekas di pasar loak."},
]


def _build(path: Path, analyzer: Analyzer, docs: list[dict[str, str]] = DOCS) -> Index:
    ix = Index.create(path, analyzer=analyzer)
    with ix.writer(workers=1) as w:
        for doc in docs:
            w.add(doc)
    return ix


def _ids(ix: Index, query: str) -> set[str]:
    return {hit.id for hit in ix.search(query, syntax=False)}


def test_protected_words_survive_documents_and_queries(tmp_path: Path) -> None:
    plain = _build(tmp_path / "plain", IndonesianAnalyzer())
    assert _ids(plain, "bekas") == {"kota", "pasar"}  # the problem: Bekasi indexed as bekas
    for name, analyzer in (
        ("words", IndonesianAnalyzer(protected=["Bekasi"])),
        ("news", IndonesianAnalyzer(protected="news")),
    ):
        ix = _build(tmp_path / name, analyzer)
        assert _ids(ix, "bekasi") == {"kota"}
        assert _ids(ix, "BEKASI") == {"kota"}
        assert _ids(ix, "bekas") == {"pasar"}  # not via Bekasi
        assert ix.analyzer.terms("Bekasi bekasnya") == ["bekasi", "bekas"]
        reopened = Index.open(tmp_path / name)
        assert _ids(reopened, "bekas") == {"pasar"}
        assert "bekasi" in reopened.analyzer.spec.protected
        ix.close()
        reopened.close()
    plain.close()


def test_news_list_is_combinable_and_recorded(tmp_path: Path) -> None:
    a = IndonesianAnalyzer(protected=["pemilu"], protected_builtin="news")
    assert a.spec.protected_builtin == "news"
    assert {"pemilu", "bekasi", "bali"} <= set(a.spec.protected)
    assert a.terms("Pemilu di Bali") == ["pemilu", "di", "bali"]
    with pytest.raises(ValueError, match="unknown built-in protected list 'sports'"):
        IndonesianAnalyzer(protected_builtin="sports")


# -- custom dictionaries ----------------------------------------------------------------------------------------


def test_custom_dictionary_changes_results(tmp_path: Path) -> None:
    packaged = load_dictionary()
    own = tmp_path / "kata-dasar.txt"
    own.write_text("\n".join(sorted((packaged - {"ikan"}) | {"pemilu"})) + "\n", encoding="utf-8")
    docs = [
        {"id": "beri", "title": "Bantuan", "body": "Pemerintah berikan bantuan untuk korban pemilu."},
        {"id": "ikan", "title": "Nelayan", "body": "Nelayan menjual ikan segar."},
    ]
    plain = _build(tmp_path / "plain", IndonesianAnalyzer(), docs)
    assert plain.analyzer.terms("berikan pemilu") == ["ikan", "milu"]
    assert _ids(plain, "ikan") == {"beri", "ikan"}
    custom = _build(tmp_path / "custom", IndonesianAnalyzer(dictionary=own), docs)
    assert custom.analyzer.terms("berikan pemilu") == ["beri", "pemilu"]
    assert _ids(custom, "ikan") == {"ikan"}
    assert _ids(custom, "memberi") == {"beri"}
    spec = custom.analyzer.spec
    assert spec.dictionary == "custom" and len(spec.dictionary_words) == len(packaged)
    assert spec.dictionary_hash == SastrawiStemmer(own).dictionary_hash != plain.analyzer.spec.dictionary_hash
    reopened = Index.open(tmp_path / "custom")
    assert reopened.analyzer.terms("berikan pemilu") == ["beri", "pemilu"]
    assert _ids(reopened, "ikan") == {"ikan"}
    for ix in (plain, custom, reopened):
        ix.close()


def test_extra_roots_and_a_given_stemmer_are_recorded() -> None:
    a = IndonesianAnalyzer(extra_roots=["pemilu", "pasukan"])
    assert a.spec.dictionary == "pysastrawi" and a.spec.extra_roots == ("pasukan", "pemilu")
    assert a.spec.dictionary_hash == SastrawiStemmer(extra_roots=["pemilu", "pasukan"]).dictionary_hash
    assert Analyzer(AnalyzerSpec.from_dict(a.spec.to_dict())).terms("pemilu pasukan") == ["pemilu", "pasukan"]
    # a stemmer object passed in is described by its roots and rules, so the spec can rebuild it
    given = IndonesianAnalyzer(sastrawi=CorrectedStemmer(["makan", "kurang"], rules=["tail_once"]))
    assert given.spec.dictionary == "custom" and given.spec.dictionary_words == ("kurang", "makan")
    assert given.spec.corrections == ("tail_once",)
    rebuilt = Analyzer(AnalyzerSpec.from_dict(json.loads(json.dumps(given.spec.to_dict()))))
    assert rebuilt.terms("dikurangi memakan") == given.terms("dikurangi memakan") == ["kurang", "makan"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dictionary": "kbbi"}, "unknown dictionary 'kbbi'"),
        ({"dictionary": "custom"}, "needs its words"),
        ({"dictionary_words": ["makan"]}, "only for dictionary='custom'"),
        ({"extra_roots": "pemilu"}, "'extra_roots' must be a list of strings"),
        ({"corrections": ["nope"]}, "unknown stemmer corrections"),
    ],
)
def test_bad_dictionary_description_is_a_clear_error(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Analyzer(AnalyzerSpec.from_dict(data))


# -- the saved description reproduces the analysis --------------------------------------------------------------

SAMPLE = (
    "Warga Bekasi dan relawan yang menikah saat pemilu di Bali; penyelidikan dikurangi, "
    "barang dibelinya bekas. Ketidakadilan itu menyinari berikan anak-anak."
)


def _full_analyzer(tmp_path: Path) -> Analyzer:
    own = tmp_path / "roots.txt"
    own.write_text("\n".join(sorted(load_dictionary() | {"pemilu"})) + "\n", encoding="utf-8")
    return IndonesianAnalyzer(
        stopwords="minimal",
        add_stopwords=["warga"],
        remove_stopwords=["yang"],
        protected=["Dibelinya"],
        protected_builtin="news",
        dictionary=own,
        extra_roots=["pasukan"],
        corrections=True,
    )


def test_saved_index_records_and_reproduces_the_analysis(tmp_path: Path) -> None:
    analyzer = _full_analyzer(tmp_path)
    before = analyzer.terms(SAMPLE)
    assert before == [
        "bekasi", "rela", "yang", "nikah", "saat", "pemilu", "bali", "selidik",
        "kurang", "barang", "dibelinya", "bekas", "adil", "sinar", "ikan", "anak",
    ]  # fmt: skip
    path = tmp_path / "ix"
    ix = _build(path, analyzer, [{"id": "a", "title": "x", "body": SAMPLE}])
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    saved = manifest["analyzer"]
    assert saved["stopwords"] == "minimal"
    assert saved["stopwords_added"] == ["warga"] and saved["stopwords_removed"] == ["yang"]
    assert "dibelinya" in saved["protected"] and "bekasi" in saved["protected"]
    assert saved["protected_builtin"] == "news"
    assert saved["dictionary"] == "custom" and "pemilu" in saved["dictionary_words"]
    assert saved["extra_roots"] == ["pasukan"]
    assert saved["corrections"] == sorted(DEFAULT_CORRECTIONS)
    assert saved["dictionary_hash"] == analyzer.spec.dictionary_hash
    ix.close()

    reopened = Index.open(path)
    assert reopened.analyzer.spec == analyzer.spec
    assert reopened.analyzer.terms(SAMPLE) == before
    assert {h.id for h in reopened.search("pemilu selidik", syntax=False)} == {"a"}
    assert not reopened.search("warga", syntax=False)  # an added stopword: not indexed, not searched
    reopened.close()

    # a fresh interpreter rebuilds the same analyzer from the manifest alone
    code = (
        "import json, sys\n"
        "from idsearch.index import Index\n"
        "ix = Index.open(sys.argv[1])\n"
        "print(json.dumps([ix.analyzer.terms(sys.argv[2]), [h.id for h in ix.search('yang', syntax=False)]]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), SAMPLE], capture_output=True, text=True, check=True, cwd=REPO
    )
    terms, hits = json.loads(out.stdout)
    assert terms == before
    assert hits == ["a"]  # 'yang' was removed from the stopwords, so it is indexed


def test_stopword_edits_survive_reopen(tmp_path: Path) -> None:
    analyzer = IndonesianAnalyzer(stopwords="sastrawi", add_stopwords=["bekasi"], remove_stopwords=["bulan"])
    docs = [{"id": "a", "title": "x", "body": "Bulan ini warga Bekasi dan bapak itu menanam padi."}]
    ix = _build(tmp_path / "ix", analyzer, docs)
    expected = ["bulan", "warga", "tanam", "padi"]
    assert analyzer.terms(docs[0]["body"]) == expected
    assert {h.id for h in ix.search("bulan", syntax=False)} == {"a"}
    assert not ix.search("bekasi", syntax=False) and not ix.search("bapak", syntax=False)
    ix.close()
    reopened = Index.open(tmp_path / "ix")
    assert reopened.analyzer.terms(docs[0]["body"]) == expected
    assert not reopened.search("bekasi", syntax=False)
    reopened.close()


# -- the built-in list is reproducible from the corpus; retrieval with the options -----------------------------


@pytest.mark.slow
def test_news_list_is_derived_from_the_corpus() -> None:
    shared = shared_path("corpus").parent
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "derive_protected.py"),
            "--shared",
            str(shared),
            "--output",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    shipped = (REPO / "idsearch" / "data" / "protected_news.txt").read_text(encoding="utf-8")
    assert out.stdout == shipped


def _mrr10(analyzer: Analyzer, tmp_path: Path) -> dict[str, float]:
    from idsearch.evaluation import SHARED_SETS, evaluate, index_run, load_queries
    from idsearch.ingest import iter_documents

    corpus = shared_path("corpus")
    files = [corpus / name for name in ("clickid.jsonl", "indosum.jsonl", "facqa_passages.jsonl")]
    ix = Index.create(tmp_path, analyzer=analyzer)
    with ix.writer(workers=2) as w:
        for doc in iter_documents(files):
            w.add(doc)
    out = {}
    for name, (filename, fields) in SHARED_SETS.items():
        queries = load_queries(shared_path("eval", filename))
        with index_run(ix, fields=fields, depth=10) as run:
            out[name] = evaluate(run, queries, k=10, name=name).metrics.mrr10
    ix.close()
    return out


@pytest.mark.slow
def test_corrections_do_not_lower_retrieval(tmp_path: Path) -> None:
    plain = _mrr10(IndonesianAnalyzer(), tmp_path / "plain")
    corrected = _mrr10(IndonesianAnalyzer(corrections=True), tmp_path / "corrected")
    for name, value in plain.items():
        assert corrected[name] >= value - 0.001, (name, value, corrected[name])
    assert sum(corrected.values()) >= sum(plain.values())
