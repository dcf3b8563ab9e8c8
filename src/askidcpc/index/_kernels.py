"""Top-k BM25 retrieval kernels over a CSC posting matrix, and the plain reference they are tested against.

The index is a terms' posting lists: for term ``t``, ``indices[indptr[t]:indptr[t + 1]]`` are the passages it occurs
in (ascending) and ``data[...]`` their BM25 weights for a query weight of 1. A query is parallel arrays of columns and
weights; a passage's score is ``sum(weight * data)`` over the query terms it contains.

Three implementations, one contract (the ``k`` best matching passages, best first, ties to the lower passage id):

- :func:`reference_top_k`: exhaustive and plain; the oracle for the other two.
- :func:`numpy_top_k`: exhaustive with numpy (scatter-add over the matched passages, then selection); the path for
  indexes under :data:`COMPILE_MIN_POSTINGS` postings, for queries with negative weights, and when numba is not
  installed. :func:`canonical_top_k` is the same with the terms in the compiled kernels' order
  (:func:`canonical_order`: every kernel adds a passage's weights strongest term first), so that its result is the
  compiled one bit for bit: a question answered inside :func:`numpy_until_loaded` (every question: see
  :meth:`askidcpc.pipeline.Pipeline.ask`) takes it while numba starts on a thread, instead of waiting for it.
- :func:`maxscore_top_k`: exact dynamic pruning, compiled with numba (``nogil``, cached on disk; numba is imported
  and the kernels compiled on first use, see :func:`compiled`). Document-at-a-time
  MaxScore (Turtle & Flood 1995) with block-max bounds on the essential list (Ding & Suel 2011): terms sorted by
  their upper bound; once the k-th best score so far (``theta``) exceeds the sum of the smallest bounds, those terms
  are *non-essential*: a passage is only considered when it is in an essential term's list, and non-essential lists
  are only searched (galloping) while the passage can still beat ``theta``. When one essential list is left, whole
  blocks of 64 postings whose maximum cannot lift a passage above ``theta`` are skipped. Every skip compares an
  upper bound strictly below ``theta``, with a relative slack far above rounding error, so no passage that could
  enter the top k (ties included) is ever skipped: the result is the exhaustive one.

Needs weights above 0 (every BM25 variant's are, except ``okapi``'s when its idf is 0 or floored below 0; such
indexes go to :func:`numpy_top_k`). When MaxScore's bounds cannot prune enough (queries of many common terms, by
the posting counts), :func:`_exhaustive` accumulates every posting into a dense buffer instead.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

__all__ = [
    "BLOCK",
    "COMPILE_MIN_POSTINGS",
    "COMPILE_NOTICE",
    "NUMBA_AVAILABLE",
    "TermBounds",
    "canonical_order",
    "canonical_top_k",
    "compile_kernels",
    "compiled",
    "first_call_notice",
    "maxscore_top_k",
    "maxscore_top_k_many",
    "numpy_top_k",
    "numpy_until_loaded",
    "ready",
    "reference_top_k",
    "select_top_k",
    "tiny_like",
    "use_compiled",
    "warm_up",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.integer[Any]]
Result = tuple[IntArray, FloatArray]

BLOCK = 64  # postings per block-max block: small enough to skip often, large enough that the bounds stay small
# Rough costs (ns) that choose MaxScore or exhaustive per query: a merged posting, and per essential list on top;
# an accumulated posting; a scanned passage.
_COST_MERGE = 2.0
_COST_LIST = 1.5
_COST_POSTING = 3.0
_COST_SCAN = 1.0
_SEED_BLOCKS = 2  # blocks of each of the two strongest terms whose passages seed the threshold
_SLACK = 1e-9  # relative slack on every pruning bound; summation error is ~1e-15, so pruning stays exact

F = TypeVar("F", bound=Callable[..., Any])

# numba is found without importing it: importing it costs about 0.3 s, which every start (the REPL's prompt) would
# pay though only large indexes use the compiled kernels.
NUMBA_AVAILABLE = importlib.util.find_spec("numba") is not None
# Below this many postings in an index, searches use numpy (a few milliseconds at most: measured 0.1-0.4 ms for
# 12-term queries at 1k-100k passages, 3 ms for queries of common terms at 1.8M postings, against 0.03-0.6 ms
# compiled), so a small corpus never waits for numba to compile (15-30 s once after installing) nor pays its import.
COMPILE_MIN_POSTINGS = 1_000_000
# A first call (compiling, or loading numba's disk cache) that takes longer than this is announced.
_NOTICE_AFTER = 1.0
COMPILE_NOTICE = "compiling the search kernels once (15-30 s; later runs load them from a cache)…"


def use_compiled(postings: int) -> bool:
    """Whether an index of ``postings`` postings is searched with the compiled kernels."""
    return NUMBA_AVAILABLE and postings >= COMPILE_MIN_POSTINGS


_compile_lock = threading.RLock()
_compiled: dict[Callable[..., Any], Callable[..., Any]] = {}


def compiled(function: F) -> F:
    """``function`` compiled with numba (``nogil``, cached on disk), made on the first request.

    numba caches compiled code beside the module (``__pycache__``) or, where that is read-only (a system-wide
    install), in the user's cache folder (``$XDG_CACHE_HOME/numba``, default ``~/.cache/numba``); ``NUMBA_CACHE_DIR``
    overrides both. Where no folder is writable, the code is compiled in memory only, once per process."""
    with _compile_lock:
        dispatcher = _compiled.get(function)
        if dispatcher is None:
            import numba

            try:
                dispatcher = numba.njit(nogil=True, cache=True)(function)
            except RuntimeError:  # "no locator available": no cache folder can be written
                log.debug("numba cannot cache %s; compiling it in memory", function.__name__)
                dispatcher = numba.njit(nogil=True)(function)
            _compiled[function] = dispatcher
        return cast(F, dispatcher)


_first_calls: set[tuple[Any, ...]] = set()


def _types(kernel: str, arrays: Sequence[npt.NDArray[Any]]) -> tuple[Any, ...]:
    """What a compiled kernel is compiled (or loaded) for: its name and its arrays' types."""
    return (kernel, *((array.dtype.str, array.ndim, array.flags.writeable) for array in arrays))


