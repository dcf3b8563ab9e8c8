"""Split document text into sentence passages with exact ``[start, end)`` offsets.

Paragraphs (separated by line breaks) are split by pysbd, a rule-based splitter that knows abbreviations,
initials, decimals and quotations; each sentence it returns is located back in the original text, so offsets
are exact by construction. A full stop glued to the next sentence (``mechanisms.The``) is split afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

import pysbd

from askidcpc.types import Document, Passage

__all__ = ["make_passages", "split_spans"]

_LINE = re.compile(r"[^\n]+")
# "mechanisms.The": a lowercase word, a full stop and a capitalised word with no space between.
_GLUED = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraph_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    paragraph = text[start:end]
    cursor = 0
    for segment in _segmenter().segment(paragraph):
        piece = segment.strip()
        if not piece:
            continue
        found = paragraph.find(piece, cursor)
        if found < 0:  # pysbd altered the text; fall back to the rest of the paragraph as one sentence
            break
        if found > cursor and paragraph[cursor:found].strip():
            yield _trimmed(text, start + cursor, start + found)
        yield start + found, start + found + len(piece)
        cursor = found + len(piece)
    if paragraph[cursor:].strip():
        yield _trimmed(text, start + cursor, end)


def split_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text``: half-open, whitespace-trimmed, in order, never empty.

    Every non-space character of ``text`` lies in exactly one span.
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        for start, end in _paragraph_spans(text, line.start(), line.end()):
            cut = start
            for glued in _GLUED.finditer(text, start, end):
                spans.append((cut, glued.start()))
                cut = glued.start()
            spans.append((cut, end))
    return [span for span in spans if span[0] < span[1]]


def make_passages(documents: Sequence[Document], first_pid: int = 0) -> list[Passage]:
    """Passages of all ``documents``, numbered from ``first_pid``, each linked to its neighbours in its document."""
    passages: list[Passage] = []
    for document in documents:
        spans = split_spans(document.text)
        base = first_pid + len(passages)
        for i, (start, end) in enumerate(spans):
            passages.append(
                Passage(
                    pid=base + i,
                    doc_id=document.doc_id,
                    start=start,
                    end=end,
                    text=document.text[start:end],
                    prev_pid=base + i - 1 if i > 0 else None,
                    next_pid=base + i + 1 if i + 1 < len(spans) else None,
                )
            )
    return passages
