"""The index core: add/update/delete/reopen, BM25F against a reference, segments, snapshots, the lock."""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from _support import add_in_sessions, build, shared_path

from idsearch import Index
from idsearch.analysis import Analyzer, AnalyzerSpec
from idsearch.reader import PROXIMITY_DEPTH
from idsearch.schema import Schema, TextField
from idsearch.storage import IndexError_, LockError
from idsearch.writer import DocumentError, IndexWriter

WORDS = (
    "presiden rusia putin iran suriah pertemuan bertemu telepon kremlin dukungan rezim assad damaskus turki "
    "jakarta bandung banjir hujan gempa kereta pemilu partai menteri ekonomi harga beras sekolah anak-anak "
    "pemain sepak bola persib timnas pelatih gol stadion kota desa warga polisi kebakaran hutan asap"
).split()


def make_docs(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
        docs.append(
            {
                "id": f"d{i:04d}",
                "title": title.capitalize(),
                "body": body,
                "date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "source": rng.choice(["tribunnews.com", "detik.com", "Kompas.com"]),
                "category": rng.choice(["politik", "olahraga", None]),
            }
        )
    return docs


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return make_docs(300)


@pytest.fixture
def ix(tmp_path: Path, docs: list[dict]) -> Index:
    index = Index.create(tmp_path / "news.idx")
    with index.writer(workers=1) as w:
        for d in docs:
            w.add(d)
    return index


def ranking(results) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 9)) for h in results]


QUERIES = ["putin suriah", "pertemuan", "banjir jakarta hujan", "persib gol", "anak-anak sekolah", "kereta", "zzz"]


# -- round trips ------------------------------------------------------------------------------------------------------


def test_add_search_get_reopen(ix: Index, docs: list[dict]):
    assert len(ix) == 300
    assert ix.get("d0005") == docs[5]
    assert "d0005" in ix and "nope" not in ix and ix.get("nope") is None
    hits = ix.search("putin suriah", limit=5)
    assert 0 < len(hits) <= 5 and hits.total >= len(hits)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    reopened = Index.open(ix.path)
    assert len(reopened) == 300
    assert ranking(reopened.search("putin suriah", limit=5)) == ranking(hits)


def test_update_and_delete_round_trip(ix: Index, docs: list[dict]):
    with ix.writer(workers=1) as w:
        assert w.update({**docs[1], "title": "Gempa di Bandung"}) == "updated"
        assert w.update(docs[2]) == "skipped"
        assert w.update({"id": "new", "title": "Kereta cepat", "body": "kereta"}) == "added"
        assert w.delete("d0003") is True
        assert w.delete("d0003") is False
        assert w.delete("missing") is False
    assert len(ix) == 300
    assert ix.get("d0001")["title"] == "Gempa di Bandung"
    assert ix.get("d0003") is None
    assert ix.search('title:"gempa di bandung"')[0].id == "d0001"
    assert "new" in ix
    reopened = Index.open(ix.path)
    assert reopened.get("d0001")["title"] == "Gempa di Bandung" and reopened.get("d0003") is None
    assert reopened.stats().deleted >= 2


def test_delete_then_add_same_id_in_one_session(ix: Index):
    with ix.writer(workers=1) as w:
        w.delete("d0010")
        w.add({"id": "d0010", "title": "Persib juara", "body": "gol"})
        w.update({"id": "d0010", "title": "Persib juara lagi", "body": "gol gol"})
    assert ix.get("d0010")["title"] == "Persib juara lagi"
    assert len(ix) == 300


def test_add_existing_id_is_refused(ix: Index):
    with ix.writer(workers=1) as w, pytest.raises(DocumentError, match="exists already; use update"):
        w.add({"id": "d0000", "title": "x"})


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"title": "no id"}, "no 'id'"),
        ({"id": ""}, "no 'id'"),
        ({"id": "a\nb"}, "no line breaks"),
        ({"id": "x", "title": 5}, "field 'title' must be text"),
        ({"id": "x", "date": "kemarin sore"}, "field 'date'"),
        ({"id": "x", "source": ["a"]}, "field 'source' must be a string"),
        ({"id": "x", "extra": object()}, "cannot be stored as JSON"),
    ],
)
def test_bad_documents_are_refused_with_the_field(tmp_path: Path, doc: dict, message: str):
    index = Index.create(tmp_path / "i")
    with index.writer(workers=1) as w:
        with pytest.raises(DocumentError, match=message):
            w.add(doc)
        w.add({"id": "ok", "body": "tetap ada"})  # the writer goes on
    assert len(index) == 1


def test_exception_in_with_block_rolls_back(ix: Index):
    before = {f.name for f in ix.path.iterdir()}
    with pytest.raises(RuntimeError), ix.writer(workers=1) as w:
        w.add({"id": "x1", "title": "akan hilang"})
        w.delete("d0000")
        w.flush()  # even a written segment disappears
        raise RuntimeError("boom")
    assert "x1" not in ix and "d0000" in ix
    assert {f.name for f in ix.path.iterdir()} == before


def test_dates_are_parsed_and_filter_and_sort(ix: Index, docs: list[dict]):
    hits = ix.search("kereta", since="2024-03-01", until="2024-03-31", limit=None)
    expected = {d["id"] for d in docs if "2024-03-01" <= d["date"] <= "2024-03-31" and "kereta" in (d["title"] + " " + d["body"]).lower()}
    assert {h.id for h in hits} == expected
    by_date = ix.search("kereta", sort="date", limit=None)
    dates = [h.fields["date"] for h in by_date]
    assert dates == sorted(dates, reverse=True)
    with ix.writer(workers=1) as w:
        w.add({"id": "indo", "body": "kereta api", "date": "Senin, 02 Des 2024 10:15 WIB"})
    assert ix.search("kereta", since="2024-12-02", until="2024-12-02")[0].id == "indo"


def test_keyword_filters_are_case_insensitive(ix: Index, docs: list[dict]):
    hits = ix.search("kereta", source="kompas.com", limit=None)
    assert hits and all(h.fields["source"] == "Kompas.com" for h in hits)
    assert {h.id for h in hits} == {h.id for h in ix.search("kereta source:KOMPAS.COM", limit=None)}
    with pytest.raises(ValueError, match="unknown filter field 'penulis'"):
        ix.search("kereta", penulis="x")


def test_fields_restriction_and_weights(ix: Index):
    title_only = ix.search("putin", fields=["title"], limit=None)
    assert title_only and all("putin" in h.fields["title"].lower() for h in title_only)
    heavy = ix.search("putin", weights={"title": 10.0}, limit=3)
    assert "putin" in heavy[0].fields["title"].lower()
    with pytest.raises(ValueError, match="unknown text fields"):
        ix.search("putin", fields=["headline"])


def test_plain_text_mode_reads_no_operators(ix: Index):
    pasted = 'Putin: "Suriah" (AND -kereta'
    hits = ix.search(pasted, syntax=False, limit=None)
    assert {h.id for h in hits} == {h.id for h in ix.search("putin suriah and kereta", limit=None)}


def test_stopword_only_and_empty_queries_return_nothing(tmp_path: Path):
    index = Index.create(tmp_path / "i", analyzer=AnalyzerSpec(stopwords="minimal"))
    with index.writer(workers=1) as w:
        w.add({"id": "a", "body": "yang dan di kereta"})
    assert list(index.search("yang dan di")) == []
    assert list(index.search("  ,;!?  ")) == []
    assert list(index.search("")) == []
    assert [h.id for h in index.search("yang kereta")] == ["a"]


# -- BM25F against a straightforward reference ------------------------------------------------------------------------


def reference_bm25f(docs, analyzer, schema: Schema, query_terms, fields):
    """Textbook BM25F over the raw documents: per-field normalized tf, weighted sum, one saturation."""
    analyzed = {d["id"]: {f: analyzer.terms(d.get(f) or "") for f in fields} for d in docs}
    n = len(docs)
    avglen = {f: sum(len(a[f]) for a in analyzed.values()) / n for f in fields}
    out = {}
    for doc_id, fields_terms in analyzed.items():
        score = 0.0
        for term in query_terms:
            tf_tilde = 0.0
            for f in fields:
                tf = Counter(fields_terms[f])[term]
                spec = schema.text_field(f)
                tf_tilde += spec.weight * tf / (1 - spec.b + spec.b * len(fields_terms[f]) / avglen[f])
            if tf_tilde > 0:
                df = sum(1 for a in analyzed.values() if any(term in a[f] for f in fields))
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * (schema.k1 + 1) * tf_tilde / (schema.k1 + tf_tilde)
        if score > 0:
            out[doc_id] = score
    return out


@pytest.mark.parametrize("query", ["putin suriah", "pertemuan bertemu", "banjir jakarta hujan gempa", "anak-anak"])
def test_scores_equal_reference_bm25f(tmp_path: Path, docs: list[dict], query: str):
    schema = Schema(
        text_fields=(TextField("title", weight=2.5, b=0.6), TextField("body", weight=1.0, b=0.8)),
        k1=1.4,
        proximity=0,
        exact=0,
        delta=0,
        lead=0,
    )
    index = Index.create(tmp_path / "i", schema=schema)
    with index.writer(workers=1) as w:
        for d in docs:
            w.add(d)
    terms = sorted(set(index.analyzer.terms(query)))
    expected = reference_bm25f(docs, index.analyzer, schema, terms, ["title", "body"])
    hits = index.search(query, limit=None)
    assert hits.total == len(expected)
    for h in hits:
        assert h.score == pytest.approx(expected[h.id], rel=1e-9, abs=1e-6)


