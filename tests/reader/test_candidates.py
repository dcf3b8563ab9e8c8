"""The reader's candidates (reader.candidates): their features, computed per question over numpy tables and cached
sentence analyses, equal a straightforward per-candidate computation (the one the shipped weights were first fitted
on), kept here as the oracle."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest

from askidcpc.config import Settings
from askidcpc.pipeline import Pipeline
from askidcpc.reader.answer_type import AnswerType, answers_type
from askidcpc.reader.candidates import candidates
from askidcpc.reader.evidence import RELATED_CREDIT, counts_asked, highest_idf
from askidcpc.reader.features import BASE_FEATURES, FEATURES, Profile, list_context, profile, with_aggregates
from askidcpc.reader.query import Query, build_query
from askidcpc.text.tokenize import stem_word, tokenize, words
from tests.conftest import corpus, questions

_ROLES = {"deputy", "vice", "former", "acting", "assistant", "ex", "interim", "honorary", "late"}
_NEGATIONS = {"not", "no", "never", "without", "none", "neither", "nor", "nobody", "nothing", "cannot"}


def support(query: Query, passage_terms: set[str], idf: Mapping[str, float]) -> float:
    if not query.own:
        return 0.0
    ceiling = highest_idf(idf)
    total = covered = 0.0
    for term, weight in query.own.items():
        mass = weight * max(idf.get(term, ceiling), 1e-6)
        total += mass
        if term in passage_terms:
            covered += mass
        elif query.related.get(term, frozenset()) & passage_terms:
            covered += RELATED_CREDIT * mass
    return covered / total if total else 0.0


def missing_idf(query: Query, passage_terms: set[str], idf: Mapping[str, float]) -> float:
    ceiling = highest_idf(idf)
    missing = 0.0
    for term, weight in query.own.items():
        if term not in passage_terms and not query.related.get(term, frozenset()) & passage_terms:
            missing = max(missing, weight * idf.get(term, ceiling) / ceiling)
    return missing


def window(tokens: Sequence[str], wanted: set[str]) -> int:
    if not wanted:
        return 0
    best = len(tokens)
    last: dict[str, int] = {}
    for at, token in enumerate(tokens):
        if token in wanted:
            last[token] = at
            if len(last) == len(wanted):
                best = min(best, at - min(last.values()) + 1)
    return best


def share(pairs: Sequence[tuple[str, str]], held: set[tuple[str, str]]) -> float:
    return sum(pair in held for pair in pairs) / len(pairs) if pairs else 0.0


def reference_row(
    prof: Profile,
    text: str,
    scores: tuple[float, float, float],
    rank: int,
    paragraph: Sequence[str],
    position: int,
    idf: Mapping[str, float],
    top: tuple[float, float, float],
    margin: float,
    unknown: float,
    unknown_attribute: bool,
) -> list[float]:
    """The features of the candidate ``text`` (at ``position`` among the sentences ``paragraph``), one at a time."""
    query = prof.query
    tokens = tokenize(text)
    token_set = set(tokens)
    sentence, paragraph_score, blended = scores
    top_sentence, top_paragraph, top_blended = top
    matched = [t for t in query.own if t in token_set]
    related_only = [t for t in query.own if t not in token_set and query.related.get(t, frozenset()) & token_set]
    n_own = max(1, len(query.own))
    length = max(1, len(tokens))
    wanted = set(matched) | {s for t in related_only for s in query.related[t] & token_set}
    pairs = list(pairwise(prof.ordered))
    para_tokens = {t for member in paragraph for t in tokenize(member)}
    para_words = {w for member in paragraph for w in words(member)}
    para_pairs = {pair for member in paragraph for pair in pairwise(tokenize(member))}
    near = {(a, b) for at, a in enumerate(tokens) for b in tokens[at + 1 : at + 4]}
    neighbours = {t for at in (position - 1, position + 1) if 0 <= at < len(paragraph) for t in tokenize(paragraph[at])}
    typed = answers_type(text, query.expected, query.asked)
    counted = bool(query.counted) and counts_asked(query, text)
    if typed and query.counted:
        typed = counted
    cand_words = words(text)
    word_set = set(cand_words)
    role_extra = 0.0
    for at, word in enumerate(cand_words):
        if word in _ROLES and word not in prof.asked:
            near_words = [*cand_words[max(0, at - 2) : at], *cand_words[at + 1 : at + 3]]
            if any(stem_word(w) in set(matched) for w in near_words):
                role_extra = 1.0
                break
    present = sum(e in word_set for e in prof.entities)
    sent_norm = sentence / top_sentence if top_sentence > 0 else 0.0
    para_norm = paragraph_score / top_paragraph if top_paragraph > 0 else 0.0
    coverage = support(query, token_set, idf)
    expected = query.expected
    values = {
        "sent_norm": sent_norm,
        "para_norm": para_norm,
        "blended": blended / top_blended if top_blended > 0 else 0.0,
        "rank_rr": 1.0 / rank,
        "sent_raw": math.log1p(max(0.0, sentence)),
        "para_raw": math.log1p(max(0.0, paragraph_score)),
        "coverage": coverage,
        "matched_share": (len(matched) + RELATED_CREDIT * len(related_only)) / n_own,
        "matched_count": float(len(matched)),
        "missing_idf": missing_idf(query, token_set, idf),
        "window": window(tokens, wanted) / length,
        "bigrams": share(pairs, set(pairwise(tokens))),
        "log_len": math.log(length),
        "para_coverage": support(query, para_tokens, idf),
        "para_missing_idf": missing_idf(query, para_tokens, idf),
        "para_entities_missing": float(sum(e not in para_words for e in prof.entities)),
        "sent_share": sentence / paragraph_score if paragraph_score > 0 else 0.0,
        "first_in_paragraph": float(position == 0),
        "sent_x_para": sent_norm * para_norm,
        "coverage_x_para": coverage * para_norm,
        "para_missing_share": sum(t not in para_tokens for t in query.own) / n_own,
        "neighbour_coverage": support(query, neighbours, idf),
        "context_coverage": support(query, token_set | neighbours, idf),
        "para_bigrams": share(pairs, para_pairs),
        "skip_bigrams": share(pairs, near),
        "typed": float(typed),
        "untyped": float(expected is not None and not typed),
        "untyped_figure": float(expected in (AnswerType.DATE, AnswerType.NUMBER, AnswerType.AGE) and not typed),
        "counts_asked": float(counted),
        "counts_other": float(bool(query.counted) and not counted and answers_type(text, expected, ())),
        "entities_present": present / len(prof.entities) if prof.entities else 0.0,
        "entities_missing": float(len(prof.entities) - present),
        "figures_missing": float(sum(f not in word_set for f in prof.figures)),
        "role_extra": role_extra,
        "negation_mismatch": float((bool(word_set & _NEGATIONS) or "n't" in text) != prof.negated),
        "margin": margin,
        "unknown": unknown,
        "unknown_attribute": float(unknown_attribute),
        "top_sent_raw": math.log1p(max(0.0, top_sentence)),
        "n_own": math.log1p(len(query.own)),
        "question_negated": float(prof.negated),
        "expects_date": float(expected is AnswerType.DATE),
        "expects_number": float(expected in (AnswerType.NUMBER, AnswerType.AGE)),
        "expects_person": float(expected is AnswerType.PERSON),
        "expects_place": float(expected is AnswerType.PLACE),
    }
    return [values[name] for name in BASE_FEATURES]


def reference(pipeline: Pipeline, question: str, history: Sequence[str]) -> npt.NDArray[np.float64]:
    query = build_query(question, history, pipeline.policy)
    ranked = pipeline.ranked(query, 30)
    idf = pipeline.idf_by_term
    ctx = list_context(query, [ranked.top_sentence], ranked.top_paragraph, ranked.scores, idf)
    prof = profile(query, question)
    rows, paragraphs = [], []
    for rank, pid in enumerate(ranked.pids, start=1):
        members = list(pipeline.paragraph(pid))
        position = [member.pid for member in members].index(pid)
        scores = (ranked.sentence_scores[rank - 1], ranked.paragraph_scores[rank - 1], ranked.scores[rank - 1])
        top = (ctx.top_sentence, ctx.top_paragraph, ctx.top_blended)
        texts = [member.text for member in members]
        row = reference_row(
            prof, texts[position], scores, rank, texts, position, idf, top, ctx.margin, ctx.unknown,
            ctx.unknown_attribute,
        )  # fmt: skip
        rows.append(row)
        paragraphs.append(members[0].pid)
    if not rows:
        return np.zeros((0, len(FEATURES)))
    group = np.asarray(paragraphs, dtype=np.int64)
    return with_aggregates(np.asarray(rows), np.zeros(len(rows), dtype=np.int64), group)


@pytest.fixture(scope="module")
def synthetic() -> Pipeline:
    return Pipeline.from_documents(corpus(7, 12), Settings())


BUNDLED = [
    ("When was the International Department founded?", ()),
    ("Who heads the CPC International Department?", ()),
    ("Who is the deputy head of the department?", ()),
    ("How many parties does the CPC have ties with?", ()),
    ("How many foreign political parties has it contacted?", ()),
    ("Which countries did Song Tao visit in 2017?", ()),
    ("Where did the delegation go?", ()),
    ("Why didn't the talks go ahead?", ()),
    ("What is the annual budget of the department?", ()),
    ("How old is the minister?", ()),
    ("And what job did he have before?", ("Who heads the CPC International Department?",)),
    ("And in 2016?", ("How many parties does the CPC have ties with?",)),
]


@pytest.mark.parametrize(("question", "history"), BUNDLED)
def test_features_equal_the_per_candidate_reference_on_the_bundled_corpus(
    pipeline: Pipeline, question: str, history: tuple[str, ...]
) -> None:
    found = candidates(question, build_query(question, history, pipeline.policy), pipeline, 30)
    expected = reference(pipeline, question, history)
    assert found.features.shape == expected.shape
    assert len(found.hits) > 0
    np.testing.assert_array_equal(found.features, expected)


@pytest.mark.parametrize("question", questions(3)[:20])
def test_features_equal_the_per_candidate_reference_on_a_synthetic_corpus(synthetic: Pipeline, question: str) -> None:
    found = candidates(question, build_query(question, (), synthetic.policy), synthetic, 30)
    np.testing.assert_array_equal(found.features, reference(synthetic, question, ()))


class _ReadsText:
    """The pipeline as a retriever that cannot look terms up (a remote backend): candidates reads every sentence
    of each candidate's paragraph."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self.documents_by_id = pipeline.documents_by_id
        self.idf_by_term = pipeline.idf_by_term
        self.passage_vectors = None
        self.ranked = pipeline.ranked
        self.retrieve = pipeline.retrieve
        self.passage = pipeline.passage
        self.paragraph = pipeline.paragraph


@pytest.mark.parametrize(("question", "history"), [*BUNDLED, *[(q, ()) for q in questions(5)[:10]]])
def test_looking_terms_up_gives_the_features_reading_the_paragraphs_gives(
    pipeline: Pipeline, synthetic: Pipeline, question: str, history: tuple[str, ...]
) -> None:
    for corpus_pipeline in (pipeline, synthetic):
        query = build_query(question, history, corpus_pipeline.policy)
        looked_up = candidates(question, query, corpus_pipeline, 30)
        read = candidates(question, query, _ReadsText(corpus_pipeline), 30)  # type: ignore[arg-type]
        assert not hasattr(_ReadsText(corpus_pipeline), "paragraph_holds")
        assert looked_up.hits == read.hits
        assert looked_up.paragraphs == read.paragraphs
        np.testing.assert_array_equal(looked_up.features, read.features)
