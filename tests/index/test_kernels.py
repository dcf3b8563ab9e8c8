"""The fast top-k kernels against the plain exhaustive reference beside them, on random corpora."""

from __future__ import annotations

import logging
import random
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from askidcpc.config import VARIANTS, BM25Params
from askidcpc.index import _kernels
from askidcpc.index.bm25 import BM25Index, build_index


@pytest.fixture(autouse=True)
def compiled_at_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """These small test corpora exercise the compiled kernels, which only indexes of a million postings use."""
    monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", 0)
    if _kernels.NUMBA_AVAILABLE:
        _kernels.compile_kernels()


def zipf_corpus(seed: int, n_docs: int, vocab: int) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"t{i}" for i in range(vocab)]
    weights = [1 / (i + 2) for i in range(vocab)]
    return [rng.choices(words, weights, k=rng.randint(1, 30)) for _ in range(n_docs)]


def random_query(rng: random.Random, vocab: int, ties: bool) -> dict[str, float]:
    terms = rng.sample(range(vocab), rng.randint(1, 6))
    return {f"t{t}": float(rng.randint(1, 3)) if ties else rng.uniform(0.1, 3.0) for t in terms}


def columns_and_weights(index: BM25Index, query: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(index.vocab[t], w) for t, w in query.items() if t in index.vocab]
    return np.array([c for c, _ in pairs], dtype=np.int64), np.array([w for _, w in pairs], dtype=np.float64)


def assert_same_top_k(got: _kernels.Result, expected: _kernels.Result) -> None:
    """Same scores (to 1e-9) in the same order; the same pids wherever the score is not tied with another."""
    got_pids, got_scores = got
    expected_pids, expected_scores = expected
    np.testing.assert_allclose(got_scores, expected_scores, rtol=0, atol=1e-9)
    for i, score in enumerate(expected_scores.tolist()[:-1]):  # the last one may tie with the first left out
        if int((np.abs(expected_scores - score) <= 1e-9).sum()) == 1:
            assert got_pids[i] == expected_pids[i]
    assert len(set(got_pids.tolist())) == len(got_pids)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    ("seed", "n_docs", "vocab"),
    [(0, 3000, 60), (1, 3000, 400), (2, 500, 25), pytest.param(3, 5000, 2000, marks=pytest.mark.slow)],  # large: slow
)
@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_maxscore_equals_reference(variant: str, seed: int, n_docs: int, vocab: int, k: int) -> None:
    index = build_index(zipf_corpus(seed, n_docs, vocab), BM25Params(variant, epsilon=0.25))
    matrix = index.weights
    if float(matrix.data.min()) <= 0:
        pytest.skip("okapi weights of 0 or below take the numpy path")
    bounds = _kernels.TermBounds(matrix.indptr, matrix.data)
    rng = random.Random(seed * 100 + k)
    for ties in (False, True):
        for _ in range(40):
            columns, weights = columns_and_weights(index, random_query(rng, vocab, ties))
            expected = _kernels.reference_top_k(matrix.indptr, matrix.indices, matrix.data, columns, weights, k)
            got = _kernels.maxscore_top_k(
                matrix.indptr, matrix.indices, matrix.data, bounds, columns, weights, k, index.n_docs
            )
            assert_same_top_k(got, expected)
            if not ties:  # continuous weights: no ties, so exactly the reference's pids
                assert got[0].tolist() == expected[0].tolist()
            canonical = _kernels.canonical_top_k(
                matrix.indptr, matrix.indices, matrix.data, bounds, columns, weights, k, index.n_docs
            )  # numpy adding in the kernels' order: the same passages and scores, bit for bit
            assert (got[0].tolist(), got[1].tolist()) == (canonical[0].tolist(), canonical[1].tolist())
            numpy_result = _kernels.numpy_top_k(
                matrix.indptr, matrix.indices, matrix.data, columns, weights, k, index.n_docs
            )
            assert numpy_result[0].tolist() == expected[0].tolist()


