"""Split document text into sentence passages with exact ``[start, end)`` offsets.

syntok segments each line (every line break ends a sentence, so headings and bylines stand alone); its tokens carry
offsets, so spans are exact by construction. A few fix-ups cover what it misses in news prose: a span ending in a
name title it does not know (``Gov.``, ``Lt.``) or in ``;`` is re-joined with the next, and a full stop glued to the
next sentence (``mechanisms.The``) or ending a sentence after a decimal or Roman numeral (``86.4. Veteran``) is cut.
The choice of splitter was measured against pysbd, blingfire and a regex: see benchmarks/SPLITTERS.md.

syntok runs at about 5,000 sentences/s, so `split_spans` only hands it the parts of a line whose outcome it cannot
predict for certain. It cuts a line at stops where syntok surely ends a sentence (``word. Capital`` or
``word.” Capital``, the word not an abbreviation, initial, title or numeral: see `_classify`), but only where no
bracket syntok could skip over is open, and emits a part directly when every other stop in it surely ends nothing
(``Mr. Smith``, ``3.5``, ``p.m. on``, ``; the``) and it holds nothing else syntok reacts to; any other part goes to
syntok alone. syntok decides each stop from the tokens around it and never looks past a sure end, so the spans are
those of `_syntok_spans`, syntok on every whole line, kept as the oracle the tests compare against (benchmarks/
SPLITTERS.md, section 5: identical on SQuAD and news, 10-90x faster on prose).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from syntok import segmenter

# syntok's own word lists: the certain cases below must agree with the version installed, not with a copy.
from syntok._segmentation_states import State

from askidcpc.types import Document, Passage

__all__ = ["make_passages", "paragraph_starts", "split_spans"]

# A full stop, "!" or "?" after two lowercase letters, glued to a capitalised word: "mechanisms.The".
# Two lowercase letters keep "U.S.A", "e.g.The", "Ph.D" and "St.John" joined.
_MISSING_SPACE = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")
# Titles before a name that practically never end a sentence (syntok knows Dr./Prof./Gen. but not these), and ";"
# before a capital, where syntok also ends a sentence: a span ending in one was cut too early.
_TITLES = "Mr|Mrs|Ms|Messrs|Dr|Prof|Gen|Gov|Sen|Rep|Col|Lt|Sgt|Capt|Adm|Cmdr|Maj|Rev|Hon|Pres|Amb"
_TITLE_END = re.compile(rf"(?:(?:^|[^\w.])(?:{_TITLES})\.|;)$")
# Sentence ends syntok misses: after a decimal number ("a rating of 86.4. Veteran") or a Roman numeral
# ("Super Bowl XX. Kony") when a capitalised word follows.
_MISSED_END = re.compile(r"(?:\d\.\d+|\b[IVX]{2,})\.(?=\s+[\"“‘(]?[A-Z])")
_LINE = re.compile(r"[^\n]+")

# --- The fast path. Everything syntok reacts to inside a line is an "event": any character but word characters,
# the whitespace that syntok and str.isspace agree on, and punctuation syntok treats as an ordinary token.
_EVENT = re.compile(r"[^\w \t\r\xa0,:'\"’‘“”\-–—%$&/+#@*°£€¥−×=±·~<>|]")
# A closing quote right after a stop belongs to its sentence (syntok moves it over before deciding).
_CLOSING_QUOTES = "\"”’'"
_BLANK = re.compile(r"[\"”’']?[ \t\r\xa0]*")
# What follows a stop: maybe a closing quote, spaces, then a lowercase letter, or a capitalised word that is a whole
# token ("alone").
_NEXT = re.compile(
    r"(?P<quote>[\"”’'])?[ \t]+(?:(?P<lower>[a-z])|(?P<upper>[A-Z][a-z]*)(?P<alone>(?=[,:]?(?:[ \t\r\xa0]|$)))?)"
)
# After a semicolon syntok either goes on or ends the sentence and the fix-up re-joins it: never a cut.
_AFTER_SEMICOLON = re.compile(r"[ \t]+[A-Za-z]")
# The whitespace-delimited chunk before a stop whose last token syntok sees as ``word`` or ``number``: an optional
# opening quote (its own token) or hyphenated prefix (syntok splits at the last hyphen), then no lower-to-upper
# case change (syntok would split "iPhone" into "i" "Phone").
_BEFORE = re.compile(r"[\"“‘]?(?P<number>[0-9]+)|(?:[\"“‘]|(?:[A-Za-z0-9]+-)+)?(?P<word>[A-Z]*[a-z]*)")
# The usual boundary, read from the start of the chunk before the stop in one match: `_BEFORE`'s word, the stop,
# blanks and a capital.
_PLAIN_STOP = re.compile(r"(?:[\"“‘]|(?:[A-Za-z0-9]+-)+)?(?P<word>[A-Z]*[a-z]*)[.!?][\"”’']?[ \t]+[A-Z]")
# A short aside in parentheses after a word, before a lowercase word, "," or ":": "the director (since 2015), left".
# syntok skips it whole (no stop inside, closed within 50 tokens) and decides nothing at it, as the word after it
# starts lowercase or is inner punctuation. Letters or digits inside both brackets make each its own token; at most
# 46 characters inside keep the closing bracket within syntok's 50-token search.
_PLAIN_ASIDE = re.compile(r"\([A-Za-z0-9](?:[A-Za-z0-9 ,'’\-–%$&/+#@*]{0,44}[A-Za-z0-9])?\)(?=[,:]|[ \t]+[a-z])")
_ROMAN = re.compile(r"[IVX]+")
_MONTH_START = re.compile("|".join(sorted(State.months, key=len, reverse=True)))
_TITLE_WORDS = frozenset(_TITLES.split("|"))
_NO_SPLIT_WORDS = State.abbreviations | _TITLE_WORDS | {"no", "No", "NO"}
_OPENING, _CLOSING = "([{", ")]}"
_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_SYNTOK_BRACKETS = State.opening_brackets | State.closing_brackets
# How _classify judges a stop.
_UNSURE, _BOUNDARY, _INSIDE, _LINE_END = range(4)


def _syntok_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """syntok's sentences of ``text[start:end]`` (no line break in it), as offsets into ``text``, with wrongly cut
    titles re-joined."""
    pieces: list[tuple[int, int]] = []
    for paragraph in segmenter.analyze(text[start:end]):
        for sentence in paragraph:
            piece_start = start + sentence[0].offset
            piece_end = start + sentence[-1].offset + len(sentence[-1].value)
            if pieces and _TITLE_END.search(text[pieces[-1][0] : pieces[-1][1]]):
                pieces[-1] = (pieces[-1][0], piece_end)
            else:
                pieces.append((piece_start, piece_end))
    return pieces


def _add_cut_pieces(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    """Append the sentences of one syntok piece to ``spans``: cut at the ends syntok misses, whitespace-trimmed."""
    inner = {m.start() for m in _MISSING_SPACE.finditer(text, start, end)}
    inner |= {m.end() for m in _MISSED_END.finditer(text, start, end)}
    for cut_start, cut_end in itertools.pairwise([start, *sorted(inner), end]):
        while cut_start < cut_end and text[cut_start].isspace():
            cut_start += 1
        while cut_end > cut_start and text[cut_end - 1].isspace():
            cut_end -= 1
        if cut_start < cut_end:
            spans.append((cut_start, cut_end))


def _syntok_spans(text: str) -> list[tuple[int, int]]:
    """`split_spans` computed by running syntok on every whole line: the reference the fast path must equal."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        for start, end in _syntok_pieces(text, line.start(), line.end()):
            _add_cut_pieces(text, start, end, spans)
    return spans


