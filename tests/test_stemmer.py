"""Tests of idsearch.stemmer: exact agreement with PySastrawi 1.2.1, rule coverage, accuracy, dictionaries."""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from idsearch.stemmer import ReferenceStemmer, SastrawiStemmer, load_dictionary, packaged_dictionary_path

TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@functools.cache
def packaged_stemmer() -> SastrawiStemmer:
    return SastrawiStemmer()


@functools.cache
def packaged_reference() -> ReferenceStemmer:
    return ReferenceStemmer()


@pytest.fixture
def stemmer() -> SastrawiStemmer:
    return packaged_stemmer()


@pytest.fixture
def reference() -> ReferenceStemmer:
    return packaged_reference()


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def pysastrawi_normalize(text: str) -> list[str]:
    """The tokens PySastrawi's ``stem(text)`` stems: lowercase, [^a-z0-9 -] -> space, split on spaces."""
    return re.sub(r"[^a-z0-9 -]", " ", text.lower()).split()


def mismatches(ours: SastrawiStemmer, ref: ReferenceStemmer, words: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for word in words:
        a, b = ours.stem(word), ref.stem(word)
        if a != b:
            out.append((word, a, b))
    return out


# --------------------------------------------------------------------------------------------------
# Every prefix rule, each with a tiny dictionary holding just the roots involved, so the test shows
# which recoding the rule picks. Both our stemmer and PySastrawi (same dictionary) must agree.

RULE_CASES = [
    # (rule, word, dictionary, expected stem)
    ("1a berV -> V", "berapi", {"api"}, "api"),
    ("1b berV -> rV", "berakit", {"rakit"}, "rakit"),
    ("2 berCAP -> CAP", "bersembunyi", {"sembunyi"}, "sembunyi"),
    ("3 berCAerV -> CAerV", "berdaerah", {"daerah"}, "daerah"),
    ("4 belajar -> ajar", "belajar", {"ajar"}, "ajar"),
    ("5 beC1erC2 -> C1erC2", "bekerja", {"kerja"}, "kerja"),
    ("6a terV -> V", "terancam", {"ancam"}, "ancam"),
    ("6b terV -> rV", "teracun", {"racun"}, "racun"),
    ("7 terCerV -> CerV", "terperangkap", {"perangkap"}, "perangkap"),
    ("8 terCP -> CP", "tergoda", {"goda"}, "goda"),
    ("9 teC1erC2 -> C1erC2", "teterbang", {"terbang"}, "terbang"),
    ("10 me{l,r,w,y}V", "melihat", {"lihat"}, "lihat"),
    ("10 me{l,r,w,y}V", "meyakinkan", {"yakin"}, "yakin"),
    ("11 mem{b,f,v}", "memfitnah", {"fitnah"}, "fitnah"),
    ("12 mempe -> pe", "mempelajari", {"ajar"}, "ajar"),
    ("13a memV -> mV", "meminum", {"minum"}, "minum"),
    ("13b memV -> pV", "memukul", {"pukul"}, "pukul"),
    ("14 men{c,d,j,s,t,z}", "mensyukuri", {"syukur"}, "syukur"),
    ("14 men{c,d,j,s,t,z}", "menziarahi", {"ziarah"}, "ziarah"),
    ("15a menV -> nV", "menikmati", {"nikmat"}, "nikmat"),
    ("15b menV -> tV", "menulis", {"tulis"}, "tulis"),
    ("16 meng{g,h,q,k}", "mengkritik", {"kritik"}, "kritik"),
    ("17a mengV -> V", "mengambil", {"ambil"}, "ambil"),
    ("17b mengV -> kV", "mengupas", {"kupas"}, "kupas"),
    ("17c menge -> ", "mengecat", {"cat"}, "cat"),
    ("17d mengV -> ngV", "menganga", {"nganga"}, "nganga"),
    ("18a menyV -> nyV", "menyanyi", {"nyanyi"}, "nyanyi"),
    ("18b menyV -> sV", "menyapu", {"sapu"}, "sapu"),
    ("19 mempA -> pA", "mempunyai", {"punya"}, "punya"),
    ("20 pe{w,y}V", "pewarna", {"warna"}, "warna"),
    ("21a perV -> V", "peradilan", {"adil"}, "adil"),
    ("21b perV -> rV", "perumahan", {"rumah"}, "rumah"),
    ("23 perCAP -> CAP", "perlawanan", {"lawan"}, "lawan"),
    ("24 perCAerV -> CAerV", "perdaerahan", {"daerah"}, "daerah"),
    ("25 pem{b,f,v}", "pembaca", {"baca"}, "baca"),
    ("26a pemV -> mV", "pemakan", {"makan"}, "makan"),
    ("26b pemV -> pV", "pemilih", {"pilih"}, "pilih"),
    ("27 pen{c,d,j,s,t,z}", "penstabil", {"stabil"}, "stabil"),
    ("28a penV -> nV", "penikmat", {"nikmat"}, "nikmat"),
    ("28b penV -> tV", "penulis", {"tulis"}, "tulis"),
    ("29 pengC -> C", "penggila", {"gila"}, "gila"),
    ("30a pengV -> V", "pengalaman", {"alam"}, "alam"),
    ("30b pengV -> kV", "pengupas", {"kupas"}, "kupas"),
    ("30c penge -> ", "pengecat", {"cat"}, "cat"),
    ("31a penyV -> nyV", "penyanyi", {"nyanyi"}, "nyanyi"),
    ("31b penyV -> sV", "penyapu", {"sapu"}, "sapu"),
    ("32 pelajar -> ajar", "pelajar", {"ajar"}, "ajar"),
    ("32 pelV -> lV", "pelari", {"lari"}, "lari"),
    ("34 peCP -> CP", "petarung", {"tarung"}, "tarung"),
    ("35 terC1erC2 -> C1erC2", "terpercaya", {"percaya"}, "percaya"),
    ("36 peC1erC2 -> C1erC2", "pekerja", {"kerja"}, "kerja"),
    ("37 CerV -> CV", "gerigi", {"gigi"}, "gigi"),
    ("38 CelV -> CV", "gelembung", {"gembung"}, "gembung"),
    ("39 CemV -> CV", "gemuruh", {"guruh"}, "guruh"),
    ("40 CinV -> CV", "kinerja", {"kerja"}, "kerja"),
    ("41 ku-A", "kuambil", {"ambil"}, "ambil"),
    ("42 kau-A", "kaulihat", {"lihat"}, "lihat"),
    ("plain di-", "dimakan", {"makan"}, "makan"),
    ("plain ke-", "kekasih", {"kasih"}, "kasih"),
    ("plain se-", "sebuah", {"buah"}, "buah"),
    ("stacked prefixes", "mempermainkan", {"main"}, "main"),
    ("stacked prefixes", "memperbaharui", {"baharu"}, "baharu"),
    ("confix ke-an", "keberhasilan", {"hasil"}, "hasil"),
    ("precedence be-an", "bertebaran", {"tebar"}, "tebar"),
    ("suffix restoring loop", "pengebirian", {"kebiri"}, "kebiri"),
    ("particle", "hancurlah", {"hancur"}, "hancur"),
    ("particle", "bukukah", {"buku"}, "buku"),
    ("pronoun", "rumahnya", {"rumah"}, "rumah"),
    ("pronoun", "adikku", {"adik"}, "adik"),
    ("pronoun + suffix", "mengajarkannya", {"ajar"}, "ajar"),
    ("no rule applies", "prabowo", {"bowo", "abowo"}, "prabowo"),
]


@pytest.mark.parametrize(
    ("rule", "word", "roots", "expected"), RULE_CASES, ids=[c[0] + ":" + c[1] for c in RULE_CASES]
)
def test_prefix_and_suffix_rules(rule: str, word: str, roots: set[str], expected: str) -> None:
    assert SastrawiStemmer(roots).stem(word) == expected
    assert ReferenceStemmer(roots).stem(word) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("anak-anak", "anak"),
        ("buku-buku", "buku"),
        ("berbalas-balasan", "balas"),
        ("meniru-nirukan", "tiru"),  # second half only stems once "me" is put back
        ("nikmat-ku", "nikmat"),  # a hyphenated clitic is not a reduplication
        ("kuasa-mu", "kuasa"),
        ("malaikat-malaikat-nya", "malaikat"),
        ("anak-anaknya", "anak"),
        ("kata-katanya", "kata"),
        ("sedikit-sedikit", "sedikit"),
        ("bolak-balik", "bolak-balik"),  # halves with different roots: unchanged
        ("covid-19", "covid-19"),
        ("-anak", "-anak"),
        ("anak-", "anak-"),
    ],
)
def test_hyphenated_words(
    stemmer: SastrawiStemmer, reference: ReferenceStemmer, word: str, expected: str
) -> None:
    assert stemmer.stem(word) == expected
    assert reference.stem(word) == expected


