/* idsearch._kernel: the inner loops of an OR query, of a batch's analysis, and the sort of a new segment's
   postings, compiled.

   The reader's numpy code (IndexReader._scores_flat, _with_bonuses, reader._best_in_numpy) is the reference: these functions
   do the same floating-point operations in the same order, so scores are bit-identical (tests/test_kernel.py
   compares both; build without -ffast-math and without fused multiply-add). They read the segments' arrays
   in place (any integer width, through the buffer protocol: memory maps included, nothing is copied),
   check every index they follow, and write only into arrays the caller allocated. score_or, rerank and
   best_matches hold the GIL from start to end, so the module's growable scratch buffers serve all threads
   in turn; postings and the analysis functions (scan_words, key_lookup, occurrences) use no module state
   and let other threads run while they work on plain arrays. For the analysis functions, the numpy code
   beside their callers (analysis.scan_words, writer._KeyTable.get, writer.SegmentBuilder._index_batch) is
   the reference: the same arrays, element for element.

   score_or(scores, live, n_docs, k1, delta, terms) -> [df per term]
       terms: [(boost, fields[, df])]; fields: [(norms, runs)], in the term's field order; runs: one
       (docs, tf, first, end, base) per segment with the term: its postings are docs[first:end], numbered
       from base in the reader's one space of documents (segment after segment).
       Per term: tf~(doc) = the sum over its fields of norms[doc] * tf (live documents only; live may be None),
       df = the documents with a tf~ (unless given: the df an earlier call returned for the same term and
       fields of the same snapshot), idf = log1p((n_docs - df + 0.5) / (df + 0.5)), and
       scores[doc] += (tf~ / (tf~ + k1) + delta) * (k1 + 1) * (boost * idf), term after term. With one or
       two fields the larger is streamed from the segment's arrays and the other merged in on the way (a sum
       of two does not depend on their order); three or more are summed in vectors, in field order.

   rerank(scores, cands, terms, idf, boosts, fields, window, proximity, lead, out) -> count
       The best BM25F matches reranked with the proximity and lead bonuses of the query's words. scores
       (float64, one per match, bonuses added in place) and cands (their documents in the reader's one
       space, distinct); per word of the query in its order: terms (its term's number), idf, boosts; fields:
       (weight, runs per term), runs being (docs, tf, first, end, base, positions, where the term's positions
       start). Per field, a term whose first position is below window (window < 0 or lead 0: no lead
       bonus) counts the field's weight for that term, and every place where a pair's second word directly
       follows its first counts it for the pair (pairs: adjacent words of different terms, none when
       proximity is 0); then scores += proximity * sum over pairs of w * c / (c + 1) (w: the mean idf of the
       pair's words) and += lead * the same over words (w: boost * idf), scoring.saturated_sum's operations.
       The indices of the best len(out) matches, best first, ties by document, are written into out (int64);
       returns how many.

   postings(ranks, docs, positions, offsets, sorted_docs, sorted_positions, pdocs, ptf, term_postings) -> count
       A segment's term occurrences turned into postings, segment.build_postings's numpy code being the
       reference (the same arrays, element for element).

   best_matches(scores, k, mask, out) -> (count, matches)
       The matches are the documents mask admits, or (None) those scoring above 0, and matches is their
       number (what the numpy path counts with count_nonzero); the indices of the k best of them, best
       first, ties by lower index, are written into out (int64).

   json_object(doc) -> bytes or None
       A dict of str keys whose values are str, None, bool or int, as json.dumps(doc, ensure_ascii=False,
       separators=(",", ":")) encoded in UTF-8 (writer.encode_document's encoder is the reference: the same
       bytes): None for any other object (a float, a list, a date...), or when a string holds a lone
       surrogate (not UTF-8), for the caller's encoder to handle. It holds the GIL (it reads the dict).

   occurrences(numbers, stem_codes, exact_codes, multi_len, multi_start, multi_flat, base, codes, docs,
               positions, lengths, exact_out, exact_docs) -> (count, exact count)
       A batch's words (numbers, int32: word numbers, 0 the separator that starts the next document) turned
       into term occurrences, writer.SegmentBuilder._index_batch's numpy code being the reference (the same
       arrays, element for element). Per word its stem_codes entry: a term id (one occurrence), -1 (removed:
       it keeps its position) or -2 - k (split word k: multi_flat[multi_start[k]:][:multi_len[k]], a position
       per part, -1 parts removed). Writes each occurrence's term, document (numbered from base) and position
       in its document into codes, docs and positions (as far as they have room: the counts returned are
       what they need), every document's occurrence count into lengths (one per document of the batch), and
       with exact_codes (None: no exact forms) every word's exact-form term and document into exact_out and
       exact_docs.

   key_lookup(table_lo, table_hi, table_values, lo, hi, out, mix_lo, mix_hi) -> misses
       The writer's key table (writer._KeyTable, whose numpy get is the reference): per key (lo[i], hi[i])
       (uint64), its value (int32) in the open-addressing table of a power of two slots, probed linearly from
       slot ((lo * mix_lo) ^ (hi * mix_hi)) >> (64 - bits) until the key or an empty slot (value -1; it holds
       the key (0, 0)), into out[i] (-1: missing). Returns how many are missing.

   scan_words(text, classes, table, starts, lengths, irregular, key_lo, key_hi) -> count, or a str
       The words of a text as analysis.scan_words's numpy code finds them (the reference: the same arrays,
       element for element), read from the str in place. classes: every code point's class (uint8, 0x110000
       of them; 255: not known yet), below the fourth root of table's length; table: flags per window of
       four classes (1: a word starts at the third, 2: one ends at the second, 4: the third is a number's
       separator inside a word), class 0 before and after the text. Per word, in order: where it starts, its
       length, whether it is irregular (longer than 16, or holding a separator or a character outside ASCII)
       and, for a word of at most 16 characters, its characters' low bytes packed into two little-endian
       64-bit keys (else 0). The output arrays need room for len(text) + 1 words. When the text holds
       characters of unknown class, returns them (up to 1024, repeats included) and nothing else is valid:
       the caller classifies them and calls again.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Py_buffer view;
    const char *p;
    Py_ssize_t n;
    int size;     /* bytes per item */
    int is_signed;
    int held;
} Arr;

static void arr_release(Arr *a) {
    if (a->held) {
        PyBuffer_Release(&a->view);
        a->held = 0;
    }
}

/* An integer array (1-d, contiguous); ``kind`` is 'i' for integers, 'f' for float64. */
static int arr_get(PyObject *obj, Arr *a, char kind, int writable, const char *what) {
    memset(a, 0, sizeof(*a));
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &a->view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous array", what);
        return -1;
    }
    a->held = 1;
    const char *f = a->view.format ? a->view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    char c = *f;
    a->size = (int)a->view.itemsize;
    a->p = (const char *)a->view.buf;
    a->n = a->view.itemsize ? a->view.len / a->view.itemsize : 0;
    if (kind == 'f') {
        if (c != 'd' || a->size != 8) goto bad;
        return 0;
    }
    switch (c) {
    case 'B': case 'H': case 'I': case 'L': case 'Q': a->is_signed = 0; break;
    case 'b': case 'h': case 'i': case 'l': case 'q': a->is_signed = 1; break;
    case '?': a->is_signed = 0; break;
    default: goto bad;
    }
    if (a->size != 1 && a->size != 2 && a->size != 4 && a->size != 8) goto bad;
    return 0;
bad:
    PyErr_Format(PyExc_TypeError, "%s: unexpected array type '%s'", what, a->view.format ? a->view.format : "?");
    arr_release(a);
    return -1;
}

/* An integer array of exactly one item type (``size`` bytes, signed or not), else a TypeError naming
   ``func``'s argument ``name``. */
static int arr_get_exact(PyObject *obj, Arr *a, int writable, const char *func, const char *name, int size,
                         int is_signed) {
    if (arr_get(obj, a, 'i', writable, name) < 0) return -1;
    if (a->size != size || a->is_signed != is_signed) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be %s%d", func, name, is_signed ? "int" : "uint", 8 * size);
        arr_release(a);
        return -1;
    }
    return 0;
}

/* narrow an array to [a, b) */
static inline void arr_slice(Arr *x, Py_ssize_t a, Py_ssize_t b) {
    x->p += a * x->size;
    x->n = b - a;
}

static inline int64_t arr_int(const Arr *a, Py_ssize_t i) {
    switch (a->size) {
    case 1: return a->is_signed ? (int64_t)((const int8_t *)a->p)[i] : (int64_t)((const uint8_t *)a->p)[i];
    case 2: return a->is_signed ? (int64_t)((const int16_t *)a->p)[i] : (int64_t)((const uint16_t *)a->p)[i];
    case 4: return a->is_signed ? (int64_t)((const int32_t *)a->p)[i] : (int64_t)((const uint32_t *)a->p)[i];
    default: return ((const int64_t *)a->p)[i];
    }
}

/* BODY(DT, TT) specialized for the unsigned item types of a run's documents and term frequencies */
#define FOR_TF_(BODY, DT, tf)                                                                   \
    switch ((tf)->size) {                                                                     \
    case 1: BODY(DT, uint8_t) break;                                                          \
    case 2: BODY(DT, uint16_t) break;                                                         \
    case 4: BODY(DT, uint32_t) break;                                                         \
    default: BODY(DT, int64_t) break;                                                         \
    }
#define FOR_DOCS_AND_TF(BODY, docs, tf)                                                         \
    switch ((docs)->size) {                                                                   \
    case 1: FOR_TF_(BODY, uint8_t, tf) break;                                                 \
    case 2: FOR_TF_(BODY, uint16_t, tf) break;                                                \
    case 4: FOR_TF_(BODY, uint32_t, tf) break;                                                \
    default: FOR_TF_(BODY, int64_t, tf) break;                                                \
    }

/* The arrays of one call, each acquired once: the terms of a query share their fields' arrays and norms.
   An entry's buffer is released by views_release; arrays past the table's size are owned by their user. */
#define VIEWS_MAX 64
typedef struct {
    PyObject *obj[VIEWS_MAX];
    char kind[VIEWS_MAX];
    Arr arr[VIEWS_MAX];
    int n;
} Views;

static int views_get(Views *vs, PyObject *obj, char kind, const char *what, Arr *out) {
    for (int i = 0; i < vs->n; i++) {
        if (vs->obj[i] == obj && vs->kind[i] == kind) {
            *out = vs->arr[i];
            out->held = 0;
            return 0;
        }
    }
    if (arr_get(obj, out, kind, 0, what) < 0) return -1;
    if (vs->n < VIEWS_MAX) {
        vs->obj[vs->n] = obj;
        vs->kind[vs->n] = kind;
        vs->arr[vs->n] = *out;
        vs->n++;
        out->held = 0;
    }
    return 0;
}

static void views_release(Views *vs) {
    for (int i = 0; i < vs->n; i++) arr_release(&vs->arr[i]);
    vs->n = 0;
}

