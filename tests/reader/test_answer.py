"""Unit tests of the reader: answer types, lexicon expansion, query building, evidence and abstention."""

from __future__ import annotations

import pytest

from askidcpc.config import AnswerPolicy, RankParams
from askidcpc.index.bm25 import build_index
from askidcpc.index.paragraphs import paragraph_ids
from askidcpc.pipeline import Pipeline
from askidcpc.reader.answer import compose_answer, figure_query, select
from askidcpc.reader.answer_type import AnswerType, answers_type, attribute_words, has_answer_type, question_type
from askidcpc.reader.evidence import confidence, evidence, is_known, support
from askidcpc.reader.lexicon import expansions, load_lexicon
from askidcpc.reader.query import Query, analyse, build_query, effective_terms
from askidcpc.text.sentences import make_passages
from askidcpc.text.tokenize import tokenize, words
from askidcpc.types import Document, Hit, Passage


@pytest.mark.parametrize(
    ("question", "kind", "dropped"),
    [
        ("When was the department founded?", AnswerType.DATE, {"when"}),
        ("What year was it set up?", AnswerType.DATE, {"what", "year"}),
        ("How many parties does it know?", AnswerType.NUMBER, {"how", "many"}),
        ("how much money", AnswerType.NUMBER, {"how", "much"}),
        ("Who heads it?", AnswerType.PERSON, {"who"}),
        ("Which chat app do they use?", None, set()),
        ("What is the number of parties?", None, set()),
        ("How old is Song Tao?", AnswerType.AGE, {"how", "old"}),
        ("Where was he born?", AnswerType.PLACE, {"where"}),
        ("In which city is the congress held?", AnswerType.PLACE, {"which"}),
        ("Tell me when it was founded", AnswerType.DATE, {"when"}),
        # "when" joining a clause does not ask for a time.
        ("How can party ties help when diplomacy fails?", None, set()),
        ("Do differences matter when the party picks partners?", None, set()),
    ],
)
def test_question_type(question: str, kind: AnswerType | None, dropped: set[str]) -> None:
    assert question_type(words(question), clauses=True) == (kind, frozenset(dropped))


def test_ranking_keeps_every_when_but_abstention_ignores_a_clause_when() -> None:
    query = analyse("How can party ties help when diplomacy fails?", RankParams())
    assert query.answer_type is AnswerType.DATE and query.expected is None


@pytest.mark.parametrize(
    ("sentence", "kind", "expected"),
    [
        ("Established in 1951, the department grew.", AnswerType.DATE, True),
        ("He spoke on Tuesday.", AnswerType.DATE, True),
        ("The congress is scheduled for October 15.", AnswerType.DATE, True),
        ("About 400 visits are handled.", AnswerType.DATE, False),
        ("About 400 visits are handled.", AnswerType.NUMBER, True),
        ("It held two rounds of meetings.", AnswerType.NUMBER, True),
        ("The party is active.", AnswerType.NUMBER, False),
        ("The talk was between Song Tao and the delegation.", AnswerType.PERSON, True),
        ("Party diplomacy matters.", AnswerType.PERSON, False),
        ("Anything at all, 1951.", None, False),
    ],
)
def test_has_answer_type(sentence: str, kind: AnswerType | None, expected: bool) -> None:
    assert has_answer_type(sentence, kind) is expected