@pytest.mark.parametrize(("seed", "k"), [(0, 1), (1, 10), (2, 50)])
def test_exhaustive_kernel_equals_reference(seed: int, k: int) -> None:
    """The term-at-a-time path MaxScore hands queries of many common terms to, called directly."""
    index = build_index(zipf_corpus(seed, 3000, 100))
    matrix = index.weights
    accumulator = np.zeros(index.n_docs, dtype=np.float64)
    rng = random.Random(seed)
    for ties in (False, True):
        for _ in range(30):
            columns, weights = columns_and_weights(index, random_query(rng, 100, ties))
            heap_scores, heap_pids = np.empty(k), np.empty(k, dtype=np.int64)
            size = _kernels._exhaustive(
                matrix.indptr, matrix.indices, matrix.data, columns, weights, k, accumulator, heap_scores, heap_pids
            )
            order = np.lexsort((heap_pids[:size], -heap_scores[:size]))
            got = (heap_pids[:size][order], heap_scores[:size][order])
            expected = _kernels.reference_top_k(matrix.indptr, matrix.indices, matrix.data, columns, weights, k)
            assert_same_top_k(got, expected)
            assert got[0].tolist() == expected[0].tolist()
            assert not accumulator.any()  # handed back zeroed
            # in the order _top_k hands it the terms (bounds ascending), bit for bit numpy's in the kernels' order
            bounds = _kernels.TermBounds(matrix.indptr, matrix.data)
            ranked, ranked_weights = (a[::-1].copy() for a in _kernels.canonical_order(bounds, columns, weights))
            size = _kernels._exhaustive(
                matrix.indptr,
                matrix.indices,
                matrix.data,
                ranked,
                ranked_weights,
                k,
                accumulator,
                heap_scores,
                heap_pids,
            )
            order = np.lexsort((heap_pids[:size], -heap_scores[:size]))
            canonical = _kernels.canonical_top_k(
                matrix.indptr, matrix.indices, matrix.data, bounds, columns, weights, k, index.n_docs
            )
            assert heap_pids[:size][order].tolist() == canonical[0].tolist()
            assert heap_scores[:size][order].tolist() == canonical[1].tolist()


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    docs=st.lists(st.lists(st.integers(0, 12), min_size=0, max_size=12), min_size=1, max_size=150),
    query=st.dictionaries(st.integers(0, 14), st.floats(0.05, 4.0), min_size=1, max_size=5),
    k=st.integers(1, 12),
)
def test_search_equals_reference_on_any_corpus(docs: list[list[int]], query: dict[int, float], k: int) -> None:
    """Any corpus (empty passages, one passage, duplicated terms, terms in every passage), any positive query."""
    index = build_index([[f"w{t}" for t in doc] for doc in docs])
    terms = {f"w{t}": weight for t, weight in query.items()}
    columns, weights = columns_and_weights(index, terms)
    matrix = index.weights
    expected = _kernels.reference_top_k(matrix.indptr, matrix.indices, matrix.data, columns, weights, k)
    hits = index.search(terms, k)
    got = (np.array([p for p, _ in hits], dtype=np.int64), np.array([s for _, s in hits], dtype=np.float64))
    assert_same_top_k(got, expected)
    assert len(hits) == min(k, len(expected[0]))


def test_ties_go_to_the_lower_pid() -> None:
    index = build_index([["a", "b"], ["c"], ["a", "b"], ["a", "b"], ["b", "a"]])
    assert [pid for pid, _ in index.search({"a": 1.0, "b": 1.0}, 2)] == [0, 2]


def test_search_without_numba_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = zipf_corpus(7, 2000, 300)
    fast = build_index(docs)
    monkeypatch.setattr(_kernels, "NUMBA_AVAILABLE", False)
    plain = build_index(docs)
    rng = random.Random(7)
    for _ in range(30):
        query = random_query(rng, 300, ties=False)
        plain_hits, fast_hits = plain.search(query, 10), fast.search(query, 10)
        assert [pid for pid, _ in plain_hits] == [pid for pid, _ in fast_hits]
        np.testing.assert_allclose([s for _, s in plain_hits], [s for _, s in fast_hits], rtol=0, atol=1e-9)
    assert not plain._prunable


def test_negative_weights_take_the_exhaustive_path() -> None:
    """Okapi's floored idf is negative when most terms are in over half of the passages; pruning assumes weights
    >= 0, so such an index is searched exhaustively, and still agrees with the dense scores."""
    docs = [["x", "y"], ["x", "y"], ["x", "z"], ["y"]]
    index = build_index(docs, BM25Params("okapi"))
    assert float(index.weights.data.min()) < 0
    assert not index._prunable
    scores = index.scores({"x": 1.0, "z": 1.0})
    hits = index.search({"x": 1.0, "z": 1.0}, 4)
    assert [pid for pid, _ in hits] == sorted(range(3), key=lambda pid: (-scores[pid], pid))
    np.testing.assert_allclose([s for _, s in hits], sorted(scores[:3], reverse=True), atol=1e-12)


