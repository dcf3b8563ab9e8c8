"""Compare sentence splitters for askidcpc: correctness, offsets, retrieval quality, speed.

Measures askidcpc's own splitter (``askidcpc.text.sentences.split_spans``) beside the libraries it was chosen
from. Run from the repository root:

    python benchmarks/splitters.py                       # everything, prints Markdown tables
    python benchmarks/splitters.py --skip-retrieval      # edge cases, offsets and speed only
    python benchmarks/splitters.py --show-failures       # print what each splitter got wrong
    python benchmarks/splitters.py --fast-path --news news.jsonl   # the fast path only, also on news documents

Every splitter returns sentences as half-open ``[start, end)`` character offsets into the original text,
with surrounding whitespace stripped, so ``text[start:end]`` is the sentence.

Measurements:

1. a hand-written table of news edge cases, plus two raw scraped articles from ``--seeds-dir`` when it holds them
   (the project's developers keep them beside the repository; skipped with a note when absent);
2. offsets on every SQuAD v1.1 dev context (exact slices, all non-whitespace characters covered);
3. ReQA-style sentence retrieval on SQuAD v1.1 dev (pool = the sentences of all contexts, gold = the
   sentences of the question's own context that hold an ``answer_start``), BM25Okapi k1=1.5 b=0.75 over
   lowercase ``\\w+`` tokens, scored with scipy sparse matrices and checked against ``rank_bm25``;
4. speed in sentences per second over all SQuAD contexts;
5. ``split_spans``'s fast path against its reference ``_syntok_spans`` (syntok on every whole line): identical
   spans on every text, the share of line parts it emits without syntok, and both speeds in the same run, on the
   seeds, SQuAD and, with ``--news``, a JSON Lines file of news documents (``--fast-path`` runs only this).

Measurements 2-4 need SQuAD v1.1's development set, ``dev-v1.1.json`` ("Dev Set v1.1" on
https://rajpurkar.github.io/SQuAD-explorer/) or a zip holding it, passed with ``--squad``.
Optional splitters (pysbd, syntok, blingfire) are skipped with a note when not installed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from askidcpc.text import sentences as askidcpc_sentences
from askidcpc.text.sentences import split_spans

Span = tuple[int, int]
SplitFn = Callable[[str], list[Span]]

DEFAULT_SHARED = Path("/work/shared")


# --------------------------------------------------------------------------------------------------
# Span helpers and the post-processing step
# --------------------------------------------------------------------------------------------------


def strip_span(text: str, start: int, end: int) -> Span | None:
    """Shrink ``[start, end)`` to exclude surrounding whitespace; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


# A full stop, "!" or "?" after two lowercase letters, glued to a capitalised word: "mechanisms.The".
# Two lowercase letters keep "U.S.A", "e.g.The", "Ph.D" and "St.John" joined.
_MISSING_SPACE = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")
# Titles that stand before a name and practically never end a sentence; a span ending in one was cut
# too early ("Gov. Li", "Lt. Wang": syntok knows Dr./Prof./Gen. but not these).
# syntok also ends a sentence at ";" before a capital ("two books; The first"): re-join that too.
_TITLE_END = re.compile(
    r"(?:(?:^|[^\w.])(?:Mr|Mrs|Ms|Messrs|Dr|Prof|Gen|Gov|Sen|Rep|Col|Lt|Sgt|Capt|Adm|Cmdr|Maj|Rev|Hon|Pres|Amb)\.|;)$"
)
# Sentence ends syntok misses: after a decimal number ("a rating of 86.4. Veteran") or a Roman numeral
# ("Super Bowl XX. Kony") when a capitalised word follows.
_MISSED_END = re.compile(r"(?:\d\.\d+|\b[IVX]{2,})\.(?=\s+[\"“‘(]?[A-Z])")
_LINE = re.compile(r"[^\n]+")


def _split_missing_space(text: str, start: int, end: int) -> Iterator[Span]:
    inner = {m.start() for m in _MISSING_SPACE.finditer(text, start, end)}
    inner |= {m.end() for m in _MISSED_END.finditer(text, start, end)}
    cuts = [start, *sorted(inner), end]
    yield from itertools.pairwise(cuts)