@pytest.mark.parametrize(
    ("sentence", "kind", "question", "expected"),
    [
        ("Zhang Guangping, an official at the department, said so.", AnswerType.PERSON, "Who studies parties?", True),
        ("The Foreign Ministry might be the symbol.", AnswerType.PERSON, "Who heads the Foreign Ministry?", False),
        ("The issue was settled, Zhang said.", AnswerType.PERSON, "Who said the issue was settled?", True),
        ("The issue was settled, Zhang said.", AnswerType.PERSON, "What did Zhang say?", False),
        ("Song Tao, 61, spoke first.", AnswerType.AGE, "How old is Song Tao?", True),
        ("He is a 61-year-old diplomat.", AnswerType.AGE, "How old is he?", True),
        ("A low-key presence for 65 years.", AnswerType.AGE, "How old is it?", False),
        ("He was born in Beijing.", AnswerType.PLACE, "Where was he born?", True),
        ("It met parties in countries such as Indonesia.", AnswerType.PLACE, "Which country is an example?", True),
        ("He spoke in Beijing.", AnswerType.PLACE, "Where in Beijing did he speak?", False),
        ("It was founded in 1951.", AnswerType.DATE, "When was it founded?", True),
        ("It was founded long ago by Song Tao.", None, "What is it?", False),
    ],
)
def test_answers_type_ignores_what_the_question_names(
    sentence: str, kind: AnswerType | None, question: str, expected: bool
) -> None:
    assert answers_type(sentence, kind, words(question)) is expected


@pytest.mark.parametrize(
    ("question", "attribute"),
    [
        ("What is the department's annual budget?", ("department", "annual", "budget")),
        ("What's the capital of that country?", ("capital",)),
        ("What is the exchange rate between the yuan and the dollar?", ("exchange", "rate")),
        ("What did the guests film?", ()),
        ("What is the name of the app?", ()),
        ("What is the main reason for the visit?", ()),
        ("Who heads the department?", ()),
    ],
)
def test_attribute_words(question: str, attribute: tuple[str, ...]) -> None:
    assert attribute_words(words(question)) == attribute


@pytest.mark.parametrize(
    ("term", "related", "expected"),
    [
        ("foreign", frozenset(), True),
        ("foriegn", frozenset(), True),  # two letters swapped
        ("internatin", frozenset(), True),  # extends the stem "internat"
        ("forein", frozenset(), True),  # a letter left out
        ("budget", frozenset(), False),
        ("budget", frozenset({"fund"}), True),  # a synonym the corpus uses
        ("tau", frozenset(), False),  # too short to guess a typo
    ],
)
def test_is_known_tolerates_typos_but_not_new_words(term: str, related: frozenset[str], expected: bool) -> None:
    idf = {"foreign": 1.0, "internat": 1.0, "fund": 2.0, "tao": 3.0, "budg": 1.0}
    assert is_known(term, related, idf) is expected


def test_lexicon_links_founding_and_establishing() -> None:
    lexicon = load_lexicon()
    assert "establish" in lexicon.synonyms["found"]
    assert "found" in lexicon.synonyms["establish"]
    # A phrase is expanded as a phrase ("set up" = establish), not as "set" (put, place) on its own.
    found = expansions(words("When was it set up?"), lexicon)
    assert "establish" in found["set"] and "place" not in found["set"]


@pytest.mark.parametrize("synonym_weight", [0.1, 0.3])
def test_expansions_weigh_less_than_question_terms(synonym_weight: float) -> None:
    query = analyse("When was the department founded?", RankParams(synonym_weight=synonym_weight))
    assert query.own == {"depart": 1.0, "found": 1.0}
    assert query.terms["establish"] == pytest.approx(synonym_weight)
    assert query.answer_type is AnswerType.DATE
    # "found" is not in a corpus that only says "established": the synonym stands in at substitute_weight.
    params = RankParams(synonym_weight=synonym_weight, substitute_weight=0.8)
    assert effective_terms(query, {"depart": 0, "establish": 1}, params)["establish"] == pytest.approx(0.8)
    assert effective_terms(query, {"depart": 0, "found": 1, "establish": 2}, params)["establish"] == pytest.approx(
        synonym_weight
    )


@pytest.mark.parametrize(
    ("question", "history", "from_history"),
    [
        (
            "What job did he have before?",
            ["Who heads the CPC International Department?"],
            {"head", "cpc", "internat", "depart"},
        ),
        ("And when was it set up?", ["How many parties does the department know?"], {"depart", "parti", "know"}),
        ("Who heads the CPC International Department?", ["What is WeChat?"], set()),
    ],
)
def test_follow_ups_take_history_terms_at_lower_weight(
    question: str, history: list[str], from_history: set[str]
) -> None:
    query = build_query(question, history, AnswerPolicy())
    own = analyse(question, AnswerPolicy().ranking).own
    added = {term for term in query.terms if term not in own and term in query.own}
    assert added == from_history
    assert all(query.terms[term] < 1.0 for term in added)


