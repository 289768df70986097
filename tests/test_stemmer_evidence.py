"""The two stemming corrections that rest on corpus evidence: ``attested_roots`` (roots missing from the
dictionary, found by their prefixed forms in the news corpus) and ``passive_reading`` (of two readings of a
``meN-``/``peN-`` word, the one whose ``di-`` form the corpus has). Their data files are derived from the
corpus by ``tools/derive_stem_evidence.py``, never from the gold sets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _support import REPO, shared_path

from idsearch.analysis import Analyzer, AnalyzerSpec, IndonesianAnalyzer
from idsearch.index import Index
from idsearch.stemmer import (
    CorrectedStemmer,
    SastrawiStemmer,
    attested_roots,
    load_dictionary,
    passive_counts,
)

# -- attested_roots ---------------------------------------------------------------------------------------------


def test_attested_roots_are_new_roots_only_for_the_corrections() -> None:
    roots = attested_roots()
    assert {"setuju", "seimbang", "rinci"} <= roots
    assert not roots & load_dictionary()  # only roots the dictionary lacks
    assert all(root.isalpha() and root.islower() and len(root) > 3 for root in roots)
    plain = SastrawiStemmer()
    assert "setuju" not in plain and plain.stem("persetujuan") == "tuju"  # the default stays PySastrawi
    corrected = CorrectedStemmer(rules=["attested_roots"])
    assert roots <= corrected.roots and len(corrected) == len(plain) + len(roots)
    assert corrected.stem("persetujuan") == "setuju"
    assert corrected.stem("keseimbangan") == "seimbang"
    assert corrected.stem("dirinci") == "rinci"  # PySastrawi: dirinci (no root found)
    assert corrected.stem("menyetujui") != "setuju"  # meny-setuju-i needs prefix_order besides
    assert CorrectedStemmer().stem("menyetujui") == "setuju"


def test_attested_roots_join_any_dictionary() -> None:
    own = CorrectedStemmer(["tuju", "imbang"], rules=["attested_roots"])
    assert own.roots == {"tuju", "imbang"} | attested_roots()
    assert own.stem("persetujuan") == "setuju"
    assert CorrectedStemmer(["tuju"], rules=["tail_once"]).stem("persetujuan") == "tuju"


def test_attested_roots_are_part_of_the_recorded_dictionary(tmp_path: Path) -> None:
    plain, corrected = IndonesianAnalyzer(), IndonesianAnalyzer(corrections=True)
    assert corrected.spec.dictionary == "pysastrawi" and "attested_roots" in corrected.spec.corrections
    assert corrected.spec.dictionary_hash == CorrectedStemmer().dictionary_hash != plain.spec.dictionary_hash
    # rules that add no roots keep pysastrawi's dictionary and its hash
    assert (
        IndonesianAnalyzer(corrections=["passive_reading"]).spec.dictionary_hash == plain.spec.dictionary_hash
    )
    rebuilt = Analyzer(AnalyzerSpec.from_dict(json.loads(json.dumps(corrected.spec.to_dict()))))
    assert rebuilt.spec == corrected.spec
    assert rebuilt.terms("persetujuan mengawal") == ["setuju", "kawal"]
    # a stemmer object given as sastrawi= is recorded with its roots, attested ones included
    given = IndonesianAnalyzer(sastrawi=CorrectedStemmer(rules=["attested_roots"]))
    assert given.spec.dictionary == "custom" and "setuju" in given.spec.dictionary_words
    assert Analyzer(AnalyzerSpec.from_dict(given.spec.to_dict())).terms("persetujuan") == ["setuju"]
    # and an index reopens with the same stems
    ix = Index.create(tmp_path / "ix", analyzer=corrected)
    with ix.writer(workers=1) as w:
        w.add({"id": "a", "title": "Rapat", "body": "DPR memberikan persetujuan; polisi mengawal demo."})
    ix.close()
    reopened = Index.open(tmp_path / "ix")
    assert reopened.analyzer.spec == corrected.spec
    assert {h.id for h in reopened.search("setuju kawal", syntax=False, default_operator="and")} == {"a"}
    assert not reopened.search("tuju", syntax=False)
    reopened.close()


# -- passive_reading --------------------------------------------------------------------------------------------


def test_passive_counts_are_di_forms() -> None:
    counts = passive_counts()
    assert len(counts) > 1000
    assert all(word.startswith("di") and n >= 2 for word, n in counts.items())
    assert counts["dikawal"] > counts.get("diawal", 0)


def test_passive_reading_follows_the_di_form() -> None:
    c = CorrectedStemmer(["kawal", "awal", "kuras", "uras"], rules=["passive_reading"])
    assert SastrawiStemmer(["kawal", "awal"]).stem("mengawal") == "awal"
    assert c.stem("mengawal") == "kawal"  # dikawal
    assert c.stem("mengawali") == "awal"  # diawali: the ending counts
    assert c.stem("menguras") == "kuras"
    assert c.stem("pengawalan") == "kawal"  # a peN- noun: the verb's di- forms decide
    # neither reading attested: Sastrawi's reading stays
    unseen = CorrectedStemmer(["unyil", "kunyil"], rules=["passive_reading"])
    assert unseen.stem("mengunyil") == SastrawiStemmer(["unyil", "kunyil"]).stem("mengunyil") == "unyil"
    # only one reading is a root: nothing to choose
    assert CorrectedStemmer(["awal"], rules=["passive_reading"]).stem("mengawal") == "awal"
    # di- and other prefixes show the root already
    assert c.stem("dikawal") == "kawal" and c.stem("diawali") == "awal"


def test_passive_reading_in_men_an_verbs() -> None:
    # verb_an keeps the -an of meN-X-an; passive_reading picks between mesan/pesan (dipesan)
    assert CorrectedStemmer(rules=["verb_an"]).stem("memesan") == "mesan"
    assert CorrectedStemmer(rules=["verb_an", "passive_reading"]).stem("memesan") == "pesan"


# -- the files are derived from the corpus ---------------------------------------------------------------------


@pytest.mark.slow
def test_evidence_files_are_derived_from_the_corpus(tmp_path: Path) -> None:
    shared = shared_path("corpus").parent
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "derive_stem_evidence.py"),
            "--shared",
            str(shared),
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    for name in ("attested_roots.txt", "passive_forms.txt"):
        shipped = (REPO / "idsearch" / "data" / name).read_text(encoding="utf-8")
        assert (tmp_path / name).read_text(encoding="utf-8") == shipped, name