def with_fixups(raw: SplitFn) -> SplitFn:
    """Wrap a raw splitter with the three fix-ups of the recommended pipeline.

    1. Split at every newline first and run the splitter on each line alone, so a heading without final
       punctuation never merges with the next paragraph.
    2. Re-join a span that ends in a title abbreviation ("Gov.") with the next span of the same line.
    2b. Re-join a span that ends in ";" with the next one (syntok splits "two books; The first").
    3. Cut at missing-space joins ("mechanisms.The") and after a decimal number or Roman numeral that
       ends a sentence ("rating of 86.4. Veteran", "Super Bowl XX. Kony"), which syntok misses.

    Offsets are shifted back into the whole text and every span is stripped.
    """

    def split(text: str) -> list[Span]:
        spans: list[Span] = []
        for line in _LINE.finditer(text):
            offset = line.start()
            merged: list[Span] = []
            for start, end in raw(line.group()):
                if merged and _TITLE_END.search(text[merged[-1][0] : merged[-1][1]]):
                    merged[-1] = (merged[-1][0], end + offset)
                else:
                    merged.append((start + offset, end + offset))
            for start, end in merged:
                for piece in _split_missing_space(text, start, end):
                    stripped = strip_span(text, *piece)
                    if stripped is not None:
                        spans.append(stripped)
        return spans

    return split


# --------------------------------------------------------------------------------------------------
# Raw splitters
# --------------------------------------------------------------------------------------------------

# Baseline: a boundary after ".", "!" or "?" (plus any closing quotes/brackets) followed by whitespace,
# and at every newline. No abbreviation handling at all.
_REGEX_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|\n")


def split_regex(text: str) -> list[Span]:
    spans: list[Span] = []
    cut = 0
    for match in _REGEX_BOUNDARY.finditer(text):
        stripped = strip_span(text, cut, match.end())
        if stripped is not None:
            spans.append(stripped)
        cut = match.end()
    stripped = strip_span(text, cut, len(text))
    if stripped is not None:
        spans.append(stripped)
    return spans


@lru_cache(maxsize=1)
def _pysbd_segmenter() -> Any:
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


class OffsetError(ValueError):
    """A library reported a segment whose offsets do not match the original text."""


def split_pysbd(text: str) -> list[Span]:
    spans: list[Span] = []
    for segment in _pysbd_segmenter().segment(text):
        if text[segment.start : segment.end] != segment.sent:
            raise OffsetError(f"pysbd span {segment.start}:{segment.end} != {segment.sent!r}")
        stripped = strip_span(text, segment.start, segment.end)
        if stripped is not None:
            spans.append(stripped)
    return spans


def split_syntok(text: str) -> list[Span]:
    from syntok import segmenter

    spans: list[Span] = []
    for paragraph in segmenter.analyze(text):
        for sentence in paragraph:
            for token in sentence:
                if text[token.offset : token.offset + len(token.value)] != token.value:
                    raise OffsetError(f"syntok token at {token.offset} != {token.value!r}")
            first, last = sentence[0], sentence[-1]
            stripped = strip_span(text, first.offset, last.offset + len(last.value))
            if stripped is not None:
                spans.append(stripped)
    return spans


def split_blingfire(text: str) -> list[Span]:
    import blingfire

    if not text.strip():
        return []
    _, offsets = blingfire.text_to_sentences_and_offsets(text)
    spans: list[Span] = []
    for start, end in offsets:
        stripped = strip_span(text, int(start), int(end))
        if stripped is not None:
            spans.append(stripped)
    return spans


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def available_splitters() -> dict[str, SplitFn]:
    """All splitters that can run here, raw and with the newline/missing-space fix-ups."""
    raw: dict[str, SplitFn] = {"regex": split_regex}
    optional: tuple[tuple[str, str, SplitFn], ...] = (
        ("pysbd", "pysbd", split_pysbd),
        ("syntok", "syntok", split_syntok),
        ("blingfire", "blingfire", split_blingfire),
    )
    for name, module, fn in optional:
        if _importable(module):
            raw[name] = fn
        else:
            print(f"note: {module} is not installed; skipping it", file=sys.stderr)
    splitters: dict[str, SplitFn] = {}
    for name, fn in raw.items():
        splitters[name] = fn
        if name != "regex":  # the baseline already splits at newlines
            splitters[f"{name}+fix"] = with_fixups(fn)
    splitters["askidcpc"] = split_spans  # what askidcpc ships (syntok + the fix-ups, written flat)
    return splitters


# --------------------------------------------------------------------------------------------------
# 1. Edge cases
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expected: tuple[str, ...]


