"""Sentence ranking: a question becomes a weighted query; sentences are scored by their own BM25 score blended with
their paragraph's BM25 score, plus a bonus when they hold the expected answer type.

One code path for everything: ``Pipeline.ask`` and ``benchmarks/reqa_squad.py`` both rank with :class:`Ranker`.
Every rule here was measured on ReQA-SQuAD (benchmarks/RESULTS.md) and on eval/questions.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from askidcpc.answer_type import AnswerType, attribute_words, has_answer_type, question_type, ranking_type
from askidcpc.bm25 import BM25Index, BM25Params, index_from_counts, top_k
from askidcpc.lexicon import expansions, load_lexicon
from askidcpc.tokenize import STOP_WORDS, stem_word, tokenize, words
from askidcpc.types import Document, Passage

__all__ = ["Query", "RankParams", "Ranker", "analyse", "effective_terms", "paragraph_ids"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RankParams:
    """Ranking knobs. Weights are relative to a question term's weight of 1 and to max-normalised scores."""

    paragraph_weight: float = 1.5
    synonym_weight: float = 0.2
    # A question word the corpus never uses cannot match; its synonyms stand in for it at this (higher) weight.
    substitute_weight: float = 0.8
    derivation_weight: float = 0.15
    type_bonus: float = 0.3
    answer_types: frozenset[AnswerType] = frozenset({AnswerType.DATE, AnswerType.NUMBER})
    drop_type_words: bool = True


@dataclass(frozen=True)
class Query:
    """A question made ready for ranking.

    ``terms``: every weighted term (question, expansions, history). ``own``: the question's own content terms.
    ``related``: for each own term, the expansion stems that stand in for it (for coverage). ``answer_type``: what
    the question asks for, if it says. ``asked``: the normalized words of the question (and of the history it
    draws on), so that an answer naming only what was asked does not count as holding the answer type.
    ``expected``: the answer type abstention checks for (as ``answer_type``, but a "when" that only joins a clause
    asks for nothing). ``counted``: the stems of the (up to two) words after "how many", what the answer's figure
    must count.
    ``attribute``: the stems of what a "What is the ... Y of Z?" question asks for (see
    :func:`askidcpc.answer_type.attribute_words`).
    """

    terms: Mapping[str, float]
    own: Mapping[str, float] = field(default_factory=dict)
    related: Mapping[str, frozenset[str]] = field(default_factory=dict)
    answer_type: AnswerType | None = None
    asked: tuple[str, ...] = ()
    attribute: tuple[str, ...] = ()
    expected: AnswerType | None = None
    counted: tuple[str, ...] = ()


def analyse(question: str, params: RankParams) -> Query:
    """The query of one question on its own: content terms at weight 1 a mention, question words that only name
    the answer type dropped, WordNet synonyms (and derivations) of its words at a lower weight."""
    question_words = words(question)
    kind, type_words = question_type(question_words)
    own: dict[str, float] = {}
    for word in question_words:
        if word in STOP_WORDS or (params.drop_type_words and word in type_words):
            continue
        term = stem_word(word)
        own[term] = own.get(term, 0.0) + 1.0
    if not own:  # a question of type words only ("how many?") keeps them rather than asking nothing
        own = {term: 1.0 for term in tokenize(question)}
    terms = dict(own)
    related: dict[str, frozenset[str]] = {}
    if params.synonym_weight > 0 or params.derivation_weight > 0:
        lexicon = load_lexicon()
        synonyms = expansions(question_words, lexicon) if params.synonym_weight > 0 else {}
        derived = expansions(question_words, lexicon, derivations=True) if params.derivation_weight > 0 else {}
        for weight, table in ((params.synonym_weight, synonyms), (params.derivation_weight, derived)):
            for source, stems in table.items():
                if source not in own:
                    continue
                for stem in stems:
                    if stem not in terms:
                        terms[stem] = weight * own[source]
                related[source] = related.get(source, frozenset()) | frozenset(stems)
    attribute = tuple(stem_word(word) for word in attribute_words(question_words) if word not in STOP_WORDS)
    return Query(
        terms=terms,
        own=own,
        related=related,
        answer_type=kind,
        asked=tuple(question_words),
        attribute=attribute,
        expected=question_type(question_words, clauses=True)[0],
        counted=_counted_words(question_words),
    )


