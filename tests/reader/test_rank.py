"""Ranking that scales: candidate re-ranking equals the exhaustive blended ranking whenever every match is a
candidate; lazy answer-type flags, row scores, paragraph numbers and the idf table equal their eager versions; a saved
index's stored paragraphs equal those computed from its passages."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from askidcpc.config import AnswerPolicy, RankParams, Settings
from askidcpc.edges.context import ContextFinder
from askidcpc.index import store
from askidcpc.index.paragraphs import paragraph_ids, paragraph_index, row_scores
from askidcpc.pipeline import Pipeline
from askidcpc.reader.answer_type import AnswerType, has_answer_type, ranking_type
from askidcpc.reader.evidence import highest_idf
from askidcpc.reader.query import Query, build_query, effective_terms
from askidcpc.text.sentences import make_passages
from askidcpc.types import Document

WORDS = [
    "river",
    "bridge",
    "council",
    "mayor",
    "budget",
    "school",
    "library",
    "harbour",
    "railway",
    "election",
    "minister",
    "farmer",
    "market",
    "price",
    "storm",
    "flood",
    "museum",
    "festival",
    "hospital",
    "doctor",
    "factory",
    "worker",
    "treaty",
    "border",
    "rocket",
    "planet",
    "ocean",
    "forest",
    "harvest",
    "export",
]
NAMES = ["Li Wei", "Anna Berg", "Tom Okafor", "Maria Silva"]
EXTRAS = ["in 1998", "on May 4", "about 300 people", "twelve times", "last century", "", "", ""]


def sentence(rng: random.Random) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
    if rng.random() < 0.3:
        body = f"{body} with {rng.choice(NAMES)}"
    return f"The {body} {rng.choice(EXTRAS)}".rstrip() + "."


def corpus(seed: int, n_documents: int) -> list[Document]:
    rng = random.Random(seed)
    documents = []
    for d in range(n_documents):
        paragraphs = [" ".join(sentence(rng) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 4))]
        documents.append(Document(f"doc-{d}", f"Doc {d}", "\n\n".join(paragraphs), date=f"20{10 + d % 9}-01-01"))
    return documents


def questions(seed: int) -> list[str]:
    rng = random.Random(seed)
    openings = ["When did the", "How many", "Who met the", "What is the", "Where is the", ""]
    return [
        f"{rng.choice(openings)} {' '.join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))}?".strip()
        for _ in range(25)
    ] + ["What about the zeppelin?", "the"]


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


@pytest.mark.parametrize("query", [{"river": 1.0}, {"river": 1.0, "flood": 0.2, "nowher": 3.0}, {"the": 1.0}, {}])
@pytest.mark.parametrize("compiled", [True, False])
def test_row_scores_equal_dense_scores(query: dict[str, float], compiled: bool) -> None:
    pipeline = Pipeline.from_documents(corpus(5, 8))
    index = pipeline.index
    dense = index.scores(query)
    rows = np.arange(index.n_docs, dtype=np.int64)[::2]
    scores, matched = row_scores(index, rows, query, compiled=compiled)
    assert scores.tolist() == dense[rows].tolist()  # the same additions: identical, not only close
    columns = [index.vocab[t] for t in query if t in index.vocab]
    has_term = np.asarray((index.term_freqs[:, columns] > 0).sum(axis=1)).ravel() > 0 if columns else np.zeros(0)
    assert matched.tolist() == (has_term[rows].tolist() if columns else [False] * len(rows))


@pytest.mark.parametrize("seed", [1, 2])
def test_paragraph_numbers_follow_line_breaks(seed: int) -> None:
    documents = corpus(seed, 6)
    passages = make_passages(documents)
    unnumbered = [replace(passage, paragraph=None) for passage in passages]
    by_id = {document.doc_id: document for document in documents}
    expected = sum(len(document.text.split("\n\n")) for document in documents)
    assert paragraph_ids(passages, by_id).tolist() == paragraph_ids(unnumbered, by_id).tolist()
    assert int(paragraph_ids(passages, by_id)[-1]) + 1 == expected


def test_idf_table_looks_terms_up_through_the_vocabulary() -> None:
    pipeline = Pipeline.from_documents(corpus(6, 6))
    idf = pipeline.index.idf()
    eager = {term: float(idf[column]) for term, column in pipeline.index.vocab.items()}
    table = pipeline.idf_by_term
    assert dict(table) == eager and len(table) == len(eager)
    assert "river" in table and "zeppelin" not in table and table.get("zeppelin") is None
    assert highest_idf(table) == max(eager.values()) == highest_idf(eager)


def stored_paragraphs_equal_computed(path: Path) -> None:
    loaded = store.load_index(path)
    computed = paragraph_index(
        loaded.index, paragraph_ids(list(loaded.passages), loaded.documents.by_id), loaded.index.params
    )
    assert loaded.passages.paragraph_of.tolist() == [p.paragraph for p in loaded.passages]
    for name in ("doc_len",):
        assert np.asarray(getattr(loaded.paragraphs, name)).tolist() == np.asarray(getattr(computed, name)).tolist()
    for matrix in ("term_freqs", "weights"):
        ours, theirs = getattr(loaded.paragraphs, matrix), getattr(computed, matrix)
        assert (ours != theirs).nnz == 0


def test_a_saved_index_stores_its_paragraphs(tmp_path: Path) -> None:
    documents = corpus(8, 12)
    path = tmp_path / "index"
    store.build_saved_index(path, documents[:5], Settings().bm25)
    stored_paragraphs_equal_computed(path)
    store.add_documents(path, documents[5:])
    stored_paragraphs_equal_computed(path)
    store.remove_documents(path, ["doc-1", "doc-6"])
    stored_paragraphs_equal_computed(path)
    saved = Pipeline.load(Settings(corpus=path))
    fresh = Pipeline.from_documents([d for d in documents if d.doc_id not in ("doc-1", "doc-6")])
    assert saved.ranker.paragraph_of.tolist() == fresh.ranker.paragraph_of.tolist()
    for question in questions(8):
        assert saved.ask(question, top_k=5).to_dict() == fresh.ask(question, top_k=5).to_dict()


@pytest.mark.parametrize("saved", [False, True])
def test_context_finder_finds_every_passage_by_its_offsets(tmp_path: Path, saved: bool) -> None:
    documents = corpus(9, 8)
    if saved:
        store.build_saved_index(tmp_path / "index", documents, Settings().bm25)
        pipeline = Pipeline.load(Settings(corpus=tmp_path / "index"))
    else:
        pipeline = Pipeline.from_documents(documents)
    finder = ContextFinder.from_pipeline(pipeline)
    for passage in pipeline.passages:
        assert finder.find(passage.doc_id, passage.start, passage.end) == passage
        assert finder.find(passage.doc_id, passage.start, passage.end + 1) is None
        assert finder.find(passage.doc_id, passage.start + 1, passage.end) is None
    assert finder.find("no-such-doc", 0, 5) is None
    last = pipeline.passages[len(pipeline.passages) - 1]
    found = finder.context(last.doc_id, last.start, last.end, neighbours=1)
    assert found is not None and found.after == "" and found.sentence == last.text