def _classify(text: str, stop: int, line_start: int, line_end: int) -> int:
    """Whether syntok surely ends a sentence at the ``.``/``!``/``?`` at ``stop`` (`_BOUNDARY`), surely does not and
    no fix-up cuts there (`_INSIDE`), only blanks follow it (`_LINE_END`), or it cannot be told here (`_UNSURE`).

    This follows syntok 1.4's decision (``State._move_and_maybe_extract_terminal``): a next token starting in
    lowercase never ends a sentence; otherwise, after a plain word or number of two or more characters, followed
    by whitespace and a capital, it always does; after an abbreviation it does only before a sentence starter
    ("The", "It"). Single letters (initials), Roman numerals, titles, "no" before a token with a digit, and a
    number before a month name are left to syntok.
    """
    after = _NEXT.match(text, stop + 1, line_end)
    if after is None:
        return _LINE_END if _BLANK.fullmatch(text, stop + 1, line_end) else _UNSURE
    if after.group("lower") is not None:
        return _INSIDE
    chunk_start = max(line_start, text.rfind(" ", line_start, stop) + 1, text.rfind("\t", line_start, stop) + 1)
    before = _BEFORE.fullmatch(text, chunk_start, stop)
    if before is None:
        return _UNSURE
    number = before.group("number")
    if number is not None:
        if len(number) >= 2 and not _MONTH_START.match(text, after.start("upper"), line_end):
            return _BOUNDARY
        return _UNSURE
    word = before.group("word")
    if len(word) < 2 or _ROMAN.fullmatch(word):
        return _UNSURE
    if word not in _NO_SPLIT_WORDS:
        return _BOUNDARY
    if after.group("quote") is not None:
        return _UNSURE
    alone = after.group("alone") is not None
    if word in State.abbreviations and text[stop] == "." and alone:
        if after.group("upper") not in State.starters:
            return _INSIDE
        return _UNSURE if word in _TITLE_WORDS else _BOUNDARY
    if word in ("no", "No", "NO") and alone:
        return _BOUNDARY
    return _UNSURE


