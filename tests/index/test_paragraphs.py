"""Paragraphs (index.paragraphs): numbered by line breaks, indexed exactly as their text, row scores equal to dense
scores, a paragraph's members found by binary search, and a saved index's stored paragraphs equal to those computed from
its passages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from askidcpc.config import Settings
from askidcpc.index import _kernels, store
from askidcpc.index.bm25 import build_index
from askidcpc.index.paragraphs import paragraph_ids, paragraph_index, paragraph_members, row_scores
from askidcpc.pipeline import Pipeline
from askidcpc.text.sentences import make_passages
from askidcpc.text.tokenize import tokenize
from askidcpc.types import Document
from tests.conftest import corpus, questions


def test_paragraphs_follow_line_breaks() -> None:
    documents = [Document("a", "A", "One. Two.\n\nThree."), Document("b", "B", "Four.")]
    passages = make_passages(documents)
    assert [p.text for p in passages] == ["One.", "Two.", "Three.", "Four."]
    assert paragraph_ids(passages, {d.doc_id: d for d in documents}).tolist() == [0, 0, 1, 2]


def test_paragraph_index_equals_indexing_the_paragraph_text() -> None:
    documents = [
        Document("a", "A", "The club opened. It grew fast.\nA new hall was built in 1951."),
        Document("b", "B", "Members came. The hall was full."),
    ]
    pipeline = Pipeline.from_documents(documents)
    paragraphs = ["The club opened. It grew fast.", "A new hall was built in 1951.", documents[1].text]
    oracle = build_index([tokenize(text) for text in paragraphs], pipeline.index.params)
    ranker = pipeline.ranker
    assert ranker.paragraph_of.tolist() == [0, 0, 1, 2, 2]
    for query in ({"hall": 1.0}, {"club": 1.0, "member": 0.5}, {"1951": 2.0}):
        assert ranker.paragraphs.scores(query) == pytest.approx(oracle.scores(query), abs=1e-12)


@pytest.mark.parametrize("query", [{"river": 1.0}, {"river": 1.0, "flood": 0.2, "nowher": 3.0}, {"the": 1.0}, {}])
@pytest.mark.parametrize("compiled", [True, False])
def test_row_scores_equal_dense_scores(
    monkeypatch: pytest.MonkeyPatch, query: dict[str, float], compiled: bool
) -> None:
    monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", 0)  # the compiled path, on a small corpus
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


@pytest.mark.parametrize(
    ("paragraph_of", "paragraphs"),
    [
        ([0, 0, 1, 1, 1, 2], []),
        ([0, 0, 1, 1, 1, 2], [1]),
        ([0, 0, 1, 1, 1, 2], [2, 0]),  # in the order asked
        ([0, 0, 1, 1, 1, 2], [0, 1, 2]),
        ([0, 1, 1, 3, 3, 3, 4], [3, 2, 0]),  # a paragraph without passages gives none
        (list(np.repeat(np.arange(50), np.arange(50) % 7 + 1)), [49, 3, 17, 0, 22]),
    ],
)
def test_paragraph_members_are_each_paragraphs_passages_in_order(
    paragraph_of: list[int], paragraphs: list[int]
) -> None:
    numbers = np.asarray(paragraph_of, dtype=np.int64)
    expected = [pid for paragraph in paragraphs for pid in np.flatnonzero(numbers == paragraph).tolist()]
    found = paragraph_members(numbers, np.asarray(paragraphs, dtype=np.int64))
    assert found.dtype == np.int64
    assert found.tolist() == expected
