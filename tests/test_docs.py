"""The examples README.md and docs/api.md show on the bundled articles are what the current build prints: each
block is run again and compared, so a refitted reader (whose confidences and scores move) cannot leave them stale."""

from __future__ import annotations

import json
import re
from itertools import pairwise
from pathlib import Path

import pytest

from askidcpc.edges.render import MAX_WIDTH, plain_text, render_answer
from askidcpc.edges.repl import PROMPT, Chat, ChatState
from askidcpc.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
API = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of ``text`` in ``language``, each without its fences."""
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def block_opening(text: str, language: str, opening: str) -> str:
    """The one block of ``text`` in ``language`` whose first line is ``opening``."""
    found = [block for block in blocks(text, language) if block.splitlines()[0] == opening]
    assert len(found) == 1, f"one {language} block opening {opening!r}, found {len(found)}"
    return found[0]


QUESTION = "When was the International Department founded?"  # README's and docs/api.md's example question
ASK = f'$ askidcpc ask "{QUESTION}" --top-k 1'


def test_readme_ask_example_is_what_ask_prints(pipeline: Pipeline) -> None:
    shown = block_opening(README, "text", ASK)
    printed = render_answer(pipeline.ask(QUESTION, top_k=1), MAX_WIDTH)
    assert shown.split("\n", 1)[1].rstrip("\n") == printed


def test_readme_chat_session_is_what_the_chat_prints(pipeline: Pipeline) -> None:
    shown = block_opening(README, "text", "$ askidcpc").splitlines()
    chat = Chat(pipeline, width=MAX_WIDTH)
    assert shown[1] == plain_text(chat.banner()).rstrip("\n")
    state = ChatState()
    asked = [at for at, line in enumerate(shown) if line.startswith(PROMPT.rstrip())]
    assert len(asked) >= 3
    for at, end in pairwise(asked):
        reply = chat.step(state, shown[at][len(PROMPT) :])
        state = reply.state
        assert reply.error is None
        assert "\n".join(shown[at + 1 : end]).strip("\n") == plain_text(reply.fragments).strip("\n"), shown[at]


def test_api_answer_object_is_what_ask_json_prints(pipeline: Pipeline) -> None:
    (shown,) = [block for block in blocks(API, "json") if f'"question": "{QUESTION}"' in block]
    assert json.loads(shown) == pipeline.ask(QUESTION, top_k=1).to_dict()


@pytest.mark.parametrize("field", ["confidence", "score"])
def test_readme_answer_object_figures_are_current(pipeline: Pipeline, field: str) -> None:
    (shown,) = [block for block in blocks(README, "json") if '"answer": "Established in 1951' in block]
    answer = pipeline.ask(QUESTION, top_k=1)
    value = answer.confidence if field == "confidence" else answer.citations[0].score
    match = re.search(rf'"{field}": ([0-9.]+)', shown)
    assert match is not None
    assert match.group(1) == f"{value:.2f}"