def test_scores_equal_reference_bm25f_three_fields(tmp_path: Path, docs: list[dict]):
    """With more than two text fields a term's per-field postings are merged more than once: every
    document must still be counted once (one df, one saturation of the summed tf~)."""
    schema = Schema(
        text_fields=(TextField("title", weight=2.0), TextField("body", b=0.9), TextField("lead", weight=1.5, b=0.5)),
        proximity=0,
        exact=0,
        delta=0,
        lead=0,
    )
    three = [{**d, "lead": " ".join((d.get("body") or "").split()[:12])} for d in docs]
    three += [{"id": f"lead-only-{i}", "lead": "kereta gempa jakarta"} for i in range(3)]
    index = Index.create(tmp_path / "i", schema=schema)
    with index.writer(workers=1) as w:
        for d in three:
            w.add(d)
    for query in ("kereta gempa", "jakarta banjir", "pertemuan"):
        terms = sorted(set(index.analyzer.terms(query)))
        expected = reference_bm25f(three, index.analyzer, schema, terms, ["title", "body", "lead"])
        hits = index.search(query, limit=None)
        assert hits.total == len(expected), query
        assert {h.id: round(h.score, 9) for h in hits} == {k: round(v, 9) for k, v in expected.items()}, query


@pytest.mark.parametrize("sessions", [1, 3])
def test_scores_equal_reference_with_deletes(tmp_path: Path, docs: list[dict], sessions: int):
    """Deleted documents count nowhere, whether a term's postings come from one segment or several."""
    index = Index.create(tmp_path / "i", schema=Schema(proximity=0, exact=0, delta=0, lead=0))
    for part in range(sessions):
        with index.writer(workers=1, merge=False) as w:
            for d in docs[part::sessions]:
                w.add(d)
    assert len(index.reader().segments) == sessions
    gone = {d["id"] for d in docs[::3]}
    with index.writer(workers=1) as w:
        for doc_id in gone:
            w.delete(doc_id)
    live = [d for d in docs if d["id"] not in gone]
    terms = sorted(set(index.analyzer.terms("kereta gempa")))
    expected = reference_bm25f(live, index.analyzer, index.schema, terms, ["title", "body"])
    hits = index.search("kereta gempa", limit=None)
    assert {h.id: round(h.score, 9) for h in hits} == {k: round(v, 9) for k, v in expected.items()}


def test_proximity_bonus_rewards_words_in_query_order(tmp_path: Path):
    docs = [
        {"id": "adjacent", "body": "warga kota bandung menonton sepak bola di stadion"},
        {"id": "apart", "body": "warga bandung menonton sepak bola di stadion kota"},
        {"id": "reversed", "body": "warga bandung kota menonton sepak bola di stadion"},
    ]
    plain = Index.create(tmp_path / "plain", schema=Schema(proximity=0, exact=0))
    near = Index.create(tmp_path / "near", schema=Schema(proximity=0.5, exact=0))
    for index in (plain, near):
        with index.writer(workers=1) as w:
            for d in docs:
                w.add(d)
    base = {h.id: h.score for h in plain.search("kota bandung", limit=None)}
    assert base["adjacent"] == pytest.approx(base["apart"]) == pytest.approx(base["reversed"])  # BM25F alone ties
    boosted = near.search("kota bandung", limit=None)
    assert boosted[0].id == "adjacent"
    scores = {h.id: h.score for h in boosted}
    assert scores["apart"] == pytest.approx(base["apart"]) and scores["reversed"] == pytest.approx(base["reversed"])
    # bonus = strength * mean idf of the pair * c / (c + 1), with c = 1 occurrence in the body (weight 1)
    idf = math.log(1 + (3 - 3 + 0.5) / (3 + 0.5))
    assert scores["adjacent"] - base["adjacent"] == pytest.approx(0.5 * idf * 0.5)


def _without_and_with(tmp_path: Path, docs: list[dict], **bonus: float) -> tuple[Index, Index]:
    """The same documents indexed without any bonus, and with the given one (``proximity=`` or ``lead=``)."""
    indexes = []
    for name, settings in (("plain", {}), ("bonus", bonus)):
        index = Index.create(tmp_path / name, schema=Schema(**{"proximity": 0, "exact": 0, "lead": 0, **settings}))
        with index.writer(workers=1) as w:
            for d in docs:
                w.add(d)
        indexes.append(index)
    return indexes[0], indexes[1]


@pytest.mark.parametrize("query", ["kota bandung +warga", 'kota bandung "sepak bola"', "kota bandung -hujan"])
def test_queries_with_a_phrase_or_a_required_word_earn_the_same_bonuses(tmp_path: Path, query: str):
    """Such queries are scored by the general path, not the flat one; their words are reranked alike."""
    docs = [
        {"id": "adjacent", "body": "warga kota bandung menonton sepak bola di stadion"},
        {"id": "apart", "body": "warga bandung menonton sepak bola di stadion kota"},
        {"id": "reversed", "body": "warga bandung kota menonton sepak bola di stadion"},
    ]
    plain, near = _without_and_with(tmp_path, docs, proximity=0.5)
    base = {h.id: h.score for h in plain.search(query, limit=None)}
    assert base["adjacent"] == pytest.approx(base["apart"]) == pytest.approx(base["reversed"])
    scores = {h.id: h.score for h in near.search(query, limit=None)}
    assert near.search(query)[0].id == "adjacent"
    assert scores["apart"] == pytest.approx(base["apart"]) and scores["reversed"] == pytest.approx(base["reversed"])
    idf = math.log(1 + (3 - 3 + 0.5) / (3 + 0.5))  # kota and bandung are in every document
    assert scores["adjacent"] - base["adjacent"] == pytest.approx(0.5 * idf * 0.5)
    flat = {h.id: h.score for h in near.search("kota bandung", limit=None)}
    flat_base = {h.id: h.score for h in plain.search("kota bandung", limit=None)}
    assert scores["adjacent"] - base["adjacent"] == pytest.approx(flat["adjacent"] - flat_base["adjacent"])


def test_general_path_lead_bonus(tmp_path: Path):
    filler = " ".join(f"kata{i}" for i in range(60))
    docs = [{"id": "late", "body": f"{filler} gempa hari"}, {"id": "early", "body": f"gempa {filler} hari"}]
    plain, lead = _without_and_with(tmp_path, docs, lead=0.5)
    base = {h.id: h.score for h in plain.search("gempa +hari", limit=None)}
    scores = {h.id: h.score for h in lead.search("gempa +hari", limit=None)}
    assert base["early"] == pytest.approx(base["late"])
    idf = math.log(1 + (2 - 2 + 0.5) / (2 + 0.5))
    # gempa is early in one document only; hari (required) is late in both
    assert scores["early"] - base["early"] == pytest.approx(0.5 * idf * 0.5)
    assert scores["late"] == pytest.approx(base["late"])


def test_exact_forms_rank_above_other_inflections(tmp_path: Path):
    docs = [
        {"id": "inflected", "body": "para menteri bertemu di istana"},
        {"id": "exact", "body": "para menteri mengadakan pertemuan di istana"},
        {"id": "name", "body": "banjir di Bekasi"},
        {"id": "word", "body": "barang bekas dijual"},
    ]
    index = Index.create(tmp_path / "i")  # default: exact forms on
    off = Index.create(tmp_path / "off", schema=Schema(exact=0))
    for ix_ in (index, off):
        with ix_.writer(workers=1) as w:
            for d in docs:
                w.add(d)
    # stems still match every inflection; the form the user typed ranks first
    assert [h.id for h in index.search("pertemuan")] == ["exact", "inflected"]
    assert [h.id for h in index.search("bertemu")] == ["inflected", "exact"]
    assert [h.id for h in index.search("bekasi")] == ["name", "word"]  # Sastrawi stems bekasi to bekas
    assert {h.id for h in off.search("bekasi")} == {"name", "word"}
    # the root itself has no exact form: both inflections score alike
    temu = {h.id: h.score for h in index.search("temu", limit=None)}
    assert set(temu) == {"inflected", "exact"}
    # phrases and exclusions use stems only
    assert {h.id for h in index.search('"menteri bertemu"')} == {"inflected"}
    assert {h.id for h in index.search("menteri -pertemuan")} == set()
    # merging keeps the exact fields
    with index.writer(workers=1) as w:
        w.add({"id": "more", "body": "pertemuan lagi"})
    index.optimize()
    assert index.search("pertemuan")[0].id in {"exact", "more"}
    assert index.check().ok


