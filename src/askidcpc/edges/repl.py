"""The terminal chat (``askidcpc`` or ``askidcpc chat``): a thin edge over :meth:`askidcpc.pipeline.Pipeline.ask`.

On a terminal it is a prompt-toolkit session: persistent history in ``$XDG_STATE_HOME/askidcpc/history``,
auto-suggest from history, emacs keys, Tab completes commands, Ctrl-C clears the line, Ctrl-D or ``/quit`` leaves.
With piped input (or output) it reads one line at a time and writes plain text, so scripts can use it; with
``json_lines`` each answer is printed as the answer object (docs/api.md), one a line.

Every line is either a command (``/help``, ``/sources``, ``/k N``, ``/docs``, ``/filter``, ``/new``, ``/quit``) or a
question,
asked with the conversation's earlier questions as ``history`` so that follow-ups work. :meth:`Chat.step` holds all
of that logic as a pure function of (state, line); the loops only read lines and print replies.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document as PromptDocument
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.shortcuts import print_formatted_text
from prompt_toolkit.styles import Style

from askidcpc.config import DEFAULT_TOP_K, MAX_HISTORY, MAX_TOP_K
from askidcpc.edges.context import ContextFinder
from askidcpc.edges.render import (
    MAX_WIDTH,
    Fragments,
    answer_fragments,
    answer_pieces,
    citation_head,
    citation_meta,
    plain_text,
    plural,
    terminal_width,
    wrap,
)
from askidcpc.errors import AskError
from askidcpc.pipeline import Pipeline
from askidcpc.types import Answer, Filter

__all__ = [
    "COMMANDS",
    "PROMPT",
    "Chat",
    "ChatState",
    "Reply",
    "default_history_path",
    "plain_text",
    "run_chat",
]

log = logging.getLogger(__name__)

PROMPT = "ask> "

COMMANDS: Mapping[str, str] = {
    "/help": "this list",
    "/sources": "full citations of the last answer, with the sentences around each",
    "/k": "/k N: show N citations (1-20)",
    "/docs": "the articles in the corpus",
    "/filter": '/filter doc=ID source="NAME" since=DATE until=DATE: only those articles; /filter off: all',
    "/new": "start a new conversation (forget earlier questions)",
    "/quit": "leave (Ctrl-D does too)",
}

STYLE = Style.from_dict(
    {
        "number": "ansicyan bold",
        "title": "bold",
        "meta": "ansibrightblack",
        "abstain": "ansiyellow bold",
        "highlight": "ansigreen bold",
        "context": "ansibrightblack",
        "error": "ansired",
        "prompt": "ansicyan bold",
        "match": "bold",
        "short": "bold",
    }
)


@dataclass(frozen=True)
class ChatState:
    """A conversation: its earlier questions (oldest first), the citations to show, the last answer, and the filter
    its questions are asked with (None: every article)."""

    history: tuple[str, ...] = ()
    top_k: int = DEFAULT_TOP_K
    last: Answer | None = None
    where: Filter | None = None

    @property
    def prompt(self) -> str:
        """The prompt: ``ask> ``, or ``ask [since=2016]> `` while a filter is on."""
        return PROMPT if self.where is None else f"ask [{self.where.describe()}]> "


@dataclass(frozen=True)
class Reply:
    """What one input line produced: the next state, text to show, and whether to leave.

    ``answer`` is set when the line was a question that was answered; ``error`` when it could not be.
    """

    state: ChatState
    fragments: Fragments = ()
    answer: Answer | None = None
    error: str | None = None
    done: bool = False


def sources_fragments(answer: Answer, finder: ContextFinder, width: int) -> Fragments:
    """Full citations, numbered as the answer numbers them: title, date, document, offsets, score, and the cited
    sentence («marked») between its neighbours."""
    _, citations = answer_pieces(answer)
    if not citations:
        return (("class:meta", "The last answer cites nothing.\n"),)
    out: list[tuple[str, str]] = []
    for number, citation in enumerate(citations, start=1):
        if number > 1:
            out.append(("", "\n"))
        out.extend(wrap(citation_head(number, citation), width, hang="    "))
        out.extend(wrap(citation_meta(citation), width, indent="    "))
        context = finder.context(citation.doc_id, citation.start, citation.end)
        before, after = (context.before, context.after) if context is not None else ("", "")
        marked = [("class:context", before + " "), ("class:highlight", f"«{citation.sentence}»")]
        out.extend(wrap([*marked, ("class:context", " " + after)], width, indent="    "))
    return tuple(out)


def docs_fragments(pipeline: Pipeline, width: int) -> Fragments:
    """One entry per document: title, date, then id, source and length."""
    out: list[tuple[str, str]] = []
    for document in pipeline.documents:
        head = [("class:title", document.title), ("class:meta", f" ({document.date or 'undated'})")]
        out.extend(wrap(head, width, hang="    "))
        details = [document.doc_id, document.source or "", plural(len(document.text), "character")]
        out.extend(wrap([("class:meta", ", ".join(d for d in details if d))], width, indent="    "))
    return tuple(out)


def help_fragments(width: int = MAX_WIDTH) -> Fragments:
    out = wrap([("", "Type a question and press Enter; follow-up questions use the earlier ones.")], width)
    for name, text in COMMANDS.items():
        out.extend(wrap([("class:number", f"{name:<9}"), ("", f" {text}")], width, indent="  ", hang=" " * 12))
    tips = "Tab completes commands; Up and Down recall earlier questions; Ctrl-C clears the line."
    out.extend(wrap([("class:meta", tips)], width))
    return tuple(out)


@dataclass(frozen=True)
class Chat:
    """The chat logic over one pipeline; :meth:`step` turns (state, line) into a :class:`Reply`, wrapped to the
    width it is given (``width`` when none is)."""

    pipeline: Pipeline
    finder: ContextFinder = field(init=False)
    width: int = MAX_WIDTH

    def __post_init__(self) -> None:
        object.__setattr__(self, "finder", ContextFinder.from_pipeline(self.pipeline))

    def banner(self, width: int | None = None, where: Filter | None = None) -> Fragments:
        """The welcome line; with the filter the chat starts with, when there is one."""
        articles = plural(len(self.pipeline.documents), "article")
        shown = [] if where is None else [("class:meta", f" Filter: {where.describe()} (/filter off drops it).")]
        return tuple(
            wrap(
                [
                    ("class:title", "askidcpc"),
                    ("", f": ask about {articles} "),
                    ("class:meta", f"({plural(len(self.pipeline.passages), 'sentence')})."),
                    *shown,
                    ("", " /help lists the commands; Ctrl-D leaves."),
                ],
                width or self.width,
            )
        )

    def step(self, state: ChatState, line: str, width: int | None = None) -> Reply:
        """Handle one input line: a command or a question; its reply is wrapped to ``width`` columns."""
        width = width or self.width
        text = line.strip()
        if not text:
            return Reply(state)
        if text.startswith("/"):
            return self._command(state, text, width)
        try:
            restrict = {"filter": state.where} if state.where is not None else {}
            answer = self.pipeline.ask(text, top_k=state.top_k, history=state.history, **restrict)
        except AskError as exc:
            return Reply(state, error=str(exc))
        history = (*state.history, answer.question)[-MAX_HISTORY:]
        return Reply(replace(state, history=history, last=answer), answer_fragments(answer, width), answer)

    def _command(self, state: ChatState, text: str, width: int) -> Reply:
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        if name in ("/quit", "/exit"):
            return Reply(state, done=True)
        if name == "/help":
            return Reply(state, help_fragments(width))
        if name == "/new":
            return Reply(ChatState(top_k=state.top_k, where=state.where), (("class:meta", "New conversation.\n"),))
        if name == "/filter":
            return self._filter(state, argument, width)
        if name == "/docs":
            return Reply(state, docs_fragments(self.pipeline, width))
        if name == "/sources":
            if state.last is None:
                return Reply(state, error="no answer yet; ask a question first")
            return Reply(state, sources_fragments(state.last, self.finder, width))
        if name == "/k":
            if not argument:
                shown = f"Showing {plural(state.top_k, 'citation')}; /k N changes it (1-{MAX_TOP_K})."
                return Reply(state, tuple(wrap([("", shown)], width)))
            if not argument.isdigit() or not 1 <= int(argument) <= MAX_TOP_K:
                return Reply(state, error=f"/k needs a whole number from 1 to {MAX_TOP_K}, not {argument!r}")
            top_k = int(argument)
            return Reply(replace(state, top_k=top_k), (("class:meta", f"Showing {plural(top_k, 'citation')}.\n"),))
        return Reply(state, error=f"unknown command {name!r}; /help lists the commands")

    def _filter(self, state: ChatState, argument: str, width: int) -> Reply:
        """``/filter``: show the filter; ``/filter off``: drop it; ``/filter doc=... since=...``: set it (refused,
        the old one kept, when it is invalid or matches no article)."""
        if not argument:
            shown = (
                "No filter: every article is asked; /filter doc=ID source=NAME since=DATE until=DATE sets one."
                if state.where is None
                else f"Filter: {state.where.describe()} ({plural(len(self.pipeline.matching(state.where)), 'article')})"
                "; /filter off drops it."
            )
            return Reply(state, tuple(wrap([("", shown)], width)))
        if argument == "off":
            return Reply(replace(state, where=None), (("class:meta", "Filter off: every article is asked.\n"),))
        try:
            where = Filter.parse(argument)
            self.pipeline.allowed(where)
        except AskError as exc:
            return Reply(state, error=str(exc))
        if not where.active:
            return Reply(replace(state, where=None), (("class:meta", "Filter off: every article is asked.\n"),))
        count = plural(len(self.pipeline.matching(where)), "article")
        return Reply(replace(state, where=where), (("class:meta", f"Filter: {where.describe()} ({count}).\n"),))


class _CommandCompleter(Completer):
    """Completes ``/commands`` at the start of the line, and nothing in questions."""

    def get_completions(self, document: PromptDocument, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or " " in text:
            return
        for name, description in COMMANDS.items():
            if name.startswith(text):
                yield Completion(name, start_position=-len(text), display_meta=description)


def default_history_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/askidcpc/history``; ``~/.local/state`` when XDG_STATE_HOME is unset or not absolute."""
    env = os.environ if environ is None else environ
    state_home = env.get("XDG_STATE_HOME", "")
    base = Path(state_home) if os.path.isabs(state_home) else Path.home() / ".local" / "state"
    return base / "askidcpc" / "history"