CASES: tuple[Case, ...] = (
    Case(
        "quote, said X.",
        "“We will keep talking,” said Song. The talks resume on Monday.",
        ("“We will keep talking,” said Song.", "The talks resume on Monday."),
    ),
    Case(
        "two sentences in a quote",
        "“Parties offered their voices. This shows the effect of our exchanges,” said Song. He smiled.",
        (
            "“Parties offered their voices.",
            "This shows the effect of our exchanges,” said Song.",
            "He smiled.",
        ),
    ),
    Case(
        "sentence opens with a quote",
        "The department has grown. “Through party-to-party exchanges, parties offered support,” Song said.",
        (
            "The department has grown.",
            "“Through party-to-party exchanges, parties offered support,” Song said.",
        ),
    ),
    Case(
        "full stop inside closing quote",
        "He called it “a new chapter.” Then he left the room.",
        ("He called it “a new chapter.”", "Then he left the room."),
    ),
    Case(
        "straight quotes",
        '"The work is important," he said on Tuesday. The Party has forged relations.',
        ('"The work is important," he said on Tuesday.', "The Party has forged relations."),
    ),
    Case(
        "question inside quote",
        "“Who pays for it?” he asked. Nobody answered.",
        ("“Who pays for it?” he asked.", "Nobody answered."),
    ),
    Case(
        "Mr. and Mrs.",
        "Mr. Smith met Mrs. Jones in Beijing. They discussed trade.",
        ("Mr. Smith met Mrs. Jones in Beijing.", "They discussed trade."),
    ),
    Case(
        "U.S. mid-sentence",
        "The U.S. delegation arrived on Monday. Talks began on Tuesday.",
        ("The U.S. delegation arrived on Monday.", "Talks began on Tuesday."),
    ),
    Case(
        "U.S. ends a sentence",
        "The delegation then flew to the U.S. It returned a week later.",
        ("The delegation then flew to the U.S.", "It returned a week later."),
    ),
    Case(
        "initials J. R. R. Tolkien",
        "A novel by J. R. R. Tolkien was translated into Chinese. It sold well.",
        ("A novel by J. R. R. Tolkien was translated into Chinese.", "It sold well."),
    ),
    Case(
        "middle initial",
        "George W. Bush visited Beijing in 2005. He met Hu Jintao.",
        ("George W. Bush visited Beijing in 2005.", "He met Hu Jintao."),
    ),
    Case(
        "Dr. and Prof.",
        "Dr. Li Wei, a researcher, spoke first. Prof. Wang followed.",
        ("Dr. Li Wei, a researcher, spoke first.", "Prof. Wang followed."),
    ),
    Case(
        "Inc. mid-sentence",
        "Apple Inc. opened a store in Shanghai. Sales rose.",
        ("Apple Inc. opened a store in Shanghai.", "Sales rose."),
    ),
    Case(
        "St. and Oct.",
        "The delegation visited St. Petersburg on Oct. 15 last year. It then went to Moscow.",
        ("The delegation visited St. Petersburg on Oct. 15 last year.", "It then went to Moscow."),
    ),
    Case(
        "a.m. and No.",
        "The No. 2 official spoke at 9 a.m. on Sunday. The meeting ended at noon.",
        ("The No. 2 official spoke at 9 a.m. on Sunday.", "The meeting ended at noon."),
    ),
    Case(
        "p.m. ends a sentence",
        "The talks ended at 5 p.m. The next round starts on Friday.",
        ("The talks ended at 5 p.m.", "The next round starts on Friday."),
    ),
    Case(
        "e.g. and Jan.",
        "Some parties, e.g. the SPD, sent delegates on Jan. 5, 2007. Others did not.",
        ("Some parties, e.g. the SPD, sent delegates on Jan. 5, 2007.", "Others did not."),
    ),
    Case(
        "Gen. and Gov.",
        "Gen. Zhang and Gov. Li attended the ceremony. Both spoke briefly.",
        ("Gen. Zhang and Gov. Li attended the ceremony.", "Both spoke briefly."),
    ),
    Case(
        "numbered lines",
        "The plan has two goals:\n1. Strengthen exchanges\n2. Share governance experience",
        ("The plan has two goals:", "1. Strengthen exchanges", "2. Share governance experience"),
    ),
    Case(
        "sentence ends in a decimal",
        "Growth reached 6.9. Exports fell.",
        ("Growth reached 6.9.", "Exports fell."),
    ),
    Case(
        "sentence ends in a Roman numeral",
        "It ended after World War II. The talks resumed in 1946.",
        ("It ended after World War II.", "The talks resumed in 1946."),
    ),
    Case(
        "semicolon before a capital",
        "Two parties sent delegates; The Left Party did not.",
        ("Two parties sent delegates; The Left Party did not.",),
    ),
    Case(
        "spaced em-dash",
        "The opposition today may be the ruling party in future — a point Song stressed. He said it twice.",
        (
            "The opposition today may be the ruling party in future — a point Song stressed.",
            "He said it twice.",
        ),
    ),
    Case(
        "unspaced em-dash",
        "It covers ruling parties—and opposition parties. Both matter.",
        ("It covers ruling parties—and opposition parties.", "Both matter."),
    ),
    Case(
        "decimals",
        "Growth reached 3.5 percent in 2015. Exports fell 2.1 percent.",
        ("Growth reached 3.5 percent in 2015.", "Exports fell 2.1 percent."),
    ),
    Case(
        "money",
        "The project cost $1.2 million. It took 2.5 years to finish.",
        ("The project cost $1.2 million.", "It took 2.5 years to finish."),
    ),
    Case(
        "missing space after full stop",
        "It built effective communication mechanisms.The next meeting is in May.",
        ("It built effective communication mechanisms.", "The next meeting is in May."),
    ),
    Case(
        "heading, single newline",
        "Event highlights work of CPC diplomatic arm\nThe department invited dozens of people.",
        ("Event highlights work of CPC diplomatic arm", "The department invited dozens of people."),
    ),
    Case(
        "heading, blank line",
        "Updated: 2016-06-26 23:19\n\nBy ZHANG YUNBI(China Daily)\n\nThe talk began on Sunday.",
        ("Updated: 2016-06-26 23:19", "By ZHANG YUNBI(China Daily)", "The talk began on Sunday."),
    ),
    Case(
        "paragraph without final stop",
        "Party diplomacy is growing\n\nMore parties joined this year.",
        ("Party diplomacy is growing", "More parties joined this year."),
    ),
    Case(
        "one sentence per line",
        "The Party has forged relations with 400 parties.\nThose parties include Communist parties.",
        ("The Party has forged relations with 400 parties.", "Those parties include Communist parties."),
    ),
    Case(
        "? and !",
        "Why does it matter? Because parties change! The CPC knows this.",
        ("Why does it matter?", "Because parties change!", "The CPC knows this."),
    ),
    Case(
        "parenthesised sentence",
        "The CPC has 88 million members. (The figure is from 2016.) Membership grows.",
        ("The CPC has 88 million members.", "(The figure is from 2016.)", "Membership grows."),
    ),
)