@pytest.mark.parametrize("query", ["kereta gempa", "+kereta gempa banjir", "gempa kereta -hujan"])
def test_bm25_plus_delta_is_a_lower_bound_per_matched_term(tmp_path: Path, docs: list[dict], query: str):
    plain = Index.create(tmp_path / "plain", schema=Schema(proximity=0, exact=0, lead=0, delta=0))
    plus = Index.create(tmp_path / "plus", schema=Schema(proximity=0, exact=0, lead=0, delta=0.3))
    for index in (plain, plus):
        with index.writer(workers=1) as w:
            for d in docs:
                w.add(d)
    n = len(docs)
    base = {h.id: h.score for h in plain.search(query, limit=None)}
    assert base
    expected = dict(base)
    for word in ("kereta", "gempa", "banjir"):
        matching = {h.id for h in plain.search(word, limit=None)}
        idf = math.log(1 + (n - len(matching) + 0.5) / (len(matching) + 0.5))
        for doc_id in matching & set(base):
            if word in query:
                expected[doc_id] += 0.3 * (plus.schema.k1 + 1) * idf
    assert {h.id: h.score for h in plus.search(query, limit=None)} == pytest.approx(expected, rel=1e-9)


def test_lead_bonus_rewards_query_words_at_the_start_of_a_field(tmp_path: Path):
    filler = " ".join(f"kata{i}" for i in range(60))
    docs = [
        {"id": "late", "body": f"{filler} gempa"},
        {"id": "early", "body": f"gempa {filler}"},
        {"id": "title", "title": "gempa", "body": f"{filler} gempa"},
        {"id": "none", "body": "hujan"},
    ]
    plain = Index.create(tmp_path / "plain", schema=Schema(proximity=0, exact=0, lead=0))
    lead = Index.create(tmp_path / "lead", schema=Schema(proximity=0, exact=0, lead=0.5, lead_window=50))
    wide = Index.create(tmp_path / "wide", schema=Schema(proximity=0, exact=0, lead=0.5, lead_window=100))
    for index in (plain, lead, wide):
        with index.writer(workers=1) as w:
            for d in docs:
                w.add(d)
    base = {h.id: h.score for h in plain.search("gempa", limit=None)}
    assert base["early"] == pytest.approx(base["late"])  # BM25F alone ties
    scores = {h.id: h.score for h in lead.search("gempa", limit=None)}
    idf = math.log(1 + (4 - 3 + 0.5) / (3 + 0.5))
    # bonus = strength * idf * c / (c + 1), c = the weights of the fields whose first 50 words have the word
    assert scores["early"] - base["early"] == pytest.approx(0.5 * idf * 0.5)
    assert scores["late"] == pytest.approx(base["late"])
    assert scores["title"] - base["title"] == pytest.approx(0.5 * idf * 0.5)  # title, not the body's end
    assert lead.search("gempa", fields=["body"])[0].id == "early"
    assert {h.id: round(h.score, 9) for h in wide.search("gempa", fields=["body"], limit=None)} == {
        k: round(base_score, 9) for k, base_score in
        ((h.id, h.score + 0.5 * idf * 0.5) for h in plain.search("gempa", fields=["body"], limit=None))}
    assert "lead" in Schema().to_dict() and Schema.from_dict(Schema(lead=0.3, lead_window=7).to_dict()).lead_window == 7
    with pytest.raises(ValueError, match="lead_window"):
        Schema(lead_window=0)


def test_question_words_are_dropped_from_queries_not_from_documents(tmp_path: Path):
    docs = [
        {"id": "answer", "body": "Presiden Venezuela Nicolas Maduro berpidato di Caracas"},
        {"id": "question", "body": "Siapakah yang berpidato? Apa kata presiden?"},
        {"id": "other", "body": "kapan hujan turun"},
    ]
    index = Index.create(tmp_path / "i")  # default: interrogatives are query stopwords
    keep = Index.create(tmp_path / "keep", schema=Schema(query_stopwords=()))
    for ix_ in (index, keep):
        with ix_.writer(workers=1) as w:
            for d in docs:
                w.add(d)
    question = "Siapakah presiden Venezuela yang berpidato?"
    for syntax in (True, False):
        assert {h.id: h.score for h in index.search(question, syntax=syntax, limit=None)} == pytest.approx(
            {h.id: h.score for h in keep.search("presiden Venezuela yang berpidato", syntax=syntax, limit=None)})
    assert "question" in {h.id for h in keep.search("siapakah kapan", limit=None)}
    # a query of nothing but question words still searches them; so do phrases and required words
    assert {h.id for h in index.search("siapakah kapan", limit=None)} == {"question", "other"}
    assert {h.id for h in index.search("apa", syntax=False)} == {"question"}
    assert {h.id for h in index.search('"kata presiden" kapan')} == {"question"}
    assert {h.id for h in keep.search('"kata presiden" kapan')} == {"question", "other"}
    assert {h.id for h in index.search("+kapan presiden")} == {"other"}
    # stored in the manifest; an index written before the setting existed keeps ranking as it did
    assert Index.open(keep.path).schema.query_stopwords == ()
    data = index.schema.to_dict()
    assert Schema.from_dict(data) == index.schema
    for key in ("query_stopwords", "delta", "lead"):
        del data[key]
    old = Schema.from_dict(data)
    assert (old.query_stopwords, old.delta, old.lead) == ((), 0.0, 0.0)
    with pytest.raises(ValueError, match="one lowercase word"):
        Schema(query_stopwords=("Siapa",))
    with pytest.raises(ValueError, match="list of words"):
        Schema(query_stopwords="siapa")  # type: ignore[arg-type]


# -- segments: many vs one, merging, parallel writers ----------------------------------------------------------------


def test_results_identical_across_segmentations_and_merge(tmp_path: Path, docs: list[dict]):
    one = build(tmp_path / "one", docs, batches=1)
    many = build(tmp_path / "many", docs, batches=7)
    assert one.stats().segments == 1 and many.stats().segments == 7
    for ix_ in (one, many):  # the same deletes and updates on both
        with ix_.writer(workers=1, merge=False) as w:
            for d in docs[::11]:
                w.delete(d["id"])
            w.update({**docs[5], "body": "putin bertemu di suriah"})
    for q in QUERIES:
        assert ranking(many.search(q, limit=20)) == ranking(one.search(q, limit=20)), q
    many.optimize()
    assert many.stats().segments == 1 and many.stats().deleted == 0
    for q in QUERIES:
        assert ranking(many.search(q, limit=20)) == ranking(one.search(q, limit=20)), q
        assert ranking(many.search(f'"{q}"', limit=20)) == ranking(one.search(f'"{q}"', limit=20)), q
    assert many.get(docs[5]["id"])["body"] == "putin bertemu di suriah"


def test_size_tiered_merge_policy(tmp_path: Path, docs: list[dict]):
    index = Index.create(tmp_path / "i")
    for i in range(12):
        with index.writer(workers=1) as w:
            w.add(docs[i])
    # ten one-document segments of the same tier were merged into one
    assert index.stats().segments == 3
    assert len(index) == 12


def test_the_merge_policy_makes_no_segment_larger_than_max_merge_mb(tmp_path: Path, docs: list[dict]):
    """Ten segments of one tier whose files (less their deleted documents) exceed ``max_merge_mb`` stay as
    they are at a commit (a merge holds what it makes in memory); under the limit they are merged;
    ``optimize()`` merges everything whatever the size."""
    index = build(tmp_path / "i", docs[:120], batches=10)
    with index.writer(workers=1, merge=False) as w:
        w.delete(docs[0]["id"])  # a deleted document's share of its segment is left out of the estimate
    entries = json.loads((index.path / "manifest.json").read_text())["segments"]
    total = sum(sum(f[0] for f in e["files"].values()) * (e["ndocs"] - e["ndeleted"]) / e["ndocs"] for e in entries)
    whole = sum(sum(f[0] for f in e["files"].values()) for e in entries)
    assert len(entries) == 10 and total < whole
    for limit in (total * 0.98, (total + whole) / 2):  # under the estimate; over it, under the whole files
        with index.writer(workers=1, max_merge_mb=limit / (1 << 20)) as w:
            w.commit()
        assert index.stats().segments == (10 if limit < total else 1), limit
    with pytest.raises(ValueError, match="max_merge_mb"):
        index.writer(max_merge_mb=0)
    add_in_sessions(index, docs[120:240], size=12)
    with index.writer(workers=1, max_merge_mb=0.001) as w:
        w.commit()
    assert index.stats().segments == 11
    index.optimize()
    assert index.stats().segments == 1 and len(index) == 239


def test_files_a_commit_no_longer_names_go_with_it(tmp_path: Path, docs: list[dict]):
    """The tenth one-document commit merges the ten segments: their files are gone once that writer is
    closed, before any other writer opens the index."""
    index = Index.create(tmp_path / "i")
    for i in range(IndexWriter.MERGE_FACTOR):
        with index.writer(workers=1) as w:
            w.add(docs[i])
    manifest = json.loads((index.path / "manifest.json").read_text())
    assert len(manifest["segments"]) == 1
    named = {"manifest.json", "write.lock", manifest["words"]}
    for entry in manifest["segments"]:
        named.update(f"{entry['name']}.{suffix}" for suffix in entry["files"])
    assert {f.name for f in index.path.iterdir()} <= named
    assert {h.id for h in index.search("*", limit=None)} <= {d["id"] for d in docs[:12]}


