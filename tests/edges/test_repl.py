"""The terminal chat: its logic (Chat.step) against the pipeline as oracle, piped use, and the real REPL in a pty."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from askidcpc.config import MAX_HISTORY, MAX_TOP_K
from askidcpc.edges.render import (
    ABSTAIN_MESSAGE,
    answer_fragments,
    answer_pieces,
    citation_line,
    confidence_text,
    plain_text,
    snippet,
)
from askidcpc.edges.repl import COMMANDS, PROMPT, Chat, ChatState, default_history_path
from askidcpc.pipeline import Pipeline
from askidcpc.types import Answer

FIRST = "Who is Song Tao?"
FOLLOW_UP = "What did he tell the visitors?"
UNRELATED = "How do I bake sourdough bread?"  # no word of it is in the corpus: it must abstain

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@pytest.fixture(scope="module")
def chat(pipeline: Pipeline) -> Chat:
    return Chat(pipeline)


def run(chat: Chat, lines: list[str], state: ChatState | None = None) -> tuple[ChatState, list[str]]:
    """Feed ``lines`` to the chat; the final state and the plain text of each reply (errors as 'error: ...')."""
    state = state or ChatState()
    texts = []
    for line in lines:
        reply = chat.step(state, line)
        state = reply.state
        texts.append(f"error: {reply.error}" if reply.error else plain_text(reply.fragments))
    return state, texts


def test_follow_up_is_asked_with_the_earlier_questions(chat: Chat, pipeline: Pipeline) -> None:
    state = ChatState()
    first = chat.step(state, f"  {FIRST} ")
    second = chat.step(first.state, FOLLOW_UP)
    assert first.answer == pipeline.ask(FIRST)
    assert second.answer == pipeline.ask(FOLLOW_UP, history=[FIRST])
    assert second.state.history == (FIRST, FOLLOW_UP)
    assert second.state.last == second.answer
    assert chat.step(second.state, "/new").state == ChatState()


def test_history_keeps_the_last_questions_only(chat: Chat) -> None:
    questions = [f"question number {n}?" for n in range(MAX_HISTORY + 5)]
    state, _ = run(chat, questions)
    assert state.history == tuple(questions[-MAX_HISTORY:])


@pytest.mark.parametrize(
    ("lines", "top_k", "expected"),
    [
        (["/k 5"], 5, "Showing 5 citations."),
        (["/k 1"], 1, "Showing 1 citation."),
        ([f"/k {MAX_TOP_K}"], MAX_TOP_K, f"Showing {MAX_TOP_K} citations."),
        (["/k"], 3, "Showing 3 citations; /k N changes it"),
        (["/k 0"], 3, "error: /k needs a whole number from 1 to 20"),
        ([f"/k {MAX_TOP_K + 1}"], 3, "error: /k needs a whole number"),
        (["/k two"], 3, "error: /k needs a whole number"),
        (["/sources"], 3, "error: no answer yet"),
        (["/nope"], 3, "error: unknown command '/nope'"),
        (["   "], 3, ""),
        (["/help"], 3, "Type a question and press Enter"),
        (["/new"], 3, "New conversation."),
        (["x" * 2001], 3, "error: question is 2,001 characters; the limit is 2,000"),
    ],
)
def test_commands(chat: Chat, lines: list[str], top_k: int, expected: str) -> None:
    state, texts = run(chat, lines)
    assert state.top_k == top_k
    assert texts[-1].startswith(expected) if expected else texts[-1] == ""
    assert state.history == ()


@pytest.mark.parametrize("line", ["/quit", "/exit", "  /quit  "])
def test_quit_commands_leave(chat: Chat, line: str) -> None:
    assert chat.step(ChatState(), line).done


def test_k_sets_the_citations_of_the_next_answer(chat: Chat, pipeline: Pipeline) -> None:
    state, _ = run(chat, ["/k 1"])
    reply = chat.step(state, FIRST)
    assert reply.answer == pipeline.ask(FIRST, top_k=1)
    assert reply.answer is not None and len(reply.answer.citations) <= 1


def test_answer_shows_text_then_numbered_citations_with_snippets(chat: Chat, pipeline: Pipeline) -> None:
    _, (text,) = run(chat, [FIRST])
    answer = pipeline.ask(FIRST)
    lines = text.splitlines()
    pieces, citations = answer_pieces(answer)
    if answer.answer is None:
        assert lines[0] == ABSTAIN_MESSAGE
    else:
        shown = " ".join(lines[: lines.index(f"({confidence_text(answer.confidence)})")])
        assert shown == " ".join(f"{piece.text} [{number}]" for number, piece in enumerate(pieces, start=1))
    heads = [line for line in lines if line.startswith("[")]
    assert heads == [citation_line(n, c) for n, c in enumerate(citations, start=1)]
    for citation in citations:  # each head is followed by a snippet of its sentence
        expected = plain_text(snippet(citation.sentence, answer.question))
        assert f"{citation_line(citations.index(citation) + 1, citation)} {expected}" in " ".join(text.split())


def test_replies_wrap_to_the_width_of_each_step(chat: Chat) -> None:
    state = ChatState()
    for width in (99, 59, 39):
        reply = chat.step(state, "How many political parties does the CPC have relations with?", width)
        state = reply.state
        lines = plain_text(reply.fragments).splitlines()
        assert max(len(line) for line in lines) <= width
        assert max(len(line) for line in lines) > width - 12  # it used the width given, not a narrower one
        for command in ("/sources", "/help", "/docs"):
            lines = plain_text(chat.step(state, command, width).fragments).splitlines()
            assert all(len(line) <= width for line in lines), (command, width)


def test_abstention_says_so_and_shows_nearest_sentences(chat: Chat, pipeline: Pipeline) -> None:
    citation = pipeline.ask(FIRST).citations[0]
    abstained = Answer(question="q", answer=None, confidence=0.1, citations=(citation,))
    reply = chat.step(ChatState(last=abstained), "/sources")
    text = plain_text(answer_fragments(abstained, 100))
    assert text.splitlines()[:3] == [ABSTAIN_MESSAGE, "Nearest sentences:", citation_line(1, citation)]
    assert " ".join(text.split()).endswith(" ".join(citation.sentence.split()))
    assert "«" in plain_text(reply.fragments)
    bare = plain_text(answer_fragments(Answer("q", None, 0.0, ()), 100))
    assert bare.splitlines() == [ABSTAIN_MESSAGE, "No sentence in the articles is close to it."]


def test_sources_show_offsets_score_and_neighbours(chat: Chat, pipeline: Pipeline) -> None:
    state, _ = run(chat, [FIRST])
    assert state.last is not None and state.last.citations
    text = " ".join(plain_text(chat.step(state, "/sources").fragments).split())
    _, citations = answer_pieces(state.last)
    for number, citation in enumerate(citations, start=1):
        head = f"{citation_line(number, citation)} {citation.doc_id} [{citation.start}:{citation.end}]"
        assert f"{head}, score {citation.score:.2f}" in text
        document = pipeline.documents_by_id[citation.doc_id]
        key = (citation.doc_id, citation.start, citation.end)
        passage = next(p for p in pipeline.passages if (p.doc_id, p.start, p.end) == key)
        before = pipeline.passages[passage.prev_pid].text if passage.prev_pid is not None else ""
        after = pipeline.passages[passage.next_pid].text if passage.next_pid is not None else ""
        window = f"{before} «{document.text[citation.start : citation.end]}» {after}"
        assert " ".join(window.split()) in text


def test_docs_lists_every_document(chat: Chat, pipeline: Pipeline) -> None:
    _, (text,) = run(chat, ["/docs"])
    for document in pipeline.documents:
        assert f"{document.title} ({document.date or 'undated'})" in text
        assert f"{document.doc_id}, " in text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"XDG_STATE_HOME": "/var/state"}, Path("/var/state/askidcpc/history")),
        ({"XDG_STATE_HOME": "relative/path"}, Path.home() / ".local/state/askidcpc/history"),
        ({"XDG_STATE_HOME": ""}, Path.home() / ".local/state/askidcpc/history"),
        ({}, Path.home() / ".local/state/askidcpc/history"),
    ],
)
def test_history_path_follows_xdg(environ: dict[str, str], expected: Path) -> None:
    assert default_history_path(environ) == expected


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
def test_piped_chat_prints_the_answers_and_exits_0(chat: Chat, tmp_path: Path) -> None:
    lines = [FIRST, FOLLOW_UP, "/sources", "", "/k 2", UNRELATED, "/bogus"]
    done = subprocess.run(
        [sys.executable, "-m", "askidcpc", "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    _, texts = run(chat, lines)
    expected = "".join(text + "\n" for text in texts if text and not text.startswith("error: "))
    assert done.stdout == expected
    assert done.stderr == "askidcpc: unknown command '/bogus'; /help lists the commands\n"
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.slow
def test_piped_json_chat_prints_answer_objects(pipeline: Pipeline, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "askidcpc", "chat", "--json"],
        input=f"{FIRST}\n/k 1\n{FOLLOW_UP}\n\n",
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert objects == [pipeline.ask(FIRST).to_dict(), pipeline.ask(FOLLOW_UP, top_k=1, history=[FIRST]).to_dict()]
    assert done.stderr == "Showing 1 citation.\n"


@pytest.mark.slow
@pytest.mark.parametrize("command", [["chat"], []])
def test_chat_is_the_default_command(command: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "askidcpc", *command],
        input="/help\n",
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0
    assert all(name in done.stdout for name in COMMANDS)


# ---- the real REPL in a pseudo-terminal, as a person uses it ----


@pytest.mark.slow
def test_repl_in_a_terminal(pipeline: Pipeline, tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    first, follow_up, unrelated = pipeline.ask(FIRST), pipeline.ask(FOLLOW_UP, history=[FIRST]), pipeline.ask(UNRELATED)
    assert unrelated.answer is None, f"{UNRELATED!r} is answered now; pick a question the corpus cannot answer"

    env = {**_env(tmp_path), "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "askidcpc", "chat"],
        env=env,
        encoding="utf-8",
        dimensions=(50, 120),
        timeout=30,
    )
    transcript: list[str] = []

    def expect(text: str) -> None:
        child.expect_exact(text)
        transcript.append(ANSI.sub("", child.before + child.after))

    def shown(answer: Answer) -> str:
        # The first few words of what the REPL prints for this answer (wrapping may split later ones).
        text = ABSTAIN_MESSAGE if answer.answer is None else answer.answer
        return " ".join(text.split()[:4])

    try:
        expect(PROMPT)
        child.send("partial words then Ctrl-C")
        child.sendcontrol("c")  # clears the line; nothing is asked
        expect(PROMPT)
        child.send(FIRST + "\r")
        expect(shown(first))
        expect(PROMPT)
        child.send(FOLLOW_UP + "\r")
        expect(shown(follow_up))
        expect(PROMPT)
        child.send("/sour\t")  # Tab completes the command
        expect("/sources")
        child.send("\r")
        citation = answer_pieces(follow_up)[1][0]
        expect(f"{citation.doc_id} [{citation.start}:{citation.end}], score {citation.score:.2f}")
        expect(PROMPT)
        child.send(UNRELATED + "\r")
        expect(ABSTAIN_MESSAGE)
        expect(PROMPT)
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        transcript.append(ANSI.sub("", child.before))
    finally:
        child.close()
    text = "".join(transcript)
    assert child.exitstatus == 0, text
    assert "Traceback" not in text
    for answer in (first, follow_up):
        for number, cited in enumerate(answer_pieces(answer)[1], start=1):
            assert citation_line(number, cited) in text
    # Ctrl-C dropped the partial line: only the four accepted lines are in the history file.
    history = (tmp_path / "state" / "askidcpc" / "history").read_text(encoding="utf-8")
    assert re.findall(r"^\+(.*)$", history, flags=re.M) == [FIRST, FOLLOW_UP, "/sources", UNRELATED]


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, check=True).stdout


def _wait_for(socket: str, pane: str, text: str, count: int, timeout: float = 60.0) -> str:
    """The pane's whole history once ``text`` shows ``count`` times (lines the terminal wrapped joined, so a line
    longer than the pane shows as one long line)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = _tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-t", pane)
        if shown.count(text) >= count:
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not show {count} times:\n{shown}")
        time.sleep(0.2)


