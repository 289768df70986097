"""The compiled inner loops of OR queries (``idsearch/_kernel.c``) against the numpy path they replace:
the same hits with the same scores, to the last bit, over indexes with several segments, deletes, exact
forms, three text fields, filters, field restrictions and weights; the compiled postings sort of a new
segment against its numpy reference, array for array and file for file; the analysis passes (the
tokenizer scan, the key table lookup, a batch's occurrences) against their numpy code and the stored JSON
against json's encoder, and segments byte for byte with and without them. And the kernel refuses bad
input with an exception, never a crash: index files may come from others."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import idsearch.analysis as analysis_module
import idsearch.reader as reader_module
import idsearch.segment as segment_module
from idsearch import Index
from idsearch.schema import Schema, TextField

kernel = reader_module._kernel
needs_kernel = pytest.mark.skipif(kernel is None, reason="idsearch._kernel is not built (no C compiler at install)")

# roots with affixes, so stems and exact forms differ; a few frequent words, many rare ones
ROOTS = ["temu", "banjir", "kota", "harga", "beras", "gempa", "jalan", "rumah", "sakit", "ajar", "main", "kerja",
         "presiden", "putin", "suriah", "jakarta", "bandung", "hujan", "pasar", "sekolah"]
FORMS = ["{}", "{}", "{}", "me{}", "di{}", "{}kan", "{}an", "pe{}an", "ber{}", "{}nya", "ke{}an"]


def _word(rng: random.Random) -> str:
    root = rng.choice(ROOTS[:6]) if rng.random() < 0.4 else rng.choice(ROOTS)
    return rng.choice(FORMS).format(root)


def _text(rng: random.Random, n: int) -> str:
    return " ".join(_word(rng) for _ in range(n))


def _build(path: Path, seed: int, *, three_fields: bool = False, segments: int = 3) -> Index:
    rng = random.Random(seed)
    schema = None
    if three_fields:
        schema = Schema(text_fields=(TextField("title", 2.0), TextField("lead", 1.5), TextField("body", 1.0)))
    index = Index.create(path, schema=schema) if schema else Index.create(path)
    n = 0
    for _ in range(segments):
        with index.writer(workers=1) as w:
            for _ in range(rng.randrange(30, 90)):
                doc = {"id": f"d{n}", "title": _text(rng, rng.randrange(2, 9)), "body": _text(rng, rng.randrange(5, 120)),
                       "source": rng.choice(["detik", "kompas", "tribun"]),
                       "date": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}"}
                if three_fields:
                    doc["lead"] = _text(rng, rng.randrange(3, 20))
                w.add(doc)
                n += 1
            for _ in range(rng.randrange(0, 8)):  # deletes and updates of earlier documents
                victim = f"d{rng.randrange(n)}"
                if rng.random() < 0.5:
                    w.delete(victim)
                else:
                    w.update({"id": victim, "title": _text(rng, 4), "body": _text(rng, 30), "source": "detik",
                              "date": "2024-06-01"})
    return index


def _queries(seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for n in (1, 1, 2, 2, 3, 5, 8, 12):
        for _ in range(6):
            out.append(" ".join(_word(rng) for _ in range(n)))
    out += ["temu temu pertemuan", "banjir^2 kota", "title:gempa jalan", "tidakada", "banjir tidakada"]
    return out


def _results(index: Index, reader: reader_module.IndexReader, query: str, **kw: object) -> list[tuple[str, float]]:
    return [(h.id, h.score) for h in index.search(query, reader=reader, **kw)]


def _both(index: Index) -> tuple[reader_module.IndexReader, reader_module.IndexReader]:
    compiled, plain = index.reader(), index.reader()
    plain.compiled = False
    return compiled, plain


@needs_kernel
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_compiled_and_numpy_paths_give_the_same_hits_to_the_bit(tmp_path: Path, seed: int):
    index = _build(tmp_path / "k.idx", seed)
    compiled, plain = _both(index)
    assert len(compiled.segments) >= 3 and compiled._live is not None  # several segments, with deletes
    options: list[dict[str, object]] = [
        {"limit": 10}, {"limit": None}, {"limit": 1}, {"limit": 3, "source": "detik"},
        {"limit": 10, "since": "2024-03-01", "until": "2024-09-30"}, {"limit": 10, "fields": ["title"]},
        {"limit": 10, "weights": {"title": 3.0, "body": 0.5}}, {"limit": 10, "sort": "date"},
        {"limit": 10, "weights": {"title": 0.0}},
    ]
    compared = 0
    for query in _queries(seed):
        for kw in options:
            expected = _results(index, plain, query, **kw)
            assert _results(index, compiled, query, **kw) == expected, (query, kw)
            compared += bool(expected)
    assert compared > 300


@needs_kernel
def test_three_text_fields_sum_in_field_order(tmp_path: Path):
    """Terms in three fields take the kernel's general path (fields summed one after another)."""
    index = _build(tmp_path / "k3.idx", 7, three_fields=True)
    compiled, plain = _both(index)
    for query in _queries(7):
        for kw in ({"limit": 10}, {"limit": None, "weights": {"lead": 4.0}}):
            assert _results(index, compiled, query, **kw) == _results(index, plain, query, **kw), (query, kw)