def test_parallel_writer_matches_single_process(tmp_path: Path, docs: list[dict]):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    single = build(tmp_path / "single", docs, batches=1, workers=1)
    parallel = build(tmp_path / "parallel", docs, batches=1, workers=2, chunk_mb=0.005)
    assert parallel.stats().segments > 2
    for q in QUERIES:
        assert ranking(parallel.search(q, limit=50)) == ranking(single.search(q, limit=50)), q
    # segments (whole chunks and the pieces the end of the session is cut into) keep document order
    reader = parallel.reader()
    assert [i for segment in reader.segments for i in segment.ids] == [d["id"] for d in docs]
    # stems found by the workers are persisted with the index
    manifest = json.loads((parallel.path / "manifest.json").read_text())
    words = json.loads((parallel.path / manifest["words"]).read_text())
    assert "pertemuan" in words["words"]


def test_new_workers_inherit_their_first_chunk_and_later_chunks_are_pickled(
    tmp_path: Path, docs: list[dict], monkeypatch: pytest.MonkeyPatch
):
    """With fork, a worker is started for a chunk and has it in memory (never serialized); the chunks that
    wait for a busy worker go through its pipe, pickled. Either way the index equals a single process's."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    import idsearch.writer as writer_module

    firsts: list[object] = []
    piped: list[object] = []
    real_start, real_dumps = writer_module._WorkerPool._start_worker, writer_module.pickle.dumps

    def start(self, first):
        firsts.append(first)
        return real_start(self, first)

    def dumps(obj, *args, **kwargs):
        if isinstance(obj, list) and obj and isinstance(obj[0], writer_module.Prepared):
            piped.append(obj)
        return real_dumps(obj, *args, **kwargs)

    monkeypatch.setattr(writer_module._WorkerPool, "_start_worker", start)
    monkeypatch.setattr(writer_module.pickle, "dumps", dumps)
    parallel = build(tmp_path / "parallel", docs, batches=1, workers=2, chunk_mb=0.005)
    assert len(firsts) == 2
    assert all(isinstance(f, tuple) and isinstance(f[3], list) and isinstance(f[3][0], writer_module.Prepared)
               for f in firsts)
    assert piped  # the later chunks
    single = build(tmp_path / "single", docs, batches=1, workers=1)
    for q in QUERIES:
        assert ranking(parallel.search(q, limit=50)) == ranking(single.search(q, limit=50)), q


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_merges_that_wait_for_no_other_run_in_the_workers_and_write_what_one_process_writes(
    tmp_path: Path, docs: list[dict], monkeypatch: pytest.MonkeyPatch, start_method: str
):
    """A commit with two ten-segment runs of one tier (and deletes in them) gives both merges to the worker
    processes at once (forked, or spawned as on macOS and Windows); the segments, deletes and manifest are
    byte for byte those the merges write in the writing process, and documents merged away are still found
    for a later delete in the same session."""
    import shutil

    import idsearch.writer as writer_module

    if start_method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {start_method} start method here")
    monkeypatch.setattr(writer_module, "START_METHOD", start_method)

    base = build(tmp_path / "base", docs[: 25 * 12], batches=25)  # 25 segments of 12 documents: one tier
    assert base.stats().segments == 25
    base.close()
    merged_by: list[str] = []
    real_submit, real_run = writer_module._WorkerPool.submit, IndexWriter._merge_run

    def submit(self, directory, name, task):
        if isinstance(task, writer_module._MergeTask):
            merged_by.append(f"worker:{name}")
        return real_submit(self, directory, name, task)

    def merge_run(self, run, name):
        merged_by.append(f"here:{name}")
        return real_run(self, run, name)

    monkeypatch.setattr(writer_module._WorkerPool, "submit", submit)
    monkeypatch.setattr(IndexWriter, "_merge_run", merge_run)

    def commit(name: str, workers: int) -> dict[str, bytes]:
        shutil.copytree(tmp_path / "base", tmp_path / name)
        index = Index.open(tmp_path / name)
        with index.writer(workers=workers) as w:
            for d in docs[5:150:7]:  # deletes in both runs, before the merges
                w.delete(d["id"])
            w.commit()
            assert w.delete(docs[200]["id"])  # moved by a merge: found where it is now
        assert docs[200]["id"] not in index and len(index) == 300 - len(docs[5:150:7]) - 1
        index.close()
        return {p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir()) if p.name != "write.lock"}

    here = commit("here", workers=1)
    names = [m.removeprefix("here:") for m in merged_by]
    assert len(names) == 2 and merged_by == [f"here:{n}" for n in names]
    merged_by.clear()
    workers = commit("workers", workers=2)
    assert merged_by == [f"worker:{n}" for n in names]
    assert here.keys() == workers.keys() and len(here) > 30
    assert [name for name in here if here[name] != workers[name]] == []
    for query in QUERIES:
        ranked = ranking(Index.open(tmp_path / "workers").search(query, limit=50))
        assert ranked == ranking(Index.open(tmp_path / "here").search(query, limit=50)), query


def slow_worker_batches(monkeypatch: pytest.MonkeyPatch, seconds: float | Callable[[list], float] = 0.01) -> None:
    """Worker processes analyze 4 documents a batch, sleeping ``seconds`` (or ``seconds(batch)``) before
    each (forked workers inherit the patches; this process is not slowed)."""
    import os
    import time

    import idsearch.writer as writer_module

    parent = os.getpid()
    real_add = writer_module.SegmentBuilder.add_many

    def slow_add(self, docs_):
        if os.getpid() != parent:
            time.sleep(seconds(docs_) if callable(seconds) else seconds)
        return real_add(self, docs_)

    monkeypatch.setattr(writer_module, "BATCH_DOCS", 4)
    monkeypatch.setattr(writer_module.SegmentBuilder, "add_many", slow_add)


@pytest.mark.parametrize("case", ["thief writing", "thief idle", "the first chunk is cut"])
def test_a_worker_that_is_done_takes_the_end_of_a_chunk_another_worker_analyzes(
    tmp_path: Path, docs: list[dict], monkeypatch: pytest.MonkeyPatch, case: str
):
    """At the end of a session, a worker that has analyzed its chunk (and writes its segment), or is idle,
    takes the end of the chunk another worker is analyzing: that worker stops before it, and the end is a
    segment of its own, next in order. Documents stay in order; those deleted or replaced in the session
    before the cut stay deleted where they moved, and those deleted or replaced after it are found where
    they moved. The workers analyze 4 documents a batch, slowly. A quarter chunk goes to the first worker,
    all the rest to the second: the first worker is done long before the second, or, made slower, long
    after it."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    import os
    import time

    import idsearch.writer as writer_module

    parent = os.getpid()
    real_write = writer_module.SegmentBuilder.write
    real_move, real_submit = IndexWriter._move_rest, writer_module._WorkerPool.submit
    first_chunk = {d["id"] for d in docs[:60]}  # (the quarter chunk holds about 80 documents)

    def batch_seconds(docs_: list) -> float:
        if case == "the first chunk is cut":
            return 0.05 if docs_[0].doc_id in first_chunk else 0
        return 0.01

    def slow_write(self, directory, name):
        if os.getpid() != parent and case == "thief writing":
            time.sleep(0.3)
        return real_write(self, directory, name)

    moved: dict[str, list[str]] = {}  # segment cut off -> its documents
    after: dict[str, object] = {}  # segment -> the task after which its worker took it

    def move(self, head, rest):
        moved[rest.name] = list(rest.ids)
        return real_move(self, head, rest)

    def submit(self, directory, name, docs_, **kw):
        after[name] = kw.get("after")
        return real_submit(self, directory, name, docs_, **kw)

    slow_worker_batches(monkeypatch, batch_seconds)
    monkeypatch.setattr(writer_module.SegmentBuilder, "write", slow_write)
    monkeypatch.setattr(IndexWriter, "_move_rest", move)
    monkeypatch.setattr(writer_module._WorkerPool, "submit", submit)
    if case == "thief idle":
        monkeypatch.setattr(writer_module._WorkerPool, "finishing", lambda self: [])
    changed = {**docs[-25], "body": docs[-25]["body"] + " kereta cepat"}
    late: list[str] = []  # ids deleted and replaced after the flush: in the first segment cut off

    def session(index: Index, workers: int) -> dict[str, tuple[str, int, int]]:
        w = index.writer(workers=workers, chunk_mb=0.1)
        try:
            for d in docs:
                w.add(d)
            w.delete(docs[-40]["id"])
            w.delete(docs[50]["id"])
            w.update(changed)
            w.delete(docs[-2]["id"])
            w.flush()
            if not late:
                late.extend(next(iter(moved.values()))[1:3])
            w.delete(late[0])  # where the cut moved it
            w.update({**by_id[late[1]], "body": "kereta api"})
            w.commit()
            w._check_open()  # the next session knows what a new one reads
            carried = w._places()
            w._close_readers()
            w._start()
            assert w._places() == carried
        finally:
            w.close()
        return carried

    by_id = {d["id"]: d for d in docs}
    parallel = Index.create(tmp_path / "parallel")
    session(parallel, 2)
    single = Index.create(tmp_path / "single")
    session(single, 1)
    assert moved
    assert all((after[name] is not None) == (case == "thief writing") for name in moved)
    if case == "the first chunk is cut":  # the end of the first chunk was cut off, not the end of the last one
        assert set(next(iter(moved.values()))) < first_chunk | {d["id"] for d in docs[60:100]}
    model = {d["id"]: d for d in docs if d["id"] not in (docs[-40]["id"], docs[50]["id"], docs[-2]["id"], late[0])}
    model[changed["id"]] = changed
    model[late[1]] = {**by_id[late[1]], "body": "kereta api"}
    assert {d["id"]: d for d in parallel.documents()} == model
    reader = parallel.reader()
    assert len(reader.segments) >= 3
    ids_moved = (changed["id"], late[1])
    order = [d["id"] for d in docs if d["id"] in model and d["id"] not in ids_moved] + list(ids_moved)
    assert [i for segment in reader.segments for i, live in zip(segment.ids, segment.live) if live] == order
    reader.close()
    for q in QUERIES:
        assert ranking(parallel.search(q, limit=50)) == ranking(single.search(q, limit=50)), q


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_worker_that_fails_with_a_chunk_queued_for_it_fails_the_commit_and_loses_nothing(
    tmp_path: Path, docs: list[dict], monkeypatch: pytest.MonkeyPatch, how: str
):
    """A worker that fails while it writes its segment, with the end of another worker's chunk queued for
    it, fails the commit (naming the worker's error, or its death) instead of hanging; the index keeps its
    last commit, and the next session indexes everything."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    import os
    import time

    import idsearch.writer as writer_module

    parent = os.getpid()
    real_write = writer_module.SegmentBuilder.write
    real_submit = writer_module._WorkerPool.submit
    queued: list[int] = []

    def failing_write(self, directory, name):
        if os.getpid() != parent and self.ids[0] == docs[1]["id"]:  # the first chunk's worker
            time.sleep(0.3)
            if how == "dies":
                os._exit(1)
            raise OSError("disk on fire")
        return real_write(self, directory, name)

    def submit(self, directory, name, docs_, **kw):
        if kw.get("after") is not None:
            queued.append(kw["after"])
        return real_submit(self, directory, name, docs_, **kw)

    slow_worker_batches(monkeypatch)
    monkeypatch.setattr(writer_module.SegmentBuilder, "write", failing_write)
    monkeypatch.setattr(writer_module._WorkerPool, "submit", submit)
    index = Index.create(tmp_path / "i")
    with index.writer(workers=1) as w:
        w.add(docs[0])
    w = index.writer(workers=2, chunk_mb=0.1)
    for d in docs[1:]:
        w.add(d)
    with pytest.raises(IndexError_, match="died" if how == "dies" else "disk on fire"):
        w.commit()
    w.rollback()
    w.close()
    assert queued  # the failing worker had the end of the other worker's chunk queued
    monkeypatch.undo()
    assert [d["id"] for d in index.documents()] == [docs[0]["id"]]
    with index.writer(workers=2, chunk_mb=0.1) as w:
        for d in docs[1:]:
            w.add(d)
    assert {d["id"] for d in index.documents()} == {d["id"] for d in docs}


def test_a_worker_that_builds_past_where_it_was_to_stop_fails_the_commit(
    tmp_path: Path, docs: list[dict], monkeypatch: pytest.MonkeyPatch
):
    """The writer checks that every worker built the documents its chunk holds after a cut: a worker that
    ignored where it was to stop (its segment and the next one would hold the same documents) fails the
    commit, which leaves the index as it was."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    import idsearch.writer as writer_module

    def build_everything(builder, docs_, progress, parent_pid):
        for start in range(0, len(docs_), 4):
            builder.add_many(docs_[start : start + 4])

    slow_worker_batches(monkeypatch)
    monkeypatch.setattr(writer_module, "_build_claimed", build_everything)
    index = Index.create(tmp_path / "i")
    w = index.writer(workers=2, chunk_mb=0.1)
    for d in docs:
        w.add(d)
    with pytest.raises(IndexError_, match="documents of segment"):
        w.commit()
    w.rollback()
    w.close()
    assert len(Index.open(tmp_path / "i")) == 0