/* a run (docs, tf, first, end, base[, positions, where they start]) */
static int run_unpack(PyObject *t, PyObject **d, PyObject **f, long long *a, long long *b, long long *base,
                      PyObject **p, long long *first) {
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < (p ? 7 : 5)) {
        PyErr_SetString(PyExc_TypeError, p ? "a run is (docs, tf, first, end, base, positions, first position)"
                                           : "a run is (docs, tf, first, end, base, ...)");
        return -1;
    }
    *d = PyTuple_GET_ITEM(t, 0);
    *f = PyTuple_GET_ITEM(t, 1);
    *a = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 2));
    *b = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 3));
    *base = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 4));
    if (p) {
        *p = PyTuple_GET_ITEM(t, 5);
        *first = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 6));
    }
    return PyErr_Occurred() ? -1 : 0;
}

/* -- typed loops --------------------------------------------------------------------------------------- */

/* the first index i >= from with a[i] >= want (a sorted), galloping from ``from``: cheap for nearby answers.
   The first WALK entries are walked one by one (a loop whose branch is predicted): the next candidate is
   mostly a few dozen postings on, where the galloping steps' branches would be mispredicted. */
#define WALK 64
static Py_ssize_t gallop(const Arr *a, Py_ssize_t from, int64_t want) {
    const Py_ssize_t n = a->n;
    const Py_ssize_t walked = from + WALK < n ? from + WALK : n;
#define GALLOP(T) {                                                                              \
        const T *v = (const T *)a->p;                                                          \
        while (from < walked && (int64_t)v[from] < want) from++;                               \
        if (from < walked || from == n) return from;                                          \
        Py_ssize_t lo = from, hi = from, step = 1;                                             \
        while (hi < n && (int64_t)v[hi] < want) { lo = hi + 1; hi += step; step <<= 1; }       \
        if (hi > n) hi = n;                                                                    \
        while (lo < hi) {                                                                      \
            Py_ssize_t mid = lo + (hi - lo) / 2;                                               \
            if ((int64_t)v[mid] < want) lo = mid + 1; else hi = mid;                           \
        }                                                                                      \
        return lo;                                                                             \
    }
    switch (a->size) {
    case 1: if (a->is_signed) GALLOP(int8_t) else GALLOP(uint8_t)
    case 2: if (a->is_signed) GALLOP(int16_t) else GALLOP(uint16_t)
    case 4: if (a->is_signed) GALLOP(int32_t) else GALLOP(uint32_t)
    default: GALLOP(int64_t)
    }
#undef GALLOP
}
#undef WALK

/* Per term, growable buffers: a field's postings as (document, weighted tf) and the sum of the fields so far
   (two, used in turn). Held between calls; every call holds the GIL throughout, so one set serves all. */
typedef struct {
    int64_t *docs;
    double *tf;
    Py_ssize_t n, cap;
} Vec;

static Vec field_vec, sum_vec, next_vec;

/* a growable buffer's next capacity: doubled from ``cap`` (``first`` when empty) until it holds ``need`` */
static Py_ssize_t capacity_for(Py_ssize_t cap, Py_ssize_t need, Py_ssize_t first) {
    cap = cap ? cap : first;
    while (cap < need) cap *= 2;
    return cap;
}

/* *buf resized to n items of ``item`` bytes (its contents kept); -1 and MemoryError when memory is short
   (*buf is then unchanged) */
static int resize(void **buf, Py_ssize_t n, size_t item) {
    void *grown = PyMem_Realloc(*buf, (size_t)(n ? n : 1) * item);
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = grown;
    return 0;
}

static int vec_reserve(Vec *v, Py_ssize_t n) {
    if (n <= v->cap) return 0;
    const Py_ssize_t cap = capacity_for(v->cap, n, 4096);
    if (resize((void **)&v->docs, cap, sizeof(int64_t)) < 0 || resize((void **)&v->tf, cap, sizeof(double)) < 0)
        return -1;
    v->cap = cap;
    return 0;
}

/* appends norms[doc] * tf of one segment's postings of a field (documents in order); -1 when a document is
   outside [0, total) */
static int append_run(Vec *v, const Arr *docs, const Arr *tf, int64_t base, const double *norms, Py_ssize_t total) {
    const Py_ssize_t n = docs->n;
    if (vec_reserve(v, v->n + n) < 0) return -2;
    int64_t *od = v->docs + v->n;
    double *ot = v->tf + v->n;
#define APPEND(DT, TT) {                                                                        \
        const DT *dv = (const DT *)docs->p;                                                   \
        const TT *tv = (const TT *)tf->p;                                                     \
        for (Py_ssize_t i = 0; i < n; i++) {                                                  \
            int64_t d = (int64_t)dv[i] + base;                                                \
            if (d < 0 || d >= total) return -1;                                               \
            od[i] = d;                                                                        \
            ot[i] = norms[d] * (double)tv[i];                                                 \
        }                                                                                     \
    }
    FOR_DOCS_AND_TF(APPEND, docs, tf)
#undef APPEND
    v->n += n;
    return 0;
}

/* out = a + b, both sorted by document: a document in both gets a's tf + b's tf */
static int merge_add(const Vec *a, const Vec *b, Vec *out) {
    if (vec_reserve(out, a->n + b->n) < 0) return -1;
    Py_ssize_t i = 0, j = 0, k = 0;
    while (i < a->n && j < b->n) {
        int64_t x = a->docs[i], y = b->docs[j];
        if (x < y) {
            out->docs[k] = x;
            out->tf[k++] = a->tf[i++];
        } else if (y < x) {
            out->docs[k] = y;
            out->tf[k++] = b->tf[j++];
        } else {
            out->docs[k] = x;
            out->tf[k++] = a->tf[i++] + b->tf[j++];
        }
    }
    for (; i < a->n; i++, k++) { out->docs[k] = a->docs[i]; out->tf[k] = a->tf[i]; }
    for (; j < b->n; j++, k++) { out->docs[k] = b->docs[j]; out->tf[k] = b->tf[j]; }
    out->n = k;
    return 0;
}

/* -- score_or ---------------------------------------------------------------------------------------- */

/* A term's postings in one field: a run per segment that has it. */
typedef struct {
    Arr d, f;
    int64_t base;
} Run;

typedef struct {
    Arr norms;
    Run *runs;
    Py_ssize_t nruns, length;
} Field;

typedef struct {
    double *scores;
    const unsigned char *live;
    double k1, delta, k1p1, factor;
    const int64_t *sdocs; /* another field's postings, merged in while streaming (sorted) */
    const double *stf;
    Py_ssize_t sn, si;
} Stream;

static inline void emit(Stream *st, int64_t d, double x) {
    if (st->live && !st->live[d]) return;
    double w = x / (x + st->k1);
    w += st->delta;
    w *= st->k1p1;
    w *= st->factor;
    st->scores[d] += w;
}

/* scores += the weights of one segment's postings of a field, the other field's postings merged in by
   document (a document in both: the sum of its two tf~, which does not depend on the order); -1 when a
   document is outside [0, total). (The loop keeps everything in locals: a store into scores could alias
   the struct's doubles.) */
static int stream_run(Stream *st, const Arr *docs, const Arr *tf, int64_t base, const double *norms, Py_ssize_t total) {
    const Py_ssize_t n = docs->n;
    double *restrict scores = st->scores;
    const unsigned char *live = st->live;
    const double k1 = st->k1, delta = st->delta, k1p1 = st->k1p1, factor = st->factor;
    const int64_t *sdocs = st->sdocs;
    const double *stf = st->stf;
    const Py_ssize_t sn = st->sn;
    Py_ssize_t si = st->si;
    int64_t next = si < sn ? sdocs[si] : INT64_MAX; /* the other field's next document */
#define WEIGH(d, x) {                                                                           \
        if (!live || live[d]) {                                                               \
            double w_ = (x) / ((x) + k1);                                                     \
            w_ += delta;                                                                      \
            w_ *= k1p1;                                                                       \
            w_ *= factor;                                                                     \
            scores[d] += w_;                                                                  \
        }                                                                                     \
    }
#define STREAM(DT, TT) {                                                                        \
        const DT *dv = (const DT *)docs->p;                                                   \
        const TT *tv = (const TT *)tf->p;                                                     \
        for (Py_ssize_t i = 0; i < n; i++) {                                                  \
            const int64_t d = (int64_t)dv[i] + base;                                          \
            if (d < 0 || d >= total) { st->si = si; return -1; }                              \
            double x = norms[d] * (double)tv[i];                                              \
            if (next <= d) {                                                                  \
                while (next < d) {                                                            \
                    const double y = stf[si];                                                 \
                    WEIGH(next, y);                                                           \
                    next = ++si < sn ? sdocs[si] : INT64_MAX;                                 \
                }                                                                             \
                if (next == d) {                                                              \
                    x = stf[si] + x;                                                          \
                    next = ++si < sn ? sdocs[si] : INT64_MAX;                                 \
                }                                                                             \
            }                                                                                 \
            WEIGH(d, x);                                                                      \
        }                                                                                     \
    }
    FOR_DOCS_AND_TF(STREAM, docs, tf)
#undef STREAM
#undef WEIGH
    st->si = si;
    return 0;
}

/* the live documents among a field's postings */
static Py_ssize_t count_live(const Field *fd, const unsigned char *live, Py_ssize_t total) {
    Py_ssize_t c = 0;
    for (Py_ssize_t r = 0; r < fd->nruns; r++) {
        const Run *run = &fd->runs[r];
        for (Py_ssize_t i = 0; i < run->d.n; i++) {
            int64_t d = arr_int(&run->d, i) + run->base;
            if (d >= 0 && d < total) c += live[d] != 0;
        }
    }
    return c;
}

/* the live documents (live may be NULL: all) of a sorted vector (of the other field) that a field's
   postings lack */
static Py_ssize_t count_missing(const Vec *v, const Field *fd, const unsigned char *live) {
    Py_ssize_t missing = 0, r = 0, j = 0;
    for (Py_ssize_t i = 0; i < v->n; i++) {
        const int64_t s = v->docs[i];
        int found = 0;
        while (r < fd->nruns) {
            const Run *run = &fd->runs[r];
            if (j < run->d.n && s - run->base <= arr_int(&run->d, run->d.n - 1)) break;
            r++;
            j = 0;
        }
        if (r < fd->nruns) {
            const Run *run = &fd->runs[r];
            const int64_t want = s - run->base;
            if (want >= 0) {
                j = gallop(&run->d, j, want);
                found = j < run->d.n && arr_int(&run->d, j) == want;
            }
        }
        if (!found && (!live || live[s])) missing++;
    }
    return missing;
}

static void fields_release(Field *fields, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        for (Py_ssize_t r = 0; r < fields[i].nruns; r++) {
            arr_release(&fields[i].runs[r].d);
            arr_release(&fields[i].runs[r].f);
        }
        PyMem_Free(fields[i].runs);
        arr_release(&fields[i].norms);
    }
    PyMem_Free(fields);
}