@pytest.mark.parametrize(
    ("params", "prunable"),
    [
        (BM25Params("lucene"), True),
        (BM25Params("plus"), True),
        (BM25Params("l"), True),
        (BM25Params("okapi"), False),  # "x" and "y" are in over half of the passages: negative idf floor
        (BM25Params("plus", delta=-2.0), False),  # a negative tf part
    ],
)
def test_pruning_only_where_no_weight_is_negative(params: BM25Params, prunable: bool) -> None:
    docs = [["x", "y"], ["x", "y", "y"], ["x", "z"], ["y"], ["x", "y", "z", "w"]]
    index = build_index(docs, params)
    assert index._prunable is (prunable and _kernels.NUMBA_AVAILABLE)
    assert (float(index.weights.data.min()) > 0) is prunable
    matrix = index.weights
    for query in ({"x": 1.0}, {"x": 1.0, "z": 2.0}, {"w": 1.0, "y": 1.0, "x": 0.5}):
        columns, weights = columns_and_weights(index, query)
        expected = _kernels.reference_top_k(matrix.indptr, matrix.indices, matrix.data, columns, weights, 3)
        hits = index.search(query, 3)
        assert [pid for pid, _ in hits] == expected[0].tolist()
        np.testing.assert_allclose([s for _, s in hits], expected[1], rtol=0, atol=1e-12)


def test_search_many_keeps_order_and_results() -> None:
    index = build_index(zipf_corpus(11, 3000, 500))
    rng = random.Random(11)
    queries = [random_query(rng, 500, ties=True) for _ in range(60)] + [{}, {"unseen": 1.0}]
    rng.shuffle(queries)
    expected = [index.search(query, 5) for query in queries]
    assert sum(1 for hits in expected if not hits) == 2
    assert index.search_many(queries, 5, workers=2) == expected
    assert index.search_many(queries, 5, workers=1) == expected


