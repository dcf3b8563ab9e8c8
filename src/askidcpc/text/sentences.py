"""Split document text into sentence passages with exact ``[start, end)`` offsets.

syntok segments each line (every line break ends a sentence, so headings and bylines stand alone); its tokens carry
offsets, so spans are exact by construction. A few fix-ups cover what it misses in news prose: a span ending in a
name title it does not know (``Gov.``, ``Lt.``) or in ``;`` is re-joined with the next, and a full stop glued to the
next sentence (``mechanisms.The``) or ending a sentence after a decimal or Roman numeral (``86.4. Veteran``) is cut.
The choice of splitter was measured against pysbd, blingfire and a regex: see benchmarks/SPLITTERS.md.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from syntok import segmenter

from askidcpc.types import Document, Passage

__all__ = ["make_passages", "paragraph_starts", "split_spans"]

# A full stop, "!" or "?" after two lowercase letters, glued to a capitalised word: "mechanisms.The".
# Two lowercase letters keep "U.S.A", "e.g.The", "Ph.D" and "St.John" joined.
_MISSING_SPACE = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")
# Titles before a name that practically never end a sentence (syntok knows Dr./Prof./Gen. but not these), and ";"
# before a capital, where syntok also ends a sentence: a span ending in one was cut too early.
_TITLE_END = re.compile(
    r"(?:(?:^|[^\w.])(?:Mr|Mrs|Ms|Messrs|Dr|Prof|Gen|Gov|Sen|Rep|Col|Lt|Sgt|Capt|Adm|Cmdr|Maj|Rev|Hon|Pres|Amb)\.|;)$"
)
# Sentence ends syntok misses: after a decimal number ("a rating of 86.4. Veteran") or a Roman numeral
# ("Super Bowl XX. Kony") when a capitalised word follows.
_MISSED_END = re.compile(r"(?:\d\.\d+|\b[IVX]{2,})\.(?=\s+[\"“‘(]?[A-Z])")
_LINE = re.compile(r"[^\n]+")


def _line_pieces(text: str, line: re.Match[str]) -> list[tuple[int, int]]:
    """syntok's sentences of one line, as offsets into ``text``, with wrongly cut titles re-joined."""
    pieces: list[tuple[int, int]] = []
    for paragraph in segmenter.analyze(line.group()):
        for sentence in paragraph:
            start = line.start() + sentence[0].offset
            end = line.start() + sentence[-1].offset + len(sentence[-1].value)
            if pieces and _TITLE_END.search(text[pieces[-1][0] : pieces[-1][1]]):
                pieces[-1] = (pieces[-1][0], end)
            else:
                pieces.append((start, end))
    return pieces


def split_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text``: half-open, whitespace-trimmed, in order, never empty.

    Every non-space character of ``text`` lies in exactly one span.
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        for start, end in _line_pieces(text, line):
            inner = {m.start() for m in _MISSING_SPACE.finditer(text, start, end)}
            inner |= {m.end() for m in _MISSED_END.finditer(text, start, end)}
            for cut_start, cut_end in itertools.pairwise([start, *sorted(inner), end]):
                while cut_start < cut_end and text[cut_start].isspace():
                    cut_start += 1
                while cut_end > cut_start and text[cut_end - 1].isspace():
                    cut_end -= 1
                if cut_start < cut_end:
                    spans.append((cut_start, cut_end))
    return spans


def paragraph_starts(text: str, spans: Sequence[tuple[int, int]]) -> list[bool]:
    """For each of ``spans`` (of ``text``, in order), whether it starts a paragraph: the first one does, and one
    with a line break between it and the one before."""
    return [i == 0 or "\n" in text[spans[i - 1][1] : start] for i, (start, _) in enumerate(spans)]


def make_passages(documents: Sequence[Document], first_pid: int = 0, first_paragraph: int = 0) -> list[Passage]:
    """Passages of all ``documents``, numbered from ``first_pid``, each linked to its neighbours in its document;
    paragraphs numbered from ``first_paragraph``."""
    passages: list[Passage] = []
    paragraph = first_paragraph - 1
    for document in documents:
        spans = split_spans(document.text)
        base = first_pid + len(passages)
        for i, ((start, end), new_paragraph) in enumerate(
            zip(spans, paragraph_starts(document.text, spans), strict=True)
        ):
            paragraph += new_paragraph
            passages.append(
                Passage(
                    pid=base + i,
                    doc_id=document.doc_id,
                    start=start,
                    end=end,
                    text=document.text[start:end],
                    prev_pid=base + i - 1 if i > 0 else None,
                    next_pid=base + i + 1 if i + 1 < len(spans) else None,
                    paragraph=paragraph,
                )
            )
    return passages
