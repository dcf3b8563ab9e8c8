"""Question analysis: a question (and its conversation) becomes a weighted :class:`Query`: content terms, WordNet
synonyms and derivations, the expected answer type, what a "how many" question counts, and, for a follow-up, the
terms of the earlier questions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from askidcpc.config import AnswerPolicy, RankParams
from askidcpc.reader.answer_type import AnswerType, attribute_words, question_type
from askidcpc.reader.lexicon import expansions, load_lexicon
from askidcpc.text.tokenize import STOP_WORDS, stem_word, tokenize, words

__all__ = ["Query", "analyse", "build_query", "effective_terms", "is_follow_up"]


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
    :func:`askidcpc.reader.answer_type.attribute_words`).
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


# Words that point back into the conversation: a question using them needs its history's topic.
_ANAPHORA = frozenset(
    [
        "he",
        "she",
        "it",
        "they",
        "him",
        "her",
        "his",
        "hers",
        "its",
        "their",
        "theirs",
        "them",
        "that",
        "this",
        "these",
        "those",
        "there",
        "then",
        "such",
        "about",
        "and",
        "also",
        "else",
    ]
)
_QUESTION_WORDS = frozenset(["what", "which", "who", "whom", "whose", "when", "where", "why", "how"])


def is_follow_up(question: str) -> bool:
    """Whether ``question`` refers back to the conversation (a pronoun, or too few content words to stand alone)."""
    question_words = words(question)
    return any(word in _ANAPHORA for word in question_words) or len(tokenize(question)) <= 2


def _asks_about(question_words: Sequence[str]) -> bool:
    """Whether the question opens "what about" or "how about" (after an "and")."""
    opening = list(question_words[1:3] if question_words[:1] == ["and"] else question_words[:2])
    return opening in (["what", "about"], ["how", "about"])


def build_query(question: str, history: Sequence[str], policy: AnswerPolicy) -> Query:
    """The ranking query: the question's own terms at 1 per occurrence (see :func:`askidcpc.reader.rank.analyse`); for a
    follow-up, the terms of earlier questions, newest first, at ``history_weight`` decaying by ``history_decay`` a
    turn, never above a question term. An elliptical follow-up (no question word: "And in 2016?") asks for what
    the latest typed question asked for (and counts what it counted)."""
    asked = analyse(question, policy.ranking)
    terms = dict(asked.terms)
    own = dict(asked.own)
    kind = asked.answer_type
    expected = asked.expected
    counted = asked.counted
    named = list(asked.asked)
    question_words = words(question)
    # "And in 2016?"; and "What about?", all that is left of "What about the 2007 article?" once the words naming the
    # article are set aside (askidcpc.reader.sources): the earlier question, asked again
    elliptical = not _QUESTION_WORDS & set(question_words) or (_asks_about(question_words) and not asked.own)
    if history and is_follow_up(question):
        weight = policy.history_weight
        for earlier in reversed(history):
            before = analyse(earlier, policy.ranking)
            named.extend(before.asked)
            for term in before.own:
                if terms.get(term, 0.0) < weight:
                    terms[term] = weight
                    own[term] = weight
            if elliptical:
                kind = kind or before.answer_type
                expected = expected or before.expected
                counted = counted or before.counted
            weight *= policy.history_decay
    return Query(
        terms=terms,
        own=own,
        related=asked.related,
        answer_type=kind,
        asked=tuple(named),
        attribute=asked.attribute,
        expected=expected,
        counted=counted,
    )
