"""Terminal rendering of answers, shared by the CLI and the REPL (the edges); no I/O here.

Everything is built as styled fragments, ``(style, text)`` pairs in prompt-toolkit's format: the REPL prints them
with its style sheet, the CLI as plain text or ANSI (:func:`to_text`). Callers measure the width when they print
(:func:`terminal_width`), so output follows the terminal as it is now, also after a resize.

Wrapping (:func:`wrap`) breaks lines only at spaces, never inside a word or a document id; a unit that must stay on
one line ("score 0.97") is joined by :data:`KEEP`, printed as a space. A dated, multi-source answer ("As of
2016-06-26: … As of 2007: …") is shown one source a line, each with the number of its citation, and the citations
are listed in the order the answer gives them (:func:`answer_pieces`).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from askidcpc.text.tokenize import tokenize
from askidcpc.types import Answer, Citation

__all__ = [
    "ABSTAIN_MESSAGE",
    "KEEP",
    "MAX_WIDTH",
    "SNIPPET_CHARS",
    "UNSURE_BELOW",
    "UNSURE_NOTE",
    "AnswerPiece",
    "Fragments",
    "answer_fragments",
    "answer_pieces",
    "citation_head",
    "citation_line",
    "citation_meta",
    "confidence_text",
    "emphasise",
    "plain_text",
    "plural",
    "render_answer",
    "short_answer_parts",
    "snippet",
    "terminal_width",
    "to_text",
    "wrap",
]

ABSTAIN_MESSAGE = "The articles do not answer this question."
# A confidence is the probability that the answer is right: under one half, an answer is shown with this note.
UNSURE_BELOW = 0.5
UNSURE_NOTE = "more likely wrong than right"
MAX_WIDTH = 100  # longer lines are hard to read, however wide the terminal
MIN_WIDTH = 20
SNIPPET_CHARS = 90  # a citation's snippet: one line of a wide terminal, two of a narrow one
KEEP = "\u00a0"  # a no-break space: joins what must not be split across lines

Fragment = tuple[str, str]
Fragments = tuple[Fragment, ...]

# A word to wrap: a run of anything but breaking white space (a no-break space does not break).
# The label before each sentence of a dated answer from sources that disagree (reader.answer.compose_answer).
_DATE_LABEL = re.compile(r"As of [^:]{1,40}: ")
_WORD = re.compile(r"(?:[^\s]|\u00a0)+")
# A word inside a token, for emphasis: letters and digits with inner apostrophes, or a number such as 3.5 or 1,000.
_TERM = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:['\u2019][^\W_]+)*")

_ANSI = {
    "class:number": "\x1b[1;36m",
    "class:title": "\x1b[1m",
    "class:meta": "\x1b[90m",
    "class:match": "\x1b[1m",
    "class:short": "\x1b[1m",
    "class:abstain": "\x1b[1;33m",
    "class:context": "\x1b[90m",
    "class:highlight": "\x1b[1;32m",
    "class:error": "\x1b[31m",
}


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``1 citation``, ``3 citations``, ``1,200 sentences``: the count and the noun in the right number."""
    return f"{count:,} {noun if count == 1 else plural_noun or noun + 's'}"


def terminal_width(columns: int | None = None) -> int:
    """The width to wrap to: the terminal's width now (``COLUMNS`` when set, else asked of the terminal; 101 when
    output is not a terminal), less one column so a full line never makes the terminal wrap, within 20..100."""
    if columns is None:
        columns = shutil.get_terminal_size((MAX_WIDTH + 1, 24)).columns
    return max(MIN_WIDTH, min(MAX_WIDTH, columns - 1))


def plain_text(fragments: Iterable[Fragment]) -> str:
    """The text of styled fragments, without the styles."""
    return "".join(text for _, text in fragments)


def to_text(fragments: Iterable[Fragment], color: bool = False) -> str:
    """The fragments as text for a stream: plain, or with ANSI colours and bold when ``color``."""
    if not color:
        return plain_text(fragments)
    out = []
    for style, text in fragments:
        code = _ANSI.get(style)
        out.append(f"{code}{text}\x1b[0m" if code and text.strip() else text)
    return "".join(out)


def _merge(fragments: Iterable[Fragment]) -> list[Fragment]:
    """Join neighbouring fragments of one style, so a terminal gets one style change per run of text."""
    merged: list[Fragment] = []
    for style, text in fragments:
        if not text:
            continue
        if merged and merged[-1][0] == style:
            merged[-1] = (style, merged[-1][1] + text)
        else:
            merged.append((style, text))
    return merged