def _bracket_is_a_token(text: str, position: int, line_start: int, line_end: int) -> bool:
    """Whether syntok makes the bracket at ``position`` a token of its own: it stands alone between blanks, or its
    chunk holds a letter or digit (a chunk of punctuation only, like "((" or ".),", is one token). The chunk is cut
    at every blank of ``str.isspace`` and at U+200B, a superset of where syntok cuts, so it is never too long."""
    before = text[position - 1] if position > line_start else " "
    after = text[position + 1] if position + 1 < line_end else " "
    if before in " \t" and after in " \t":
        return True
    for step, stop in ((1, line_end), (-1, line_start - 1)):
        index = position + step
        while index != stop and not text[index].isspace() and text[index] != "\u200b":
            if text[index].isalnum():
                return True
            index += step
    return False


def _inside_a_token(text: str, position: int, line_start: int, line_end: int) -> bool:
    """Whether the full stop at ``position`` lies inside one of syntok's tokens ("3.5", "U.S", "e.g"), where it
    decides nothing: between ASCII letters or digits, except lowercase before uppercase ("mechanisms.The"), where
    syntok splits the word."""
    if position == line_start or position + 1 == line_end:
        return False
    before, after = text[position - 1], text[position + 1]
    return before in _ASCII_ALNUM and after in _ASCII_ALNUM and not (before.islower() and after.isupper())


def _after_a_word(text: str, position: int, line_start: int) -> bool:
    """Whether a letter or digit stands right before ``position``, or before the one space there."""
    if position > line_start and text[position - 1] == " ":
        position -= 1
    return position > line_start and text[position - 1] in _ASCII_ALNUM


def _line_segments(text: str, line_start: int, line_end: int) -> list[tuple[int, int, bool]]:
    """One line cut at the stops where syntok surely ends a sentence: ``(start, end, plain)`` for each part in order,
    ``plain`` when the part is surely one sentence (no event in it but the stop ending it and stops `_INSIDE`).

    A cut is made only when every bracket opened since the last cut is closed, so that syntok's look-ahead over
    bracketed text (``State._skip_bracketed_text``) never crosses it; after a bracket that may not be a token of
    its own (``depth < 0``) no more cuts are made in the line.
    """
    segments: list[tuple[int, int, bool]] = []
    start = line_start
    plain = True
    depth = 0
    aside_end = line_start
    for event in _EVENT.finditer(text, line_start, line_end):
        position = event.start()
        if position < aside_end:
            continue
        char = text[position]
        if char == "(" and _after_a_word(text, position, line_start):
            aside = _PLAIN_ASIDE.match(text, position, line_end)
            if aside is not None:
                aside_end = aside.end()
                continue
        if char == "." and _inside_a_token(text, position, line_start, line_end):
            continue
        if char == ";" and _AFTER_SEMICOLON.match(text, position + 1, line_end):
            continue
        if char in ".!?":
            # The usual case without a call; _classify gives the same answer for it.
            plain_stop = _PLAIN_STOP.match(text, max(line_start, text.rfind(" ", line_start, position) + 1), line_end)
            # (The match must end at this stop: after a tab it can be the stop before.)
            word = plain_stop.group("word") if plain_stop is not None and plain_stop.end("word") == position else ""
            if len(word) > 1 and word not in _NO_SPLIT_WORDS and word.strip("IVX"):
                kind = _BOUNDARY
            else:
                kind = _classify(text, position, line_start, line_end)
            if kind in (_INSIDE, _LINE_END):
                continue
            if kind == _BOUNDARY and depth == 0:
                end = position + 2 if text[position + 1] in _CLOSING_QUOTES else position + 1
                segments.append((start, end, plain))
                start = end
                plain = True
                continue
        elif depth >= 0 and (char in _OPENING or char in _CLOSING):
            if not _bracket_is_a_token(text, position, line_start, line_end):
                depth = -1
            elif char in _OPENING:
                depth += 1
            elif depth > 0:
                depth -= 1
        elif char in _SYNTOK_BRACKETS:
            depth = -1
        plain = False
    segments.append((start, line_end, plain))
    return segments


def split_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text``: half-open, whitespace-trimmed, in order, never empty.

    Every character of ``text`` but blanks lies in exactly one span (U+200B, zero-width space, counts as a blank
    where syntok makes it one). The same spans as `_syntok_spans`, faster.
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        for start, end, plain in _line_segments(text, line.start(), line.end()):
            if plain:
                while start < end and text[start].isspace():
                    start += 1
                while end > start and text[end - 1].isspace():
                    end -= 1
                if start < end:
                    spans.append((start, end))
            else:
                for piece_start, piece_end in _syntok_pieces(text, start, end):
                    _add_cut_pieces(text, piece_start, piece_end, spans)
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
