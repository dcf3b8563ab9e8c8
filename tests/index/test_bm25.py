"""The fast BM25 engine against rank-bm25 itself, the oracle, on random corpora; the idf table looked up through
the vocabulary."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from askidcpc.config import BM25Params
from askidcpc.index import _kernels, bm25
from askidcpc.index._tables import narrowest
from askidcpc.index.bm25 import build_index, index_from_counts, posting_weights, query_weights, term_idf, top_k
from askidcpc.index.paragraphs import row_scores
from askidcpc.pipeline import Pipeline
from askidcpc.reader.evidence import highest_idf
from tests.conftest import corpus

# rank-bm25 divides 0 by 0 for an empty passage when b = 1 (a NaN the tests map to 0).
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

VOCAB = [f"w{i}" for i in range(40)]


def random_corpus(seed: int, n_docs: int) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(seed)
    # Zipf-ish: low ids far more common, so some terms appear in over half of the passages (negative idf).
    weights = [1 / (i + 1) for i in range(len(VOCAB))]
    docs = [rng.choices(VOCAB, weights, k=rng.randint(0, 15)) for _ in range(n_docs)]
    queries = [rng.choices([*VOCAB, "unseen"], k=rng.randint(1, 5)) for _ in range(25)]
    return docs, queries


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_docs", [1, 2, 7, 60, 400])
@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (0.4, 0.75), (1.2, 0.0), (2.0, 1.0)])
def test_okapi_scores_equal_rank_bm25(seed: int, n_docs: int, k1: float, b: float) -> None:
    docs, queries = random_corpus(seed, n_docs)
    if sum(map(len, docs)) == 0:
        docs[0] = ["w1"]
    oracle = BM25Okapi(docs, k1=k1, b=b, epsilon=0.25)
    index = build_index(docs, BM25Params("okapi", k1=k1, b=b, epsilon=0.25))
    for query in queries:
        # rank-bm25 gives 0/0 = NaN for an empty passage when b = 1; no match scores 0.
        expected = np.nan_to_num(oracle.get_scores(query), nan=0.0)
        got = index.scores(query_weights(query))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        hits = index.search(query_weights(query), 10)
        # Same ranking: every returned score is the oracle's, in non-increasing order, and nothing better was left out.
        matched = [i for i, doc in enumerate(docs) if set(doc) & set(query)]
        best = sorted((expected[i] for i in matched), reverse=True)[:10]
        np.testing.assert_allclose([s for _, s in hits], best, atol=1e-9)
        for pid, score in hits:
            assert abs(expected[pid] - score) < 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_plus_matches_rank_bm25_on_matching_terms(seed: int) -> None:
    """rank-bm25's BM25Plus adds ``idf * delta`` for every query term to every passage; ours adds it only where the
    term occurs (the published formula). Removing that part from both sides must leave identical scores."""
    docs, queries = random_corpus(seed, 80)
    k1, b, delta = 1.5, 0.75, 1.0
    oracle = BM25Plus(docs, k1=k1, b=b, delta=delta)
    index = build_index(docs, BM25Params("plus", k1=k1, b=b, delta=delta))
    for query in queries:
        expected = oracle.get_scores(query)
        got = index.scores(query_weights(query))
        every = sum(oracle.idf.get(term, 0.0) * delta for term in query)
        for pid, doc in enumerate(docs):
            matched = sum(oracle.idf.get(term, 0.0) * delta for term in query if term in doc)
            assert got[pid] - matched == pytest.approx(expected[pid] - every, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_l_matches_rank_bm25_up_to_its_extra_tf_factor(seed: int) -> None:
    """rank-bm25's BM25L multiplies each term's published BM25L contribution by the term's frequency once more
    (``idf * q_freq * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)``). Ours is the published formula, so for a
    one-term query rank-bm25's score is ours times the term frequency."""
    docs, _ = random_corpus(seed, 80)
    k1, b, delta = 1.5, 0.75, 0.5
    oracle = BM25L(docs, k1=k1, b=b, delta=delta)
    index = build_index(docs, BM25Params("l", k1=k1, b=b, delta=delta))
    for term in VOCAB[:12]:
        expected = oracle.get_scores([term])
        got = index.scores({term: 1.0})
        tf = np.array([doc.count(term) for doc in docs], dtype=float)
        np.testing.assert_allclose(got * tf, expected, atol=1e-9)


@pytest.mark.parametrize("variant", ["lucene", "plus", "l"])
def test_tiny_corpus_variants_keep_positive_idf(variant: str) -> None:
    docs = [["song", "head"], ["song", "1951"]]
    index = build_index(docs, BM25Params(variant))
    assert (index.idf() > 0).all()
    assert index.search({"song": 1.0}, 2)[0][1] > 0


@pytest.mark.parametrize(
    ("scores", "k", "expected"),
    [
        ([1.0, 3.0, 2.0], 2, [(1, 3.0), (2, 2.0)]),
        ([2.0, 2.0, 2.0, 1.0], 2, [(0, 2.0), (1, 2.0)]),  # ties go to the lower pid
        ([5.0], 3, [(0, 5.0)]),
        ([1.0, 1.0, 0.5, 1.0], 3, [(0, 1.0), (1, 1.0), (3, 1.0)]),
    ],
)
def test_top_k(scores: list[float], k: int, expected: list[tuple[int, float]]) -> None:
    pids = np.arange(len(scores))
    assert top_k(pids, np.array(scores), k) == expected


def test_unknown_terms_and_empty_query_give_no_hits() -> None:
    index = build_index([["a", "b"], ["b", "c"]])
    assert index.search({"zzz": 1.0}, 5) == []
    assert index.search({}, 5) == []