@needs_kernel
def test_one_segment_without_deletes(tmp_path: Path):
    index = _build(tmp_path / "k1.idx", 5, segments=1)
    index.optimize()
    compiled, plain = _both(index)
    for query in _queries(5):
        assert _results(index, compiled, query, limit=20) == _results(index, plain, query, limit=20), query


@needs_kernel
def test_the_kernel_refuses_bad_input_without_crashing():
    scores = np.zeros(10)
    norms = np.ones(10)
    docs = np.array([1, 3, 5], dtype=np.uint16)
    tf = np.array([1, 2, 1], dtype=np.uint8)
    ok = [(1.0, [(norms, [(docs, tf, 0, 3, 0)])])]
    assert kernel.score_or(scores, None, 10, 1.2, 0.0, ok) == [3]
    assert np.count_nonzero(scores) == 3
    bad = {
        "a document past the index": [(1.0, [(norms, [(docs, tf, 0, 3, 8)])])],
        "a run past its arrays": [(1.0, [(norms, [(docs, tf, 0, 4, 0)])])],
        "a negative start": [(1.0, [(norms, [(docs, tf, -1, 2, 0)])])],
        "docs and tf of different lengths": [(1.0, [(norms, [(docs, tf[:2], 0, 2, 0)])])],
        "float documents": [(1.0, [(norms, [(docs.astype(float), tf, 0, 3, 0)])])],
        "norms too short": [(1.0, [(norms[:4], [(docs, tf, 0, 3, 0)])])],
        "not a term": [(1.0,)],
    }
    for case, terms in bad.items():
        before = scores.copy()
        with pytest.raises((ValueError, IndexError, TypeError)):
            kernel.score_or(scores, None, 10, 1.2, 0.0, terms)
        del before, case
    with pytest.raises(ValueError):
        kernel.score_or(scores, np.ones(3, dtype=bool), 10, 1.2, 0.0, ok)  # live too short
    # the scratch state survives errors: the same good call scores the same again
    again = np.zeros(10)
    kernel.score_or(again, None, 10, 1.2, 0.0, ok)
    fresh = np.zeros(10)
    df = kernel.score_or(fresh, None, 10, 1.2, 0.0, ok)
    assert again.tolist() == fresh.tolist() and df == [3]
    known = np.zeros(10)  # a df the reader kept from an earlier call: the same scores, the same df back
    assert kernel.score_or(known, None, 10, 1.2, 0.0, [(*ok[0], 3)]) == [3] and known.tolist() == fresh.tolist()
    told = np.zeros(10)  # (the given df is what the idf is computed from)
    assert kernel.score_or(told, None, 10, 1.2, 0.0, [(*ok[0], 1)]) == [1] and told[1] > fresh[1]

    cands = np.array([5, 1], dtype=np.int64)
    pos = np.array([0, 4, 9, 2], dtype=np.uint16)
    runs = [(docs, tf, 0, 3, 0, pos, 0)]
    order = np.empty(2, dtype=np.int64)
    got = np.ones(2)
    assert kernel.rerank(got, cands, [0], [1.0], [1.0], [(2.0, [runs])], 3, 0.0, 1.0, order) == 2
    # doc 1 at position 0, doc 5 at position 2 (below 3): a lead count of 2 (the field's weight), a bonus of
    # 1 * 2 / (2 + 1) each; the tie goes to doc 1
    assert got.tolist() == [1 + 2 / 3] * 2 and order.tolist() == [1, 0]
    bad_calls = {
        "positions past the array": (cands, [0], [(1.0, [[(docs, tf, 0, 3, 0, pos, 2)]])], order),
        "a term number past the terms": (cands, [1], [(1.0, [runs])], order),
        "a field without every term's runs": (cands, [0], [(1.0, [runs]), (1.0, [runs, runs])], order),
        "a run past its arrays": (cands, [0], [(1.0, [[(docs, tf, 0, 4, 0, pos, 0)]])], order),
        "candidates not matching the scores": (cands[:1], [0], [(1.0, [runs])], order),
        "float output": (cands, [0], [(1.0, [runs])], np.empty(2)),
        "a field not a pair": (cands, [0], [(1.0,)], order),
    }
    for case, (c, terms, fields, out) in bad_calls.items():
        with pytest.raises((ValueError, IndexError, TypeError)):
            kernel.rerank(np.ones(2), c, terms, [1.0] * len(terms), [1.0] * len(terms), fields, 3, 1.0, 1.0, out)
        del case
    with pytest.raises(ValueError):  # an idf per word
        kernel.rerank(np.ones(2), cands, [0], [], [1.0], [(1.0, [runs])], 3, 1.0, 1.0, order)

    out = np.empty(3, dtype=np.int64)
    values = np.array([0.5, 2.0, 2.0, 1.0, 0.0])
    assert kernel.best_matches(values, 3, None, out) == (3, 4) and out.tolist() == [1, 2, 3]
    mask = np.array([1, 0, 1, 0, 1], dtype=bool)
    assert kernel.best_matches(values, 3, mask, out) == (3, 3) and out.tolist() == [2, 0, 4]
    with pytest.raises(ValueError):
        kernel.best_matches(values, 4, None, out)  # out too short
    with pytest.raises(ValueError):
        kernel.best_matches(values, 3, mask[:4], out)  # a mask shorter than the scores

    ranks = np.array([2, 0, 2, 1], dtype=np.int32)
    at = np.array([0, 0, 1, 1], dtype=np.int32)

    def postings_args(ranks: np.ndarray = ranks, docs: np.ndarray = at, nranks: int = 3, n: int = 4,
                      positions: bool = True) -> list[object]:
        return [ranks, docs, at if positions else None, np.empty(nranks + 1, np.int64), np.empty(n, np.int32),
                np.empty(n, np.int32) if positions else None, np.empty(n, np.int32), np.empty(n, np.int32),
                np.empty(nranks + 1, np.int64)]

    good = postings_args()
    assert kernel.postings(*good) == 4 and good[3].tolist() == [0, 1, 2, 4] and good[4].tolist() == [0, 1, 0, 1]
    bad_postings = {
        "a negative rank": postings_args(ranks=np.array([2, -1, 2, 1], dtype=np.int32)),
        "a rank past the offsets": postings_args(nranks=2),
        "documents of another length": postings_args(docs=at[:3]),
        "outputs too short": postings_args(n=3),
        "int64 ranks": postings_args(ranks=ranks.astype(np.int64)),
        "unsigned documents": postings_args(docs=at.astype(np.uint32)),
    }
    for case, args in bad_postings.items():
        with pytest.raises((ValueError, TypeError)):
            kernel.postings(*args)
        del case
    half = postings_args()
    half[5] = None  # positions without the array to sort them into
    with pytest.raises(ValueError):
        kernel.postings(*half)
    read_only = postings_args()
    read_only[6] = np.frombuffer(bytes(16), dtype=np.int32)
    with pytest.raises((ValueError, TypeError, BufferError)):
        kernel.postings(*read_only)