def wrap(parts: Sequence[Fragment], width: int, indent: str = "", hang: str | None = None) -> list[Fragment]:
    """Word-wrap styled text to ``width`` columns, ending with a newline; lines after the first start with ``hang``
    (default ``indent``). Lines break only at white space, so no word (nor a run joined by :data:`KEEP`) is split;
    a word longer than the line gets a line of its own. White space is collapsed; a word may span fragments
    (``parties`` emphasised, then ``,``) and keeps each character's style. Empty text gives no lines."""
    hang = indent if hang is None else hang
    text = "".join(part for _, part in parts)
    styles = [style for style, part in parts for _ in part]
    out: list[Fragment] = []
    column = 0
    for word in _WORD.finditer(text):
        size = word.end() - word.start()
        if column and column + 1 + size > width:
            out.append(("", "\n"))
            out.append(("", hang))
            column = len(hang)
        elif column:  # the space takes the style around it, so that a styled run stays one fragment
            space = styles[word.start()] if styles[word.start()] == out[-1][0] else ""
            out.append((space, " "))
            column += 1
        else:
            out.append(("", indent))
            column = len(indent)
        out.extend((styles[i], text[i].replace(KEEP, " ")) for i in range(word.start(), word.end()))
        column += size
    if out:
        out.append(("", "\n"))
    return _merge(out)


def emphasise(text: str, question: str) -> list[Fragment]:
    """``text`` as fragments, the words it shares with ``question`` (same stem, stop words aside) in
    ``class:match``."""
    asked = set(tokenize(question))
    out: list[Fragment] = []
    position = 0
    for term in _TERM.finditer(text):
        if asked.intersection(tokenize(term.group())):
            out.append(("", text[position : term.start()]))
            out.append(("class:match", term.group()))
            position = term.end()
    out.append(("", text[position:]))
    return _merge(out)


def snippet(sentence: str, question: str, limit: int = SNIPPET_CHARS) -> list[Fragment]:
    """At most about ``limit`` characters of ``sentence``, whole words: the stretch with the most words the question
    matched, those as near its middle as can be (else the start), with ``…`` where words were left out, the matches
    emphasised."""
    if len(sentence) <= limit:
        return emphasise(sentence, question)
    words = sentence.split()
    asked = set(tokenize(question))
    matched = [n for n, word in enumerate(words) if asked.intersection(tokenize(word))]
    best = (-1, 0, 0, 0)  # (matches, margin, -start, end)
    end = 0
    size = -1  # characters of words[start:end] joined by spaces
    for start in range(len(words)):
        while end < len(words) and (end == start or size + 1 + len(words[end]) <= limit - 2):
            size += 1 + len(words[end])
            end += 1
        inside = [n for n in matched if start <= n < end]
        margin = min(inside[0] - start, end - 1 - inside[-1]) if inside else 0  # words kept either side
        best = max(best, (len(inside), margin, -start, end))
        size -= len(words[start]) + 1
    _, _, first, last = best
    text = " ".join(words[-first:last])
    return emphasise(("…" if first else "") + text + ("…" if last < len(words) else ""), question)


@dataclass(frozen=True)
class AnswerPiece:
    """One source's part of an answer: its text (its date label, if any, and the sentence) and the number of its
    citation in :func:`answer_pieces`' order (None when that sentence is not among the citations)."""

    text: str
    number: int | None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def answer_pieces(answer: Answer) -> tuple[tuple[AnswerPiece, ...], tuple[Citation, ...]]:
    """The answer split into one piece per cited sentence, in the answer's order, and the citations reordered to
    match: those the answer quotes first, in the order it quotes them, then the others as ranked.

    The text between two quoted sentences (``" As of 2007: "``, a date label) starts the next piece; text the
    citations do not cover (a sentence whose citation ``top_k`` left out) is a piece without
    a number. An abstention has no pieces."""
    if answer.answer is None:
        return (), answer.citations
    text = answer.answer
    spans: list[tuple[int, int, int]] = []  # (start, end, index into answer.citations)
    for index, citation in enumerate(answer.citations):
        start = text.find(citation.sentence)
        while start >= 0 and any(start < e and s < start + len(citation.sentence) for s, e, _ in spans):
            start = text.find(citation.sentence, start + 1)
        if citation.sentence and start >= 0:
            spans.append((start, start + len(citation.sentence), index))
    spans.sort()
    quoted = [index for _, _, index in spans]
    order = quoted + [index for index in range(len(answer.citations)) if index not in quoted]
    pieces: list[AnswerPiece] = []
    position = 0
    for number, (start, end, _) in enumerate(spans, start=1):
        lead = text[position:start].lstrip()
        labels = list(_DATE_LABEL.finditer(lead))
        if labels and labels[-1].start() > 0:  # a whole uncited piece, then this one's label
            uncited, lead = lead[: labels[-1].start()].rstrip(), lead[labels[-1].start() :]
            pieces.append(AnswerPiece(_capitalised(uncited), None))
        pieces.append(AnswerPiece(_capitalised(lead + text[start:end]), number))
        position = end
    rest = text[position:].strip()
    if rest:
        pieces.append(AnswerPiece(_capitalised(rest), None))
    return tuple(pieces), tuple(answer.citations[index] for index in order)