_loading_lock = threading.Lock()
_loading: set[tuple[Any, ...]] = set()  # kernels (with arrays' types) loading on a thread, waiting to, or loaded
# loads to start when the outermost numpy_until_loaded ends: (key, kernel, load)
_pending: list[tuple[tuple[Any, ...], str, Callable[[], None]]] = []
_deferring = threading.local()


@contextmanager
def numpy_until_loaded(load: bool = True) -> Iterator[None]:
    """Inside (on this thread), a search whose compiled kernel is not loaded yet takes the numpy path of the same
    result instead of waiting for numba's start-up (about half a second) or a compile (:func:`ready`); when the
    outermost such block ends, those kernels start loading on a thread, or with ``load`` False (said by the
    outermost block: a command that asks one question and ends), they are not loaded. Around answering a question:
    the first answer does not wait for numba, and numba's start-up does not compete with it for the GIL."""
    depth = getattr(_deferring, "depth", 0)
    _deferring.depth = depth + 1
    if depth == 0:
        _deferring.load = load
    try:
        yield
    finally:
        _deferring.depth = depth
        if depth == 0:
            _start_pending(_deferring.load)


def ready(kernel: str, arrays: Sequence[npt.NDArray[Any]], load: Callable[[], None]) -> bool:
    """Whether a search should call the compiled ``kernel`` for these arrays now: it has run for their types in
    this process, or the search is not inside :func:`numpy_until_loaded` (then the call loads it). Otherwise
    ``load`` (which runs the kernel for arrays of the same types) is started once that block ends, and the search
    takes the numpy path."""
    key = _types(kernel, arrays)
    if key in _first_calls or not getattr(_deferring, "depth", 0):
        return True
    with _loading_lock:
        if key not in _loading:
            _loading.add(key)
            _pending.append((key, kernel, load))
    return False