def _occurrences(rng: np.random.Generator, ndocs: int, nranks: int, *, zipf: bool) -> tuple[np.ndarray, ...]:
    """Term occurrences in (document, position) order, as a segment builder buffers them."""
    lengths = rng.integers(0, 60, ndocs)
    docs = np.repeat(np.arange(ndocs, dtype=np.int32), lengths)
    positions = (np.arange(len(docs)) - np.repeat(np.cumsum(lengths) - lengths, lengths)).astype(np.int32)
    if zipf:
        ranks = (rng.zipf(1.3, len(docs)) - 1) % nranks
    else:
        ranks = rng.integers(0, nranks, len(docs))
    return ranks.astype(np.int32), docs, positions


@needs_kernel
@pytest.mark.parametrize("ndocs, nranks, zipf", [(1, 1, False), (5, 3, False), (300, 40, True), (2000, 70000, True),
                                                 (3000, 200000, False), (0, 5, False)])
@pytest.mark.parametrize("with_positions", [True, False])
def test_compiled_postings_equal_the_numpy_reference(ndocs: int, nranks: int, zipf: bool, with_positions: bool):
    """Every array build_postings returns, element for element, compiled and in numpy (which sorts ranks past
    65,535 in two radix passes), with repeated words in a document, unused ranks and a single document."""
    rng = np.random.default_rng(ndocs * 7 + nranks)
    ranks, docs, positions = _occurrences(rng, ndocs, nranks, zipf=zipf)
    pos = positions if with_positions else None
    compiled = segment_module.build_postings(ranks, docs, pos)
    reference = segment_module.build_postings(ranks, docs, pos, compiled=False)
    assert len(compiled) == len(reference) == 6
    for got, want in zip(compiled, reference):
        assert (got is None) == (want is None)
        if want is not None:
            assert got.tolist() == want.tolist()
    if len(ranks):  # postings really were merged: fewer postings than occurrences when words repeat
        assert compiled[4].sum() == len(ranks) and compiled[2][-1] == len(ranks)
        if ndocs >= 300:
            assert len(compiled[3]) < len(ranks)