def citation_line(number: int, citation: Citation) -> str:
    """``[1] Title (date)``."""
    return plain_text(citation_head(number, citation)).replace(KEEP, " ")


def citation_head(number: int, citation: Citation) -> list[Fragment]:
    """``[1] Title (date)``, styled; the number and the date each stay whole."""
    head = [("class:number", f"[{number}]{KEEP}"), ("class:title", citation.title)]
    if citation.date:
        head.append(("class:meta", f" ({citation.date})"))
    return head


def citation_meta(citation: Citation) -> list[Fragment]:
    """``doc-id [start:end], score 0.97``, styled: where to find the sentence, and the reader's score for it."""
    return [("class:meta", f"{citation.doc_id} [{citation.start}:{citation.end}], score{KEEP}{citation.score:.2f}")]


def short_answer_parts(text: str, answer: Answer) -> list[Fragment]:
    """``text`` (the answer or a piece of it) as fragments, the answer's short answer in ``class:short`` where
    ``text`` quotes the first cited sentence; all plain when it does not (or there is no short answer)."""
    short = answer.short_answer
    if short is None or not answer.citations:
        return [("", text)]
    cited = answer.citations[0]
    at = text.find(cited.sentence)
    if at < 0 or not cited.start <= short.start <= short.end <= cited.end:
        return [("", text)]
    start = at + short.start - cited.start
    end = start + short.end - short.start
    return _merge([("", text[:start]), ("class:short", text[start:end]), ("", text[end:])])


def _answer_text(pieces: Sequence[AnswerPiece], width: int, answer: Answer) -> list[Fragment]:
    out: list[Fragment] = []
    for piece in pieces:
        marker = f"{KEEP}[{piece.number}]" if piece.number is not None else ""
        out.extend(wrap([*short_answer_parts(piece.text, answer), ("class:number", marker)], width))
    return out


def answer_fragments(answer: Answer, width: int, full: bool = False) -> Fragments:
    """The answer, one source a line each with its citation number, its confidence, then the numbered citations
    in the answer's order: title and date with a snippet of the sentence (``full``: also document, offsets and
    score, and the whole sentence), the question's words emphasised. An abstention says so and lists the nearest
    sentences whole. A question read otherwise than typed (a typo read as the word meant) first says how it was
    read."""
    pieces, citations = answer_pieces(answer)
    out: list[Fragment] = []
    if answer.read_as is not None:
        out.extend(wrap([("class:meta", f"(read as: {answer.read_as})")], width))
    if answer.answer is None:
        out.append(("class:abstain", ABSTAIN_MESSAGE + "\n"))
        if not citations:
            out.append(("class:meta", "No sentence in the articles is close to it.\n"))
            return tuple(out)
        out.append(("class:meta", "Nearest sentences:\n"))
    else:
        out.extend(_answer_text(pieces, width, answer))
        out.append(("class:meta", f"({confidence_text(answer.confidence)})\n"))
    for number, citation in enumerate(citations, start=1):
        if full:
            out.append(("", "\n"))
        out.extend(wrap(citation_head(number, citation), width, hang="    "))
        if full:
            out.extend(wrap(citation_meta(citation), width, indent="    "))
        whole = full or answer.answer is None
        sentence = (emphasise if whole else snippet)(citation.sentence, answer.question)
        out.extend(wrap(sentence, width, indent="    "))
    return tuple(_merge(out))


def confidence_text(confidence: float) -> str:
    """How an answer's confidence is shown: "confidence 0.87", with :data:`UNSURE_NOTE` under
    :data:`UNSURE_BELOW` ("confidence 0.36; more likely wrong than right")."""
    shown = f"confidence {confidence:.2f}"
    return f"{shown}; {UNSURE_NOTE}" if confidence < UNSURE_BELOW else shown


def render_answer(answer: Answer, width: int = MAX_WIDTH, color: bool = False) -> str:
    """The answer as ``askidcpc ask`` prints it (:func:`answer_fragments` in full), without the final newline."""
    return to_text(answer_fragments(answer, width, full=True), color).rstrip("\n")
