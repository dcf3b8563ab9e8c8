"""``askidcpc eval`` (askidcpc.edges.evaluate and its command): a user's own question file over a user's own small
corpus; the same tables as ``pytest eval``; floors decide the exit status; a file that cannot be used is one line and
exit status 2."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from askidcpc.config import Settings
from askidcpc.edges import evaluate
from askidcpc.edges.cli import main
from askidcpc.index.store import build_saved_index
from askidcpc.pipeline import Pipeline
from askidcpc.text.corpus import load_corpus

ARTICLES = {
    "lighthouse.md": """---
title: The old lighthouse reopens
date: "2019-05-04"
source: Coast Herald
---

The Point Arden lighthouse was built in 1874 by the harbour board.

After a two-year restoration, the lighthouse reopened to visitors on Saturday.

Its lamp can be seen from 30 kilometres out at sea.
""",
    "ferry.md": """---
title: Ferry timetable changes
date: "2021-03"
source: Coast Herald
---

The island ferry will sail four times a day from April.

Tickets for the ferry cost 12 dollars for adults and 6 dollars for children.
""",
    "festival.md": """---
title: Fish festival draws crowds
date: "2018"
source: Valley News
---

The annual fish festival was founded by local fishermen in 1962.

More than 5,000 people attended this year's festival in the market square.
""",
}

# Four questions; q3's key ("blue") is in no article, so no answer can hold it: key in answer is at most 3/4.
QUESTIONS = """\
questions:
  - id: q1
    question: "When was the lighthouse built?"
    gold: ["built in 1874"]
    key: "1874"
  - id: q2
    question: "How much is a child's ferry ticket?"
    category: answerable
    gold: ["Tickets for the ferry cost"]
    key: "6 dollars"
  - id: q3
    question: "What colour is the island ferry?"
    gold: ["The island ferry will sail"]
    key: "blue"
  - id: q4
    question: "What is the name of the lighthouse keeper's dog?"
    category: unanswerable
    gold: []
    key: null
dialogues:
  - id: d1
    turns:
      - question: "Who founded the fish festival?"
        gold: ["founded by local fishermen"]
        key: fishermen
      - question: "And in which year?"
        gold: ["founded by local fishermen"]
        key: "1962"
