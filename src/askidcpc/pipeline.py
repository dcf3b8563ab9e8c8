"""The pipeline: documents → passages → BM25 index, and :meth:`Pipeline.ask`, the one call behind every edge.

Build it once (:meth:`Pipeline.load`), then ask many questions; a pipeline is immutable and safe to share between
threads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from askidcpc.answer import AnswerPolicy, build_query, compose_answer, figure_query
from askidcpc.bm25 import BM25Index, BM25Params, build_index
from askidcpc.config import MAX_HISTORY, MAX_QUESTION_CHARS, MAX_TOP_K, Settings
from askidcpc.corpus import load_corpus
from askidcpc.errors import AskError, QuestionError
from askidcpc.rank import Query, Ranker, TermIdf
from askidcpc.sentences import make_passages
from askidcpc.store import StoredDocuments, StoredPassages, is_saved_index, load_index
from askidcpc.tokenize import tokenize
from askidcpc.types import Answer, Document, Hit, Passage

__all__ = ["Pipeline", "validate_request"]

log = logging.getLogger(__name__)


def validate_request(question: str, top_k: int, history: Sequence[str]) -> str:
    """The trimmed question, or QuestionError saying what is wrong with the request."""
    if not isinstance(question, str):
        raise QuestionError("question must be a string")
    trimmed = question.strip()
    if not trimmed:
        raise QuestionError("question is empty; ask something, e.g. 'When was the International Department founded?'")
    if len(trimmed) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question is {len(trimmed):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise QuestionError(f"top_k must be a whole number from 1 to {MAX_TOP_K}")
    if isinstance(history, str) or len(history) > MAX_HISTORY:
        raise QuestionError(f"history must be a list of at most {MAX_HISTORY} earlier questions")
    for earlier in history:
        if not isinstance(earlier, str) or len(earlier) > MAX_QUESTION_CHARS:
            raise QuestionError(f"each history entry must be a question of at most {MAX_QUESTION_CHARS:,} characters")
    return trimmed


@dataclass(frozen=True, eq=False)
class Pipeline:
    """An indexed corpus that answers questions."""

    documents: Sequence[Document]  # a tuple, or a saved index's lazily decoded StoredDocuments
    passages: Sequence[Passage]  # indexed by pid
    index: BM25Index
    policy: AnswerPolicy = field(default_factory=AnswerPolicy)
    # The paragraphs' index when it comes with the passages (a saved index's); else built on first use.
    paragraphs: BM25Index | None = None

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        params: BM25Params | None = None,
        policy: AnswerPolicy | None = None,
    ) -> Pipeline:
        """Split, tokenize and index ``documents``."""
        if not documents:
            raise AskError("cannot build an index over no documents")
        passages = tuple(make_passages(documents))
        index = build_index([tokenize(passage.text) for passage in passages], params or BM25Params())
        return cls(tuple(documents), passages, index, policy or AnswerPolicy())

    @classmethod
    def load(cls, settings: Settings) -> Pipeline:
        """Load the corpus that ``settings.corpus`` names: a saved index (memory-mapped, verified; IndexFormatError
        when damaged), or a folder of articles to index now (CorpusError when it cannot)."""
        if is_saved_index(settings.corpus):
            stored = load_index(settings.corpus, settings.bm25)
            return cls(stored.documents, stored.passages, stored.index, paragraphs=stored.paragraphs)
        loaded = load_corpus(settings.corpus)
        for skipped in loaded.skipped:
            log.warning("skipped %s", skipped)
        return cls.from_documents(loaded.documents, settings.bm25)

    @cached_property
    def documents_by_id(self) -> Mapping[str, Document]:
        if isinstance(self.documents, StoredDocuments):
            return self.documents.by_id  # decodes a document only when asked for
        return {document.doc_id: document for document in self.documents}

    @cached_property
    def idf_by_term(self) -> Mapping[str, float]:
        """Each term's idf, looked up through the vocabulary when asked for (no table of the whole vocabulary)."""
        return TermIdf(self.index.vocab, self.index.idf())

    @cached_property
    def ranker(self) -> Ranker:
        """The sentence ranker: this index plus a paragraph index (a saved index's own; else built on first use)."""
        if isinstance(self.passages, StoredPassages):
            return Ranker.build(
                self.passages,
                self.documents_by_id,
                self.index,
                self.index.params,
                paragraph_of=self.passages.paragraph_of,
                paragraphs=self.paragraphs,
            )
        return Ranker.build(self.passages, self.documents_by_id, self.index, self.index.params)

    def retrieve(self, query: Query | Mapping[str, float], k: int) -> list[Hit]:
        """The ``k`` best passages for a query (a :class:`Query`, or plain term weights), ranked by :class:`Ranker`."""
        ranked = query if isinstance(query, Query) else Query(terms=query)
        return [Hit(self.passages[pid], score) for pid, score in self.ranker.rank(ranked, k, self.policy.ranking)]

    def ask(self, question: str, top_k: int = 3, history: Sequence[str] = ()) -> Answer:
        """Answer ``question`` from the corpus, with ``history`` (earlier questions, oldest first) for follow-ups.

        Returns an Answer whose ``answer`` is None when the corpus does not support one. Raises QuestionError for an
        invalid request.
        """
        trimmed = validate_request(question, top_k, history)
        query = build_query(trimmed, history, self.policy)
        # Deeper than top_k: a sentence of another document giving a different figure may rank further down.
        hits = self.retrieve(query, max(top_k, self.policy.conflict_depth))
        figures = figure_query(query, hits, self.policy)
        figure_hits = self.retrieve(figures, self.policy.conflict_depth) if figures is not None else []
        return compose_answer(
            trimmed, hits, query, self.idf_by_term, self.documents_by_id, top_k, self.policy, figure_hits
        )