@pytest.mark.parametrize(
    "word", ["", "a", "di", "ke", "mu", "dia", "kan", "lah", "nya", "123", "jokowi", "2019"]
)
def test_short_and_unknown_words(stemmer: SastrawiStemmer, reference: ReferenceStemmer, word: str) -> None:
    assert stemmer.stem(word) == reference.stem(word) == word


@pytest.mark.parametrize("word", ["makan", "ajar", "kerja", "bagai", "daerah"])
def test_dictionary_words_are_returned_as_is(stemmer: SastrawiStemmer, word: str) -> None:
    assert word in stemmer
    assert stemmer.stem(word) == word


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("berapi", "rap"),  # suffix first: berap -> rule 1 gives rap, a root
        ("menikah", "meni"),  # -kah is taken as a particle
        ("menerangi", "rang"),
        ("berterbangan", "bangan"),
    ],
)
def test_pysastrawi_quirks_are_reproduced(
    stemmer: SastrawiStemmer, reference: ReferenceStemmer, word: str, expected: str
) -> None:
    """Bit-identical means identical where PySastrawi is wrong too."""
    assert reference.stem(word) == expected
    assert stemmer.stem(word) == expected


# --------------------------------------------------------------------------------------------------
# Sastrawi's own functional test pairs


def test_sastrawi_functional_pairs_with_their_test_dictionary() -> None:
    """Sastrawi's tests run with a small dictionary of the expected roots; with that dictionary every
    active pair must come out as expected (multi-word and mixed-case inputs are normalized first)."""
    rows = read_tsv(shared_path("stemming", "sastrawi_test_pairs.tsv"))
    active = [row for row in rows if row["status"] == "active"]
    assert len(active) > 150
    roots = {root for row in active for root in row["expected_stem"].split()}
    ours = SastrawiStemmer(roots)
    ref = ReferenceStemmer(roots)
    failures = []
    for row in active:
        got = " ".join(ours.stem(token) for token in pysastrawi_normalize(row["word"]))
        if got != row["expected_stem"] or got != ref.stem(row["word"]):
            failures.append((row["word"], row["expected_stem"], got))
    assert failures == []