def _counted_words(question_words: Sequence[str]) -> tuple[str, ...]:
    """The stems of the content words among the two after "how many" ("how many foreign parties" → foreign, parti)."""
    for at in range(len(question_words) - 2):
        if question_words[at] == "how" and question_words[at + 1] == "many":
            following = question_words[at + 2 : at + 4]
            return tuple(stem_word(word) for word in following if word not in STOP_WORDS)
    return ()


def effective_terms(query: Query, vocab: Mapping[str, int], params: RankParams) -> Mapping[str, float]:
    """``query.terms``, with the synonyms of question words absent from ``vocab`` raised to ``substitute_weight``."""
    missing = [term for term in query.own if term not in vocab and term in query.related]
    if not missing or params.substitute_weight <= 0:
        return query.terms
    terms = dict(query.terms)
    for term in missing:
        for stem in query.related[term]:
            if stem in vocab and stem not in query.own:
                terms[stem] = max(terms.get(stem, 0.0), params.substitute_weight * query.own[term])
    return terms


def paragraph_ids(passages: Sequence[Passage], documents: Mapping[str, Document]) -> IntArray:
    """Each passage's paragraph number: a new paragraph starts with each document and after each line break."""
    ids = np.zeros(len(passages), dtype=np.int64)
    current = -1
    previous: Passage | None = None
    for i, passage in enumerate(passages):
        gap = documents[passage.doc_id].text[previous.end : passage.start] if previous else ""
        if previous is None or previous.doc_id != passage.doc_id or "\n" in gap:
            current += 1
        ids[i] = current
        previous = passage
    return ids


@dataclass(frozen=True, eq=False)
class Ranker:
    """Sentence index, paragraph index and per-sentence answer-type flags; immutable, safe to share."""

    sentences: BM25Index
    paragraphs: BM25Index
    paragraph_of: IntArray
    type_flags: Mapping[AnswerType, BoolArray]

    @classmethod
    def build(
        cls,
        passages: Sequence[Passage],
        documents: Mapping[str, Document],
        sentence_index: BM25Index,
        params: BM25Params,
    ) -> Ranker:
        """Index the paragraphs of ``passages`` beside their ``sentence_index`` (built with ``params``).

        A paragraph's term counts are the sum of its sentences' (one sparse product, no second tokenizing pass).
        """
        paragraph_of = paragraph_ids(passages, documents)
        n_paragraphs = int(paragraph_of[-1]) + 1 if len(paragraph_of) else 0
        membership = sp.csr_matrix(
            (np.ones(len(passages)), (paragraph_of, np.arange(len(passages)))), shape=(n_paragraphs, len(passages))
        )
        counts = sp.csc_matrix(membership @ sentence_index.term_freqs)
        counts.sort_indices()
        lengths = np.asarray(membership @ sentence_index.doc_len, dtype=np.int64)
        paragraphs = index_from_counts(params, sentence_index.vocab, lengths, counts)
        flags = {
            kind: np.fromiter((has_answer_type(p.text, kind) for p in passages), dtype=np.bool_, count=len(passages))
            for kind in AnswerType
        }
        return cls(sentence_index, paragraphs, paragraph_of, flags)

    def rank(self, query: Query, k: int, params: RankParams) -> list[tuple[int, float]]:
        """The ``k`` best sentences matching at least one query term, as ``(pid, score)``, best first."""
        index = self.sentences
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
            paragraph_scores = self.paragraphs.scores(terms)
            best_paragraph = float(paragraph_scores.max())
            if best_paragraph > 0:
                blended = blended + params.paragraph_weight * (
                    paragraph_scores[self.paragraph_of[matched]] / best_paragraph
                )
        kind = ranking_type(query.answer_type)
        if kind is not None and kind in params.answer_types and params.type_bonus:
            blended = blended + params.type_bonus * self.type_flags[kind][matched]
        return top_k(matched, blended, k)