/* a term's fields: their norms and runs (arrays from the call's views) */
static Field *fields_get(PyObject *parts_obj, Py_ssize_t total, Views *vs, Py_ssize_t *count) {
    PyObject *parts = PySequence_Fast(parts_obj, "parts must be a sequence");
    if (!parts) return NULL;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(parts);
    Field *fields = PyMem_Calloc(n ? n : 1, sizeof(Field));
    if (!fields) { PyErr_NoMemory(); goto fail; }
    for (Py_ssize_t i = 0; i < n; i++) {
        Field *fd = &fields[i];
        PyObject *part = PySequence_Fast_GET_ITEM(parts, i);
        if (!PyTuple_Check(part) || PyTuple_GET_SIZE(part) != 2) {
            PyErr_SetString(PyExc_TypeError, "a field is (norms, runs)");
            goto fail;
        }
        if (views_get(vs, PyTuple_GET_ITEM(part, 0), 'f', "norms", &fd->norms) < 0) goto fail;
        if (fd->norms.n < total) {
            PyErr_SetString(PyExc_ValueError, "norms must cover every document");
            goto fail;
        }
        PyObject *runs = PySequence_Fast(PyTuple_GET_ITEM(part, 1), "runs must be a sequence");
        if (!runs) goto fail;
        const Py_ssize_t nruns = PySequence_Fast_GET_SIZE(runs);
        fd->runs = PyMem_Calloc(nruns ? nruns : 1, sizeof(Run));
        if (!fd->runs) { Py_DECREF(runs); PyErr_NoMemory(); goto fail; }
        for (Py_ssize_t r = 0; r < nruns; r++) {
            PyObject *d_obj, *f_obj;
            long long base, a, b;
            Run *run = &fd->runs[r];
            if (run_unpack(PySequence_Fast_GET_ITEM(runs, r), &d_obj, &f_obj, &a, &b, &base, NULL, NULL) < 0 ||
                views_get(vs, d_obj, 'i', "docs", &run->d) < 0) {
                Py_DECREF(runs);
                goto fail;
            }
            if (views_get(vs, f_obj, 'i', "tf", &run->f) < 0) {
                arr_release(&run->d);
                Py_DECREF(runs);
                goto fail;
            }
            fd->nruns = r + 1;
            if (run->d.n != run->f.n || a < 0 || b < a || b > run->d.n) {
                PyErr_SetString(PyExc_ValueError, "a run's postings are outside its arrays");
                Py_DECREF(runs);
                goto fail;
            }
            arr_slice(&run->d, a, b);
            arr_slice(&run->f, a, b);
            run->base = base;
            fd->length += b - a;
        }
        Py_DECREF(runs);
    }
    Py_DECREF(parts);
    *count = n;
    return fields;
fail:
    Py_DECREF(parts);
    if (fields) fields_release(fields, n); /* (zeroed: the fields not reached hold nothing) */
    return NULL;
}

/* a field's postings appended to a vector as (document, norms[doc] * tf) */
static int field_append(Vec *v, const Field *fd, Py_ssize_t total) {
    for (Py_ssize_t r = 0; r < fd->nruns; r++) {
        int rc = append_run(v, &fd->runs[r].d, &fd->runs[r].f, fd->runs[r].base, (const double *)fd->norms.p, total);
        if (rc == -1) PyErr_SetString(PyExc_IndexError, "a posting's document is outside the index");
        if (rc < 0) return -1;
    }
    return 0;
}

/* One term: its df (live documents with it in any field) and its weights added into the scores. The
   largest field is streamed from the segments' arrays with the other one (if any) merged in; three or more
   fields are summed in vectors first, in field order (as the numpy path does). */
static Py_ssize_t score_term(Field *fields, Py_ssize_t nfields, Stream *st, double boost, long long n_docs,
                             Py_ssize_t total, Py_ssize_t known_df) {
    Field *with[64];
    Py_ssize_t nwith = 0;
    for (Py_ssize_t i = 0; i < nfields; i++)
        if (fields[i].length > 0) {
            if (nwith == 64) { PyErr_SetString(PyExc_ValueError, "too many fields"); return -1; }
            with[nwith++] = &fields[i];
        }
    Py_ssize_t df = 0;
    st->sn = st->si = 0;
    if (nwith <= 2) {
        Field *large = NULL, *small = NULL;
        if (nwith == 1) large = with[0];
        if (nwith == 2) {
            large = with[0]->length >= with[1]->length ? with[0] : with[1];
            small = large == with[0] ? with[1] : with[0];
            sum_vec.n = 0;
            if (field_append(&sum_vec, small, total) < 0) return -1;
            st->sdocs = sum_vec.docs;
            st->stf = sum_vec.tf;
            st->sn = sum_vec.n;
        }
        if (known_df >= 0) {
            df = known_df;
        } else if (large) {
            df = st->live ? count_live(large, st->live, total) : large->length;
            if (small) {
                df += count_missing(&sum_vec, large, st->live);
            }
        }
        st->factor = boost * log1p(((double)(n_docs - (long long)df) + 0.5) / ((double)df + 0.5));
        if (large) {
            for (Py_ssize_t r = 0; r < large->nruns; r++) {
                if (stream_run(st, &large->runs[r].d, &large->runs[r].f, large->runs[r].base,
                               (const double *)large->norms.p, total) < 0) {
                    PyErr_SetString(PyExc_IndexError, "a posting's document is outside the index");
                    return -1;
                }
            }
        }
        for (; st->si < st->sn; st->si++) emit(st, st->sdocs[st->si], st->stf[st->si]);
        return df;
    }
    sum_vec.n = 0;
    if (field_append(&sum_vec, with[0], total) < 0) return -1;
    for (Py_ssize_t i = 1; i < nwith; i++) {
        field_vec.n = 0;
        if (field_append(&field_vec, with[i], total) < 0 || merge_add(&sum_vec, &field_vec, &next_vec) < 0) return -1;
        Vec tmp = sum_vec;
        sum_vec = next_vec;
        next_vec = tmp;
    }
    if (known_df >= 0)
        df = known_df;
    else
        for (Py_ssize_t j = 0; j < sum_vec.n; j++) df += !st->live || st->live[sum_vec.docs[j]];
    st->factor = boost * log1p(((double)(n_docs - (long long)df) + 0.5) / ((double)df + 0.5));
    for (Py_ssize_t j = 0; j < sum_vec.n; j++) emit(st, sum_vec.docs[j], sum_vec.tf[j]);
    return df;
}

static PyObject *score_or(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *scores_obj, *live_obj, *terms_obj;
    long long n_docs;
    double k1, delta;
    if (!PyArg_ParseTuple(args, "OOLddO", &scores_obj, &live_obj, &n_docs, &k1, &delta, &terms_obj)) return NULL;
    Views views;
    views.n = 0;
    Arr scores_arr, live_arr;
    memset(&live_arr, 0, sizeof(live_arr));
    if (arr_get(scores_obj, &scores_arr, 'f', 1, "scores") < 0) return NULL;
    const Py_ssize_t total = scores_arr.n;
    const int has_live = live_obj != Py_None;
    PyObject *terms = NULL, *out = NULL;
    if (has_live) {
        if (arr_get(live_obj, &live_arr, 'i', 0, "live") < 0) goto fail;
        if (live_arr.n < total || live_arr.size != 1) {
            PyErr_SetString(PyExc_ValueError, "live must be a bool per document");
            goto fail;
        }
    }
    Stream st = {(double *)scores_arr.view.buf, has_live ? (const unsigned char *)live_arr.p : NULL, k1, delta,
                 k1 + 1.0, 0.0, NULL, NULL, 0, 0};
    terms = PySequence_Fast(terms_obj, "terms must be a sequence");
    if (!terms) goto fail;
    const Py_ssize_t nterms = PySequence_Fast_GET_SIZE(terms);
    out = PyList_New(nterms);
    if (!out) goto fail;
    for (Py_ssize_t t = 0; t < nterms; t++) {
        PyObject *parts_obj;
        double boost;
        Py_ssize_t nfields = 0, known_df = -1;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(terms, t), "dO|n", &boost, &parts_obj, &known_df)) goto fail;
        Field *fields = fields_get(parts_obj, total, &views, &nfields);
        if (!fields) goto fail;
        Py_ssize_t df = score_term(fields, nfields, &st, boost, n_docs, total, known_df);
        fields_release(fields, nfields);
        if (df < 0) goto fail;
        PyObject *v = PyLong_FromSsize_t(df);
        if (!v) goto fail;
        PyList_SET_ITEM(out, t, v);
    }
    views_release(&views);
    Py_DECREF(terms);
    arr_release(&live_arr);
    arr_release(&scores_arr);
    return out;
fail:
    views_release(&views);
    Py_XDECREF(out);
    Py_XDECREF(terms);
    arr_release(&live_arr);
    arr_release(&scores_arr);
    return NULL;
}

/* -- lead and word-pair counts (for rerank) ---------------------------------------------------- */

typedef struct {
    int32_t row, term;
    int64_t pos;
} Occ;

typedef struct {
    Occ *occ;
    Py_ssize_t n, cap;
} Occs;

static int occs_reserve(Occs *o, Py_ssize_t n) {
    if (n <= o->cap) return 0;
    const Py_ssize_t cap = capacity_for(o->cap, n, 1024);
    if (resize((void **)&o->occ, cap, sizeof(Occ)) < 0) return -1;
    o->cap = cap;
    return 0;
}

/* one segment's postings of term k against the candidates: lead, and every occurrence for the pairs */
typedef struct {
    Py_ssize_t row;
    int64_t at, count;
} Hit;

/* the first posting at or after j whose document is >= want (the documents are sorted), the term frequencies
   of the postings passed over added to *cum. A block of SKIP_BLOCK postings whose last document is below
   want is passed at once, its frequencies summed in a loop the compiler vectorizes: the candidates of a
   rerank are mostly hundreds of postings apart in a frequent word's postings. */
#define SKIP_BLOCK 32
static Py_ssize_t advance(const Arr *d, const Arr *f, Py_ssize_t j, int64_t want, int64_t *cum) {
    const Py_ssize_t n = d->n;
    int64_t c = *cum;
#define ADVANCE(DT, TT) {                                                                       \
        const DT *dv = (const DT *)d->p;                                                      \
        const TT *fv = (const TT *)f->p;                                                      \
        while (j + SKIP_BLOCK <= n && (int64_t)dv[j + SKIP_BLOCK - 1] < want) {               \
            int64_t s = 0;                                                                    \
            for (int k = 0; k < SKIP_BLOCK; k++) s += (int64_t)fv[j + k];                     \
            c += s;                                                                           \
            j += SKIP_BLOCK;                                                                  \
        }                                                                                     \
        while (j < n && (int64_t)dv[j] < want) c += (int64_t)fv[j++];                         \
    }
    FOR_DOCS_AND_TF(ADVANCE, d, f)
#undef ADVANCE
    *cum = c;
    return j;
}

static Hit *hits_buf = NULL;
static Py_ssize_t hits_cap = 0;

static inline void prefetch(const void *p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}

/* one segment's postings of term k against the candidates: lead, and every occurrence for the pairs. The
   candidates found come first, their positions prefetched (scattered over a large array: loads that miss
   the caches, overlapped), then their positions are read. */