"""


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("user")
    corpus = root / "articles"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    questions = root / "questions.yaml"
    questions.write_text(QUESTIONS, encoding="utf-8")
    return corpus, questions


def test_cases_of_a_user_file(user: tuple[Path, Path]) -> None:
    _, questions = user
    cases = evaluate.load_cases(questions)
    assert [(c.case_id, c.category, c.history) for c in cases] == [
        ("q1", "answerable", ()),
        ("q2", "answerable", ()),
        ("q3", "answerable", ()),
        ("q4", "unanswerable", ()),
        ("d1.1", "answerable", ()),
        ("d1.2", "dialogue_turn", ("Who founded the fish festival?",)),
    ]
    assert cases[0].keys == ("1874",) and cases[3].keys == ()


def test_eval_json_reports_every_case_and_the_floors(
    user: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, questions = user
    status = main(["eval", str(questions), "--corpus", str(corpus), "--json", "--min-key", "0.5"])
    body = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(body) == {"questions", "corpus", "table", "results", "floors", "passed"}
    assert [r["id"] for r in body["results"]] == ["q1", "q2", "q3", "q4", "d1.1", "d1.2"]
    assert set(body["results"][0]) == {
        "id",
        "question",
        "history",
        "category",
        "answer",
        "confidence",
        "gold_rank",
        "key_found",
        "right",
    }
    q3 = body["results"][2]
    assert q3["key_found"] is False and q3["right"] is False
    assert body["table"]["all"]["n"] == 6 and body["table"]["all"]["key"] <= 4 / 5
    assert body["table"]["unanswerable"]["top1"] is None and body["table"]["answerable"]["noans"] is None
    assert body["table"]["unanswerable"]["noans"] in (0.0, 1.0)
    assert body["floors"] == [
        {"metric": "key", "limit": 0.5, "value": body["table"]["all"]["key"], "ceiling": False, "met": True}
    ]
    assert body["passed"] is True


def test_eval_table_is_what_pytest_eval_renders(user: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    corpus, questions = user
    assert main(["eval", str(questions), "--corpus", str(corpus)]) == 0
    printed = capsys.readouterr().out
    results = evaluate.run(Pipeline.load(Settings(corpus=corpus)), evaluate.load_cases(questions))
    assert printed == evaluate.render(evaluate.summarize(results), results)
    assert "- q3 'What colour is the island ferry?'" in printed and "expected blue" in printed


@pytest.mark.parametrize(
    ("floors", "status", "said"),
    [
        (["--min-key", "0.5"], 0, None),
        (["--min-key", "0.9"], 1, "key 0.800 < 0.9"),
        (["--min-key", "0.5", "--min-key", "0.81"], 1, "key 0.800 < 0.81"),  # the last one given counts
        (["--max-false-abstain", "0.5", "--min-key", "0.85"], 1, "floor missed: key 0.800 < 0.85"),
    ],
)
def test_a_missed_floor_exits_1_and_says_which(
    user: tuple[Path, Path], capsys: pytest.CaptureFixture[str], floors: list[str], status: int, said: str | None
) -> None:
    corpus, questions = user
    # A saved index serves as well as the folder (--index is --corpus).
    index = corpus.parent / "index"
    if not index.exists():
        build_saved_index(index, load_corpus(corpus).documents)
    assert main(["eval", str(questions), "--index", str(index), *floors]) == status
    captured = capsys.readouterr()
    if said is None:
        assert captured.err == ""
        assert "(met)" in captured.out
    else:
        assert said in captured.err and len(captured.err.strip().splitlines()) == 1
        assert "MISSED" in captured.out


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (None, "cannot read it"),
        ("questions: [a, b", "not valid YAML at line"),
        ("- just a list", "must be a mapping with a 'questions' list"),
        ("questions: []\nextra: 1\n", "unknown top-level field(s) extra"),
        ("questions: []\n", "holds no questions"),
        ("questions:\n  - question: Why?\n    gold: [x]\n    answer: y\n", "question 1: unknown field(s) answer"),
        ("questions:\n  - gold: [x]\n", "question 1: 'question' must be a non-empty string"),
        ("questions:\n  - question: Why?\n    category: maybe\n", "category must be answerable, multi_source"),
        ("questions:\n  - question: Why?\n    category: answerable\n", "an answerable question needs a gold"),
        ("questions:\n  - question: Why?\n    gold: {a: 1}\n", "'gold' must be a string or a list of strings"),
        ("questions:\n  - {id: a, question: Where}\n  - {id: a, question: When}\n", "used more than once: a"),
        ("dialogues:\n  - id: d\n    turns: 3\n", "dialogue 1: must be a mapping with an 'id' and a 'turns' list"),
    ],
)
def test_a_bad_question_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, error: str
) -> None:
    path = tmp_path / "questions.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(evaluate.QuestionFileError, match=re.escape(error)):
        evaluate.load_cases(path)
    assert main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("askidcpc eval: ") and error in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "error"),
    [(["--min-top1", "1.5"], "must be from 0 to 1"), (["--min-noans", "high"], "must be a number from 0 to 1")],
)
def test_bad_floors_are_usage_errors(
    user: tuple[Path, Path], capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    assert main(["eval", str(user[1]), *argv]) == 2
    assert error in capsys.readouterr().err


def test_the_eval_shim_is_the_package_code() -> None:
    """``pytest eval`` and tools/train_reader.py import eval/evaluate.py: it re-exports the package's code."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "eval"))
    try:
        import evaluate as shim  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    for name in ("Case", "Result", "run", "summarize", "render", "CATEGORIES", "RANK_DEPTH"):
        assert getattr(shim, name) is getattr(evaluate, name)
    assert shim.load_cases() == evaluate.load_cases(shim.QUESTIONS)
    assert {shim.QUESTIONS.name, shim.HELDOUT.name, shim.REPORT.name} == {"questions.yaml", "heldout.yaml", "report.md"}