@pytest.mark.parametrize(
    ("question", "expected"),
    [("And in 2016?", AnswerType.NUMBER), ("What about 2016?", None), ("When was it founded?", AnswerType.DATE)],
)
def test_only_an_elliptical_follow_up_inherits_the_answer_type(question: str, expected: AnswerType | None) -> None:
    query = build_query(question, ["How many countries did the 2007 article count?"], AnswerPolicy())
    assert query.answer_type is expected


@pytest.mark.parametrize(
    ("passage_terms", "expected"),
    [({"depart", "found"}, 1.0), ({"depart"}, 0.5), ({"depart", "establish"}, 0.85), (set(), 0.0)],
)
def test_support_is_idf_weighted_coverage_with_partial_synonym_credit(passage_terms: set[str], expected: float) -> None:
    query = Query(terms={}, own={"depart": 1.0, "found": 1.0}, related={"found": frozenset({"establish"})})
    idf = {"depart": 2.0, "found": 2.0, "establish": 3.0}
    assert support(query, passage_terms, idf, related_credit=0.7) == pytest.approx(expected)


def _hit(text: str, score: float, pid: int = 0) -> Hit:
    return Hit(Passage(pid, "d", 0, len(text), text), score)


def test_confidence_rises_with_evidence() -> None:
    policy = AnswerPolicy()
    query = Query(terms={"depart": 1.0, "found": 1.0}, own={"depart": 1.0, "found": 1.0}, expected=AnswerType.DATE)
    idf = {"depart": 1.0, "found": 2.0, "other": 2.0}
    strong = evidence(query, [_hit("The department was founded in 1951.", 3.0), _hit("other", 1.0)], idf, policy)
    weak = evidence(query, [_hit("The department grew.", 1.0), _hit("other", 0.95)], idf, policy)
    assert strong.coverage == 1.0 and strong.typed and not strong.untyped
    assert weak.untyped and weak.coverage == pytest.approx(1 / 3)
    assert 0.0 <= confidence(weak, policy) < confidence(strong, policy) <= 1.0


def test_paragraphs_follow_line_breaks() -> None:
    documents = [Document("a", "A", "One. Two.\n\nThree."), Document("b", "B", "Four.")]
    passages = make_passages(documents)
    assert [p.text for p in passages] == ["One.", "Two.", "Three.", "Four."]
    assert paragraph_ids(passages, {d.doc_id: d for d in documents}).tolist() == [0, 0, 1, 2]


def test_answer_type_breaks_a_tie_in_ranking() -> None:
    documents = [
        Document("x", "X", "The club opened a hall for members."),
        Document("y", "Y", "The club opened in 1951 for members."),
    ]
    pipeline = Pipeline.from_documents(documents)
    assert pipeline.ask("When was the club opened?").citations[0].doc_id == "y"
    assert pipeline.ask("What did the club open?").citations[0].doc_id == "x"


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


_OLD = "The club has about 400 members in 30 towns."


@pytest.mark.parametrize(
    ("newer", "conflict"),
    [
        # Same thing counted (members), a different figure: both, newest first, dated.
        ("The club now has around 600 members in 30 towns.", True),
        # Same figures: nothing to reconcile.
        ("The club still has about 400 members in 30 towns.", False),
        # A different figure for something else (visits, not members): no conflict.
        ("The club handles about 600 visits in 30 towns.", False),
    ],
)
def test_a_conflicting_figure_is_found_below_the_top_three(newer: str, conflict: bool) -> None:
    documents = {
        "old": Document("old", "Old", _OLD, date="2007"),
        "new": Document("new", "New", "Filler. " * 3 + newer, date="2016-06-26"),
    }
    ranked = [Hit(Passage(0, "old", 0, len(_OLD), _OLD), 3.0)]
    ranked += [Hit(Passage(pid, "new", 8 * (pid - 1), 8 * pid - 1, "Filler."), 2.5) for pid in (1, 2, 3)]
    ranked += [Hit(Passage(4, "new", 24, 24 + len(newer), newer), 1.5)]  # fifth, at half the best score
    query = Query(terms={"member": 1.0}, own={"member": 1.0})
    answer = compose_answer("Members?", ranked, query, {"member": 1.0}, documents, 3, AnswerPolicy(threshold=0.0))
    assert answer.answer is not None
    if conflict:
        assert answer.answer == f"As of 2016-06-26: {newer}; as of 2007: {_OLD}"
        # The answer's sentences are cited first (best first), then the rest in rank order.
        assert [c.sentence for c in answer.citations] == [_OLD, newer, "Filler."]
    else:
        assert answer.answer == _OLD
        assert [c.sentence for c in answer.citations] == [_OLD, "Filler.", "Filler."]