# The seed articles: a careful human keeps every non-blank line as a unit (headings and bylines
# included) and splits a line further only before these sentence starts.
SEED_EXTRA_SPLITS: dict[str, tuple[str, ...]] = {
    "000_bb9a6ea2df670ab5.txt": ("[By ZOU HONG/CHINA DAILY]", "This shows the effect of our party"),
    "002_e31773e76e17c56e.txt": (),
}


def seed_cases(seeds_dir: Path) -> list[Case]:
    cases: list[Case] = []
    for filename, markers in SEED_EXTRA_SPLITS.items():
        path = seeds_dir / filename
        if not path.exists():
            print(f"note: seed {path} not found; skipping it", file=sys.stderr)
            continue
        text = path.read_text(encoding="utf-8")
        expected: list[str] = []
        for line in text.split("\n"):
            pieces = [line]
            for marker in markers:
                pieces = [part for piece in pieces for part in _split_before(piece, marker)]
            expected.extend(piece.strip() for piece in pieces if piece.strip())
        cases.append(Case(f"seed {filename}", text, tuple(expected)))
    return cases


def _split_before(piece: str, marker: str) -> list[str]:
    index = piece.find(marker)
    return [piece] if index <= 0 else [piece[:index], piece[index:]]


@dataclass
class CaseResult:
    passed: bool
    correct: int  # expected sentences reproduced exactly
    got: list[str] = field(default_factory=list)