def test_sastrawi_functional_pairs_with_packaged_dictionary(
    stemmer: SastrawiStemmer, reference: ReferenceStemmer
) -> None:
    """With the full dictionary some expected stems differ (e.g. ``belikan`` is a root there), so the
    meaningful check is agreement with PySastrawi, for the commented-out pairs too."""
    rows = read_tsv(shared_path("stemming", "sastrawi_test_pairs.tsv"))
    tokens = sorted({token for row in rows for token in pysastrawi_normalize(row["word"])})
    assert mismatches(stemmer, reference, tokens) == []
    agree = sum(
        " ".join(stemmer.stem(t) for t in pysastrawi_normalize(row["word"])) == row["expected_stem"]
        for row in rows
        if row["status"] == "active"
    )
    assert agree >= 0.9 * sum(row["status"] == "active" for row in rows)


# --------------------------------------------------------------------------------------------------
# Differential tests against PySastrawi


def test_gold_standard_words_match_pysastrawi(stemmer: SastrawiStemmer, reference: ReferenceStemmer) -> None:
    """Every token of the stemming gold files (forms and roots, ~20 k words) stems identically."""
    words: set[str] = set()
    for name in ("unimorph_form_root.tsv", "ud_csui_form_lemma.tsv", "sastrawi_test_pairs.tsv"):
        path = shared_path("stemming", name)
        for row in read_tsv(path):
            for value in list(row.values())[:2]:
                words.update(TOKEN.findall(value.lower()))
    assert len(words) > 15_000
    bad = mismatches(stemmer, reference, sorted(words))
    assert bad == [], f"{len(bad)} of {len(words)} words differ (word, ours, pysastrawi): {bad[:20]}"