def test_the_lock_of_the_workers_claims_is_not_waited_for_forever(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The parent does not cut a worker's chunk when the lock of its claims is held (by the worker, dead
    while it held it), and cuts another worker's chunk meanwhile (each worker's claims have a lock of their
    own); a worker whose parent died holding the lock exits instead of waiting."""
    import threading

    import idsearch.writer as writer_module
    from idsearch.writer import Prepared, SegmentBuilder, _build_claimed, _WorkerPool

    monkeypatch.setattr(writer_module, "_LOCK_SECONDS", 0.05)
    index = Index.create(tmp_path / "i")
    pool = _WorkerPool(2, index.schema, index.analyzer)  # (no worker is started before a chunk needs one)
    pool._busy = {0: 7, 1: 8}
    for numbers in pool._progress:  # as submitting a chunk leaves them
        numbers.get_obj()[:] = [0, writer_module._NO_STOP]
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with pool._progress[0].get_lock():
            held.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    try:
        assert pool.stop_early(7, lambda claimed: claimed + 1) is None
        assert pool._progress[0].get_obj()[1] == writer_module._NO_STOP  # no stop was set
        assert pool.stop_early(8, lambda claimed: claimed + 2) == 2 == pool._progress[1].get_obj()[1]
        builder = SegmentBuilder(index.schema, index.analyzer)
        docs = [Prepared("d1", b"{}", ("kereta api",), (), ())]
        with pytest.raises(SystemExit):
            _build_claimed(builder, docs, pool._progress[0], parent=-1)
        assert len(builder) == 0
    finally:
        release.set()
        holder.join()
    assert pool.stop_early(7, lambda claimed: claimed + 1) == 1


def test_a_waiting_chunk_is_split_anywhere_and_measured_in_bytes():
    """``_Waiting.split`` cuts at any document, inside a pickled block or a list one, or between blocks;
    ``bytes_from`` and ``first_of_last`` count documents of a block as equal in size."""
    import pickle

    from idsearch.writer import Prepared, _Waiting, doc_bytes

    def chunk(pickled: bool) -> _Waiting:
        prepared = [Prepared(f"d{i}", b"x" * (10 + i), ("t",), (), ()) for i in range(10)]
        blocks = [prepared[0:4], prepared[4:7], prepared[7:10]]
        sizes = [sum(map(doc_bytes, b)) for b in blocks]
        payload = [pickle.dumps(b) if pickled else b for b in blocks]
        return _Waiting("s1", [p.doc_id for p in prepared], payload, [4, 3, 3], sizes)

    def docs_of(waiting: _Waiting) -> list[str]:
        return [p.doc_id for b in waiting.blocks for p in (pickle.loads(b) if isinstance(b, bytes) else b)]

    for pickled in (True, False):
        for n in range(1, 10):
            head = chunk(pickled)
            total = head.nbytes
            rest = head.split(n, "s2")
            assert docs_of(head) == head.ids == [f"d{i}" for i in range(n)]
            assert docs_of(rest) == rest.ids == [f"d{i}" for i in range(n, 10)]
            assert sum(head.counts) == n and sum(rest.counts) == 10 - n and 0 not in head.counts + rest.counts
            assert head.nbytes + rest.nbytes == total
            assert head.nbytes == sum(10 + i for i in range(n)) and rest.name == "s2"
            assert all(isinstance(b, bytes) == pickled for b in head.blocks + rest.blocks)
    waiting = chunk(True)
    assert waiting.bytes_from(0) == waiting.nbytes and waiting.bytes_from(10) == 0
    assert waiting.bytes_from(7) == waiting.sizes[2] and waiting.bytes_from(2) == waiting.sizes[0] / 2 + sum(waiting.sizes[1:])
    for first in range(11):
        assert waiting.first_of_last(waiting.bytes_from(first)) == first


def test_the_first_chunks_of_a_session_are_smaller(tmp_path: Path):
    """A quarter chunk for all workers but one, then whole chunks: every worker starts soon."""
    index = Index.create(tmp_path / "i")
    for workers, sizes in ((2, [1, 4, 4]), (4, [1, 1, 1, 4, 4])):
        with index.writer(workers=workers, chunk_mb=4 / 1024) as w:
            assert [w._chunk_limit_after(closed) // 1024 for closed in range(len(sizes))] == sizes
    if "fork" not in multiprocessing.get_all_start_methods():
        return
    from idsearch.writer import doc_bytes

    docs = make_docs(200)
    with index.writer(workers=2, chunk_mb=16 / 1024) as w:
        for d in docs:
            w.add(d)
        prepared = [w._prepare(d["id"], d, defer=True) for d in docs]
    reader = index.reader()
    first = reader.segments[0]
    sizes = [doc_bytes(p) for p in prepared[: len(first.ids)]]
    assert first.ids == [d["id"] for d in docs[: len(first.ids)]]
    reader.close()
    assert sum(sizes[:-1]) < 4 * 1024 <= sum(sizes)  # closed at a quarter of 16 KB


def test_spawned_workers_match_single_process(tmp_path: Path, docs: list[dict], monkeypatch: pytest.MonkeyPatch):
    """Where fork is not used (macOS, Windows), workers are spawned and every chunk is pickled to them."""
    import idsearch.writer as writer_module

    monkeypatch.setattr(writer_module, "START_METHOD", "spawn")
    started: list[object] = []
    real_start = writer_module._WorkerPool._start_worker

    def start(self, first):
        assert first is None and not self.fork
        started.append(first)
        return real_start(self, first)

    monkeypatch.setattr(writer_module._WorkerPool, "_start_worker", start)
    subset = docs[:120]
    parallel = build(tmp_path / "parallel", subset, batches=1, workers=2, chunk_mb=0.002)
    assert started and parallel.stats().segments > 2
    single = build(tmp_path / "single", subset, batches=1, workers=1)
    for q in QUERIES:
        assert ranking(parallel.search(q, limit=50)) == ranking(single.search(q, limit=50)), q
    reader = parallel.reader()
    assert [i for segment in reader.segments for i in segment.ids] == [d["id"] for d in subset]


def test_parallel_rollback_with_chunks_in_workers_and_waiting(tmp_path: Path, docs: list[dict]):
    """Tiny chunks: some reach workers, some wait (pickled) for one; a rollback drops them all, leaves no
    file behind, and the same writer goes on to commit a clean session."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    index = build(tmp_path / "p", docs[:10], batches=1)
    before = {f.name for f in index.path.iterdir()}
    w = index.writer(workers=2, chunk_mb=0.002)
    try:
        for d in docs[10:]:
            w.add(d)
        assert w._ready or w._tasks  # chunks went out or are waiting
        w.rollback()
        assert {f.name for f in index.path.iterdir()} == before
        assert len(index) == 10
        for d in docs[10:20]:
            w.add(d)
        w.commit()
    finally:
        w.close()
    assert len(index) == 20
    single = build(tmp_path / "s", docs[:20], batches=1)
    for q in QUERIES:
        assert ranking(index.search(q, limit=20)) == ranking(single.search(q, limit=20)), q