static int bonus_run(const Arr *cands, const Arr *d, const Arr *f, const Arr *p, int64_t base, int64_t first,
                     Py_ssize_t k, double weight, long long window, double *lead, Occs *occs) {
    const Py_ssize_t n = cands->n;
    if (n > hits_cap) {
        if (resize((void **)&hits_buf, n, sizeof(Hit)) < 0) return -1;
        hits_cap = n;
    }
    Py_ssize_t nhits = 0, j = 0;
    int64_t cum = 0; /* the term's occurrences in the postings before j */
    for (Py_ssize_t row = 0; row < n && j < d->n; row++) {
        const int64_t want = arr_int(cands, row) - base;
        if (want < 0) continue;
        j = advance(d, f, j, want, &cum); /* the first posting >= want */
        if (j >= d->n || arr_int(d, j) != want) continue;
        const int64_t count = arr_int(f, j);
        const int64_t at = first + cum;
        if (at < 0 || count < 0 || at + count > p->n) {
            PyErr_SetString(PyExc_IndexError, "a posting's positions are outside the field's positions");
            return -1;
        }
        prefetch(p->p + at * p->size);
        hits_buf[nhits].row = row;
        hits_buf[nhits].at = at;
        hits_buf[nhits].count = count;
        nhits++;
    }
    for (Py_ssize_t h = 0; h < nhits; h++) {
        const Py_ssize_t row = hits_buf[h].row;
        const int64_t at = hits_buf[h].at, count = hits_buf[h].count;
        if (window >= 0 && count > 0 && arr_int(p, at) < window) lead[k * n + row] += weight;
        if (occs) {
            if (occs_reserve(occs, occs->n + count) < 0) return -1;
            for (int64_t c = 0; c < count; c++) {
                Occ *o = &occs->occ[occs->n++];
                o->row = (int32_t)row;
                o->term = (int32_t)k;
                o->pos = arr_int(p, at + c);
            }
        }
    }
    return 0;
}

static inline Py_ssize_t slot_of(int64_t pos, Py_ssize_t size) {
    return (Py_ssize_t)((((uint64_t)pos) * 0x9E3779B97F4A7C15ull >> 32) & (uint64_t)(size - 1));
}

/* pairs[pid, row] += weight * the occurrences of a pair's first term directly followed by its second */
static int count_pairs(const Occs *occs, Py_ssize_t n, Py_ssize_t nterms, const int64_t *table, Py_ssize_t npairs,
                       double weight, double *pairs) {
    const Py_ssize_t m = occs->n;
    int rc = -1;
    int32_t *head = PyMem_Malloc((n ? n : 1) * sizeof(int32_t));
    int32_t *next = PyMem_Malloc((m ? m : 1) * sizeof(int32_t));
    int32_t *counts = PyMem_Calloc((npairs * n) > 0 ? (npairs * n) : 1, sizeof(int32_t));
    int64_t *slot_pos = NULL;
    int32_t *slot_term = NULL;
    Py_ssize_t cap = 0;
    if (!head || !next || !counts) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t r = 0; r < n; r++) head[r] = -1;
    for (Py_ssize_t i = m - 1; i >= 0; i--) { /* each row's occurrences, chained in the order written */
        next[i] = head[occs->occ[i].row];
        head[occs->occ[i].row] = (int32_t)i;
    }
    for (Py_ssize_t r = 0; r < n; r++) {
        Py_ssize_t c = 0;
        for (int32_t i = head[r]; i >= 0; i = next[i]) c++;
        if (!c) continue;
        Py_ssize_t size = 16;
        while (size < 2 * c) size <<= 1;
        if (size > cap) {
            PyMem_Free(slot_pos);
            PyMem_Free(slot_term);
            slot_pos = PyMem_Malloc(size * sizeof(int64_t));
            slot_term = PyMem_Malloc(size * sizeof(int32_t));
            if (!slot_pos || !slot_term) { PyErr_NoMemory(); goto done; }
            cap = size;
        }
        /* position -> term in this row (-1: empty); a later occurrence at the same place overwrites */
        for (Py_ssize_t s = 0; s < size; s++) slot_term[s] = -1;
        for (int32_t i = head[r]; i >= 0; i = next[i]) {
            const int64_t pos = occs->occ[i].pos;
            Py_ssize_t s = slot_of(pos, size);
            while (slot_term[s] >= 0 && slot_pos[s] != pos) s = (s + 1) & (size - 1);
            slot_pos[s] = pos;
            slot_term[s] = occs->occ[i].term;
        }
        for (int32_t i = head[r]; i >= 0; i = next[i]) {
            const int64_t want = occs->occ[i].pos + 1;
            Py_ssize_t s = slot_of(want, size);
            Py_ssize_t b = nterms; /* the column for "no term next" */
            while (slot_term[s] >= 0) {
                if (slot_pos[s] == want) { b = slot_term[s]; break; }
                s = (s + 1) & (size - 1);
            }
            const int64_t pid = table[(Py_ssize_t)occs->occ[i].term * (nterms + 1) + b];
            if (pid >= 0 && pid < npairs) counts[pid * n + r]++;
        }
    }
    for (Py_ssize_t i = 0; i < npairs * n; i++)
        if (counts[i]) pairs[i] += weight * (double)counts[i];
    rc = 0;
done:
    PyMem_Free(head);
    PyMem_Free(next);
    PyMem_Free(counts);
    PyMem_Free(slot_pos);
    PyMem_Free(slot_term);
    return rc;
}

/* -- rerank ---------------------------------------------------------------------------------------------- */

typedef struct {
    int64_t doc;
    Py_ssize_t at; /* index in the caller's arrays */
} Cand;

static int cand_by_doc(const void *x, const void *y) {
    const int64_t a = ((const Cand *)x)->doc, b = ((const Cand *)y)->doc;
    return (a > b) - (a < b);
}

/* a ranks before b: higher score, or the same score and an earlier document */
static inline int ranks_before(double sa, int64_t da, double sb, int64_t db) { return sa > sb || (sa == sb && da < db); }

static const double *rank_scores; /* the scores cand_by_rank compares (every call holds the GIL) */

static int cand_by_rank(const void *x, const void *y) {
    const Cand *a = x, *b = y;
    if (ranks_before(rank_scores[a->at], a->doc, rank_scores[b->at], b->doc)) return -1;
    return ranks_before(rank_scores[b->at], b->doc, rank_scores[a->at], a->doc) ? 1 : 0;
}

/* a sequence of n numbers (floats, or integers in [0, below) when below > 0) into out */
static int numbers_get(PyObject *obj, Py_ssize_t n, double *out, Py_ssize_t *ints, Py_ssize_t below, const char *what) {
    PyObject *seq = PySequence_Fast(obj, what);
    if (!seq) return -1;
    int rc = -1;
    if (PySequence_Fast_GET_SIZE(seq) != n) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items", what, n);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (ints) {
            ints[i] = PyLong_AsSsize_t(item);
            if (ints[i] == -1 && PyErr_Occurred()) goto done;
            if (ints[i] < 0 || ints[i] >= below) {
                PyErr_Format(PyExc_ValueError, "%s: %zd is not below %zd", what, ints[i], below);
                goto done;
            }
        } else {
            out[i] = PyFloat_AsDouble(item);
            if (out[i] == -1.0 && PyErr_Occurred()) goto done;
        }
    }
    rc = 0;
done:
    Py_DECREF(seq);
    return rc;
}

/* the candidates' lead and pair counts in one field: every run of every term against the candidates (in
   document order), then the pairs among the occurrences found */
static int count_field(const Arr *cands, PyObject *runs_obj, Py_ssize_t nterms, double weight, long long window,
                       double *lead, Occs *occs, const int64_t *table, Py_ssize_t npairs, double *pairs, Views *views) {
    PyObject *terms = PySequence_Fast(runs_obj, "a field's runs must be a sequence (one per term)");
    if (!terms) return -1;
    if (PySequence_Fast_GET_SIZE(terms) != nterms) {
        PyErr_SetString(PyExc_ValueError, "every field needs the runs of every term");
        Py_DECREF(terms);
        return -1;
    }
    occs->n = 0;
    for (Py_ssize_t k = 0; k < nterms; k++) {
        PyObject *runs = PySequence_Fast(PySequence_Fast_GET_ITEM(terms, k), "runs must be a sequence");
        if (!runs) goto fail;
        for (Py_ssize_t r = 0; r < PySequence_Fast_GET_SIZE(runs); r++) {
            PyObject *d_obj, *f_obj, *p_obj;
            long long a, b, base, first;
            Arr d, f, p;
            if (run_unpack(PySequence_Fast_GET_ITEM(runs, r), &d_obj, &f_obj, &a, &b, &base, &p_obj, &first) < 0 ||
                views_get(views, d_obj, 'i', "docs", &d) < 0) {
                Py_DECREF(runs);
                goto fail;
            }
            if (views_get(views, f_obj, 'i', "tf", &f) < 0) { arr_release(&d); Py_DECREF(runs); goto fail; }
            if (views_get(views, p_obj, 'i', "positions", &p) < 0) { arr_release(&d); arr_release(&f); Py_DECREF(runs); goto fail; }
            int rc = -1;
            if (d.n != f.n || a < 0 || b < a || b > d.n) {
                PyErr_SetString(PyExc_ValueError, "a run's postings are outside its arrays");
            } else {
                arr_slice(&d, a, b);
                arr_slice(&f, a, b);
                rc = bonus_run(cands, &d, &f, &p, base, first, k, weight, window, lead, npairs ? occs : NULL);
            }
            arr_release(&d);
            arr_release(&f);
            arr_release(&p);
            if (rc < 0) { Py_DECREF(runs); goto fail; }
        }
        Py_DECREF(runs);
    }
    Py_DECREF(terms);
    if (npairs && occs->n && cands->n) return count_pairs(occs, cands->n, nterms, table, npairs, weight, pairs);
    return 0;
fail:
    Py_DECREF(terms);
    return -1;
}