def corpus_vocabulary() -> Iterator[str]:
    vocabulary: set[str] = set()
    corpus = shared_path("corpus")
    for path in sorted(corpus.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    doc = json.loads(line)
                    text = f"{doc.get('title') or ''} {doc.get('body') or ''}".lower()
                    vocabulary.update(TOKEN.findall(text))
    for path in sorted(shared_path("stemming").glob("*.tsv")):
        vocabulary.update(TOKEN.findall(path.read_text(encoding="utf-8").lower()))
    return iter(sorted(vocabulary))


@pytest.mark.slow
@pytest.mark.shared
def test_whole_corpus_vocabulary_matches_pysastrawi(
    stemmer: SastrawiStemmer, reference: ReferenceStemmer
) -> None:
    """Every distinct word of the shared corpus (title + body) and the gold files: ~127 k words."""
    words = list(corpus_vocabulary())
    assert len(words) > 100_000
    bad = mismatches(stemmer, reference, words)
    assert bad == [], f"{len(bad)} of {len(words)} words differ (word, ours, pysastrawi): {bad[:20]}"


PREFIXES = [
    "",
    "di",
    "ke",
    "se",
    "me",
    "mem",
    "men",
    "meng",
    "meny",
    "pe",
    "pem",
    "pen",
    "peng",
    "peny",
    "per",
    "ber",
    "be",
    "ter",
    "te",
    "ku",
    "kau",
    "memper",
    "diper",
    "menge",
    "penge",
    "pel",
    "bel",
]
SUFFIXES = [
    "",
    "i",
    "kan",
    "an",
    "is",
    "isme",
    "isasi",
    "lah",
    "kah",
    "tah",
    "pun",
    "ku",
    "mu",
    "nya",
    "-nya",
    "-ku",
    "-lah",
    "kannya",
    "annya",
    "inya",
    "kanlah",
    "nyalah",
]
ROOT_SAMPLE = sorted(r for r in load_dictionary() if r.isalpha())[::7]


@st.composite
def affixed_words(draw: st.DrawFn) -> str:
    """Roots (real, infixed, truncated or random) wrapped in up to two prefixes and a suffix chain,
    sometimes reduplicated with a hyphen."""
    kind = draw(st.integers(0, 4))
    if kind <= 1:
        root = draw(st.sampled_from(ROOT_SAMPLE))
    elif kind == 2:
        base = draw(st.sampled_from(ROOT_SAMPLE))
        root = base[:1] + draw(st.sampled_from(["er", "el", "em", "in"])) + base[1:]
    elif kind == 3:
        root = draw(st.sampled_from(ROOT_SAMPLE))[1:]
    else:
        root = draw(st.text(alphabet="abdegiklmnprstuy0", min_size=0, max_size=5))
    word = (
        draw(st.sampled_from(PREFIXES))
        + draw(st.sampled_from(PREFIXES))
        + root
        + draw(st.sampled_from(SUFFIXES))
    )
    shape = draw(st.integers(0, 5))
    if shape == 0:
        word = word + "-" + root + draw(st.sampled_from(SUFFIXES))
    elif shape == 1:
        word = word + "-" + word + "-" + draw(st.sampled_from(["nya", "ku", "pun", "x"]))
    return word


@settings(max_examples=400, deadline=None)
@given(affixed_words())
def test_generated_affix_combinations_match_pysastrawi(word: str) -> None:
    assert packaged_stemmer().stem(word) == packaged_reference().stem(word)


# --------------------------------------------------------------------------------------------------
# Accuracy against gold standards (the README's reference figures for PySastrawi 1.2.1)


def test_accuracy_unimorph(stemmer: SastrawiStemmer) -> None:
    rows = read_tsv(shared_path("stemming", "unimorph_form_root.tsv"))
    assert len(rows) == 17_421
    correct = sum(stemmer.stem(row["form"]) == row["root"] for row in rows)
    assert correct / len(rows) >= 0.925  # PySastrawi: 16,115 / 17,421 = 0.92503


def test_accuracy_ud_csui(stemmer: SastrawiStemmer) -> None:
    rows = read_tsv(shared_path("stemming", "ud_csui_form_lemma.tsv"))
    scored = [row for row in rows if row["lemma"] != row["form"] and row["lemma"] != "dia"]
    assert len(scored) > 1_000
    correct = sum(stemmer.stem(row["form"]) == row["lemma"] for row in scored)
    assert correct / len(scored) >= 0.965  # PySastrawi: 1,007 / 1,043 = 0.96548


# --------------------------------------------------------------------------------------------------
# Dictionaries


def test_packaged_dictionary(stemmer: SastrawiStemmer) -> None:
    path = packaged_dictionary_path()
    assert path.name == "kata-dasar.txt" and path.is_file()
    lines = {line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()}
    assert stemmer.roots == load_dictionary() == frozenset(lines)
    assert len(stemmer) == len(lines) > 29_000
    assert "makan" in stemmer and "memakan" not in stemmer and 42 not in stemmer


def test_dictionary_from_path_and_iterable(tmp_path: Path) -> None:
    path = tmp_path / "roots.txt"
    path.write_text("makan\n  minum \n\nbaca\n", encoding="utf-8")
    from_path = SastrawiStemmer(path)
    from_str = SastrawiStemmer(str(path))
    from_iter = SastrawiStemmer(["makan", "minum", "baca", "baca", ""])
    for s in (from_path, from_str, from_iter):
        assert s.roots == {"makan", "minum", "baca"}
        assert s.stem("dimakan") == "makan"
        assert s.stem("meminumnya") == "minum"
        assert s.stem("membacakan") == "baca"
        assert s.stem("berlari") == "berlari"  # lari is not in this dictionary
    assert from_path.dictionary_hash == from_str.dictionary_hash == from_iter.dictionary_hash


def test_extra_roots(stemmer: SastrawiStemmer) -> None:
    assert stemmer.stem("mengcovidkan") == "mengcovidkan"
    extended = SastrawiStemmer(extra_roots=["covid", "zoom"])
    assert "covid" in extended and "makan" in extended
    assert extended.stem("dizoom") == "zoom"
    assert extended.stem("covidnya") == "covid"
    assert extended.stem("memakan") == "makan"
    assert len(extended) == len(stemmer) + 2
    assert ReferenceStemmer(extended.roots).stem("dizoom") == "zoom"
    with pytest.raises(TypeError, match="not a str"):
        SastrawiStemmer(extra_roots="covid")


def test_dictionary_hash_identifies_the_roots(stemmer: SastrawiStemmer) -> None:
    expected = hashlib.sha256("\n".join(sorted(load_dictionary())).encode("utf-8")).hexdigest()
    assert stemmer.dictionary_hash == expected == SastrawiStemmer().dictionary_hash
    assert re.fullmatch(r"[0-9a-f]{64}", expected)
    a = SastrawiStemmer(["b", "a", "a", " c "])
    b = SastrawiStemmer(["c", "b", "a"])
    assert a.dictionary_hash == b.dictionary_hash
    assert SastrawiStemmer(["a", "b"]).dictionary_hash != a.dictionary_hash
    assert SastrawiStemmer(extra_roots=["covid"]).dictionary_hash != stemmer.dictionary_hash


def test_dictionary_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        SastrawiStemmer(missing)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"makan\nminum\n\xff\xfe\n")
    with pytest.raises(ValueError, match=r"bad\.txt:3"):
        load_dictionary(bad)
    with pytest.raises(TypeError, match="#1"):
        load_dictionary(["makan", 3])  # type: ignore[list-item]


def test_stem_function_is_the_same_stemmer(stemmer: SastrawiStemmer) -> None:
    fn = stemmer.stem_function
    for word in ("memakan", "anak-anak", "jokowi", "pengebirian"):
        assert fn(word) == stemmer.stem(word)