def test_parallel_session_with_known_stems_writes_the_word_cache_while_workers_run(tmp_path: Path, docs: list[dict]):
    """Stems known (an analyzer that indexed before): the word cache of the next commit is written while the
    workers finish, complete; a rollback removes it; a later commit with new words writes them too."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    warm = build(tmp_path / "warm", docs, batches=1).analyzer
    index = Index.create(tmp_path / "p", analyzer=warm)
    w = index.writer(workers=2, chunk_mb=0.005)
    try:
        for d in docs:
            w.add(d)
        w.flush()
        early = [f.name for f in index.path.iterdir() if f.name.startswith("words")]
        assert early == ["words1.json"]  # written before the commit, named for it
        w.rollback()
        assert not [f for f in index.path.iterdir() if f.name.startswith("words")]
        for d in docs:
            w.add(d)
        w.commit()
        w.add({"id": "n1", "body": "kepenulisan"})  # a word no worker knows
        w.commit()
    finally:
        w.close()
    manifest = json.loads((index.path / "manifest.json").read_text())
    words = json.loads((index.path / manifest["words"]).read_text())
    assert set(warm.word_cache) <= set(words["words"]) and "kepenulisan" in words["words"]
    assert len(index) == len(docs) + 1


def test_word_cache_file_is_the_json_of_the_whole_cache_when_encoded_in_parts(tmp_path: Path, docs: list[dict]):
    """In one process the word cache is encoded part by part, for every writer of the analyzer: a commit
    encodes only the words new since the last one, even in a new writer, and the file is still exactly
    ``json.dumps`` of every word and its terms, in the cache's order."""
    from idsearch.writer import vocabulary_of

    index = Index.create(tmp_path / "w")
    encoded = vocabulary_of(index.analyzer).encoded
    w = index.writer(workers=1)
    try:
        for d in docs:
            w.add(d)
        w.commit()
        parts = len(encoded)
        w.add({"id": "n1", "body": "kepenulisan"})
        w.commit()
        assert len(encoded) == parts + 1 == 2  # the second commit encoded only what was new
    finally:
        w.close()
    with index.writer(workers=1) as w:
        w.add({"id": "n2", "body": "penulisnya"})
    assert len(encoded) == 3 and encoded[-1] == ('"penulisnya"', '"tulis"')  # a new writer, too
    cache = index.analyzer.word_cache
    manifest = json.loads((index.path / "manifest.json").read_text())
    text = (index.path / manifest["words"]).read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False)
    assert data["words"] == list(cache) and data["terms"] == ["\t".join(cache[x]) for x in cache]
    assert data["words"][-2:] == ["kepenulisan", "penulisnya"]


def test_workers_words_go_to_the_file_as_they_came_and_are_learned_later(
    tmp_path: Path, docs: list[dict], monkeypatch: pytest.MonkeyPatch
):
    """The words new to a worker come as the JSON text the word cache file holds: the writing process puts
    them in the file without decoding them (a word two workers met is there twice, with the same terms),
    and takes them into its cache only when it analyzes again (a later writer), so that it stems only
    words nobody met."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    import idsearch.writer as writer_module
    from idsearch.writer import words_known

    index = Index.create(tmp_path / "w")
    analyzer = index.analyzer
    with index.writer(workers=1) as w:
        w.add({"id": "first", "body": "banjir di jakarta"})  # this process's own words
    own = dict(analyzer.word_cache)
    with index.writer(workers=2, chunk_mb=0.005) as w:
        for d in docs:
            w.add(d)
    assert "pertemuan" not in analyzer.word_cache  # not decoded here
    known = words_known(analyzer)
    manifest = json.loads((index.path / "manifest.json").read_text())
    text = (index.path / manifest["words"]).read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False) and len(data["words"]) == len(data["terms"])
    assert known == len(data["words"])  # this process's words and each worker's, all in the file
    pairs = list(zip(data["words"], data["terms"]))
    assert {(word, "\t".join(terms)) for word, terms in own.items()} <= set(pairs)
    assert len(set(pairs)) < len(pairs)  # words more than one worker met
    assert len(set(data["words"])) == len(set(pairs))  # ... with the same terms
    assert {"pertemuan", "anak-anak"} <= set(data["words"])
    for word, terms in set(pairs):
        assert terms == "\t".join(Analyzer(analyzer.spec).word_terms(word)), word
    calls = analyzer.stem_calls
    monkeypatch.setattr(writer_module, "WORD_CACHE_AFTER_DOCS", 1)  # a session this small, too
    with index.writer(workers=1) as w:
        w.add({"id": "n1", "body": "pertemuan presiden kepenulisan"})  # learns the workers' words first
    assert analyzer.word_cache["pertemuan"] == ("temu",)
    assert analyzer.stem_calls == calls + 1  # "kepenulisan" only
    assert words_known(analyzer) == len(analyzer.word_cache) == len(set(data["words"])) + 1
    manifest = json.loads((index.path / "manifest.json").read_text())
    data = json.loads((index.path / manifest["words"]).read_text(encoding="utf-8"))
    assert data["words"] == list(analyzer.word_cache)  # written from the cache again: each word once
    reopened = Index.open(index.path)
    with reopened.writer(workers=1) as w:
        w.add({"id": "n2", "body": "pertemuan kepenulisan"})
    assert reopened.analyzer.stem_calls == 0


def test_word_cache_is_persisted_so_large_sessions_stem_only_new_words(
    tmp_path: Path, docs: list[dict], monkeypatch: pytest.MonkeyPatch
):
    """A session that analyzes WORD_CACHE_AFTER_DOCS documents reads the index's word cache file first and
    stems only words the index never met; a smaller one does not read it (reading costs more than stemming
    its words) and leaves it as it is."""
    import idsearch.writer as writer_module

    build(tmp_path / "i", docs, batches=1)
    manifest = json.loads((tmp_path / "i" / "manifest.json").read_text())
    small = Index.open(tmp_path / "i")
    with small.writer(workers=1) as w:
        w.add({"id": "n0", "body": "pertemuan presiden penulisnya Presiden"})
    assert small.analyzer.stem_calls == 3 and "kepenulisan" not in small.analyzer.word_cache
    after = json.loads((tmp_path / "i" / "manifest.json").read_text())
    assert after["words"] == manifest["words"] and after["generation"] == manifest["generation"] + 1
    assert [h.id for h in small.search("penulis")] == ["n0"]

    monkeypatch.setattr(writer_module, "WORD_CACHE_AFTER_DOCS", 2)
    reopened = Index.open(tmp_path / "i")
    with reopened.writer(workers=1) as w:
        w.add({"id": "n1", "body": "pertemuan presiden kepenulisan Presiden"})
        w.add({"id": "n2", "body": "pertemuan"})
    # only the word not seen before went through the stemmer
    assert reopened.analyzer.stem_calls == 1
    assert reopened.analyzer.word_cache["kepenulisan"] == ("tulis",)
    words = json.loads((tmp_path / "i" / json.loads((tmp_path / "i" / "manifest.json").read_text())["words"]).read_text())
    assert "kepenulisan" in words["words"]
    # the same analyzer's next session knows the file it wrote: nothing is read or stemmed again
    with reopened.writer(workers=1) as w:
        w.add({"id": "n3", "body": "kepenulisan pertemuan"})
        w.add({"id": "n4", "body": "presiden"})
    assert reopened.analyzer.stem_calls == 1


def test_a_word_cache_file_replaced_under_the_same_name_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A process remembers which word cache file its analyzer holds by name and size: a file of that name
    written by another process since (an index created anew at the same path) is read, not trusted."""
    import idsearch.writer as writer_module

    monkeypatch.setattr(writer_module, "WORD_CACHE_AFTER_DOCS", 1)
    index = Index.create(tmp_path / "i")
    with index.writer(workers=1) as w:
        w.add({"id": "a", "body": "pertemuan"})
    name = json.loads((index.path / "manifest.json").read_text())["words"]
    (index.path / name).write_text(json.dumps({"words": ["pertemuan", "zzkata"], "terms": ["temu", "zzakar"]}))
    with index.writer(workers=1) as w:
        w.add({"id": "b", "body": "lain"})
    assert index.analyzer.word_cache["zzkata"] == ("zzakar",)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_writer_resuming_after_its_commits_knows_what_a_new_session_reads(
    tmp_path: Path, docs: list[dict], workers: int
):
    """After each commit a writer starts its next session from what it knew, reading only the segments that
    session wrote: the place and checksum of every id must equal what a session that reads every segment
    anew finds, through adds, updates, unchanged updates, deletes and the merges of many commits; and the
    index must hold what a plain dict of the documents holds."""
    if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("worker processes use fork here")
    rng = random.Random(11 + workers)
    index = Index.create(tmp_path / "i")
    model: dict[str, dict] = {}
    w = index.writer(workers=workers, chunk_mb=0.002)
    merged = 0
    try:
        for _commit in range(2 * IndexWriter.MERGE_FACTOR + 3):
            touched = set()  # (a document added this session by a worker has no checksum yet: not skipped)
            for _ in range(rng.randrange(1, 14)):
                roll = rng.random()
                if roll < 0.55 or not model:
                    doc = {**rng.choice(docs), "id": f"x{rng.randrange(80)}"}
                    w.update(doc)
                    model[doc["id"]] = doc
                    touched.add(doc["id"])
                elif roll < 0.75:
                    doc_id = rng.choice(sorted(model))
                    assert w.update(model[doc_id]) == "skipped" or doc_id in touched
                else:
                    doc_id = rng.choice(sorted(model))
                    assert w.delete(doc_id)
                    del model[doc_id]
            before = {e["name"] for e in w._committed} | {e["name"] for e in w._pending}
            w.commit()
            merged += bool({e["name"] for e in w._committed} - before)
            w._check_open()  # the next session, resumed
            carried = w._places()
            w._close_readers()
            w._start()  # every segment read anew
            assert w._places() == carried
            assert {d["id"] for d in index.documents()} == set(model)
    finally:
        w.close()
    assert merged >= 2  # the size-tiered merges ran in between
    for doc_id, doc in model.items():
        assert index.get(doc_id) == doc


