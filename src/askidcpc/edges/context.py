"""A cited sentence in its neighbouring context, for the edges that show citations (REPL ``/sources``, web page).

A citation's ``[start, end)`` is exactly one passage of the index; :class:`ContextFinder` finds that passage and
returns the text of the sentences around it, sliced from the document so that
``before + sentence + after`` is a contiguous span of the document's text. Nothing is built over all passages: a
saved index's passages are found by binary search in its arrays; an in-memory corpus's by walking the document's
passages from its first (see :mod:`askidcpc.index.memory`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from askidcpc.pipeline import Pipeline
from askidcpc.types import Passage

__all__ = ["MAX_NEIGHBOURS", "ContextFinder", "SentenceContext"]

MAX_NEIGHBOURS = 3


@dataclass(frozen=True)
class SentenceContext:
    """``text[context_start:start]``, ``text[start:end]`` and ``text[end:context_end]`` of one document."""

    doc_id: str
    start: int
    end: int
    before: str
    sentence: str
    after: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "start": self.start,
            "end": self.end,
            "before": self.before,
            "sentence": self.sentence,
            "after": self.after,
        }


@dataclass(frozen=True, eq=False)
class ContextFinder:
    """Looks up passages by their exact offsets; build once per pipeline with :meth:`from_pipeline` (costs nothing)."""

    pipeline: Pipeline

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline) -> ContextFinder:
        return cls(pipeline)

    def find(self, doc_id: str, start: int, end: int) -> Passage | None:
        """The passage of ``doc_id`` at exactly ``[start, end)``, or None."""
        pid = self.pipeline.passages.find(doc_id, start, end)
        return None if pid is None else self.pipeline.passages[pid]

    def context(self, doc_id: str, start: int, end: int, neighbours: int = 1) -> SentenceContext | None:
        """The sentence at ``[start, end)`` of ``doc_id`` with up to ``neighbours`` sentences either side.

        Returns None when no passage of the index has exactly these offsets. ``neighbours`` is clamped to
        0..:data:`MAX_NEIGHBOURS`.
        """
        passage = self.find(doc_id, start, end)
        if passage is None:
            return None
        neighbours = max(0, min(neighbours, MAX_NEIGHBOURS))
        first = last = passage
        for _ in range(neighbours):
            if first.prev_pid is not None:
                first = self.pipeline.passages[first.prev_pid]
            if last.next_pid is not None:
                last = self.pipeline.passages[last.next_pid]
        text = self.pipeline.documents_by_id[doc_id].text
        return SentenceContext(
            doc_id=doc_id,
            start=start,
            end=end,
            before=text[first.start : start],
            sentence=text[start:end],
            after=text[end : last.end],
        )