@pytest.mark.parametrize("seed", range(3))
def test_term_bounds_bound_every_weight(seed: int) -> None:
    index = build_index([*zipf_corpus(seed, 400, 80), []])
    matrix = index.weights
    bounds = _kernels.TermBounds(matrix.indptr, matrix.data)
    for column in range(matrix.shape[1]):
        lo, hi = matrix.indptr[column], matrix.indptr[column + 1]
        assert bounds.upper[column] == (matrix.data[lo:hi].max() if hi > lo else 0.0)
    for p, weight in enumerate(matrix.data.tolist()):
        assert bounds.block_max[p // _kernels.BLOCK] >= weight


@pytest.mark.parametrize(
    ("threshold", "postings", "expected"),
    [(1_000_000, 999_999, False), (1_000_000, 1_000_000, True), (0, 0, True)],
)
def test_compiled_only_from_the_threshold(
    monkeypatch: pytest.MonkeyPatch, threshold: int, postings: int, expected: bool
) -> None:
    monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", threshold)
    assert _kernels.use_compiled(postings) is (expected and _kernels.NUMBA_AVAILABLE)


def test_a_small_index_is_searched_with_numpy_and_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the threshold (the bundled corpus, any corpus of up to tens of thousands of sentences) nothing is
    compiled; the numpy search gives the compiled one's results."""
    docs = zipf_corpus(5, 2000, 300)
    fast = build_index(docs)
    assert fast._prunable is _kernels.NUMBA_AVAILABLE  # decided once per index, at its first search
    monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", fast.weights.nnz + 1)
    plain = build_index(docs)
    assert not plain._prunable
    rng = random.Random(5)
    queries = [random_query(rng, 300, ties=True) for _ in range(30)]
    for query in queries:
        plain_hits, fast_hits = plain.search(query, 10), fast.search(query, 10)
        assert [pid for pid, _ in plain_hits] == [pid for pid, _ in fast_hits]
        np.testing.assert_allclose([s for _, s in plain_hits], [s for _, s in fast_hits], rtol=0, atol=1e-9)
    assert plain.search_many(queries, 10, workers=2) == [plain.search(query, 10) for query in queries]


def test_a_slow_first_call_is_announced(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A first call that takes longer than the notice delay (compiling) logs the notice once; a later call with the
    same array types does not."""
    monkeypatch.setattr(_kernels, "_NOTICE_AFTER", 0.0)
    arrays = (np.zeros(3, dtype=np.int16), np.zeros(2, dtype=np.float32))
    with caplog.at_level(logging.INFO, logger=_kernels.__name__):
        with _kernels.first_call_notice("test-kernel", arrays):
            time.sleep(0.2)
        with _kernels.first_call_notice("test-kernel", arrays):
            time.sleep(0.2)
    assert [record.getMessage() for record in caplog.records] == [_kernels.COMPILE_NOTICE]


def _add_one(values: np.ndarray) -> None:
    for i in range(len(values)):
        values[i] += 1.0


@pytest.mark.skipif(not _kernels.NUMBA_AVAILABLE, reason="numba is not installed")
def test_where_numba_cannot_cache_it_compiles_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """No writable cache folder (a read-only install and a read-only home): numba refuses ``cache=True`` with a
    RuntimeError; the kernel is compiled without a disk cache instead of failing the search."""
    import numba

    real_njit = numba.njit
    calls: list[bool] = []

    def njit(**options: object) -> object:
        calls.append(bool(options.get("cache")))
        if options.get("cache"):
            raise RuntimeError("cannot cache function '_add_one': no locator available for file")
        return real_njit(**options)

    monkeypatch.setattr(numba, "njit", njit)
    monkeypatch.setattr(_kernels, "_compiled", {})
    kernel = _kernels.compiled(_add_one)
    values = np.zeros(3)
    kernel(values)
    assert values.tolist() == [1.0, 1.0, 1.0]
    assert calls == [True, False]
    assert kernel is not _add_one and _kernels.compiled(_add_one) is kernel  # compiled once, then reused


@pytest.mark.skipif(not _kernels.NUMBA_AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("readonly", [True, False])
def test_warm_up_loads_the_kernels_for_these_types_and_searches_stay_exact(
    index_dtype: type[np.integer], readonly: bool
) -> None:
    """warm_up runs the compiled searches on a tiny index of the given types (as a saved index's memory maps are:
    read-only), and a search of a real index of those types afterwards is still the reference one."""
    from askidcpc.index import paragraphs

    rng = np.random.default_rng(5)
    n_docs, n_terms = 300, 12
    columns = [np.unique(rng.integers(0, n_docs, size=int(rng.integers(1, 80)))) for _ in range(n_terms)]
    indptr = np.concatenate([[0], np.cumsum([len(c) for c in columns])]).astype(index_dtype)
    indices = np.concatenate(columns).astype(index_dtype)
    data = rng.uniform(0.1, 3.0, size=len(indices))
    for array in (indptr, indices):
        array.flags.writeable = not readonly
    _kernels.warm_up(indptr, indices)
    paragraphs.warm_up(indptr, indices)
    query, weights = np.array([1, 4, 7], dtype=np.int64), np.array([1.0, 2.0, 1.0])
    bounds = _kernels.TermBounds(indptr, data)
    got = _kernels.maxscore_top_k(indptr, indices, data, bounds, query, weights, 5, n_docs)
    want = _kernels.reference_top_k(indptr, indices, data, query, weights, 5)
    assert got[0].tolist() == want[0].tolist()
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


@pytest.fixture
def nothing_loaded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """No compiled kernel run in this process yet, none loading; the returned list records each warm_up call."""
    monkeypatch.setattr(_kernels, "_first_calls", set())
    monkeypatch.setattr(_kernels, "_loading", set())
    monkeypatch.setattr(_kernels, "_pending", [])
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(_kernels, "warm_up", lambda *arrays: calls.append(arrays))
    return calls


def _waited_for(calls: list[tuple[object, ...]], n: int) -> bool:
    deadline = time.monotonic() + 30
    while len(calls) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(calls) == n


def test_an_answer_does_not_wait_for_the_kernels_and_loads_them_after(
    monkeypatch: pytest.MonkeyPatch, nothing_loaded: list[tuple[object, ...]]
) -> None:
    """Inside numpy_until_loaded, a search whose compiled kernel has not run takes numpy (the same result, bit for
    bit) and never calls the kernel; the kernel starts loading once, when the outermost block ends."""
    index = build_index(zipf_corpus(11, 2000, 200))
    queries = [random_query(random.Random(i), 200, False) for i in range(20)]
    expected = [index.search(query, 10) for query in queries]  # outside: the compiled kernel, as always

    def not_now(*args: object) -> _kernels.Result:
        raise AssertionError("the compiled kernel was called inside numpy_until_loaded")

    monkeypatch.setattr(_kernels, "_first_calls", set())
    monkeypatch.setattr(_kernels, "maxscore_top_k", not_now)
    with _kernels.numpy_until_loaded():
        with _kernels.numpy_until_loaded():  # nested: loading waits for the outermost block
            assert [index.search(query, 10) for query in queries] == expected
        assert nothing_loaded == []
    assert _waited_for(nothing_loaded, 1)
    with _kernels.numpy_until_loaded():  # already loading (or loaded): not again
        assert [index.search(query, 10) for query in queries] == expected
    time.sleep(0.05)
    assert len(nothing_loaded) == 1


def test_a_one_question_command_never_loads_the_kernels(
    monkeypatch: pytest.MonkeyPatch, nothing_loaded: list[tuple[object, ...]]
) -> None:
    """The outermost block decides: ``load=False`` (the CLI's one question) forgets the loads its searches asked
    for, and a later block asks again."""
    index = build_index(zipf_corpus(13, 500, 50))
    expected = index.search({"t1": 1.0, "t2": 2.0}, 5)  # outside: the compiled kernel
    monkeypatch.setattr(_kernels, "_first_calls", set())
    with _kernels.numpy_until_loaded(load=False), _kernels.numpy_until_loaded():
        assert index.search({"t1": 1.0, "t2": 2.0}, 5) == expected
    time.sleep(0.05)
    assert nothing_loaded == []
    with _kernels.numpy_until_loaded():
        index.search({"t1": 1.0}, 5)
    assert _waited_for(nothing_loaded, 1)


def test_outside_numpy_until_loaded_a_search_loads_the_kernel_itself(nothing_loaded: list[tuple[object, ...]]) -> None:
    index = build_index(zipf_corpus(12, 500, 50))
    arrays = index.weights.indptr, index.weights.indices, index.weights.data
    assert _kernels.ready("top_k", arrays, lambda: None)
    with _kernels.numpy_until_loaded():
        assert not _kernels.ready("top_k", arrays, lambda: None)
    assert nothing_loaded == []  # the load given to ready ran instead of warm_up


def test_a_failed_load_is_logged_and_leaves_searches_on_numpy(
    monkeypatch: pytest.MonkeyPatch, nothing_loaded: list[tuple[object, ...]]
) -> None:
    attempts: list[int] = []
    warnings: list[str] = []

    def broken() -> None:
        attempts.append(1)
        raise RuntimeError("no LLVM")

    # the logger itself (a CLI test run earlier may have stopped it propagating to caplog's handler)
    monkeypatch.setattr(_kernels.log, "warning", lambda message, *args, **kwargs: warnings.append(message % args))
    arrays = (np.zeros(2, dtype=np.int32), np.zeros(1, dtype=np.int32), np.ones(1))
    with _kernels.numpy_until_loaded():
        assert not _kernels.ready("top_k", arrays, broken)
    deadline = time.monotonic() + 30
    while not warnings and time.monotonic() < deadline:
        time.sleep(0.01)
    assert warnings == ["loading the compiled top_k kernel failed; searching with numpy"]
    with _kernels.numpy_until_loaded():
        assert not _kernels.ready("top_k", arrays, broken)
    time.sleep(0.05)
    assert attempts == [1]  # not tried again at every question


def test_a_thread_keeps_a_score_buffer_for_each_of_its_last_two_index_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A question searches the sentence index and the paragraph index, of different sizes: neither buffer is
    allocated again at the next question; a third size drops the least recently used."""
    monkeypatch.setattr(_kernels, "_buffers", threading.local())
    sentences, paragraphs = _kernels._accumulator(100), _kernels._accumulator(30)
    for _ in range(3):
        assert _kernels._accumulator(100) is sentences and _kernels._accumulator(30) is paragraphs
    other = _kernels._accumulator(7)
    assert _kernels._accumulator(30) is paragraphs and _kernels._accumulator(7) is other
    assert _kernels._accumulator(100) is not sentences  # dropped, made anew
    assert len(other) == 7 and not other.any()
