"""The answer type a question asks for, and whether a sentence gives one (reader.answer_type)."""

from __future__ import annotations

import pytest

from askidcpc.reader.answer_type import (
    AnswerType,
    answers_type,
    asks_yes_or_no,
    attribute_words,
    has_answer_type,
    question_type,
)
from askidcpc.text.tokenize import words


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
    ("question", "expected"),
    [
        ("Does the CPC only deal with governing parties abroad?", True),
        ("Was Song Tao once a deputy foreign minister?", True),
        ("Can the department veto it?", True),
        ("Do you know when it was set up?", False),  # asks for a time
        ("Can you tell me who heads it?", False),
        ("Is corporal punishment increasing or declining?", False),  # one of the alternatives answers it
        ("Who heads the department?", False),
        ("Song Tao was once a minister?", False),
        ("", False),
    ],
)
def test_asks_yes_or_no(question: str, expected: bool) -> None:
    assert asks_yes_or_no(words(question)) is expected