def run_case(split: SplitFn, case: Case) -> CaseResult:
    spans = split(case.text)
    got = [case.text[start:end] for start, end in spans]
    valid = all(strip_span(case.text, start, end) == (start, end) for start, end in spans)
    remaining = list(got)
    correct = 0
    for sentence in case.expected:
        if sentence in remaining:
            remaining.remove(sentence)
            correct += 1
    return CaseResult(passed=valid and tuple(got) == case.expected, correct=correct, got=got)


# --------------------------------------------------------------------------------------------------
# 2. Offsets on SQuAD contexts
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    context_index: int
    text: str
    answer_starts: tuple[int, ...]


def load_squad(path: Path) -> tuple[list[str], list[Question]]:
    """Contexts and questions from the SQuAD v1.1 dev zip (or the bare JSON)."""
    if not path.exists():
        raise SystemExit(
            f"{path}: not found; download SQuAD dev-v1.1.json from https://rajpurkar.github.io/SQuAD-explorer/ "
            "and pass it with --squad"
        )
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            raw = json.loads(archive.read("dev-v1.1.json"))
    else:
        raw = json.loads(path.read_text(encoding="utf-8"))
    contexts: list[str] = []
    questions: list[Question] = []
    for article in raw["data"]:
        for paragraph in article["paragraphs"]:
            contexts.append(paragraph["context"])
            for qa in paragraph["qas"]:
                starts = tuple(sorted({int(answer["answer_start"]) for answer in qa["answers"]}))
                questions.append(Question(len(contexts) - 1, qa["question"], starts))
    return contexts, questions


@dataclass
class OffsetReport:
    contexts: int = 0
    bad_contexts: int = 0  # library error, wrong slice, unstripped, overlapping or missing characters
    library_errors: int = 0
    uncovered_chars: int = 0
    first_problem: str = ""


def check_offsets(split: SplitFn, contexts: Sequence[str]) -> OffsetReport:
    report = OffsetReport()
    for index, text in enumerate(contexts):
        report.contexts += 1
        try:
            spans = split(text)
        except OffsetError as error:
            report.library_errors += 1
            report.bad_contexts += 1
            report.first_problem = report.first_problem or f"context {index}: {error}"
            continue
        problem = ""
        previous_end = 0
        covered = np.zeros(len(text), dtype=bool)
        for start, end in spans:
            if not (previous_end <= start < end <= len(text)):
                problem = problem or f"span {start}:{end} out of order or out of range"
            elif strip_span(text, start, end) != (start, end):
                problem = problem or f"span {start}:{end} not stripped"
            covered[start:end] = True
            previous_end = max(previous_end, end)
        missing = sum(1 for i, char in enumerate(text) if not char.isspace() and not covered[i])
        if missing:
            report.uncovered_chars += missing
            problem = problem or f"{missing} non-whitespace characters outside every span"
        if problem:
            report.bad_contexts += 1
            report.first_problem = report.first_problem or f"context {index}: {problem}"
    return report