def test_bad_params_are_refused() -> None:
    with pytest.raises(ValueError, match="variant"):
        BM25Params("bogus")
    with pytest.raises(ValueError, match="k1"):
        BM25Params(k1=-1)


def test_idf_table_looks_terms_up_through_the_vocabulary() -> None:
    pipeline = Pipeline.from_documents(corpus(6, 6))
    idf = pipeline.index.idf()
    eager = {term: float(idf[column]) for term, column in pipeline.index.vocab.items()}
    table = pipeline.idf_by_term
    assert dict(table) == eager and len(table) == len(eager)
    assert "river" in table and "zeppelin" not in table and table.get("zeppelin") is None
    assert highest_idf(table) == max(eager.values()) == highest_idf(eager)


def stored_weights(params: BM25Params, doc_len: np.ndarray, term_freqs: sp.csc_matrix) -> np.ndarray:
    """The weights an index of format version 2 stored: its build's computation, verbatim (the oracle for the
    weights computed on the fly now)."""
    n_docs = int(doc_len.shape[0])
    avgdl = float(doc_len.sum()) / n_docs if n_docs else 0.0
    norm = 1 - params.b + params.b * doc_len / avgdl if avgdl > 0 else np.ones(n_docs, dtype=np.float64)
    doc_freq = np.diff(term_freqs.indptr)
    idf = term_idf(params, doc_freq.astype(np.float64), n_docs)
    tf = term_freqs.data.astype(np.float64)
    if params.variant in ("okapi", "lucene"):
        data = norm[term_freqs.indices]
        data *= params.k1
        data += tf
        tf *= params.k1 + 1
        np.divide(tf, data, out=data)
        data *= np.repeat(idf, doc_freq)
        return data
    return posting_weights(params, tf, norm[term_freqs.indices], np.repeat(idf, doc_freq))


EXACT_PARAMS = [
    BM25Params("okapi", k1=1.5, b=0.75, epsilon=0.25),
    BM25Params("okapi", k1=1.2, b=0.0),
    BM25Params("okapi", k1=2.0, b=1.0),
    BM25Params("lucene"),
    BM25Params("lucene", k1=1.2, b=0.3),
    BM25Params("plus", delta=1.0),
    BM25Params("plus", k1=0.9, delta=0.5),
    BM25Params("l", delta=0.5),
    BM25Params("l", k1=2.0, b=1.0, delta=1.0),
]


@pytest.mark.parametrize("params", EXACT_PARAMS, ids=str)
@pytest.mark.parametrize("narrow", [False, True])  # int32/int64 in memory, or the narrow dtypes of a saved index
def test_weights_on_the_fly_are_the_stored_weights_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, params: BM25Params, narrow: bool
) -> None:
    """Every path that computes a posting's weight now (numpy per column, numpy for chosen rows, the compiled
    kernels) gives the very bits of the weight a version-2 index stored, so scores are unchanged."""
    monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", 0)
    rng = random.Random(7)
    docs = [rng.choices(VOCAB, [1 / (i + 1) for i in range(len(VOCAB))], k=rng.randint(0, 25)) for _ in range(300)]
    # Past the kernels' table of tf parts (tf 16+, 1,024+ tokens): computed, not looked up.
    docs += [["w1"] * 20 + ["w3"], rng.choices(VOCAB, k=1100), ["w0"] * 300]
    built = build_index(docs, params)
    term_freqs, doc_len = built.term_freqs, built.doc_len
    if narrow:
        term_freqs = sp.csc_matrix((narrowest(term_freqs.data), term_freqs.indices, term_freqs.indptr))
        doc_len = narrowest(doc_len)
        assert (term_freqs.data.dtype, doc_len.dtype) == (np.uint16, np.uint16)
    index = index_from_counts(params, built.vocab, doc_len, term_freqs)
    expected = stored_weights(params, built.doc_len, built.term_freqs)
    assert index.all_weights().tobytes() == expected.tobytes()
    assert index.weights.data.tobytes() == expected.tobytes()  # as the search kernels read them
    matrix = sp.csc_matrix((expected, built.term_freqs.indices, built.term_freqs.indptr), shape=term_freqs.shape)
    rows = np.arange(0, index.n_docs, 3, dtype=np.int64)
    for query in ({"w0": 1.0}, {"w3": 2.0, "w1": 0.5}, {"w7": 1.0, "w0": 1.0, "w20": 3.0}):
        old = np.zeros(index.n_docs)
        for term, weight in query.items():
            lo, hi = matrix.indptr[index.vocab[term]], matrix.indptr[index.vocab[term] + 1]
            old[matrix.indices[lo:hi]] += weight * matrix.data[lo:hi]
        assert index.scores(query).tobytes() == old.tobytes()
        for compiled in (False, True):
            scores, _ = row_scores(index, rows, query, compiled=compiled)
            assert scores.tobytes() == old[rows].tobytes()
        if len(query) == 1 and float(expected.min()) > 0:  # one term: a search's scores are its weights exactly
            hits = index.search(query, 20)
            assert [score for _, score in hits] == sorted(old[old != 0], reverse=True)[:20]


@pytest.mark.parametrize("size", [0, 1, 513, 1 << 21])
def test_a_sparse_buffer_is_a_writable_float64_array_of_its_size(size: int) -> None:
    buffer = bm25.sparse_buffer(size)
    assert (buffer.dtype, buffer.shape, buffer.flags.writeable) == (np.float64, (size,), True)
    if size:
        at = np.unique(np.linspace(0, size - 1, 7).astype(np.int64))
        buffer[at] = at * 0.5
        assert buffer[at].tolist() == (at * 0.5).tolist()