/* rerank(scores, cands, terms, idf, boosts, fields, window, proximity, lead, out) -> count: see the top */
static PyObject *rerank(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *scores_obj, *cands_obj, *terms_obj, *idf_obj, *boosts_obj, *fields_obj, *out_obj;
    long long window;
    double proximity, lead_strength;
    if (!PyArg_ParseTuple(args, "OOOOOOLddO", &scores_obj, &cands_obj, &terms_obj, &idf_obj, &boosts_obj, &fields_obj,
                          &window, &proximity, &lead_strength, &out_obj))
        return NULL;
    Views views;
    views.n = 0;
    Arr sc, cd, out;
    memset(&cd, 0, sizeof(cd));
    memset(&out, 0, sizeof(out));
    PyObject *fields = NULL, *result = NULL;
    Occs occs = {NULL, 0, 0};
    Cand *cands = NULL;
    int64_t *sorted = NULL, *table = NULL;
    Py_ssize_t *word_terms = NULL, *pair_of = NULL;
    double *word_idf = NULL, *word_boost = NULL, *pair_weight = NULL, *lead = NULL, *pairs = NULL;
    if (arr_get(scores_obj, &sc, 'f', 1, "scores") < 0) return NULL;
    if (arr_get(cands_obj, &cd, 'i', 0, "cands") < 0 || arr_get(out_obj, &out, 'i', 1, "out") < 0) goto done;
    const Py_ssize_t n = sc.n;
    if (cd.n != n || out.size != 8 || !out.is_signed) {
        PyErr_SetString(PyExc_ValueError, "rerank: cands must match the scores, out must be int64");
        goto done;
    }
    fields = PySequence_Fast(fields_obj, "fields must be a sequence of (weight, runs per term)");
    if (!fields) goto done;
    const Py_ssize_t nfields = PySequence_Fast_GET_SIZE(fields);
    Py_ssize_t nterms = 0;
    if (nfields) {
        PyObject *first = PySequence_Fast_GET_ITEM(fields, 0);
        if (!PyTuple_Check(first) || PyTuple_GET_SIZE(first) != 2) {
            PyErr_SetString(PyExc_TypeError, "a field is (weight, runs per term)");
            goto done;
        }
        nterms = PyObject_Length(PyTuple_GET_ITEM(first, 1));
        if (nterms < 0) goto done;
    }
    const Py_ssize_t nwords = PyObject_Length(terms_obj);
    if (nwords < 0) goto done;
    const Py_ssize_t cells = (nterms ? nterms : 1) * (n ? n : 1);
    word_terms = PyMem_Malloc((nwords ? nwords : 1) * sizeof(Py_ssize_t));
    pair_of = PyMem_Malloc((nwords ? nwords : 1) * sizeof(Py_ssize_t));
    word_idf = PyMem_Malloc((nwords ? nwords : 1) * sizeof(double));
    word_boost = PyMem_Malloc((nwords ? nwords : 1) * sizeof(double));
    pair_weight = PyMem_Malloc((nwords ? nwords : 1) * sizeof(double));
    table = PyMem_Malloc((nterms ? nterms : 1) * (nterms + 1) * sizeof(int64_t));
    lead = PyMem_Calloc(cells, sizeof(double));
    cands = PyMem_Malloc((n ? n : 1) * sizeof(Cand));
    sorted = PyMem_Malloc((n ? n : 1) * sizeof(int64_t));
    if (!word_terms || !pair_of || !word_idf || !word_boost || !pair_weight || !table || !lead || !cands || !sorted) {
        PyErr_NoMemory();
        goto done;
    }
    if (numbers_get(terms_obj, nwords, NULL, word_terms, nterms, "terms") < 0 ||
        numbers_get(idf_obj, nwords, word_idf, NULL, 0, "idf") < 0 ||
        numbers_get(boosts_obj, nwords, word_boost, NULL, 0, "boosts") < 0)
        goto done;
    /* the pairs: adjacent words of different terms, numbered by (term, next term) in order of appearance,
       each with the mean idf of its two words */
    for (Py_ssize_t i = 0; i < nterms * (nterms + 1); i++) table[i] = -1;
    Py_ssize_t npairs = 0, nplaced = 0;
    for (Py_ssize_t a = 0; proximity != 0.0 && a + 1 < nwords; a++) {
        if (word_terms[a] == word_terms[a + 1]) continue;
        int64_t *id = &table[word_terms[a] * (nterms + 1) + word_terms[a + 1]];
        if (*id < 0) *id = npairs++;
        pair_of[nplaced] = (Py_ssize_t)*id;
        pair_weight[nplaced] = (word_idf[a] + word_idf[a + 1]) / 2.0;
        nplaced++;
    }
    if (npairs) {
        pairs = PyMem_Calloc(npairs * (n ? n : 1), sizeof(double));
        if (!pairs) { PyErr_NoMemory(); goto done; }
    }
    /* the candidates in document order (postings are), a row each */
    for (Py_ssize_t i = 0; i < n; i++) {
        cands[i].doc = arr_int(&cd, i);
        cands[i].at = i;
    }
    qsort(cands, (size_t)n, sizeof(Cand), cand_by_doc);
    for (Py_ssize_t r = 0; r < n; r++) sorted[r] = cands[r].doc;
    Arr sorted_cands = {.p = (const char *)sorted, .n = n, .size = 8, .is_signed = 1};
    const long long lead_window = lead_strength != 0.0 ? window : -1;
    for (Py_ssize_t fi = 0; fi < nfields; fi++) {
        PyObject *field = PySequence_Fast_GET_ITEM(fields, fi);
        double weight;
        PyObject *runs;
        if (!PyTuple_Check(field) || !PyArg_ParseTuple(field, "dO", &weight, &runs)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a field is (weight, runs per term)");
            goto done;
        }
        if (count_field(&sorted_cands, runs, nterms, weight, lead_window, lead, &occs, table, npairs, pairs, &views) < 0) goto done;
    }
    /* the saturated bonuses (scoring.saturated_sum's operations in its order): the pairs', then the lead's */
    double *s = (double *)sc.view.buf;
    for (Py_ssize_t r = 0; r < n; r++) {
        const Py_ssize_t at = cands[r].at;
        if (npairs) {
            double sum = 0.0;
            for (Py_ssize_t i = 0; i < nplaced; i++) {
                const double x = pairs[pair_of[i] * n + r];
                double t = pair_weight[i] * x;
                t /= x + 1.0;
                sum += t;
            }
            s[at] += proximity * sum;
        }
        if (lead_strength != 0.0) {
            double sum = 0.0;
            for (Py_ssize_t i = 0; i < nwords; i++) {
                const double x = lead[word_terms[i] * n + r];
                double t = (word_boost[i] * word_idf[i]) * x;
                t /= x + 1.0;
                sum += t;
            }
            s[at] += lead_strength * sum;
        }
    }
    /* the best first, ties by document: the first out.n by insertion (few), or all sorted */
    const Py_ssize_t k = out.n < n ? out.n : n;
    int64_t *o = (int64_t *)out.view.buf;
    if (k == n) {
        rank_scores = s;
        qsort(cands, (size_t)n, sizeof(Cand), cand_by_rank);
        for (Py_ssize_t i = 0; i < n; i++) o[i] = cands[i].at;
    } else if (k > 0) {
        Py_ssize_t kept = 0;
        for (Py_ssize_t r = 0; r < n; r++) {
            const double x = s[cands[r].at];
            const int64_t doc = cands[r].doc;
            if (kept == k && !ranks_before(x, doc, s[o[k - 1]], arr_int(&cd, o[k - 1]))) continue;
            Py_ssize_t j = kept < k ? kept++ : k - 1;
            while (j > 0 && ranks_before(x, doc, s[o[j - 1]], arr_int(&cd, o[j - 1]))) {
                o[j] = o[j - 1];
                j--;
            }
            o[j] = cands[r].at;
        }
    }
    result = PyLong_FromSsize_t(k);
done:
    views_release(&views);
    Py_XDECREF(fields);
    PyMem_Free(occs.occ);
    PyMem_Free(cands);
    PyMem_Free(sorted);
    PyMem_Free(table);
    PyMem_Free(word_terms);
    PyMem_Free(pair_of);
    PyMem_Free(word_idf);
    PyMem_Free(word_boost);
    PyMem_Free(pair_weight);
    PyMem_Free(lead);
    PyMem_Free(pairs);
    arr_release(&sc);
    arr_release(&cd);
    arr_release(&out);
    return result;
}

/* -- best_matches ------------------------------------------------------------------------------------ */

typedef struct {
    double s;
    int64_t i;
} Entry;

/* a is worse than b: lower score, or the same score and a later document */
static inline int worse(const Entry *a, const Entry *b) { return a->s < b->s || (a->s == b->s && a->i > b->i); }

static void sift_down(Entry *h, Py_ssize_t n, Py_ssize_t i) {
    for (;;) {
        Py_ssize_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m])) m = l;
        if (r < n && worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        Entry t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int by_rank(const void *x, const void *y) {
    const Entry *a = x, *b = y;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    return a->i < b->i ? -1 : (a->i > b->i);
}

/* the k-th largest of v[0:n] (1 <= k <= n); reorders v (quickselect) */
static double kth_largest(double *v, Py_ssize_t n, Py_ssize_t k) {
    Py_ssize_t lo = 0, hi = n - 1;
    const Py_ssize_t want = k - 1; /* its index in descending order */
    while (lo < hi) {
        const double pivot = v[lo + (hi - lo) / 2];
        Py_ssize_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot) i++;
            while (v[j] < pivot) j--;
            if (i <= j) {
                const double t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else return v[want]; /* between the two parts: equal to the pivot */
    }
    return v[want];
}

/* The k best of many scores without a heap: scores often rise along the documents (short passages at the
   end of a corpus), and then nearly every one would enter it. A lower bound of the k-th best comes from a
   strided sample (the k-th best of any subset is no higher); the few scores above it are the candidates,
   and their k-th best decides. Ties go by lower index, as everywhere. Returns the entries, unsorted, and
   counts the scores that are not 0 on the way (*nonzero). */
static Py_ssize_t best_by_sample(const double *v, Py_ssize_t n, Py_ssize_t k, Entry *best, Py_ssize_t *nonzero) {
    const Py_ssize_t stride = n / (16 * k);
    const Py_ssize_t ns = n / stride;
    double *sample = PyMem_Malloc(ns * sizeof(double));
    if (!sample) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < ns; i++) sample[i] = v[i * stride];
    const double bound = kth_largest(sample, ns, k);
    PyMem_Free(sample);
    Py_ssize_t cap = 32 * k + 1024, c = 0, nz = 0;
    Py_ssize_t *cand = PyMem_Malloc(cap * sizeof(Py_ssize_t));
    if (!cand) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t start = 0; start < n; start += 1024) { /* without branches to mispredict, a block at a time */
        const Py_ssize_t end = start + 1024 < n ? start + 1024 : n;
        if (c + (end - start) > cap) {
            cap = capacity_for(cap, c + (end - start), cap);
            if (resize((void **)&cand, cap, sizeof(Py_ssize_t)) < 0) { PyMem_Free(cand); return -1; }
        }
        for (Py_ssize_t i = start; i < end; i++) {
            cand[c] = i;
            c += v[i] > bound;
            nz += v[i] != 0.0;
        }
    }
    *nonzero = nz;
    Py_ssize_t size = 0;
    if (c >= k) { /* all of the k best are above the bound: the k-th best of the candidates decides */
        double *vals = PyMem_Malloc(c * sizeof(double));
        if (!vals) { PyMem_Free(cand); PyErr_NoMemory(); return -1; }
        for (Py_ssize_t t = 0; t < c; t++) vals[t] = v[cand[t]];
        const double kth = kth_largest(vals, c, k);
        PyMem_Free(vals);
        for (Py_ssize_t t = 0; t < c; t++)
            if (v[cand[t]] > kth) { best[size].s = v[cand[t]]; best[size++].i = cand[t]; }
        for (Py_ssize_t t = 0; t < c && size < k; t++) /* ties with the k-th: the first ones */
            if (v[cand[t]] == kth) { best[size].s = kth; best[size++].i = cand[t]; }
    } else { /* the k-th best is the bound itself: all above it, then the first ones equal to it */
        for (Py_ssize_t t = 0; t < c; t++) { best[size].s = v[cand[t]]; best[size++].i = cand[t]; }
        for (Py_ssize_t i = 0; i < n && size < k; i++)
            if (v[i] == bound) { best[size].s = bound; best[size++].i = i; }
    }
    PyMem_Free(cand);
    return size;
}