@pytest.mark.slow
def test_repl_wraps_each_answer_to_the_terminal_width_after_a_resize(chat: Chat, tmp_path: Path) -> None:
    """The REPL in tmux at 100 columns, then resized to 60: each answer fills the width it is printed at, and no
    line is wider than the terminal (so the terminal never breaks a word)."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    socket = f"askidcpc-test-{os.getpid()}"
    env = {**_env(tmp_path), "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1", "TERM": "xterm-256color"}
    command = " ".join(
        ["env", *(f"{key}={shlex.quote(value)}" for key, value in env.items()), sys.executable, "-m", "askidcpc"]
    )
    _tmux(socket, "new-session", "-d", "-s", "repl", "-x", "100", "-y", "200", command)
    try:
        _wait_for(socket, "repl", PROMPT, 1)
        questions = [(100, "How many political parties does the CPC have relations with?"), (60, FIRST)]
        state = ChatState()
        for number, (columns, question) in enumerate(questions, start=1):
            _tmux(socket, "resize-window", "-t", "repl", "-x", str(columns), "-y", "200")
            _tmux(socket, "send-keys", "-t", "repl", question, "Enter")
            shown = _wait_for(socket, "repl", PROMPT, number + 1)
            reply = shown.split(PROMPT + question, 1)[1].split(PROMPT, 1)[0]
            lines = reply.strip("\n").splitlines()
            step = chat.step(state, question, columns - 1)  # the same conversation, so the same answer
            state = step.state
            expected = plain_text(step.fragments).splitlines()
            assert [line.rstrip() for line in lines if line.strip()] == [line for line in expected if line], reply
            assert max(len(line.rstrip()) for line in lines) in range(columns - 12, columns), reply
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("tty", "columns", "width"), [(True, "60", 59), (True, "80", 79), (False, "60", 100)])
def test_piped_questions_wrap_to_the_terminal_the_answers_go_to(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tty: bool, columns: str, width: int
) -> None:
    from askidcpc.edges.repl import run_chat

    monkeypatch.setenv("COLUMNS", columns)
    out = _Terminal() if tty else io.StringIO()
    questions = "How many political parties does the CPC have relations with?\n/sources\n"
    run_chat(pipeline, stdin=io.StringIO(questions), stdout=out, stderr=io.StringIO(), history_path=tmp_path / "h")
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) in range(width - 12, width + 1)