def _start_pending(load: bool) -> None:
    """Start loading the kernels searches found unloaded, on one thread (or with ``load`` False, forget them: a
    later search may ask again). Not a daemon: the interpreter waits for it at exit rather than stop it inside
    numba's (LLVM's) code."""
    with _loading_lock:
        loads = list(_pending)
        _pending.clear()
        if not load:
            _loading.difference_update(key for key, _, _ in loads)
            return
    if loads:
        threading.Thread(target=_load, args=(loads,), name="askidcpc-kernels").start()


def _load(loads: Sequence[tuple[tuple[Any, ...], str, Callable[[], None]]]) -> None:
    for _, kernel, load in loads:
        try:
            load()
        except Exception:  # searches inside numpy_until_loaded keep taking the numpy path
            log.warning("loading the compiled %s kernel failed; searching with numpy", kernel, exc_info=True)


@contextmanager
def first_call_notice(kernel: str, arrays: Sequence[npt.NDArray[Any]]) -> Iterator[None]:
    """Around a call of a compiled kernel: the first call with arrays of these types compiles it (or loads it from
    numba's cache); when that takes over a second, :data:`COMPILE_NOTICE` is logged (at INFO, for an edge to show
    a person waiting)."""
    key = _types(kernel, arrays)
    if key in _first_calls:
        yield
        return
    timer = threading.Timer(_NOTICE_AFTER, log.info, (COMPILE_NOTICE,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _first_calls.add(key)


def reference_top_k(
    indptr: IndexArray, indices: IndexArray, data: FloatArray, columns: IntArray, weights: FloatArray, k: int
) -> Result:
    """Exhaustive top-k, written for clarity: every passage's score from every query term, then a full sort."""
    scores: dict[int, float] = {}
    for column, weight in zip(columns.tolist(), weights.tolist(), strict=True):
        for p in range(int(indptr[column]), int(indptr[column + 1])):
            pid = int(indices[p])
            scores[pid] = scores.get(pid, 0.0) + weight * float(data[p])
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
    return np.array([pid for pid, _ in ranked], dtype=np.int64), np.array([s for _, s in ranked], dtype=np.float64)


def numpy_top_k(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    columns: IntArray,
    weights: FloatArray,
    k: int,
    n_docs: int,
) -> Result:
    """Exhaustive top-k with numpy: scatter-add into a dense vector, then select among the matched passages only
    (``np.argpartition`` over a mostly-zero vector is slow on numpy 2.x)."""
    if len(columns) == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    scores = np.zeros(n_docs, dtype=np.float64)
    matched = np.zeros(n_docs, dtype=np.bool_)  # a mask, not np.unique: no sort of every posting
    for column, weight in zip(columns.tolist(), weights.tolist(), strict=True):
        lo, hi = int(indptr[column]), int(indptr[column + 1])
        rows = indices[lo:hi]
        scores[rows] += weight * data[lo:hi]
        matched[rows] = True
    pids = np.flatnonzero(matched).astype(np.int64)
    return select_top_k(pids, scores[pids], k)


def canonical_top_k(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    bounds: TermBounds,
    columns: IntArray,
    weights: FloatArray,
    k: int,
    n_docs: int,
) -> Result:
    """:func:`maxscore_top_k`'s result bit for bit, with numpy: exhaustive, each passage's weights added in the
    order the compiled kernels add them (:func:`canonical_order`). For the searches of a large index that come
    before numba has loaded the compiled kernels (its start-up takes about half a second)."""
    columns, weights = canonical_order(bounds, columns, weights)
    return numpy_top_k(indptr, indices, data, columns, weights, k, n_docs)


def canonical_order(bounds: TermBounds, columns: IntArray, weights: FloatArray) -> tuple[IntArray, FloatArray]:
    """The query's terms in the order every compiled kernel adds a passage's weights: the largest bound
    (``upper * weight``) first, equal bounds the later term first (:func:`_top_k` sorts them ascending, stably, and
    each kernel adds from the last)."""
    order = np.argsort(bounds.upper[columns] * weights, kind="mergesort")[::-1]
    return columns[order], weights[order]


def select_top_k(pids: IntArray, scores: FloatArray, k: int) -> Result:
    """The ``k`` highest ``scores`` with their ``pids`` (ascending), best first, ties to the lower pid."""
    if len(scores) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        threshold = scores[keep].min()
        # argpartition cuts ties arbitrarily: take every score above the threshold, then the lowest pids at it.
        above = np.flatnonzero(scores > threshold)
        at = np.flatnonzero(scores == threshold)[: k - len(above)]
        keep = np.concatenate([above, at])
        pids, scores = pids[keep], scores[keep]
    order = np.lexsort((pids, -scores))[:k]
    return pids[order].astype(np.int64), scores[order].astype(np.float64)


def _advance(indices: IndexArray, pos: int, end: int, pid: int) -> int:
    """The first position in ``[pos, end)`` whose passage is ``>= pid`` (galloping, then binary search)."""
    if pos >= end or indices[pos] >= pid:
        return pos
    lo = pos
    step = 1
    hi = pos + 1
    while hi < end and indices[hi] < pid:
        lo = hi
        step *= 2
        hi = lo + step
    hi = min(hi, end)
    lo += 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < pid:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _heap_sift_down(heap_scores: FloatArray, heap_pids: IntArray, size: int) -> None:
    """Restore the min-heap (worst result at the root: lowest score, then highest pid) after the root changed."""
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        right = child + 1
        if right < size and (
            heap_scores[right] < heap_scores[child]
            or (heap_scores[right] == heap_scores[child] and heap_pids[right] > heap_pids[child])
        ):
            child = right
        if heap_scores[child] < heap_scores[i] or (
            heap_scores[child] == heap_scores[i] and heap_pids[child] > heap_pids[i]
        ):
            heap_scores[i], heap_scores[child] = heap_scores[child], heap_scores[i]
            heap_pids[i], heap_pids[child] = heap_pids[child], heap_pids[i]
            i = child
        else:
            return


def _heap_push(heap_scores: FloatArray, heap_pids: IntArray, size: int, score: float, pid: int) -> None:
    i = size
    heap_scores[i] = score
    heap_pids[i] = pid
    while i > 0:
        parent = (i - 1) // 2
        if heap_scores[parent] > heap_scores[i] or (
            heap_scores[parent] == heap_scores[i] and heap_pids[parent] < heap_pids[i]
        ):
            heap_scores[i], heap_scores[parent] = heap_scores[parent], heap_scores[i]
            heap_pids[i], heap_pids[parent] = heap_pids[parent], heap_pids[i]
            i = parent
        else:
            return


def _offer(heap_scores: FloatArray, heap_pids: IntArray, size: int, k: int, score: float, pid: int) -> int:
    """Offer a passage to the top-k heap (passages come in ascending pid order, so a tie never displaces);
    returns the new heap size."""
    if size < k:
        _heap_push(heap_scores, heap_pids, size, score, pid)
        return size + 1
    if score > heap_scores[0]:
        heap_scores[0] = score
        heap_pids[0] = pid
        _heap_sift_down(heap_scores, heap_pids, size)
    return size


def _complete(
    indices: IndexArray,
    data: FloatArray,
    weights: FloatArray,
    pos: IntArray,
    end: IntArray,
    cum: FloatArray,
    first: int,
    pid: int,
    score: float,
    theta: float,
) -> float:
    """Add the non-essential terms' weights (terms ``first - 1`` down to 0) to a passage's ``score``, stopping as soon
    as it cannot reach ``theta``; returns the score, or -1 when the passage was pruned."""
    j = first - 1
    while j >= 0:
        if score * (1.0 + _SLACK) + cum[j] < theta:
            return -1.0
        q = _advance(indices, pos[j], end[j], pid)
        pos[j] = q
        if q < end[j] and indices[q] == pid:
            score += data[q] * weights[j]
        j -= 1
    return score


def _maxscore(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    block_max: FloatArray,
    columns: IntArray,
    weights: FloatArray,
    bounds: FloatArray,
    k: int,
    n_docs: int,
    theta_seed: float,
    heap_scores: FloatArray,
    heap_pids: IntArray,
) -> int:
    """MaxScore over ``columns`` sorted by ``bounds`` (each term's maximum contribution) ascending; the best ``k``
    end up in the heap arrays (unordered) and their count is returned. ``theta_seed`` is a known lower bound of the
    k-th best score (0 if none)."""
    m = len(columns)
    pos = np.empty(m, dtype=np.int64)
    end = np.empty(m, dtype=np.int64)
    cum = np.empty(m, dtype=np.float64)  # cum[j]: the most terms 0..j can add together (with slack)
    total = 0.0
    for j in range(m):
        pos[j] = indptr[columns[j]]
        end[j] = indptr[columns[j] + 1]
        total += bounds[j]
        cum[j] = total * (1.0 + _SLACK)
    size = 0
    theta = theta_seed
    first = 0  # terms first..m-1 are essential: a passage in none of their lists cannot reach theta
    while first < m and cum[first] < theta:
        first += 1
    # Several essential lists: take their passages in order (a small merge) and complete each one.
    while first < m - 1:
        pid = n_docs
        for j in range(first, m):
            if pos[j] < end[j] and indices[pos[j]] < pid:
                pid = indices[pos[j]]
        if pid >= n_docs:
            return size
        score = 0.0
        for j in range(m - 1, first - 1, -1):  # the canonical order: strongest term first, then _complete's
            if pos[j] < end[j] and indices[pos[j]] == pid:
                score += data[pos[j]] * weights[j]
                pos[j] += 1
        score = _complete(indices, data, weights, pos, end, cum, first, pid, score, theta)
        if score >= 0.0:
            size = _offer(heap_scores, heap_pids, size, k, score, pid)
            if size == k and heap_scores[0] > theta:
                theta = heap_scores[0]
                while first < m and cum[first] < theta:
                    first += 1
    if first == m:
        return size
    # One essential list left: walk it block by block, skipping blocks whose best cannot lift a passage to theta.
    e = m - 1
    rest = cum[e - 1] if e > 0 else 0.0
    weight = weights[e]
    p = pos[e]
    stop = end[e]
    while p < stop and first == e:
        block_end = min((p // BLOCK + 1) * BLOCK, stop)
        if block_max[p // BLOCK] * weight * (1.0 + _SLACK) + rest < theta:
            p = block_end
            continue
        while p < block_end:
            score = data[p] * weight
            if score * (1.0 + _SLACK) + rest >= theta:
                pid = indices[p]
                score = _complete(indices, data, weights, pos, end, cum, e, pid, score, theta)
                if score >= 0.0:
                    size = _offer(heap_scores, heap_pids, size, k, score, pid)
                    if size == k and heap_scores[0] > theta:
                        theta = heap_scores[0]
                        while first < m and cum[first] < theta:
                            first += 1
            p += 1
    return size


def _exact_score(
    indptr: IndexArray, indices: IndexArray, data: FloatArray, columns: IntArray, weights: FloatArray, pid: int
) -> float:
    """One passage's score, by binary search in every query term's list."""
    score = 0.0
    for j in range(len(columns) - 1, -1, -1):  # the canonical order
        lo = indptr[columns[j]]
        hi = indptr[columns[j] + 1]
        q = _advance(indices, lo, hi, pid)
        if q < hi and indices[q] == pid:
            score += data[q] * weights[j]
    return score


def _seed_theta(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    block_max: FloatArray,
    columns: IntArray,
    weights: FloatArray,
    k: int,
) -> float:
    """A lower bound of the k-th best score, to start pruning early: the exact scores of a few passages with the
    highest weights of the two strongest terms (the last two ``columns``), found through their best blocks."""
    m = len(columns)
    picks = np.empty(2 * _SEED_BLOCKS * BLOCK, dtype=np.int64)
    n_picks = 0
    for j in range(max(0, m - 2), m):
        lo = indptr[columns[j]]
        hi = indptr[columns[j] + 1]
        if hi <= lo:
            continue
        first_block = lo // BLOCK
        n_blocks = (hi - 1) // BLOCK + 1 - first_block
        best = np.full(_SEED_BLOCKS, -1, dtype=np.int64)
        for b in range(first_block, first_block + n_blocks):
            # Keep the _SEED_BLOCKS blocks with the highest maxima (insertion into a tiny sorted list).
            i = _SEED_BLOCKS
            while i > 0 and (best[i - 1] < 0 or block_max[best[i - 1]] < block_max[b]):
                i -= 1
            if i < _SEED_BLOCKS:
                best[i + 1 :] = best[i:-1].copy()
                best[i] = b
        for block in best:
            if block < 0:
                continue
            start = max(lo, block * BLOCK)
            for p in range(start, min(hi, start - start % BLOCK + BLOCK)):
                picks[n_picks] = indices[p]
                n_picks += 1
    if n_picks < k:
        return 0.0
    pids = np.unique(picks[:n_picks])
    if len(pids) < k:
        return 0.0
    scores = np.empty(len(pids), dtype=np.float64)
    for i in range(len(pids)):
        scores[i] = _exact_score(indptr, indices, data, columns, weights, pids[i])
    scores.sort()
    return float(scores[len(scores) - k])


def _exhaustive(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    columns: IntArray,
    weights: FloatArray,
    k: int,
    accumulator: FloatArray,
    heap_scores: FloatArray,
    heap_pids: IntArray,
) -> int:
    """Term-at-a-time into a dense ``accumulator`` (zeros, returned zeroed), then one scan for the best ``k``: for
    queries of many common terms, where bounds prune too little to pay for document-at-a-time. Every weight must
    be positive, so a passage matches exactly when its sum is above 0."""
    for j in range(len(columns) - 1, -1, -1):  # the canonical order
        weight = weights[j]
        for p in range(indptr[columns[j]], indptr[columns[j] + 1]):
            accumulator[indices[p]] += data[p] * weight
    size = 0
    threshold = 0.0
    for pid in range(len(accumulator)):
        score = accumulator[pid]
        accumulator[pid] = 0.0  # zeroed in the same pass: one trip through the buffer, not two
        if score > threshold:
            size = _offer(heap_scores, heap_pids, size, k, score, pid)
            if size == k:
                threshold = heap_scores[0]
    return size


def _top_k(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    block_max: FloatArray,
    upper: FloatArray,
    columns: IntArray,
    weights: FloatArray,
    k: int,
    n_docs: int,
    accumulator: FloatArray,
    out_pids: IntArray,
    out_scores: FloatArray,
) -> int:
    """One query, start to end in compiled code: order the terms by bound, seed the threshold, MaxScore (or, when
    the posting counts say MaxScore would visit most postings anyway, :func:`_exhaustive`), then the results best
    first (ties to the lower pid) into ``out_pids``/``out_scores``; returns how many."""
    bounds = upper[columns] * weights
    order = np.argsort(bounds, kind="mergesort")
    columns = columns[order]
    weights = weights[order]
    bounds = bounds[order]
    seed = _seed_theta(indptr, indices, data, block_max, columns, weights, k)
    heap_scores = np.empty(k, dtype=np.float64)
    heap_pids = np.empty(k, dtype=np.int64)
    # Cost estimate: MaxScore merges the essential lists (those the seed cannot rule out), exhaustive touches
    # every posting and scans every passage.
    essential = 0
    essential_lists = 0
    all_postings = 0
    cum = 0.0
    for j in range(len(columns)):
        postings = indptr[columns[j] + 1] - indptr[columns[j]]
        all_postings += postings
        cum += bounds[j]
        if cum * (1.0 + _SLACK) >= seed:  # terms 0..j together could reach the seed: j is essential
            essential += postings
            essential_lists += 1
    daat_cost = essential * (_COST_MERGE + _COST_LIST * essential_lists)
    taat_cost = all_postings * _COST_POSTING + n_docs * _COST_SCAN
    if len(accumulator) == n_docs and daat_cost > taat_cost:
        size = _exhaustive(indptr, indices, data, columns, weights, k, accumulator, heap_scores, heap_pids)
    else:
        size = _maxscore(
            indptr, indices, data, block_max, columns, weights, bounds, k, n_docs, seed, heap_scores, heap_pids
        )
    for i in range(size):
        # Insertion sort of at most k results: best score first, then the lower pid.
        score = heap_scores[i]
        pid = heap_pids[i]
        j = i
        while j > 0 and (out_scores[j - 1] < score or (out_scores[j - 1] == score and out_pids[j - 1] > pid)):
            out_scores[j] = out_scores[j - 1]
            out_pids[j] = out_pids[j - 1]
            j -= 1
        out_scores[j] = score
        out_pids[j] = pid
    return size


def _top_k_batch(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    block_max: FloatArray,
    upper: FloatArray,
    offsets: IntArray,
    columns: IntArray,
    weights: FloatArray,
    k: int,
    n_docs: int,
    accumulator: FloatArray,
    out_pids: IntArray,
    out_scores: FloatArray,
    out_sizes: IntArray,
) -> None:
    """:func:`_top_k` for queries ``i`` given as ``columns[offsets[i]:offsets[i + 1]]`` (and weights), into row
    ``i`` of the outputs; one call per thread, so the GIL is released once for many queries."""
    for i in range(len(offsets) - 1):
        lo = offsets[i]
        hi = offsets[i + 1]
        if hi > lo:
            out_sizes[i] = _top_k(
                indptr,
                indices,
                data,
                block_max,
                upper,
                columns[lo:hi],
                weights[lo:hi],
                k,
                n_docs,
                accumulator,
                out_pids[i],
                out_scores[i],
            )
        else:
            out_sizes[i] = 0


# The kernels that call one another: compiling binds each module name to its numba dispatcher, so that compiled
# code calls compiled code (numba resolves a kernel's globals when it compiles it, at its first call).
_KERNELS = (
    "_advance",
    "_heap_push",
    "_heap_sift_down",
    "_offer",
    "_complete",
    "_exact_score",
    "_seed_theta",
    "_maxscore",
    "_exhaustive",
    "_top_k",
    "_top_k_batch",
)


_PLAIN = {name: globals()[name] for name in _KERNELS}


def compile_kernels() -> None:
    """Bind the search kernels to their numba dispatchers (each compiles, or loads from numba's cache, at its
    first call). Idempotent; called by the compiled searches, and by tests that call a kernel directly."""
    with _compile_lock:
        namespace = globals()
        for name, function in _PLAIN.items():
            namespace[name] = compiled(function)


def tiny_like(array: IndexArray, values: list[int]) -> IndexArray:
    """``values`` as an array of ``array``'s dtype and writability: what numba compiles a kernel for."""
    made = np.array(values, dtype=array.dtype)
    made.flags.writeable = bool(array.flags.writeable)
    return made


def warm_up(indptr: IndexArray, indices: IndexArray) -> None:
    """Import numba and load (or compile) the search kernel for postings of these arrays' types now, on a tiny
    index of the same types (their contents are not read, so unverified arrays may be passed). About 0.6 s of
    numba's start-up that the first search would otherwise wait for; :func:`askidcpc.index.store.load_index` runs
    it on a thread while the checksums are computed."""

    one = np.ones(1, dtype=np.float64)
    maxscore_top_k(
        tiny_like(indptr, [0, 1]),
        tiny_like(indices, [0]),
        one,
        TermBounds.of(one, one),
        np.zeros(1, dtype=np.int64),
        one,
        1,
        1,
    )


_buffers = threading.local()


_KEPT_BUFFERS = 2  # score buffers a thread keeps: a question searches two indexes (sentences, paragraphs)


def _accumulator(n_docs: int) -> FloatArray:
    """This thread's zeroed score buffer of ``n_docs``, kept between queries for the last :data:`_KEPT_BUFFERS`
    sizes used (allocating 8 MB a query costs page faults, and the sentence and paragraph indexes a question
    searches differ in size); the exhaustive kernel returns it zeroed."""
    buffers: dict[int, FloatArray] | None = getattr(_buffers, "scores", None)
    if buffers is None:
        buffers = _buffers.scores = {}
    buffer = buffers.pop(n_docs, None)
    if buffer is None:
        buffer = np.zeros(n_docs, dtype=np.float64)
        while len(buffers) >= _KEPT_BUFFERS:
            del buffers[next(iter(buffers))]  # the least recently used
    buffers[n_docs] = buffer  # last: the most recently used
    return buffer


class TermBounds:
    """Each term's largest weight (``upper``) and each block of 64 postings' largest weight (``block_max``; blocks
    are aligned to global posting positions, so a block that spans two terms bounds both): computed from every
    posting's weight, or as stored (:meth:`of`)."""

    def __init__(self, indptr: IndexArray, data: FloatArray) -> None:
        starts = np.asarray(indptr[:-1], dtype=np.int64)
        nonempty = np.diff(np.asarray(indptr, dtype=np.int64)) > 0
        self.upper: FloatArray = np.zeros(len(starts), dtype=np.float64)
        self.block_max: FloatArray
        if len(data):
            self.upper[nonempty] = np.maximum.reduceat(data, starts[nonempty])
            self.block_max = np.maximum.reduceat(data, np.arange(0, len(data), BLOCK)).astype(np.float64)
        else:
            self.block_max = np.zeros(0, dtype=np.float64)

    @classmethod
    def of(cls, upper: npt.NDArray[Any], block_max: npt.NDArray[Any]) -> TermBounds:
        """Bounds already computed (read from a saved index, where they are float32 rounded up: still bounds)."""
        bounds = cls.__new__(cls)
        # float64, as computed ones are: one compiled variant of the kernels, not two.
        bounds.upper = np.asarray(upper, dtype=np.float64)
        bounds.block_max = np.asarray(block_max, dtype=np.float64)
        return bounds


def maxscore_top_k(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    bounds: TermBounds,
    columns: IntArray,
    weights: FloatArray,
    k: int,
    n_docs: int,
) -> Result:
    """Exact top-k by MaxScore with block-max skipping; ``weights`` and ``data`` must be above 0.

    Same result as :func:`reference_top_k` (scores may differ in the last bits: terms are summed in another order),
    and as :func:`canonical_top_k` bit for bit."""
    if len(columns) == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    compile_kernels()
    out_pids = np.empty(k, dtype=np.int64)
    out_scores = np.empty(k, dtype=np.float64)
    with first_call_notice("top_k", (indptr, indices, data)):
        size = _top_k(
            indptr,
            indices,
            data,
            bounds.block_max,
            bounds.upper,
            columns,
            weights,
            k,
            n_docs,
            _accumulator(n_docs),
            out_pids,
            out_scores,
        )
    return out_pids[:size], out_scores[:size]


def maxscore_top_k_many(
    indptr: IndexArray,
    indices: IndexArray,
    data: FloatArray,
    bounds: TermBounds,
    queries: Sequence[tuple[IntArray, FloatArray]],
    k: int,
    n_docs: int,
    workers: int,
) -> list[Result]:
    """:func:`maxscore_top_k` for many queries (each ``(columns, weights)``), on ``workers`` threads, each running
    the compiled loop over a contiguous share of the queries without the GIL."""
    n = len(queries)
    lengths = np.array([len(columns) for columns, _ in queries], dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat_columns = np.concatenate([columns for columns, _ in queries]) if n else np.zeros(0, np.int64)
    flat_weights = np.concatenate([weights for _, weights in queries]) if n else np.zeros(0, np.float64)
    out_pids = np.zeros((n, max(k, 0)), dtype=np.int64)
    out_scores = np.zeros((n, max(k, 0)), dtype=np.float64)
    out_sizes = np.zeros(n, dtype=np.int64)
    if k > 0 and n:
        cuts = np.linspace(0, n, min(workers, n) + 1).astype(np.int64)

        def run(share: int) -> None:
            lo, hi = int(cuts[share]), int(cuts[share + 1])
            _top_k_batch(
                indptr,
                indices,
                data,
                bounds.block_max,
                bounds.upper,
                offsets[lo : hi + 1] - offsets[lo],
                flat_columns[offsets[lo] : offsets[hi]],
                flat_weights[offsets[lo] : offsets[hi]],
                k,
                n_docs,
                _accumulator(n_docs),
                out_pids[lo:hi],
                out_scores[lo:hi],
                out_sizes[lo:hi],
            )

        compile_kernels()
        with first_call_notice("top_k_batch", (indptr, indices, data)):
            if len(cuts) > 2:
                with ThreadPoolExecutor(max_workers=len(cuts) - 1) as pool:
                    list(pool.map(run, range(len(cuts) - 1)))
            else:
                run(0)
    return [(out_pids[i, : out_sizes[i]], out_scores[i, : out_sizes[i]]) for i in range(n)]