/* The k best by a heap of the k best so far (for few scores, or where a mask admits only some); returns
   the entries, unsorted. */
static Py_ssize_t best_by_heap(const double *v, const unsigned char *m, Py_ssize_t n, Py_ssize_t k, Entry *heap) {
    Py_ssize_t size = 0;
    for (Py_ssize_t start = 0; k > 0 && start < n; start += 512) {
        const Py_ssize_t end = start + 512 < n ? start + 512 : n;
        if (size == k && !m) { /* a full heap: skip a block with nothing above its worst */
            const double bound = heap[0].s;
            Py_ssize_t above = 0;
            for (Py_ssize_t j = start; j < end; j++) above += v[j] > bound;
            if (!above) continue;
        }
        for (Py_ssize_t i = start; i < end; i++) {
            if (m && !m[i]) continue;
            const double x = v[i];
            if (size < k) {
                heap[size].s = x;
                heap[size].i = i;
                size++;
                if (size == k)
                    for (Py_ssize_t j = k / 2; j-- > 0;) sift_down(heap, k, j);
            } else if (x > heap[0].s) { /* (an equal score comes later: it loses the tie) */
                heap[0].s = x;
                heap[0].i = i;
                sift_down(heap, k, 0);
            }
        }
    }
    return size;
}

/* the arguments of best_matches: scores, k, mask (None: all), out; 0, or -1 with an exception */
static int select_args(PyObject *args, Arr *sc, Py_ssize_t *k, Arr *mask, int *masked, Arr *out) {
    PyObject *scores_obj, *mask_obj, *out_obj;
    memset(mask, 0, sizeof(*mask));
    if (!PyArg_ParseTuple(args, "OnOO", &scores_obj, k, &mask_obj, &out_obj)) return -1;
    if (arr_get(scores_obj, sc, 'f', 0, "scores") < 0) return -1;
    if (arr_get(out_obj, out, 'i', 1, "out") < 0) { arr_release(sc); return -1; }
    *masked = mask_obj != Py_None;
    if (*masked && arr_get(mask_obj, mask, 'i', 0, "mask") < 0) goto fail;
    if (*k < 0 || out->size != 8 || out->n < *k || (*masked && (mask->size != 1 || mask->n < sc->n))) {
        PyErr_SetString(PyExc_ValueError, "best_matches: bad k, out or mask");
        goto fail;
    }
    return 0;
fail:
    arr_release(sc);
    arr_release(out);
    arr_release(mask);
    return -1;
}

/* the indices of the k best of v[0:n] (among those m admits; NULL: all), best first, ties by lower index,
   written into out; their number, or -1 with an exception. *matches: the number of the documents m
   admits, or (m NULL) of the scores that are not 0. */
static Py_ssize_t select_best(const double *v, const unsigned char *m, Py_ssize_t n, Py_ssize_t k, int64_t *out,
                              Py_ssize_t *matches) {
    Entry *heap = PyMem_Malloc((k ? k : 1) * sizeof(Entry));
    if (!heap) { PyErr_NoMemory(); return -1; }
    Py_ssize_t counted = -1;
    const Py_ssize_t size = !m && k > 0 && n >= 32 * k ? best_by_sample(v, n, k, heap, &counted)
                                                       : best_by_heap(v, m, n, k, heap);
    if (counted < 0) { /* (the sampled way counted on its pass) */
        counted = 0;
        if (m)
            for (Py_ssize_t i = 0; i < n; i++) counted += m[i] != 0;
        else
            for (Py_ssize_t i = 0; i < n; i++) counted += v[i] != 0.0;
    }
    *matches = counted;
    if (size >= 0) {
        qsort(heap, size, sizeof(Entry), by_rank);
        for (Py_ssize_t j = 0; j < size; j++) out[j] = heap[j].i;
    }
    PyMem_Free(heap);
    return size;
}

/* best_matches(scores, k, mask, out) -> (count, matches): the matches are the documents the mask admits, or
   (None) those that score above 0 (scores are never negative); their number, and the indices of the k best
   of them, best first, ties by lower index, written into out (int64, at least k long). */
static PyObject *best_matches(PyObject *self, PyObject *args) {
    (void)self;
    Arr sc, mask, out;
    Py_ssize_t k;
    int masked;
    if (select_args(args, &sc, &k, &mask, &masked, &out) < 0) return NULL;
    Py_ssize_t matches = 0;
    /* unmasked, the best k of all scores: the matches come first, and only they are kept */
    Py_ssize_t size = select_best((const double *)sc.p, masked ? (const unsigned char *)mask.p : NULL, sc.n, k,
                                  (int64_t *)out.view.buf, &matches);
    if (size > matches) size = matches;
    arr_release(&sc);
    arr_release(&out);
    arr_release(&mask);
    return size < 0 ? NULL : Py_BuildValue("nn", size, matches);
}

/* postings(ranks, docs, positions, offsets, sorted_docs, sorted_positions, pdocs, ptf, term_postings) -> count
   Term occurrences (int32 arrays: the term's rank, its document, its position, in (document, position) order)
   turned into postings in (rank, document) order, segment.build_postings's numpy code being the reference:
   one counting pass and one stable scatter (a radix sort's random gathers over millions of occurrences
   leave the processor's caches), then one pass over each rank's run. Fills offsets (int64, one per rank
   and one more: where each rank's occurrences start), sorted_docs and sorted_positions (the occurrences'
   documents and positions in the new order; positions and sorted_positions may both be None), pdocs and ptf
   (int32, at least as long as ranks: each posting's document and term frequency) and term_postings (int64,
   like offsets: where each rank's postings start); returns the number of postings. */
static PyObject *postings(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[9];
    Arr a[9];
    static const char *names[9] = {"ranks", "docs", "positions", "offsets", "sorted_docs", "sorted_positions",
                                   "pdocs", "ptf", "term_postings"};
    static const int sizes[9] = {4, 4, 4, 8, 4, 4, 4, 4, 8};
    PyObject *result = NULL;
    int64_t *next = NULL;
    memset(a, 0, sizeof(a));
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8]))
        return NULL;
    const int with_positions = o[2] != Py_None;
    if (with_positions != (o[5] != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "postings: positions and sorted_positions go together");
        return NULL;
    }
    for (int i = 0; i < 9; i++) {
        if ((i == 2 || i == 5) && !with_positions) continue;
        if (arr_get_exact(o[i], &a[i], i >= 3, "postings", names[i], sizes[i], 1) < 0) goto done;
    }
    const Py_ssize_t n = a[0].n, nranks = a[3].n - 1;
    if (nranks < 0 || a[1].n != n || (with_positions && (a[2].n != n || a[5].n < n)) || a[4].n < n ||
        a[6].n < n || a[7].n < n || a[8].n != a[3].n) {
        PyErr_SetString(PyExc_ValueError, "postings: arrays of mismatched lengths");
        goto done;
    }
    const int32_t *ranks = (const int32_t *)a[0].p, *docs = (const int32_t *)a[1].p;
    const int32_t *pos = with_positions ? (const int32_t *)a[2].p : NULL;
    int64_t *offsets = (int64_t *)a[3].view.buf, *term_postings = (int64_t *)a[8].view.buf;
    int32_t *sorted_docs = (int32_t *)a[4].view.buf, *pdocs = (int32_t *)a[6].view.buf;
    int32_t *ptf = (int32_t *)a[7].view.buf;
    int32_t *sorted_pos = with_positions ? (int32_t *)a[5].view.buf : NULL;
    next = PyMem_RawMalloc((nranks ? nranks : 1) * sizeof(int64_t));
    if (!next) { PyErr_NoMemory(); goto done; }
    Py_ssize_t count = 0, bad = -1;
    Py_BEGIN_ALLOW_THREADS  /* plain arrays from here on: other threads may run meanwhile */
    memset(offsets, 0, (size_t)(nranks + 1) * sizeof(int64_t));
    for (Py_ssize_t i = 0; i < n; i++) {
        const int32_t r = ranks[i];
        if (r < 0 || r >= nranks) {
            bad = i;
            break;
        }
        offsets[r + 1]++;
    }
    if (bad < 0) {
        for (Py_ssize_t r = 0; r < nranks; r++) offsets[r + 1] += offsets[r];
        memcpy(next, offsets, (size_t)nranks * sizeof(int64_t));
        if (pos)
            for (Py_ssize_t i = 0; i < n; i++) {
                const int64_t k = next[ranks[i]]++;
                sorted_docs[k] = docs[i];
                sorted_pos[k] = pos[i];
            }
        else
            for (Py_ssize_t i = 0; i < n; i++) sorted_docs[next[ranks[i]]++] = docs[i];
        for (Py_ssize_t r = 0; r < nranks; r++) {
            term_postings[r] = count;
            for (int64_t k = offsets[r]; k < offsets[r + 1]; k++) {
                if (k == offsets[r] || sorted_docs[k] != pdocs[count - 1]) {
                    pdocs[count] = sorted_docs[k];
                    ptf[count++] = 1;
                } else {
                    ptf[count - 1]++;
                }
            }
        }
        term_postings[nranks] = count;
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "postings: rank %d out of range [0, %zd)", (int)ranks[bad], nranks);
        goto done;
    }
    result = PyLong_FromSsize_t(count);
done:
    PyMem_RawFree(next);
    for (int i = 0; i < 9; i++) arr_release(&a[i]);
    return result;
}

/* The words of a text: see scan_words in the comment at the top. One pass over the characters writes every
   word's start and end without a branch (a word boundary is too frequent and too irregular to predict) and
   notes the rare odd characters (a number's separator, a character outside ASCII); then one pass per word
   makes its length and keys, and one over the odd characters marks the words that hold one. */

#define SCAN_UNKNOWN_MAX 1024 /* characters of unknown class reported at once */

typedef struct {
    const uint8_t *classes; /* per code point; 255: not known yet */
    const uint8_t *table;
    int64_t c, c2, c3;
    int64_t *starts, *ends; /* ends become lengths */
    int64_t *odd;           /* positions of the odd characters, in order */
    Py_ssize_t nstarts, nends, nodd, odd_room;
    Py_UCS4 unknown[SCAN_UNKNOWN_MAX];
    int nunknown, nomem;
    Py_UCS4 bad; /* a code point whose class is out of range, plus 1 */
} Scan;

static int scan_note_odd(Scan *sc, int64_t j) {
    if (sc->nodd == sc->odd_room) {
        int64_t *more = PyMem_RawRealloc(sc->odd, 2 * sc->odd_room * sizeof(int64_t));
        if (!more) {
            sc->nomem = 1;
            return -1;
        }
        sc->odd = more;
        sc->odd_room *= 2;
    }
    sc->odd[sc->nodd++] = j;
    return 0;
}

/* the class of code point u; one not known yet is noted in unknown, one out of range in bad */
static inline unsigned scan_class(Scan *sc, Py_UCS4 u) {
    const unsigned k = sc->classes[u];
    if (k >= sc->c) {
        if (k != 255) sc->bad = u + 1;
        else if (sc->nunknown < SCAN_UNKNOWN_MAX) sc->unknown[sc->nunknown++] = u;
        return 0;
    }
    return k;
}