def _open_history(path: Path) -> History:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(exist_ok=True)
    except OSError as exc:
        log.warning("cannot keep history in %s (%s); history lasts this session only", path, exc.strerror)
        return InMemoryHistory()
    return FileHistory(str(path))


def _run_terminal(chat: Chat, state: ChatState, history_path: Path) -> int:
    session: PromptSession[str] = PromptSession(
        history=_open_history(history_path),
        auto_suggest=AutoSuggestFromHistory(),
        completer=_CommandCompleter(),
        complete_while_typing=False,
        style=STYLE,
    )

    def width() -> int:  # measured for each reply, so output follows a resized terminal
        return terminal_width(session.output.get_size().columns)

    def show(fragments: Fragments) -> None:
        print_formatted_text(FormattedText(list(fragments)), end="", style=STYLE)

    show(chat.banner(width(), state.where))
    while True:
        try:
            line = session.prompt(FormattedText([("class:prompt", state.prompt)]))
        except KeyboardInterrupt:  # Ctrl-C: the line is cleared, the conversation goes on
            continue
        except EOFError:  # Ctrl-D
            return 0
        try:
            reply = chat.step(state, line, width())
        except KeyboardInterrupt:  # Ctrl-C while answering: drop this question, keep the conversation
            show((("class:meta", "(interrupted)\n"),))
            continue
        state = reply.state
        if reply.error is not None:
            show((("class:error", f"askidcpc: {reply.error}\n"),))
        if reply.fragments:
            show((*reply.fragments, ("", "\n")))
        if reply.done:
            return 0