@needs_kernel
def test_compiled_postings_in_several_threads_at_once_equal_the_numpy_reference():
    """The kernel sorts without holding the GIL: threads building postings at once (as writers of indexes
    in several threads do) each get exactly the numpy reference's arrays."""
    import threading

    inputs = [_occurrences(np.random.default_rng(seed), 4000, 30000, zipf=seed % 2 == 0) for seed in range(6)]
    got: dict[int, tuple[np.ndarray | None, ...]] = {}

    def build(k: int) -> None:
        for _ in range(3):
            got[k] = segment_module.build_postings(*inputs[k])

    threads = [threading.Thread(target=build, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, (ranks, docs, positions) in enumerate(inputs):
        reference = segment_module.build_postings(ranks, docs, positions, compiled=False)
        assert [a is None or a.tolist() for a in got[k]] == [a is None or a.tolist() for a in reference]


@needs_kernel
def test_the_compiled_scan_refuses_bad_input_and_asks_for_unknown_characters():
    """scan_words reads a str in place; a class table, a window table or outputs that do not fit raise, a
    class out of range raises naming the character, and characters of unknown class come back, not a
    guess."""
    classes, table = analysis_module._kernel_tables()
    outs = [np.empty(16, dtype=t) for t in (np.int64, np.int64, np.bool_, np.uint64, np.uint64)]
    assert kernel.scan_words("ab 12", classes, table, *outs) == 2
    assert outs[0][:2].tolist() == [0, 3] and outs[1][:2].tolist() == [2, 2]
    assert outs[3][:2].tolist() == [int.from_bytes(b"ab", "little"), int.from_bytes(b"12", "little")]
    unknown = classes.copy()
    unknown[ord("\u00e9")] = unknown[0x1F600] = 255
    assert sorted(set(kernel.scan_words("caf\u00e9 \U0001f600 \u00e9", unknown, table, *outs))) == ["\u00e9", "\U0001f600"]
    out_of_range = classes.copy()
    out_of_range[ord("b")] = 7
    with pytest.raises(ValueError, match="U\\+0062"):
        kernel.scan_words("ab 12", out_of_range, table, *outs)
    short = [o[:5] for o in outs]  # room for len(text) + 1 words: 6
    bad = {
        "a class table of another size": ("ab", classes[:1000], table, *outs),
        "a window table that is no fourth power": ("ab", classes, table[:1000], *outs),
        "outputs too short": ("ab 12", classes, table, *short),
        "int32 starts": ("ab", classes, table, outs[0].astype(np.int32), *outs[1:]),
        "signed keys": ("ab", classes, table, *outs[:3], outs[3].astype(np.int64), outs[4]),
        "classes as uint16": ("ab", classes.astype(np.uint16), table, *outs),
        "bytes, not a str": (b"ab", classes, table, *outs),
    }
    for case, args in bad.items():
        with pytest.raises((ValueError, TypeError)):
            kernel.scan_words(*args)
        del case
    read_only = [o.copy() for o in outs]
    read_only[2].setflags(write=False)
    with pytest.raises((ValueError, TypeError)):
        kernel.scan_words("ab", classes, table, *read_only)


@needs_kernel
def test_compiled_scans_in_several_threads_at_once_equal_the_numpy_reference():
    """The scan runs without the GIL, into output arrays of its thread's own: threads scanning at once each
    get the numpy reference's words and keys."""
    import threading

    rng = random.Random(3)
    texts = ["\x00".join(_text(rng, rng.randrange(50, 400)) + rng.choice([" 2.500 caf\u00e9", " x-y", ""])
                         for _ in range(40)) for _ in range(6)]
    got: dict[int, list[list[int]]] = {}

    def arrays(scan: Any) -> list[list[int]]:
        return [getattr(scan, name).tolist() for name in ("keyed_at", "keyed_start", "keyed_length", "key_lo",
                                                          "key_hi", "other_at")] + [scan.other]

    def scan(k: int) -> None:
        for _ in range(5):
            got[k] = arrays(analysis_module.scan_words(texts[k]))

    threads = [threading.Thread(target=scan, args=(k,)) for k in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, text in enumerate(texts):
        assert got[k] == arrays(analysis_module.scan_words(text, compiled=False))


@needs_kernel
@pytest.mark.parametrize("nkeys", [0, 1, 300, 5000, 40000])
def test_compiled_key_lookup_equals_the_numpy_reference(nkeys: int):
    """The writer's key table, looked up compiled and in numpy: the same numbers for keys in it, keys not in
    it, the key (0, 0) an empty slot holds, and keys that share a home slot (a full half of the table)."""
    from idsearch.writer import _KeyTable

    rng = np.random.default_rng(nkeys)
    lo = rng.integers(0, 2**63, size=nkeys, dtype=np.uint64) * np.uint64(rng.integers(1, 3))
    hi = np.where(rng.random(nkeys) < 0.7, np.uint64(0), rng.integers(0, 2**63, size=nkeys, dtype=np.uint64))
    keys = np.unique(np.stack([lo, hi], axis=1), axis=0)
    table = _KeyTable(bits=4)
    zero = np.zeros(1, dtype=np.uint64)
    table.put(zero, zero, np.zeros(1, dtype=np.int32))  # the NUL's key, as the vocabulary has it
    keys = keys[(keys[:, 0] != 0) | (keys[:, 1] != 0)]
    table.put(keys[:, 0].copy(), keys[:, 1].copy(), np.arange(1, len(keys) + 1, dtype=np.int32))
    absent = rng.integers(1, 2**63, size=(nkeys // 3 + 5, 2), dtype=np.uint64)
    probe = np.concatenate([keys, absent, np.zeros((2, 2), dtype=np.uint64)])[rng.permutation(len(keys) + len(absent) + 2)]
    qlo, qhi = probe[:, 0].copy(), probe[:, 1].copy()
    compiled, reference = table.get(qlo, qhi), table.get(qlo, qhi, compiled=False)
    assert compiled.dtype == reference.dtype == np.int32
    assert compiled.tolist() == reference.tolist()
    assert (compiled >= 0).sum() == len(keys) + 2  # every key put, and both (0, 0)
    out = np.empty(len(qlo), dtype=np.int32)
    mix = (int(table._MIX_LO), int(table._MIX_HI))
    assert kernel.key_lookup(table.lo, table.hi, table.values, qlo, qhi, out, *mix) == int((reference < 0).sum())
    bad = {
        "a table of no power of two": (table.lo[:-1], table.hi[:-1], table.values[:-1], qlo, qhi, out),
        "keys of mismatched lengths": (table.lo, table.hi, table.values, qlo, qhi[:-1], out),
        "signed keys": (table.lo, table.hi, table.values, qlo.astype(np.int64), qhi, out),
        "int64 values": (table.lo, table.hi, table.values.astype(np.int64), qlo, qhi, out),
        "a full table": (table.lo, table.hi, np.zeros_like(table.values), qlo[:1] + np.uint64(1), qhi[:1], out[:1]),
    }
    for case, args in bad.items():
        with pytest.raises((ValueError, TypeError)):
            kernel.key_lookup(*args, *mix)
        del case


_SPLIT_TEXTS = ["jawa-bali", "ekonomi-politik", "covid-19", "dan-atau", "anak-anak", "yang-di-pertuan", "x-dan-y",
                "dan", "yang", "pertemuan", "bertemu", "kota", "2.000", "caf\u00e9"]


@needs_kernel
@pytest.mark.parametrize("exact", [True, False])
def test_compiled_occurrences_equal_the_numpy_reference(monkeypatch: pytest.MonkeyPatch, exact: bool):
    """A batch's occurrences (terms, documents, positions, lengths, exact forms), compiled and in numpy:
    split words (a position per part, removed parts keeping theirs), stopwords, empty documents."""
    import idsearch.writer as writer_module
    from idsearch.analysis import IndonesianAnalyzer

    rng = random.Random(11)
    docs = []
    for i in range(700):  # several batches: word numbers and split words carry over from batch to batch
        words = [rng.choice(_SPLIT_TEXTS) if rng.random() < 0.3 else _word(rng) for _ in range(rng.randrange(0, 40))]
        docs.append({"id": f"d{i}", "title": " ".join(words[:5]), "body": " ".join(words)})
    schema = Schema(exact=exact)

    def built() -> dict[str, list[int]]:
        analyzer = IndonesianAnalyzer(stopwords="minimal")
        builder = writer_module.SegmentBuilder(schema, analyzer)
        writer_module.SegmentBuilder.add_many(builder, [_prepared(schema, d) for d in docs])
        arrays = {f"{kind} {field}": list(getattr(builder, kind)[field])
                  for kind in ("codes", "docs", "positions", "lengths") for field in getattr(builder, kind)}
        arrays["terms"] = builder.vocabulary.terms
        return arrays

    compiled = built()
    monkeypatch.setattr(writer_module, "_kernel", None)
    reference = built()
    assert compiled.keys() == reference.keys()
    assert ("codes title.exact" in compiled) == exact
    assert [key for key in compiled if compiled[key] != reference[key]] == []
    assert len(compiled["codes body"]) > 5000


def _prepared(schema: Schema, doc: dict[str, Any]) -> Any:
    from idsearch.writer import Prepared, encode_document

    return Prepared(doc["id"], encode_document(doc["id"], doc), tuple(doc.get(f) or "" for f in schema.text_field_names),
                    (), ())


@needs_kernel
def test_compiled_occurrences_refuse_bad_input_and_say_what_room_they_need():
    i32 = np.int32

    def args(numbers: list[int], *, stem: tuple[int, ...] = (-(1 << 30), 5, -1, -2), room: int = 8, ndocs: int = 2,
             lens: tuple[int, ...] = (3,), flat: tuple[int, ...] = (7, -1, 8)) -> tuple[Any, ...]:
        lens_a = np.array(lens, dtype=np.int64)
        return (np.array(numbers, dtype=i32), np.array(stem, dtype=i32), None, lens_a, np.cumsum(lens_a) - lens_a,
                np.array(flat, dtype=i32), 10, np.full(room, -9, dtype=i32), np.full(room, -9, dtype=i32),
                np.full(room, -9, dtype=i32), np.empty(ndocs, dtype=np.uint32), None, None)

    good = args([1, 2, 3, 1, 0, 2, 1])
    # word 1: term 5; word 2: removed (a position); word 3: split into terms 7, (removed), 8 over 3 positions
    assert kernel.occurrences(*good) == (5, 0)
    assert good[7][:5].tolist() == [5, 7, 8, 5, 5]
    assert good[8][:5].tolist() == [10, 10, 10, 10, 11]
    assert good[9][:5].tolist() == [0, 2, 4, 5, 1]
    assert good[10].tolist() == [4, 1]
    small = args([1, 2, 3, 1, 0, 2, 1], room=2)
    assert kernel.occurrences(*small) == (5, 0)  # what it needs; it wrote only what fits
    assert small[7].tolist() == [5, 7]
    bad = {
        "a word number past the vocabulary": args([1, 4]),
        "a negative word number": args([-1]),
        "a split word past the table": args([1], stem=(0, -3)),
        "more documents than lengths": args([1, 0, 1, 0, 1]),
        "a split word's parts past the parts": args([3], flat=(7, 8)),
        "int64 numbers": (np.array([1], dtype=np.int64), *args([1])[1:]),
        "exact codes without their outputs": args([1])[:2] + (np.array([-1, -1, -1, -1], dtype=i32),) + args([1])[3:],
    }
    for case, call in bad.items():
        with pytest.raises((ValueError, TypeError)):
            kernel.occurrences(*call)
        del case


_JSON_VALUES = st.one_of(st.text(), st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                         st.floats(allow_nan=True), st.lists(st.integers(), max_size=2))


@needs_kernel
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _JSON_VALUES, max_size=6))
def test_compiled_json_equals_the_json_encoder(doc: dict[str, Any]):
    """A stored document's bytes from the kernel are the JSON encoder's, or the kernel declines (floats,
    lists, lone surrogates) and the encoder decides, raising as before where it did."""
    from idsearch.writer import _ENCODER, DocumentError, encode_document

    compiled = kernel.json_object(doc)
    try:
        expected = _ENCODER.encode(doc).encode("utf-8")
    except UnicodeEncodeError:
        expected = None
        with pytest.raises(DocumentError):
            encode_document("d", doc)
    if compiled is not None:
        assert compiled == expected
    else:
        assert expected is None or any(not isinstance(v, (str, bool, int, type(None))) for v in doc.values())
    if expected is not None:
        assert encode_document("d", doc) == expected


@needs_kernel
def test_compiled_json_of_every_kind_of_character():
    from idsearch.writer import _ENCODER

    text = "".join(map(chr, range(0x300))) + "\u2028\u2029\uffff\U0001f600 \"\\/"
    for doc in ({"body": text, "n": None, "t": True, "f": False, "i": -12, text: text}, {}, {"a": ""}):
        assert kernel.json_object(doc) == _ENCODER.encode(doc).encode("utf-8")
    for declined in ({"a": 1.5}, {"a": "\ud800"}, {"a": [1]}, {1: "a"}, [("a", "b")], "a"):
        assert kernel.json_object(declined) is None


@needs_kernel
def test_segments_are_the_same_files_with_and_without_the_compiled_analysis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An index built with the compiled scan, key lookup and occurrences and one built with their numpy code:
    the same files, byte for byte."""
    def files(index: Index) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(index.path.iterdir())
                if p.suffix in (".npy", ".txt", ".bin", ".dict", ".json")}

    import idsearch.writer as writer_module

    compiled = files(_build(tmp_path / "compiled", 8, segments=2))
    monkeypatch.setattr(analysis_module, "_kernel", None)
    monkeypatch.setattr(writer_module, "_kernel", None)
    plain = files(_build(tmp_path / "plain", 8, segments=2))
    assert compiled.keys() == plain.keys() and len(compiled) > 20
    assert [name for name in compiled if compiled[name] != plain[name]] == []


@needs_kernel
def test_segments_are_the_same_files_with_and_without_the_compiled_postings_sort(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Segments written (and merged, by optimize) through the kernel are byte for byte those numpy writes."""
    def files(index: Index) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(index.path.iterdir())
                if p.suffix in (".npy", ".txt", ".bin", ".dict")}

    def written(name: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
        index = _build(tmp_path / name, 5, segments=3)
        built = files(index)
        index.optimize()
        return built, files(index)

    compiled = written("compiled")
    monkeypatch.setattr(segment_module, "_kernel", None)
    plain = written("plain")
    for got, want in zip(compiled, plain):
        assert got.keys() == want.keys() and len(got) > 20
        assert [name for name in got if got[name] != want[name]] == []
    assert compiled[0].keys() != compiled[1].keys()  # optimize wrote a merged segment


@needs_kernel
@pytest.mark.parametrize("n, k", [(0, 5), (7, 10), (1000, 10), (3200, 100), (5000, 100), (70000, 100), (70000, 1)])
@pytest.mark.parametrize("shape", ["random", "rising", "flat", "few"])
def test_compiled_best_matches_equal_a_full_sort(n: int, k: int, shape: str):
    """Both ways of the kernel (a heap; a sampled bound for many scores) against a full sort of the matches
    (the scores above 0), ties by index."""
    rng = np.random.default_rng(n + k)
    values = np.where(rng.random(n) < 0.3, rng.integers(0, 50, n) / 7.0, 0.0)  # many ties, many zeros
    if shape == "rising":  # scores that grow along the documents: the worst case for a heap
        values = np.sort(values)
    elif shape == "flat":
        values = np.ones(n)
    elif shape == "few":  # fewer matches than k above a sampled bound
        values = np.zeros(n)
        values[rng.integers(0, max(n, 1), min(n, k // 2 + 1))] = 2.0
    out = np.empty(k, dtype=np.int64)
    count, total = kernel.best_matches(values, k, None, out)
    matches = np.flatnonzero(values > 0)
    expected = matches[np.lexsort((matches, -values[matches]))][:k]
    assert (out[:count].tolist(), total) == (expected.tolist(), len(matches))



@needs_kernel
@pytest.mark.parametrize("n, k", [(0, 5), (7, 10), (1000, 10), (3200, 100), (5000, 100), (70000, 100), (70000, 1)])
@pytest.mark.parametrize("shape", ["random", "rising", "flat", "few", "none"])
@pytest.mark.parametrize("masked", [False, True])
def test_compiled_best_matches_equal_the_numpy_selection(n: int, k: int, shape: str, masked: bool):
    """The matches' number and best k, counted and selected in one call, as the numpy path finds them
    (unmasked: the documents scoring above 0; masked: those a filter admits)."""
    rng = np.random.default_rng(n * 3 + k)
    values = np.where(rng.random(n) < 0.3, rng.integers(1, 50, n) / 7.0, 0.0)  # many ties, many zeros
    if shape == "rising":
        values = np.sort(values)
    elif shape == "few":  # fewer matches than k
        values = np.zeros(n)
        values[rng.integers(0, max(n, 1), min(n, k // 2 + 1))] = 2.0
    elif shape == "flat":
        values = np.ones(n)
    elif shape == "none":
        values = np.zeros(n)
    mask = (values > 0) & (rng.random(n) < 0.5) if masked else None
    out = np.empty(k, dtype=np.int64)
    count, total = kernel.best_matches(values, k, mask, out)
    docs, scores, expected_total = reader_module._best_in_numpy(values, mask, k, masked)
    assert (out[:count].tolist(), total) == (docs.tolist(), expected_total)
    assert values[out[:count]].tolist() == scores.tolist()


def _fixed_selection(scores: np.ndarray, segs: np.ndarray, docs: np.ndarray, n: int,
                     ) -> Callable[[int | None], tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """A ``select`` for ``IndexReader._rerank`` that gives these matches whatever the depth (a fresh copy of
    the scores each time: the rerank adds into them)."""
    return lambda depth: (scores.copy(), segs, docs, n)


@needs_kernel
@pytest.mark.parametrize("limit", [None, 0, 1, 10, 60])
def test_compiled_rerank_equals_the_numpy_reference(tmp_path: Path, limit: int | None):
    """The compiled rerank against the numpy path's bonuses and order, to the bit: random candidates of
    several segments, scores with many ties, queries with repeated and adjacent equal words, boosts."""
    index = _build(tmp_path / "r.idx", 11)
    compiled, plain = _both(index)
    total_docs = int(compiled._bases[-1])
    fields = tuple(index.schema.text_field_names)
    rng = np.random.default_rng(11)
    pyrng = random.Random(11)
    vocabulary = sorted({t for w in ROOTS for t in index.analyzer.terms(w)})
    bonused = 0
    for _draw in range(60):
        n = int(rng.integers(1, 80))
        where = rng.choice(total_docs, n, replace=False).astype(np.int64)
        segs = np.searchsorted(compiled._bases, where, side="right") - 1
        docs = where - compiled._bases[segs]
        scores = rng.integers(0, 6, n) / 4.0  # many ties
        words = [reader_module.TermNode(pyrng.choice(vocabulary[:8]), fields, float(pyrng.choice([1.0, 1.0, 2.5])))
                 for _ in range(pyrng.randrange(1, 9))]
        idf = [float(x) for x in rng.random(len(words)) * 3]

        select = _fixed_selection(scores, segs, docs, n)
        got = compiled._rerank(select, words, idf, limit, compiled._default_weights)
        expected = plain._rerank(select, words, idf, limit, plain._default_weights)
        assert [a.tobytes() for a in got[:3]] == [a.tobytes() for a in expected[:3]]
        assert got[3] == expected[3]
        bonused += bool(len(got[0])) and got[0].sum() > np.sort(scores)[::-1][: len(got[0])].sum()
    assert limit == 0 or bonused > 20  # (most draws earn bonuses: the comparison is not of bare scores)


def test_the_kernel_is_built_where_a_compiler_is():
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here: queries run the numpy path")
    assert kernel is not None, "a C compiler is at hand but idsearch._kernel was not built (pip install -e . builds it)"


def test_without_the_kernel_searches_still_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    index = _build(tmp_path / "n.idx", 9, segments=2)
    expected = _results(index, index.reader(), "banjir kota jakarta", limit=5)
    monkeypatch.setattr(reader_module, "_kernel", None)
    assert _results(index, index.reader(), "banjir kota jakarta", limit=5) == expected