/* (locals, not the Scan's fields, in the loop: a store through starts could alias those, so the compiler
   would reload them every character) */
#define SCAN_PASS(T)                                                                                      \
    {                                                                                                     \
        const T *text = (const T *)data;                                                                  \
        const uint8_t *table = sc->table;                                                                 \
        const int64_t c = sc->c, c2 = sc->c2, c3 = sc->c3;                                                \
        int64_t *starts = sc->starts, *ends = sc->ends;                                                   \
        Py_ssize_t nstarts = 0, nends = 0;                                                                \
        /* the window (j - 2, j - 1, j, j + 1): w0 w1 w2 w3, class 0 outside the text */                   \
        int64_t w0 = 0, w1 = 0, w2 = n > 0 ? scan_class(sc, text[0]) : 0, w3 = n > 1 ? scan_class(sc, text[1]) : 0; \
        for (Py_ssize_t j = 0; j <= n; j++) {                                                             \
            const uint8_t flags = table[w0 * c3 + w1 * c2 + w2 * c + w3];                                 \
            starts[nstarts] = j; /* a word starts at j */                                                 \
            nstarts += flags & 1;                                                                         \
            ends[nends] = j; /* a word ends before j */                                                   \
            nends += (flags >> 1) & 1;                                                                    \
            if (((flags & 4) || (j < n && text[j] >= 128)) && scan_note_odd(sc, j) < 0) break;            \
            w0 = w1;                                                                                      \
            w1 = w2;                                                                                      \
            w2 = w3;                                                                                      \
            if (j + 2 < n) {                                                                              \
                const Py_UCS4 u = text[j + 2];                                                            \
                w3 = sc->classes[u];                                                                      \
                if (w3 >= c) {  /* not known yet (or out of range): gather the rest of those, and stop */ \
                    for (Py_ssize_t k = j + 2; k < n && !sc->bad && sc->nunknown < SCAN_UNKNOWN_MAX; k++) \
                        scan_class(sc, text[k]);                                                          \
                    break;                                                                                \
                }                                                                                         \
            } else                                                                                        \
                w3 = 0;                                                                                   \
        }                                                                                                 \
        sc->nstarts = nstarts;                                                                            \
        sc->nends = nends;                                                                                \
    }

static PyObject *scan_words(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *str, *o[7];
    Arr a[7];
    static const char *names[7] = {"classes", "table", "starts", "lengths", "irregular", "key_lo", "key_hi"};
    static const int sizes[7] = {1, 1, 8, 8, 1, 8, 8};
    PyObject *result = NULL;
    Scan *sc = NULL;
    memset(a, 0, sizeof(a));
    if (!PyArg_ParseTuple(args, "UOOOOOOO", &str, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6])) return NULL;
    for (int i = 0; i < 7; i++) {
        if (arr_get_exact(o[i], &a[i], i >= 2, "scan_words", names[i], sizes[i], i == 2 || i == 3) < 0) goto done;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(str) < 0) goto done;
#endif
    const Py_ssize_t n = PyUnicode_GET_LENGTH(str), room = n + 1;
    const int kind = PyUnicode_KIND(str);
    const void *data = PyUnicode_DATA(str);
    Py_ssize_t nclasses = 1;
    while (nclasses * nclasses * nclasses * nclasses < a[1].n) nclasses++;
    if (a[0].n != 0x110000 || nclasses * nclasses * nclasses * nclasses != a[1].n || a[2].n < room ||
        a[3].n < room || a[4].n < room || a[5].n < room || a[6].n < room) {
        PyErr_SetString(PyExc_ValueError, "scan_words: arrays of mismatched lengths");
        goto done;
    }
    sc = PyMem_RawCalloc(1, sizeof(Scan));
    if (sc) sc->odd = PyMem_RawMalloc(64 * sizeof(int64_t));
    if (!sc || !sc->odd) {
        PyErr_NoMemory();
        goto done;
    }
    sc->odd_room = 64;
    sc->classes = (const uint8_t *)a[0].p;
    sc->table = (const uint8_t *)a[1].p;
    sc->c = nclasses;
    sc->c2 = nclasses * nclasses;
    sc->c3 = sc->c2 * nclasses;
    sc->starts = (int64_t *)a[2].view.buf;
    sc->ends = (int64_t *)a[3].view.buf;
    uint8_t *irregular = (uint8_t *)a[4].view.buf;
    uint64_t *key_lo = (uint64_t *)a[5].view.buf, *key_hi = (uint64_t *)a[6].view.buf;
    int unpaired = 0;
    Py_BEGIN_ALLOW_THREADS  /* the text and plain arrays from here on: other threads may run meanwhile */
    if (kind == PyUnicode_1BYTE_KIND) SCAN_PASS(uint8_t)
    else if (kind == PyUnicode_2BYTE_KIND) SCAN_PASS(uint16_t)
    else SCAN_PASS(uint32_t)
    const Py_ssize_t nstarts = sc->nstarts;
    int64_t *starts = sc->starts, *ends = sc->ends;
    const int failed = sc->nunknown || sc->nomem || sc->bad;
    unpaired = !failed && nstarts != sc->nends;
    for (Py_ssize_t w = 0; !failed && !unpaired && w < nstarts; w++) {
        const int64_t s = starts[w], len = ends[w] - s;
        if (len <= 0 || (w + 1 < nstarts && starts[w + 1] < ends[w])) {
            unpaired = 1;
            break;
        }
        uint64_t lo = 0, hi = 0;
        irregular[w] = len > 16;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (kind == PyUnicode_1BYTE_KIND && len <= 16 && s + 16 <= n) {  /* 16 bytes in place, masked */
            memcpy(&lo, (const uint8_t *)data + s, 8);
            memcpy(&hi, (const uint8_t *)data + s + 8, 8);
            lo = len >= 8 ? lo : lo & ((UINT64_C(1) << (8 * len)) - 1);
            hi = len >= 16 ? hi : len <= 8 ? 0 : hi & ((UINT64_C(1) << (8 * (len - 8))) - 1);
        } else
#endif
        if (len <= 16)  /* a character's low byte: a word with one outside ASCII is irregular anyway */
            for (int64_t k = len - 1; k >= 0; k--) {
                const uint64_t byte = PyUnicode_READ(kind, data, s + k) & 0xFF;
                if (k >= 8) hi = (hi << 8) | byte;
                else lo = (lo << 8) | byte;
            }
        key_lo[w] = lo;
        key_hi[w] = hi;
        ends[w] = len;
    }
    if (!failed && !unpaired) {
        Py_ssize_t w = 0;
        for (Py_ssize_t i = 0; i < sc->nodd; i++) {
            const int64_t at = sc->odd[i];
            while (w + 1 < nstarts && starts[w + 1] <= at) w++;
            if (w < nstarts && starts[w] <= at && at < starts[w] + ends[w]) irregular[w] = 1;
        }
    }
    Py_END_ALLOW_THREADS
    if (sc->nomem) {
        PyErr_NoMemory();
        goto done;
    }
    if (sc->bad) {
        char code[16];
        snprintf(code, sizeof(code), "U+%04X", (unsigned)(sc->bad - 1));
        PyErr_Format(PyExc_ValueError, "scan_words: the class of %s is not below %d", code, (int)sc->c);
        goto done;
    }
    if (sc->nunknown) {  /* the caller classifies these and calls again */
        result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, sc->unknown, sc->nunknown);
        goto done;
    }
    if (unpaired) {
        PyErr_SetString(PyExc_ValueError, "scan_words: the table's word starts and ends do not pair");
        goto done;
    }
    result = PyLong_FromSsize_t(sc->nstarts);
done:
    if (sc) PyMem_RawFree(sc->odd);
    PyMem_RawFree(sc);
    for (int i = 0; i < 7; i++) arr_release(&a[i]);
    return result;
}

/* A batch's occurrences: see occurrences in the comment at the top. */
static PyObject *occurrences(PyObject *self, PyObject *args) {
    (void)self;
    enum { NUMBERS, STEM, EXACT, MULTI_LEN, MULTI_START, MULTI_FLAT, CODES, DOCS, POSITIONS, LENGTHS, EXACT_CODES,
           EXACT_DOCS, NARGS };
    PyObject *o[NARGS];
    Arr a[NARGS];
    static const char *names[NARGS] = {"numbers", "stem_codes", "exact_codes", "multi_len", "multi_start",
                                       "multi_flat", "codes", "docs", "positions", "lengths", "exact_out",
                                       "exact_docs"};
    static const int sizes[NARGS] = {4, 4, 4, 8, 8, 4, 4, 4, 4, 4, 4, 4};
    long long base;
    PyObject *result = NULL;
    memset(a, 0, sizeof(a));
    if (!PyArg_ParseTuple(args, "OOOOOOLOOOOOO", &o[NUMBERS], &o[STEM], &o[EXACT], &o[MULTI_LEN], &o[MULTI_START],
                          &o[MULTI_FLAT], &base, &o[CODES], &o[DOCS], &o[POSITIONS], &o[LENGTHS], &o[EXACT_CODES],
                          &o[EXACT_DOCS]))
        return NULL;
    const int with_exact = o[EXACT] != Py_None;
    if (with_exact != (o[EXACT_CODES] != Py_None) || with_exact != (o[EXACT_DOCS] != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "occurrences: exact_codes, exact_out and exact_docs go together");
        return NULL;
    }
    for (int i = 0; i < NARGS; i++) {
        if ((i == EXACT || i == EXACT_CODES || i == EXACT_DOCS) && !with_exact) continue;
        if (arr_get_exact(o[i], &a[i], i >= CODES, "occurrences", names[i], sizes[i], i != LENGTHS) < 0) goto done;
    }
    const Py_ssize_t n = a[NUMBERS].n, nwords = a[STEM].n, nmulti = a[MULTI_LEN].n, nflat = a[MULTI_FLAT].n;
    const Py_ssize_t room = a[CODES].n, ndocs = a[LENGTHS].n, exact_room = with_exact ? a[EXACT_CODES].n : 0;
    if ((with_exact && a[EXACT].n != nwords) || a[MULTI_START].n != nmulti || a[DOCS].n != room ||
        a[POSITIONS].n != room || (with_exact && a[EXACT_DOCS].n != exact_room) || ndocs < 1 ||
        base < 0 || base + ndocs > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "occurrences: arrays of mismatched lengths");
        goto done;
    }
    const int32_t *numbers = (const int32_t *)a[NUMBERS].p, *stem = (const int32_t *)a[STEM].p;
    const int32_t *exact = with_exact ? (const int32_t *)a[EXACT].p : NULL, *flat = (const int32_t *)a[MULTI_FLAT].p;
    const int64_t *mlen = (const int64_t *)a[MULTI_LEN].p, *mstart = (const int64_t *)a[MULTI_START].p;
    int32_t *codes = (int32_t *)a[CODES].view.buf, *docs = (int32_t *)a[DOCS].view.buf;
    int32_t *positions = (int32_t *)a[POSITIONS].view.buf;
    uint32_t *lengths = (uint32_t *)a[LENGTHS].view.buf;
    int32_t *exact_out = with_exact ? (int32_t *)a[EXACT_CODES].view.buf : NULL;
    int32_t *exact_docs = with_exact ? (int32_t *)a[EXACT_DOCS].view.buf : NULL;
    Py_ssize_t count = 0, nexact = 0, bad = -1;
    const char *why = NULL;
    Py_BEGIN_ALLOW_THREADS  /* plain arrays from here on: other threads may run meanwhile */
    memset(lengths, 0, (size_t)ndocs * sizeof(uint32_t));
    int64_t doc = 0, pos = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const int32_t w = numbers[i];
        if (w < 0 || w >= nwords) {
            bad = i;
            why = "a word number out of range";
            break;
        }
        if (w == 0) {  /* the batch separator: the next document starts */
            if (++doc >= ndocs) {
                bad = i;
                why = "more documents than lengths";
                break;
            }
            pos = 0;
        } else {
            const int32_t code = stem[w];
            if (code >= 0) {
                if (count < room) {
                    codes[count] = code;
                    docs[count] = (int32_t)(doc + base);
                    positions[count] = (int32_t)pos;
                }
                count++;
                lengths[doc]++;
                pos++;
            } else if (code == -1) {  /* removed (a stopword): it keeps its position */
                pos++;
            } else {  /* a word that yields several terms: one position each */
                const int64_t k = -2 - (int64_t)code;
                if (k >= nmulti || mstart[k] < 0 || mlen[k] < 0 || mstart[k] + mlen[k] > nflat) {
                    bad = i;
                    why = "a split word past the split-word table";
                    break;
                }
                for (int64_t part = 0; part < mlen[k]; part++) {
                    const int32_t pc = flat[mstart[k] + part];
                    if (pc >= 0) {
                        if (count < room) {
                            codes[count] = pc;
                            docs[count] = (int32_t)(doc + base);
                            positions[count] = (int32_t)(pos + part);
                        }
                        count++;
                        lengths[doc]++;
                    }
                }
                pos += mlen[k];
            }
        }
        if (exact && exact[w] >= 0) {
            if (nexact < exact_room) {
                exact_out[nexact] = exact[w];
                exact_docs[nexact] = (int32_t)(doc + base);
            }
            nexact++;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "occurrences: %s at token %zd", why, bad);
        goto done;
    }
    result = Py_BuildValue("nn", count, nexact);