# --------------------------------------------------------------------------------------------------
# 3. ReQA-style retrieval with BM25Okapi
# --------------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Bm25Index:
    """BM25Okapi exactly as rank_bm25 0.2.2 computes it, as a sentence x term weight matrix."""

    vocabulary: dict[str, int]
    weights: sparse.csr_matrix  # [sentence, term] = idf * tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl))

    @classmethod
    def build(
        cls, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25
    ) -> Bm25Index:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[float] = []
        for row, document in enumerate(documents):
            frequencies: dict[int, int] = {}
            for word in document:
                column = vocabulary.setdefault(word, len(vocabulary))
                frequencies[column] = frequencies.get(column, 0) + 1
            for column, count in frequencies.items():
                rows.append(row)
                cols.append(column)
                counts.append(count)
        n_docs = len(documents)
        tf = sparse.csr_matrix((counts, (rows, cols)), shape=(n_docs, len(vocabulary)), dtype=np.float64)
        doc_freq = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(vocabulary))
        idf = np.log(n_docs - doc_freq + 0.5) - np.log(doc_freq + 0.5)
        # rank_bm25 floors negative idf at epsilon * mean idf (mean taken before flooring).
        idf = np.where(idf < 0, epsilon * idf.mean(), idf)
        doc_len = np.array([len(document) for document in documents], dtype=np.float64)
        norm = k1 * (1 - b + b * doc_len / doc_len.mean())
        coo = tf.tocoo()
        data = idf[coo.col] * coo.data * (k1 + 1) / (coo.data + norm[coo.row])
        weights = sparse.csr_matrix((data, (coo.row, coo.col)), shape=tf.shape)
        return cls(vocabulary, weights)

    def query_matrix(self, queries: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        # Repeated query words count once per occurrence, as in rank_bm25; unknown words score 0.
        rows: list[int] = []
        cols: list[int] = []
        for row, query in enumerate(queries):
            for word in query:
                column = self.vocabulary.get(word)
                if column is not None:
                    rows.append(row)
                    cols.append(column)
        ones = np.ones(len(rows), dtype=np.float64)
        return sparse.csr_matrix((ones, (rows, cols)), shape=(len(queries), len(self.vocabulary)))

    def scores(self, queries: Sequence[Sequence[str]]) -> npt.NDArray[np.float64]:
        """Dense [query, sentence] scores."""
        product = self.query_matrix(queries) @ self.weights.T
        return np.asarray(product.toarray(), dtype=np.float64)


def check_against_rank_bm25(
    index: Bm25Index, documents: Sequence[Sequence[str]], queries: Sequence[Sequence[str]]
) -> float:
    """Largest absolute difference from rank_bm25.BM25Okapi.get_scores over the given queries."""
    from rank_bm25 import BM25Okapi

    reference = BM25Okapi([list(document) for document in documents], k1=1.5, b=0.75)
    ours = index.scores(queries)
    worst = 0.0
    for row, query in enumerate(queries):
        expected = np.asarray(reference.get_scores(list(query)), dtype=np.float64)
        worst = max(worst, float(np.max(np.abs(expected - ours[row]))))
    return worst


@dataclass
class RetrievalReport:
    sentences: int
    p_at_1: float
    mrr_at_10: float
    max_abs_diff: float | None  # vs rank_bm25, when checked
    hits: npt.NDArray[np.bool_]  # per question: is the top sentence gold?


def gold_sentences(text: str, spans: Sequence[Span], answer_start: int) -> int | None:
    """Index of the span holding the answer start (or the first non-space character after it)."""
    position = answer_start
    while position < len(text) and text[position].isspace():
        position += 1
    for index, (start, end) in enumerate(spans):
        if start <= position < end:
            return index
    return None


def evaluate_retrieval(
    split: SplitFn, contexts: Sequence[str], questions: Sequence[Question], verify: int, batch_size: int = 512
) -> RetrievalReport:
    sentences: list[str] = []
    first_sentence: list[int] = []
    context_spans: list[list[Span]] = []
    for text in contexts:
        spans = split(text)
        first_sentence.append(len(sentences))
        context_spans.append(spans)
        sentences.extend(text[start:end] for start, end in spans)
    documents = [tokenize(sentence) for sentence in sentences]
    index = Bm25Index.build(documents)
    queries = [tokenize(question.text) for question in questions]

    gold: list[set[int]] = []
    for question in questions:
        text = contexts[question.context_index]
        ids: set[int] = set()
        for answer_start in question.answer_starts:
            local = gold_sentences(text, context_spans[question.context_index], answer_start)
            if local is not None:
                ids.add(first_sentence[question.context_index] + local)
        gold.append(ids)

    hits = np.zeros(len(queries), dtype=bool)
    reciprocal_ranks = 0.0
    for offset in range(0, len(queries), batch_size):
        block = index.scores(queries[offset : offset + batch_size])
        for row in range(block.shape[0]):
            ranked = _top_k(block[row], 10)
            wanted = gold[offset + row]
            hits[offset + row] = bool(ranked) and ranked[0] in wanted
            for rank, sentence_id in enumerate(ranked, start=1):
                if sentence_id in wanted:
                    reciprocal_ranks += 1.0 / rank
                    break

    max_abs_diff = None
    if verify > 0:
        step = max(1, len(queries) // verify)
        sample = [queries[i] for i in range(0, len(queries), step)][:verify]
        max_abs_diff = check_against_rank_bm25(index, documents, sample)
    return RetrievalReport(len(sentences), float(hits.mean()), reciprocal_ranks / len(queries), max_abs_diff, hits)


def _top_k(scores: npt.NDArray[np.float64], k: int) -> list[int]:
    """Highest scores first; ties broken by lower sentence index (deterministic)."""
    k = min(k, scores.shape[0])
    candidates = np.argpartition(-scores, k - 1)[:k]
    threshold = scores[candidates].min()
    pool = np.flatnonzero(scores >= threshold)  # include every tie at the cut-off
    order = np.lexsort((pool, -scores[pool]))
    return [int(i) for i in pool[order][:k]]


# --------------------------------------------------------------------------------------------------
# 4. Speed
# --------------------------------------------------------------------------------------------------


def measure_speed(
    split: SplitFn, contexts: Sequence[str], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, int]:
    """Best-of-``repeats`` sentences per second over all contexts, and the sentence count."""
    best = math.inf
    count = 0
    for _ in range(repeats):
        began = clock()
        count = sum(len(split(text)) for text in contexts)
        best = min(best, clock() - began)
    return count / best, count


# --------------------------------------------------------------------------------------------------
# 5. The fast path against its reference
# --------------------------------------------------------------------------------------------------


@dataclass
class FastPathReport:
    texts: int
    sentences: int
    differing: int  # texts whose split_spans differ from _syntok_spans in any span
    lines: int
    fast_lines: int  # lines split without syntok
    segments: int
    plain_segments: int  # line parts emitted without syntok
    reference_per_s: float
    fast_per_s: float


def check_fast_path(texts: Sequence[str], repeats: int = 1) -> FastPathReport:
    """Compare ``split_spans`` with ``_syntok_spans`` on every text and time both, one after the other, in CPU time
    of this process (on a shared machine, wall time mostly measures the other processes)."""
    differing = sentences = lines = fast_lines = segments = plain_segments = 0
    for text in texts:
        spans = split_spans(text)
        sentences += len(spans)
        differing += spans != askidcpc_sentences._syntok_spans(text)
        for line in askidcpc_sentences._LINE.finditer(text):
            parts = askidcpc_sentences._line_segments(text, line.start(), line.end())
            plain = sum(part[2] for part in parts)
            lines += 1
            fast_lines += plain == len(parts)
            segments += len(parts)
            plain_segments += plain
    reference_per_s, _ = measure_speed(askidcpc_sentences._syntok_spans, texts, repeats, time.process_time)
    fast_per_s, _ = measure_speed(split_spans, texts, repeats, time.process_time)
    return FastPathReport(
        len(texts), sentences, differing, lines, fast_lines, segments, plain_segments, reference_per_s, fast_per_s
    )


def load_news(path: Path) -> list[str]:
    """The ``text`` of every record of a JSON Lines file of documents."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines if line.strip()]


def _share(part: int, whole: int) -> str:
    return f"{part:,} / {whole:,} ({part / max(whole, 1):.1%})"


def print_fast_path(corpora: dict[str, Sequence[str]], repeats: int) -> None:
    print("## 5. split_spans (fast path) against _syntok_spans (syntok on every line), same run, one core, CPU time\n")
    print("| texts | count | sentences | differing texts | lines without syntok | parts without syntok |", end="")
    print(" syntok sentences/s | split_spans sentences/s | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, texts in corpora.items():
        report = check_fast_path(texts, repeats)
        print(
            f"| {name} | {report.texts:,} | {report.sentences:,} | {report.differing} "
            f"| {_share(report.fast_lines, report.lines)} | {_share(report.plain_segments, report.segments)} "
            f"| {report.reference_per_s:,.0f} | {report.fast_per_s:,.0f} "
            f"| {report.fast_per_s / report.reference_per_s:.1f}x |",
            flush=True,
        )
    print()


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SHARED / "data" / "squad-dev-v1.1.json.zip")
    parser.add_argument("--seeds-dir", type=Path, default=DEFAULT_SHARED / "seeds")
    parser.add_argument("--only", nargs="*", help="run only these splitters (e.g. pysbd syntok+fix)")
    parser.add_argument("--skip-retrieval", action="store_true", help="skip the ReQA/BM25 evaluation")
    parser.add_argument(
        "--verify",
        type=int,
        default=20,
        help="questions checked against rank_bm25.BM25Okapi.get_scores (0 to skip)",
    )
    parser.add_argument("--speed-repeats", type=int, default=1)
    parser.add_argument(
        "--reference",
        default="syntok+fix",
        help="splitter the others are compared with (paired exact sign test on P@1 hits)",
    )
    parser.add_argument("--show-failures", action="store_true", help="print what each failing case produced")
    parser.add_argument("--news", type=Path, help="JSON Lines news documents (a text field) for section 5")
    parser.add_argument("--fast-path", action="store_true", help="run only section 5, the fast path check")
    args = parser.parse_args(argv)

    if args.fast_path:
        corpora: dict[str, Sequence[str]] = {"seeds": [case.text for case in seed_cases(args.seeds_dir)]}
        corpora["SQuAD dev contexts"] = load_squad(args.squad)[0]
        if args.news is not None:
            corpora[f"news ({args.news.name})"] = load_news(args.news)
        print_fast_path(corpora, args.speed_repeats)
        return 0

    splitters = available_splitters()
    if args.only:
        unknown = set(args.only) - set(splitters)
        if unknown:
            parser.error(f"unknown splitters: {sorted(unknown)}; known: {sorted(splitters)}")
        splitters = {name: fn for name, fn in splitters.items() if name in args.only}
    names = list(splitters)

    cases = list(CASES) + seed_cases(args.seeds_dir)
    print("## 1. Edge cases (✓ = exact expected sentences)\n")
    print("| case | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    passed = dict.fromkeys(names, 0)
    failures: list[str] = []
    for case in cases:
        cells: list[str] = []
        for name in names:
            result = run_case(splitters[name], case)
            passed[name] += result.passed
            cell = "✓" if result.passed else "✗"
            if case.name.startswith("seed"):
                cell += f" {result.correct}/{len(case.expected)}"
            cells.append(cell)
            if not result.passed:
                wrong = [s for s in result.got if s not in case.expected]
                failures.append(f"{name} | {case.name}: {json.dumps(wrong, ensure_ascii=False)[:400]}")
        print(f"| {case.name} | " + " | ".join(cells) + " |")
    print("| **passed** | " + " | ".join(f"**{passed[n]}/{len(cases)}**" for n in names) + " |\n")
    if args.show_failures:
        print("Spans not in the expected list:\n")
        for line in failures:
            print(f"- {line}")
        print()

    contexts, questions = load_squad(args.squad)
    print(f"## 2-4. SQuAD v1.1 dev: {len(contexts)} contexts, {len(questions)} questions\n")
    print("| splitter | sentences | bad-offset contexts | uncovered chars | sentences/s | P@1 | MRR@10 |")
    print("|---|---|---|---|---|---|---|")
    notes: list[str] = []
    hits: dict[str, npt.NDArray[np.bool_]] = {}
    for name in names:
        split = splitters[name]
        offsets = check_offsets(split, contexts)
        if offsets.first_problem:
            notes.append(f"{name}: {offsets.first_problem}")
        speed, count = measure_speed(split, contexts, args.speed_repeats)
        p1 = mrr = "-"
        if not args.skip_retrieval and offsets.library_errors == 0:
            retrieval = evaluate_retrieval(split, contexts, questions, args.verify)
            p1, mrr = f"{retrieval.p_at_1:.4f}", f"{retrieval.mrr_at_10:.4f}"
            hits[name] = retrieval.hits
            if retrieval.max_abs_diff is not None:
                notes.append(
                    f"{name}: sparse BM25 vs rank_bm25 on {args.verify} questions, "
                    f"max |diff| = {retrieval.max_abs_diff:.2e}"
                )
        print(
            f"| {name} | {count} | {offsets.bad_contexts} | {offsets.uncovered_chars} | {speed:,.0f} | {p1} | {mrr} |",
            flush=True,
        )
    print()
    for note in notes:
        print(f"- {note}")
    if args.reference in hits:
        print(f"\nP@1 against {args.reference} (questions only it gets right / only the other gets right, p):\n")
        for name, other in hits.items():
            if name != args.reference:
                print(f"- {name}: {_paired_sign_test(hits[args.reference], other)}")
    if "syntok" in splitters or "syntok+fix" in splitters:
        reference = with_fixups(split_syntok)
        texts = [case.text for case in cases] + list(contexts)
        differing = sum(split_spans(text) != reference(text) for text in texts)
        print(f"\naskidcpc split_spans vs with_fixups(split_syntok): {differing} of {len(texts)} texts differ")
    return 0


def _paired_sign_test(reference: npt.NDArray[np.bool_], other: npt.NDArray[np.bool_]) -> str:
    """Exact two-sided sign test (McNemar) on the questions where exactly one of the two is right."""
    from scipy.stats import binomtest

    only_reference = int(np.sum(reference & ~other))
    only_other = int(np.sum(other & ~reference))
    discordant = only_reference + only_other
    p_value = binomtest(only_reference, discordant).pvalue if discordant else 1.0
    return f"{only_reference} / {only_other}, p = {p_value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