@pytest.mark.parametrize(
    ("question", "sentence", "typed"),
    [
        ("How many think tanks does it work with?", "It works with 12 think tanks.", True),
        ("How many think tanks does it work with?", "About 400 visits include think tanks.", False),
        ("How many rounds of talks were held?", "It held two rounds of meetings.", True),
        ("How many foreign parties does it know?", "It knows about 400 political parties.", True),
        ("How long did it last?", "It lasted 65 years.", True),
    ],
)
def test_a_how_many_answer_must_count_what_was_asked(question: str, sentence: str, typed: bool) -> None:
    query = build_query(question, (), AnswerPolicy())
    idf = {term: 1.0 for term in tokenize(question + " " + sentence)}
    found = evidence(query, [_hit(sentence, 2.0), _hit("other", 1.0)], idf, AnswerPolicy())
    assert (found.typed, found.untyped) == (typed, not typed)


@pytest.mark.parametrize(
    ("third", "score", "first"),
    [
        ("It works with 12 think tanks.", 1.8, "It works with 12 think tanks."),  # counts think tanks: chosen
        ("It works with 12 think tanks.", 1.2, "About 400 visits include think tanks."),  # under half the best score
        ("It held 12 meetings with think tanks.", 1.8, "About 400 visits include think tanks."),  # counts meetings
    ],
)
def test_select_answers_how_many_from_a_sentence_counting_what_was_asked(third: str, score: float, first: str) -> None:
    query = build_query("How many think tanks does it work with?", (), AnswerPolicy())
    hits = [_hit("About 400 visits include think tanks.", 3.0, 0), _hit("Think tanks matter.", 2.0, 1)]
    hits.append(_hit(third, score, 2))
    chosen = select(query, hits, AnswerPolicy())
    assert chosen[0].passage.text == first
    assert sorted(hit.passage.pid for hit in chosen) == [0, 1, 2]  # reordered, nothing lost


@pytest.mark.parametrize(
    ("own", "two_sources"),
    [
        ({"member": 1.0}, True),  # the question is about members: both figures, dated
        ({"club": 1.0, "found": 1.0}, False),  # "When was the club founded?": the member counts are beside the point
    ],
)
def test_a_conflict_found_by_the_figure_query_must_concern_the_question(
    own: dict[str, float], two_sources: bool
) -> None:
    newer = "Around 600 members now meet."
    documents = {
        "old": Document("old", "Old", _OLD, date="2007"),
        "new": Document("new", "New", newer, date="2016-06-26"),
    }
    ranked = [Hit(Passage(0, "old", 0, len(_OLD), _OLD), 3.0)]
    query = Query(terms=dict(own), own=own)
    figures = figure_query(query, ranked, AnswerPolicy())
    assert figures is not None and figures.terms["member"] == 1.0 and figures.terms["town"] == 1.0
    figure_hits = [Hit(Passage(1, "new", 0, len(newer), newer), 0.4)]  # not among the question's own hits at all
    answer = compose_answer("?", ranked, query, {}, documents, 3, AnswerPolicy(threshold=0.0), figure_hits)
    expected = f"As of 2016-06-26: {newer}; as of 2007: {_OLD}" if two_sources else _OLD
    assert answer.answer == expected