done:
    for (int i = 0; i < NARGS; i++) arr_release(&a[i]);
    return result;
}

/* Word keys looked up in the writer's key table: see key_lookup in the comment at the top. */
static PyObject *key_lookup(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[6];
    Arr a[6];
    static const char *names[6] = {"table_lo", "table_hi", "table_values", "lo", "hi", "out"};
    static const int sizes[6] = {8, 8, 4, 8, 8, 4};
    unsigned long long mix_lo, mix_hi;
    PyObject *result = NULL;
    memset(a, 0, sizeof(a));
    if (!PyArg_ParseTuple(args, "OOOOOOKK", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &mix_lo, &mix_hi))
        return NULL;
    for (int i = 0; i < 6; i++) {
        if (arr_get_exact(o[i], &a[i], i == 5, "key_lookup", names[i], sizes[i], i == 2 || i == 5) < 0) goto done;
    }
    const Py_ssize_t size = a[0].n, n = a[3].n;
    int bits = 0;
    while (bits < 63 && ((Py_ssize_t)1 << bits) < size) bits++;
    if (size < 2 || ((Py_ssize_t)1 << bits) != size || a[1].n != size || a[2].n != size || a[4].n != n ||
        a[5].n != n) {
        PyErr_SetString(PyExc_ValueError, "key_lookup: arrays of mismatched lengths (the table's: a power of 2)");
        goto done;
    }
    const uint64_t *tlo = (const uint64_t *)a[0].p, *thi = (const uint64_t *)a[1].p;
    const uint64_t *lo = (const uint64_t *)a[3].p, *hi = (const uint64_t *)a[4].p;
    const int32_t *values = (const int32_t *)a[2].p;
    int32_t *out = (int32_t *)a[5].view.buf;
    const uint64_t mask = (uint64_t)size - 1;
    Py_ssize_t missing = 0, full = 0;
    Py_BEGIN_ALLOW_THREADS  /* plain arrays from here on: other threads may run meanwhile */
    for (Py_ssize_t i = 0; i < n && !full; i++) {
        uint64_t slot = ((lo[i] * (uint64_t)mix_lo) ^ (hi[i] * (uint64_t)mix_hi)) >> (64 - bits);
        int32_t found = -1;
        for (Py_ssize_t probes = 0;; probes++) {
            const int32_t v = values[slot];
            if (tlo[slot] == lo[i] && thi[slot] == hi[i]) {  /* (an empty slot holds (0, 0) and -1) */
                found = v;
                break;
            }
            if (v < 0) break;
            if (probes == size) {  /* no empty slot: not a table this kernel's caller keeps */
                full = 1;
                break;
            }
            slot = (slot + 1) & mask;
        }
        out[i] = found;
        missing += found < 0;
    }
    Py_END_ALLOW_THREADS
    if (full) {
        PyErr_SetString(PyExc_ValueError, "key_lookup: a table without an empty slot");
        goto done;
    }
    result = PyLong_FromSsize_t(missing);
done:
    for (int i = 0; i < 6; i++) arr_release(&a[i]);
    return result;
}

/* A stored document's JSON: see json_object in the comment at the top. */
static inline char *json_char(char *out, Py_UCS4 c, int *surrogate) {
    static const char hex[] = "0123456789abcdef";
    if (c < 0x80) {
        if (c >= 0x20 && c != '"' && c != '\\') {
            *out++ = (char)c;
            return out;
        }
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    } else if (c < 0x800) {
        *out++ = (char)(0xC0 | (c >> 6));
        *out++ = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        if (c >= 0xD800 && c <= 0xDFFF) *surrogate = 1;
        *out++ = (char)(0xE0 | (c >> 12));
        *out++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *out++ = (char)(0x80 | (c & 0x3F));
    } else {
        *out++ = (char)(0xF0 | (c >> 18));
        *out++ = (char)(0x80 | ((c >> 12) & 0x3F));
        *out++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *out++ = (char)(0x80 | (c & 0x3F));
    }
    return out;
}

static char *json_string(char *out, PyObject *str, int *surrogate) {
    const Py_ssize_t n = PyUnicode_GET_LENGTH(str);
    const int kind = PyUnicode_KIND(str);
    const void *data = PyUnicode_DATA(str);
    *out++ = '"';
    if (kind == PyUnicode_1BYTE_KIND) {
        const uint8_t *t = (const uint8_t *)data;
        for (Py_ssize_t i = 0; i < n; i++) {
            const uint8_t c = t[i];
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') *out++ = (char)c;  /* most characters */
            else out = json_char(out, c, surrogate);
        }
    } else if (kind == PyUnicode_2BYTE_KIND) {
        const uint16_t *t = (const uint16_t *)data;
        for (Py_ssize_t i = 0; i < n; i++) out = json_char(out, t[i], surrogate);
    } else {
        const uint32_t *t = (const uint32_t *)data;
        for (Py_ssize_t i = 0; i < n; i++) out = json_char(out, t[i], surrogate);
    }
    *out++ = '"';
    return out;
}

/* a JSON scalar that is not a string: null, true, false or an int (Python's digits) */
static PyObject *json_plain(PyObject *value) {
    if (value == Py_None) return PyUnicode_FromString("null");
    if (value == Py_True) return PyUnicode_FromString("true");
    if (value == Py_False) return PyUnicode_FromString("false");
    if (PyLong_CheckExact(value)) return PyObject_Str(value);
    return NULL;  /* (no error set: not one of those) */
}

static PyObject *json_object(PyObject *self, PyObject *obj) {
    (void)self;
    if (!PyDict_CheckExact(obj)) Py_RETURN_NONE;
    Py_ssize_t pos = 0, bound = 2;
    PyObject *key, *value;
    while (PyDict_Next(obj, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) Py_RETURN_NONE;
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(key) < 0 || (PyUnicode_CheckExact(value) && PyUnicode_READY(value) < 0)) return NULL;
#endif
        Py_ssize_t chars = PyUnicode_GET_LENGTH(key);
        if (PyUnicode_CheckExact(value)) chars += PyUnicode_GET_LENGTH(value);
        else if (value == Py_None || PyBool_Check(value)) chars += 5;
        else if (PyLong_CheckExact(value)) {
            PyObject *digits = PyObject_Str(value);
            if (!digits) return NULL;
            chars += PyUnicode_GET_LENGTH(digits);
            Py_DECREF(digits);
        } else Py_RETURN_NONE;
        if (chars > (PY_SSIZE_T_MAX - bound) / 6 - 6) return PyErr_NoMemory();
        bound += 6 * chars + 6;  /* at most 6 bytes a character (\u001f), quotes, ':' and ',' */
    }
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, bound);
    if (!bytes) return NULL;
    char *start = PyBytes_AS_STRING(bytes), *out = start;
    int surrogate = 0;
    *out++ = '{';
    pos = 0;
    int first = 1;
    while (PyDict_Next(obj, &pos, &key, &value)) {
        if (!first) *out++ = ',';
        first = 0;
        out = json_string(out, key, &surrogate);
        *out++ = ':';
        if (PyUnicode_CheckExact(value)) {
            out = json_string(out, value, &surrogate);
            continue;
        }
        PyObject *text = json_plain(value);  /* ASCII */
        if (!text) {
            Py_DECREF(bytes);
            if (PyErr_Occurred()) return NULL;
            Py_RETURN_NONE;  /* the dict changed under us: the caller's encoder decides */
        }
        const Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        if (out - start + len + 2 > bound) {
            Py_DECREF(text);
            Py_DECREF(bytes);
            Py_RETURN_NONE;
        }
        memcpy(out, PyUnicode_DATA(text), (size_t)len);
        out += len;
        Py_DECREF(text);
    }
    *out++ = '}';
    if (surrogate) {  /* not UTF-8: the caller's JSON encoder says why */
        Py_DECREF(bytes);
        Py_RETURN_NONE;
    }
    if (_PyBytes_Resize(&bytes, out - start) < 0) return NULL;
    return bytes;
}

static PyMethodDef methods[] = {
    {"best_matches", best_matches, METH_VARARGS, "The number of matches and the k best of them, best first."},
    {"score_or", score_or, METH_VARARGS, "BM25F scores of an OR of terms, added into scores; returns each term's df."},
    {"rerank", rerank, METH_VARARGS, "Proximity and lead bonuses added into the matches' scores; the best first."},
    {"postings", postings, METH_VARARGS, "Term occurrences turned into postings, in (rank, document) order."},
    {"json_object", json_object, METH_O, "A dict of str to str as compact JSON in UTF-8, or None for any other."},
    {"occurrences", occurrences, METH_VARARGS, "A batch's term occurrences, documents, positions and lengths."},
    {"key_lookup", key_lookup, METH_VARARGS, "Word keys looked up in an open-addressing table; returns the misses."},
    {"scan_words", scan_words, METH_VARARGS, "The words of a text: starts, lengths, irregular, 16-byte keys."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "idsearch._kernel", .m_doc = NULL, .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
