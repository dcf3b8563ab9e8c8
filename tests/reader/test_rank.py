"""Ranking (reader.rank): the answer type breaks a tie; candidate re-ranking equals the exhaustive blended ranking
whenever every match is a candidate; lazy answer-type flags equal eager flags."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from askidcpc.config import AnswerPolicy, RankParams, Settings
from askidcpc.pipeline import Pipeline
from askidcpc.reader.answer_type import AnswerType, has_answer_type, ranking_type
from askidcpc.reader.query import Query, build_query, effective_terms
from askidcpc.types import Document
from tests.conftest import corpus, questions


def test_answer_type_breaks_a_tie_in_ranking() -> None:
    documents = [
        Document("x", "X", "The club opened a hall for members."),
        Document("y", "Y", "The club opened in 1951 for members."),
    ]
    pipeline = Pipeline.from_documents(documents)
    assert pipeline.ask("When was the club opened?").citations[0].doc_id == "y"
    assert pipeline.ask("What did the club open?").citations[0].doc_id == "x"


def exhaustive(pipeline: Pipeline, query: Query, k: int, params: RankParams) -> list[tuple[int, float]]:
    """The ranking before candidates: every matching passage scored, answer-type flags of every passage."""
    index, ranker = pipeline.index, pipeline.ranker
    terms = effective_terms(query, index.vocab, params)
    indptr, indices = index.weights.indptr, index.weights.indices
    columns = [index.vocab[t] for t, w in terms.items() if t in index.vocab and w != 0]
    if not columns or k <= 0:
        return []
    matched = np.unique(np.concatenate([indices[indptr[c] : indptr[c + 1]] for c in columns]))
    scores = index.scores(terms)[matched]
    top = float(scores.max())
    blended = scores / top if top > 0 else scores
    if params.paragraph_weight > 0:
        paragraph_scores = ranker.paragraphs.scores(terms)
        best = float(paragraph_scores.max())
        if best > 0:
            blended = blended + params.paragraph_weight * (paragraph_scores[ranker.paragraph_of[matched]] / best)
    kind = ranking_type(query.answer_type)
    if kind is not None and kind.value in params.answer_types and params.type_bonus:
        flags = np.array([has_answer_type(p.text, kind) for p in pipeline.passages], dtype=np.bool_)
        blended = blended + params.type_bonus * flags[matched]
    order = sorted(range(len(matched)), key=lambda i: (-blended[i], matched[i]))[:k]
    return [(int(matched[i]), float(blended[i])) for i in order]


# (candidates, paragraph candidates): each makes every matching passage a candidate on these small corpora
# (5 sentence candidates with every paragraph: a matching sentence's paragraph matches too).
DEPTHS = [(10_000, 10_000), (10_000, 0), (5, 10_000), (RankParams().candidates, RankParams().paragraph_candidates)]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("candidates", "paragraph_candidates"), DEPTHS)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_candidate_ranking_equals_the_exhaustive_ranking(
    seed: int, candidates: int, paragraph_candidates: int, k: int
) -> None:
    ranking = replace(RankParams(), candidates=candidates, paragraph_candidates=paragraph_candidates)
    documents = corpus(seed, 12)
    pipeline = Pipeline.from_documents(documents, Settings(policy=AnswerPolicy(ranking=ranking)))
    assert len(pipeline.passages) < RankParams().candidates  # so that the shipped depths cover every match too
    for question in questions(seed):
        query = build_query(question, (), pipeline.policy)
        expected = exhaustive(pipeline, query, k, ranking)
        assert pipeline.ranker.rank(query, k, ranking) == expected, question


def test_a_shallow_candidate_list_still_ranks_its_candidates_exactly() -> None:
    """With fewer candidates than matches the result may differ, but only by missing passages: every returned
    passage has its exhaustive score, and the best sentence by its own score is always a candidate."""
    documents = corpus(7, 30)
    shallow = replace(RankParams(), candidates=3, paragraph_candidates=1)
    pipeline = Pipeline.from_documents(documents, Settings(policy=AnswerPolicy(ranking=shallow)))
    for question in questions(7):
        query = build_query(question, (), pipeline.policy)
        full = dict(exhaustive(pipeline, query, len(pipeline.passages), shallow))
        got = pipeline.ranker.rank(query, 10, shallow)
        assert all(score == pytest.approx(full[pid], abs=1e-12) for pid, score in got)
        terms = effective_terms(query, pipeline.index.vocab, shallow)
        best = pipeline.index.search(terms, 1)
        assert [pid for pid, _ in best] == [] or best[0][0] in {
            pid for pid, _ in pipeline.ranker.rank(query, 50, shallow)
        }


@pytest.mark.parametrize("kind", list(AnswerType))
def test_lazy_type_flags_equal_eager_flags(kind: AnswerType) -> None:
    pipeline = Pipeline.from_documents(corpus(4, 10))
    pids = np.arange(len(pipeline.passages), dtype=np.int64)
    eager = [has_answer_type(passage.text, kind) for passage in pipeline.passages]
    assert pipeline.ranker.type_flags(kind, pids).tolist() == eager
    assert pipeline.ranker.type_flags(kind, pids[::-3]).tolist() == eager[::-3]