# -- snapshots and the lock -------------------------------------------------------------------------------------------


def test_reader_keeps_its_snapshot(ix: Index, docs: list[dict]):
    snapshot = ix.reader()
    before = ranking(ix.search("kereta", limit=None, reader=snapshot))
    with ix.writer(workers=1) as w:
        for d in docs[:50]:
            w.delete(d["id"])
        w.add({"id": "k", "title": "kereta kereta kereta", "body": "kereta"})
    ix.optimize()  # the old files are gone from the directory now
    assert ranking(ix.search("kereta", limit=None, reader=snapshot)) == before
    assert ix.search("kereta")[0].id == "k"
    snapshot.close()


def test_second_writer_is_refused_clearly(ix: Index):
    with ix.writer(workers=1):
        with pytest.raises(LockError, match=r"another writer holds the write lock \(pid=\d+"):
            ix.writer(workers=1)
        with pytest.raises(LockError):
            Index.open(ix.path).writer(workers=1)
    with ix.writer(workers=1) as w:  # released afterwards
        w.delete("d0000")


def test_create_refuses_to_clobber(tmp_path: Path, ix: Index):
    with pytest.raises(IndexError_, match="an index exists already"):
        Index.create(ix.path)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("x")
    with pytest.raises(IndexError_, match="not empty"):
        Index.create(tmp_path / "junk")
    fresh = Index.create(ix.path, overwrite=True)
    assert len(fresh) == 0
    with pytest.raises(IndexError_, match="no such index"):
        Index.open(tmp_path / "nothing")


def test_no_pickle_in_index_files(ix: Index):
    import numpy as np

    for path in ix.path.glob("*.npy"):
        array = np.load(path, allow_pickle=False)
        assert array.dtype != object


# -- the shared corpus: 1 segment vs many -----------------------------------------------------------------------------


@pytest.mark.slow
def test_shared_corpus_eval_queries_stable_across_segmentations(tmp_path: Path):
    from idsearch.ingest import iter_documents

    corpus = shared_path("corpus")
    queries_path = shared_path("eval", "indosum_lead.jsonl")
    docs = list(iter_documents(sorted(corpus.glob("*.jsonl"))))
    assert len(docs) == 27861
    many = Index.create(tmp_path / "many")
    with many.writer(workers=2, chunk_mb=2.0, merge=False) as w:
        for d in docs:
            w.add(d)
    assert many.stats().segments >= 10
    queries = [json.loads(line)["query"] for line in queries_path.read_text(encoding="utf-8").splitlines()[:300]]
    before = {q: ranking(many.search(q, limit=10, syntax=False)) for q in queries}
    many.optimize()
    assert many.stats().segments == 1
    for q in queries:
        assert ranking(many.search(q, limit=10, syntax=False)) == before[q], q


def test_check_reports_a_healthy_index_and_a_damaged_one(ix: Index):
    report = ix.check()
    assert report.ok and report.documents == 300 and not report.problems
    victim = next(ix.path.glob("*.body.pos.npy"))
    victim.write_bytes(victim.read_bytes()[:-4])
    report = ix.check()
    assert not report.ok
    assert any(victim.name in problem for problem in report.problems)


@pytest.mark.parametrize("stopwords", ["none", "minimal"])
def test_batched_analysis_equals_document_by_document(tmp_path: Path, docs: list[dict], stopwords: str):
    """The writer analyzes batches in one pass (texts joined by NUL); it must yield exactly the arrays of
    analyzing each document alone: compounds, removed words, empty fields, exact forms, a NUL in a text."""
    from idsearch.analysis import Analyzer
    from idsearch.writer import Prepared, SegmentBuilder

    extra = [
        {"id": "x1", "title": "", "body": "al-Assad dan covid-19 di sela-sela KTT, Putin-nya bertemu"},
        {"id": "x2", "title": "Jum’at yang ʼ ganjil", "body": ""},
        {"id": "x3", "title": None, "body": "2.000.000 orang dan 2,5 persen pada 2/12/2024 yang pertemuan"},
    ]
    sample = [*docs[:40], *extra]
    analyzer = Analyzer(AnalyzerSpec(stopwords=stopwords))
    schema = Schema()

    def prepared() -> list:
        return [Prepared(d["id"], None, (d.get("title") or "", d.get("body") or ""), (), (), d) for d in sample]

    one, many = SegmentBuilder(schema, analyzer), SegmentBuilder(schema, analyzer)
    for p in prepared():
        one.add_many([p])  # document by document
    many.add_many(prepared())
    for field in (*schema.text_field_names, *schema.exact_fields):
        terms_one = [one.vocabulary.terms[c] for c in one.codes[field]]
        terms_many = [many.vocabulary.terms[c] for c in many.codes[field]]
        assert terms_one == terms_many, field
        assert list(one.docs[field]) == list(many.docs[field]), field
        if field in schema.text_field_names:
            assert list(one.positions[field]) == list(many.positions[field]), field
        else:
            assert field not in one.positions  # exact forms are indexed without positions
    for field in schema.text_field_names:
        assert list(one.lengths[field]) == list(many.lengths[field])
    nul = [Prepared("n", None, ("a\x00b", "kota"), (), (), {"id": "n"})]
    fallback = SegmentBuilder(schema, analyzer)
    fallback.add_many(nul)
    assert [fallback.vocabulary.terms[c] for c in fallback.codes["title"]] == ["a", "b"]