def _run_lines(chat: Chat, state: ChatState, lines: TextIO, out: TextIO, err: TextIO, json_lines: bool) -> int:
    for line in lines:
        # Questions piped in, answers to a terminal: wrapped to its width now; to a pipe or file: chat.width.
        reply = chat.step(state, line, terminal_width() if out.isatty() else None)
        state = reply.state
        if json_lines:
            if reply.answer is not None:
                out.write(json.dumps(reply.answer.to_dict(), ensure_ascii=False) + "\n")
            elif reply.error is not None:
                out.write(json.dumps({"error": reply.error}, ensure_ascii=False) + "\n")
            else:  # a command's text goes to stderr, so stdout stays JSON Lines
                err.write(plain_text(reply.fragments))
        else:
            if reply.error is not None:
                err.write(f"askidcpc: {reply.error}\n")
            if reply.fragments:  # a blank line after each reply
                out.write(plain_text(reply.fragments) + "\n")
        out.flush()
        if reply.done:
            break
    return 0


def run_chat(
    pipeline: Pipeline,
    *,
    top_k: int = DEFAULT_TOP_K,
    json_lines: bool = False,
    where: Filter | None = None,
    history_path: Path | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the chat until Ctrl-D, ``/quit`` or the end of input; returns the exit status (0).

    ``where``: the filter the chat starts with (``/filter`` changes it). Interactive (prompt-toolkit) when standard
    input and output are both terminals and ``json_lines`` is off;
    otherwise one line at a time, plain text (or JSON Lines) out, command output to ``stderr`` in JSON mode.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    chat = Chat(pipeline)
    state = ChatState(top_k=top_k, where=where)
    if not json_lines and stdin.isatty() and stdout.isatty():
        return _run_terminal(chat, state, history_path or default_history_path())
    return _run_lines(chat, state, stdin, stdout, stderr, json_lines)
