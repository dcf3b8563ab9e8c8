"""The answer cache: the served bytes of recent answers, keyed by the canonical request, so that a repeated question
is answered on the event loop without running ``ask()`` again."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence

from askidcpc.types import Filter

# The canonical request: the trimmed question, top_k, the history as given, and the built filter (sources
# case-folded, dates checked), so that requests ``ask()`` answers alike share one entry.
AnswerKey = tuple[str, int, tuple[str, ...], Filter]

# An answer longer than this is not kept (a document without sentence breaks can make a huge one), so the cache holds
# at most size * MAX_ANSWER_BYTES; a typical answer is 1 to 3 KB.
MAX_ANSWER_BYTES = 64 * 1024


def answer_key(question: str, top_k: int, history: Sequence[str], where: Filter) -> AnswerKey:
    """The cache key of a validated request (``question`` already trimmed)."""
    return (question, top_k, tuple(history), where)


class AnswerCache:
    """A bounded least-recently-used map from :data:`AnswerKey` to the answer's JSON bytes: at most ``size``
    entries (0: nothing is kept) of at most :data:`MAX_ANSWER_BYTES` each. One belongs to one loaded index: a reload
    starts a new, empty one, so an answer is never served from another index than the one that gave it. Not
    thread-safe: the server reads and fills it only on its event loop."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"the answer cache size must be 0 or more, not {size}")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._answers: OrderedDict[Hashable, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable) -> bytes | None:
        """The answer bytes kept for ``key`` (it becomes the most recently used), or None."""
        found = self._answers.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._answers.move_to_end(key)
        return found

    def put(self, key: Hashable, answer: bytes) -> None:
        """Keep ``answer`` for ``key``, dropping the least recently used entry when full (an answer over
        :data:`MAX_ANSWER_BYTES` is not kept)."""
        if not self.size or len(answer) > MAX_ANSWER_BYTES:
            return
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)