def test_builder_terms_equal_the_analyzer_document_by_document(docs: list[dict]):
    """The writer's vectorized tokenizer and batch numbering give, per document and field, the terms and
    positions of :meth:`Analyzer.analyze` (the regex path)."""
    from idsearch.analysis import Analyzer
    from idsearch.writer import Prepared, SegmentBuilder

    sample = [*docs[:60], {"id": "odd", "title": "1.5a 2.000.000a a1.5 café x-é", "body": "a\x00b abcdefghijklmnopqrstu"}]
    analyzer = Analyzer(AnalyzerSpec())
    schema = Schema()
    builder = SegmentBuilder(schema, analyzer)
    builder.add_many([Prepared(d["id"], None, (d.get("title") or "", d.get("body") or ""), (), (), d) for d in sample])
    for index, field in enumerate(schema.text_field_names):
        codes = np.frombuffer(builder.codes[field], dtype=np.int32)
        at = np.frombuffer(builder.docs[field], dtype=np.int32)
        positions = np.frombuffer(builder.positions[field], dtype=np.int32)
        for number, doc in enumerate(sample):
            text = (doc.get(field) or "").replace("\x00", " ")
            mine = at == number
            expected_terms, expected_positions = analyzer.analyze(text)
            assert [builder.vocabulary.terms[c] for c in codes[mine]] == expected_terms, (doc["id"], field)
            assert positions[mine].tolist() == expected_positions, (doc["id"], field)


def test_word_numbering_survives_folded_key_collisions(monkeypatch):
    """New words are grouped by a 64-bit fold of their 128-bit key; when two keys fold alike, they are told
    apart exactly (forced here by a fold that ignores the second half)."""
    from idsearch.analysis import Analyzer, scan_words
    from idsearch.writer import Vocabulary, _KeyTable

    monkeypatch.setattr(_KeyTable, "_MIX_HI", np.uint64(0))
    vocabulary = Vocabulary(Analyzer(AnalyzerSpec(stemmer="none")))
    text = "abcdefghi abcdefghj abcdefghi kota\x00abcdefghj kota"
    numbers = vocabulary.scan_numbers(scan_words(text)).tolist()
    words = {n: w for w, n in vocabulary.word_ids.items()}
    assert [words[n] for n in numbers] == ["abcdefghi", "abcdefghj", "abcdefghi", "kota", "\x00", "abcdefghj", "kota"]
    assert vocabulary.scan_numbers(scan_words(text)).tolist() == numbers  # now every key is in the table


def test_key_table_grows_and_finds_every_key():
    from idsearch.writer import _KeyTable

    table = _KeyTable(bits=2)
    rng = np.random.default_rng(7)
    lo = rng.integers(0, 2**63, size=3000, dtype=np.uint64)
    hi = lo % np.uint64(5)  # many equal halves
    lo, index = np.unique(lo, return_index=True)
    hi = hi[index]
    table.put(lo[:1000], hi[:1000], np.arange(1000, dtype=np.int32))
    table.put(lo[1000:], hi[1000:], np.arange(1000, len(lo), dtype=np.int32))
    assert table.get(lo, hi).tolist() == list(range(len(lo)))
    assert table.get(lo + np.uint64(1), hi).tolist().count(-1) >= len(lo) - 3  # near-misses are not found
    assert 2 * table.size <= len(table.values)


def test_a_document_scores_the_same_in_the_flat_and_the_general_path(ix: Index):
    """An OR of words is scored by the flat path; adding ``-word`` takes the general one. A document both
    return scores the same, to the last bit (one idf formula for both), when it is among the best
    ``PROXIMITY_DEPTH`` of both (scores with the proximity and lead bonuses) or of neither (BM25F alone)."""
    flat = {h.id: h for h in ix.search("kereta gempa jakarta", limit=None)}
    general = ix.search("kereta gempa jakarta -pertemuan", limit=None)
    assert len(general) > 10 and len(general) < len(flat)
    compared = 0
    for hit in general:
        reranked = hit.rank <= PROXIMITY_DEPTH
        if reranked == (flat[hit.id].rank <= PROXIMITY_DEPTH):
            assert hit.score == flat[hit.id].score, hit.id
            compared += 1
        else:  # reranked here, not among the flat query's best: the bonuses only add
            assert reranked and hit.score >= flat[hit.id].score, hit.id
    assert compared > 10


# -- documents() and export() ---------------------------------------------------------------------------------


def test_documents_and_export_give_every_live_document(tmp_path: Path):
    import gzip
    import io

    index = Index.create(tmp_path / "e.idx")
    with index.writer(workers=1) as w:
        for i in range(5):
            w.add({"id": f"d{i}", "title": f"berita {i}", "body": "isi\nbaris kedua \u00e9", "date": "2/12/2024"})
    with index.writer(workers=1) as w:
        w.delete("d1")
        w.update({"id": "d3", "title": "berita tiga, diperbarui"})
        w.add({"id": "d5", "title": "baru"})
    docs = list(index.documents())
    assert sorted(d["id"] for d in docs) == ["d0", "d2", "d3", "d4", "d5"]
    assert next(d for d in docs if d["id"] == "d3") == {"id": "d3", "title": "berita tiga, diperbarui"}
    for name in ("all.jsonl", "all.jsonl.gz"):
        assert index.export(tmp_path / name) == 5
        opener = gzip.open if name.endswith(".gz") else open
        with opener(tmp_path / name, "rb") as fh:
            assert [json.loads(line) for line in fh] == docs
    buffer = io.BytesIO()
    assert index.export(buffer) == 5 and buffer.getvalue() == (tmp_path / "all.jsonl").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.jsonl", "all.jsonl.gz", "e.idx"]


def test_a_failed_export_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from idsearch import segment as segment_module

    index = Index.create(tmp_path / "e.idx")
    with index.writer(workers=1) as w:
        for i in range(3000):
            w.add({"id": f"d{i}", "title": f"berita {i}"})
    target = tmp_path / "backup.jsonl"
    target.write_bytes(b"the previous backup\n")
    calls = []

    def failing(self, doc):
        calls.append(doc)
        if len(calls) == 2500:
            raise OSError(28, "No space left on device")
        return original(self, doc)

    original = segment_module.SegmentReader.stored_bytes
    monkeypatch.setattr(segment_module.SegmentReader, "stored_bytes", failing)
    with pytest.raises(OSError, match="No space"):
        index.export(target)
    assert target.read_bytes() == b"the previous backup\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.jsonl", "e.idx"]


# -- delete_matching ------------------------------------------------------------------------------------------


def test_delete_matching_a_query_and_filters(tmp_path: Path):
    index = Index.create(tmp_path / "d.idx")
    docs = [
        {"id": "old-spam", "title": "iklan bersponsor", "source": "spam.example", "date": "2015-06-01"},
        {"id": "new-spam", "title": "iklan bersponsor lagi", "source": "spam.example", "date": "2024-06-01"},
        {"id": "old-news", "title": "berita lama", "source": "detik.com", "date": "2015-01-01"},
        {"id": "ad", "title": "iklan biasa", "source": "detik.com", "date": "2024-01-01"},
        {"id": "undated", "title": "tanpa tanggal", "source": "detik.com"},
    ]
    with index.writer(workers=1) as w:
        for d in docs[:3]:
            w.add(d)
    with index.writer(workers=1) as w:  # a second segment
        for d in docs[3:]:
            w.add(d)
    assert index.delete_matching(source="spam.example", dry_run=True) == 2 and len(index) == 5
    assert index.delete_matching("iklan bersponsor", source="spam.example", until="2020-12-31") == 1
    assert sorted(d["id"] for d in index.documents()) == ["ad", "new-spam", "old-news", "undated"]
    assert index.delete_matching("iklan bersponsor") == 1  # every word required: not "iklan biasa"
    assert index.delete_matching(until="2015-12-31") == 1  # an undated document is never before a date
    assert sorted(d["id"] for d in index.documents()) == ["ad", "undated"]
    assert index.delete_matching("yang") == 0  # nothing to search
    assert Index.open(index.path).search("iklan", limit=None).total == 1  # committed
    with pytest.raises(ValueError, match="needs a query or a filter"):
        index.delete_matching()


# -- term lookups ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw_lookups", [0, 3, 10_000])
def test_term_lookups_from_the_file_bytes_equal_the_decoded_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw_lookups: int
):
    """A new snapshot answers its first term lookups by a binary search on the terms file's bytes; the
    same index, term by term, as the decoded list gives (UTF-8 bytes sort as code points do)."""
    from idsearch import segment as segment_module

    words = ["a", "ab", "abc", "b", "café", "cafe", "zebra", "ñandú", "\u4e2d\u6587", "\U0001f600x", "x" * 40]
    index = Index.create(tmp_path / "t.idx")
    with index.writer(workers=1) as w:
        for i, word in enumerate(words):
            w.add({"id": str(i), "title": word, "body": f"{word} kata{i}"})
    monkeypatch.setattr(segment_module, "RAW_LOOKUPS", raw_lookups)
    decoded = index.reader()
    fresh = index.reader()
    try:
        for name, field in decoded.segments[0].fields.items():
            terms = list(field.terms)
            other = fresh.segments[0].fields[name]
            probes = [*terms, "", "0", "aa", "abd", "caf", "cafz", "zz", "\uffff", "\ud800", "kata", "kata99"]
            for probe in probes:
                expected = terms.index(probe) if probe in terms else -1
                assert other.term_index(probe) == expected, (name, probe)
            assert other.terms == terms  # decoding afterwards gives the same list
    finally:
        decoded.close()
        fresh.close()
    assert {h.id for h in Index.open(index.path).search("café ñandú", limit=None)} == {"4", "7"}
