"""The ``askidcpc`` command: a thin edge over :meth:`askidcpc.pipeline.Pipeline.ask`.

Exit status: 0 on success, 2 on a usage error, 1 on any other error, with a one-line message on standard error.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from askidcpc import __version__
from askidcpc.config import DEFAULT_TOP_K, MAX_TOP_K, Settings
from askidcpc.edges.interrupt import interrupted
from askidcpc.edges.render import render_answer, terminal_width
from askidcpc.errors import AskError, QuestionError
from askidcpc.index.bm25 import numpy_until_loaded
from askidcpc.index.cluster import ClusterAddress
from askidcpc.pipeline import Pipeline, validate_request
from askidcpc.types import Answer, Citation, Filter

__all__ = ["build_parser", "main"]

log = logging.getLogger("askidcpc")

_KERNELS_LOGGER = "askidcpc.index._kernels"  # its notice of compiling, shown on a terminal

Command = Callable[[argparse.Namespace, Settings], int]


class UsageError(Exception):
    """A command line that does not make sense; exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _top_k(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
    if not 1 <= number <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_TOP_K}")
    return number


_FILTER_FIELDS = ("doc_id", "source", "since", "until")


def _answer_request(
    pipeline: Pipeline, request: Any, default_top_k: int, default_filter: Filter | None = None
) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise AskError("each line must be a JSON object with a 'question'")
    unknown = set(request) - {"question", "top_k", "history", *_FILTER_FIELDS}
    if unknown:
        raise AskError(f"unknown field(s): {', '.join(sorted(unknown))}")
    if "question" not in request:
        raise AskError("missing field 'question'")
    history = request.get("history") or []
    if not isinstance(history, list):
        raise AskError("'history' must be a list of earlier questions")
    where = default_filter
    if any(request.get(name) is not None for name in _FILTER_FIELDS):  # a line's own filter replaces the options'
        where = Filter.build(request.get("doc_id"), request.get("source"), request.get("since"), request.get("until"))
    answer = pipeline.ask(request["question"], top_k=request.get("top_k", default_top_k), history=history, filter=where)
    return answer.to_dict()


def ask_json_lines(
    pipeline: Pipeline, lines: TextIO, out: TextIO, default_top_k: int, default_filter: Filter | None = None
) -> int:
    """Answer one JSON request object a line; a bad line gets ``{"error": ...}``. Blank lines are skipped.

    After the first line, what the process holds (the index, the lexicon and the model the first answer loaded) is
    frozen out of the garbage collector's full passes (:func:`gc.freeze`): those passes otherwise scan it all every
    few hundred questions, 100-300 ms each at a million sentences, the slowest answers by far. They are unfrozen
    when the lines end."""
    frozen = False
    try:
        for line in lines:
            if not line.strip():
                continue
            try:
                result = _answer_request(pipeline, json.loads(line), default_top_k, default_filter)
            except json.JSONDecodeError as exc:
                result = {"error": f"invalid JSON: {exc.msg} at column {exc.colno}"}
            except RecursionError:
                result = {"error": "invalid JSON: nested too deeply"}
            except AskError as exc:
                result = {"error": str(exc)}
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            out.flush()
            if not frozen:
                gc.freeze()
                frozen = True
    finally:
        if frozen:
            gc.unfreeze()  # as it was, for a caller that goes on
    return 0


def _show(answer: Answer, out: TextIO) -> str:
    """The answer as text for ``out``, wrapped to the terminal's width now, in colour on a terminal unless
    ``NO_COLOR`` is set."""
    color = out.isatty() and not os.environ.get("NO_COLOR")
    return render_answer(answer, terminal_width(), color)


def ask_text_lines(
    pipeline: Pipeline, lines: TextIO, out: TextIO, err: TextIO, top_k: int, where: Filter | None = None
) -> int:
    """Answer one question a line, as text, a blank line between answers; a question that cannot be asked gets a
    message on ``err`` and the rest still answer. Blank lines are skipped."""
    first = True
    for line in lines:
        if not line.strip():
            continue
        try:
            answer = pipeline.ask(line, top_k=top_k, filter=where)
        except QuestionError as exc:
            err.write(f"askidcpc: {exc}\n")
            continue
        out.write(("" if first else "\n") + _show(answer, out) + "\n")
        out.flush()
        first = False
    return 0


def _filter(args: argparse.Namespace, command: str) -> Filter | None:
    """The filter the options give (None when they give none); a bad one is a usage error."""
    try:
        where = Filter.build(args.doc, args.source, args.since, args.until)
    except QuestionError as exc:
        raise UsageError(f"askidcpc {command}: {exc}") from None
    return where if where.active else None


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    top_k = args.top_k or settings.top_k
    where = _filter(args, "ask")
    if args.question != "-":
        try:  # a question that cannot be asked is a usage error, found before the corpus is loaded
            validate_request(args.question, top_k, ())
        except QuestionError as exc:
            raise UsageError(f"askidcpc ask: {exc}") from None
    pipeline = Pipeline.load(settings)
    if args.question == "-":
        if args.json:
            return ask_json_lines(pipeline, sys.stdin, sys.stdout, top_k, where)
        return ask_text_lines(pipeline, sys.stdin, sys.stdout, sys.stderr, top_k, where)
    with numpy_until_loaded(load=False):  # one question: numba's start-up would cost more than it saves
        answer = pipeline.ask(args.question, top_k=top_k, filter=where)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(_show(answer, sys.stdout))
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from askidcpc.edges.repl import run_chat  # imported here so that `ask` starts without prompt-toolkit

    where = _filter(args, "chat") if hasattr(args, "doc") else None
    pipeline = Pipeline.load(settings)
    if where is not None:
        pipeline.allowed(where)  # a filter that matches no document is refused before the chat starts
    top_k = getattr(args, "top_k", None) or settings.top_k
    return run_chat(pipeline, top_k=top_k, json_lines=getattr(args, "json", False), where=where)


def render_search(words: str, citations: Sequence[Citation]) -> str:
    """Search results as text: each sentence with its document, date and ranking score."""
    if not citations:
        return f"No sentence matches {words!r}."
    lines = []
    for number, citation in enumerate(citations, start=1):
        meta = ", ".join(part for part in (citation.title, citation.date, citation.source) if part)
        lines.append(f"[{number}] {citation.sentence}")
        lines.append(f"    {meta} ({citation.doc_id} [{citation.start}:{citation.end}], score {citation.score:.3f})")
    return "\n".join(lines)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    top_k = args.top_k or settings.top_k
    where = _filter(args, "search")
    try:
        validate_request(args.words, top_k, ())
    except QuestionError as exc:
        raise UsageError(f"askidcpc search: {exc}") from None
    pipeline = Pipeline.load(settings)
    with numpy_until_loaded(load=False):  # one search: numba's start-up would cost more than it saves
        citations = pipeline.search(args.words, top_k, where)
    if args.json:
        body = {"query": args.words.strip(), "results": [citation.to_dict() for citation in citations]}
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        print(render_search(args.words.strip(), citations))
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from askidcpc.edges import evaluate  # imported here so that `ask` starts without the evaluation code

    try:
        cases = evaluate.load_cases(args.questions)
    except evaluate.QuestionFileError as exc:
        raise UsageError(f"askidcpc eval: {exc}") from None
    limits = {
        name: value
        for name, value in (
            ("top1", args.min_top1),
            ("noans", args.min_noans),
            ("key", args.min_key),
            ("false_abstain", args.max_false_abstain),
        )
        if value is not None
    }
    pipeline = Pipeline.load(settings)
    results = evaluate.run(pipeline, cases)
    table = evaluate.summarize(results)
    floors = evaluate.check_floors(table, limits)
    missed = [floor for floor in floors if not floor.met]
    if args.json:
        body = {
            "questions": str(args.questions),
            "corpus": str(settings.corpus),
            "table": evaluate.table_dict(table),
            "results": [evaluate.result_dict(result) for result in results],
            "floors": [floor.to_dict() for floor in floors],
            "passed": not missed,
        }
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        print(evaluate.render(table, results), end="")
        if floors:
            print(
                "\nFloors: " + "; ".join(f"{floor.describe()} ({'met' if floor.met else 'MISSED'})" for floor in floors)
            )
    if missed:
        print("askidcpc eval: floor missed: " + "; ".join(floor.describe() for floor in missed), file=sys.stderr)
        return 1
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from askidcpc.edges.server import serve  # imported here so that `ask` starts without FastAPI

    if args.cors_origin:
        settings = dataclasses.replace(settings, cors_origins=tuple(args.cors_origin))
    if args.answer_cache is not None:
        settings = dataclasses.replace(settings, answer_cache=args.answer_cache)
    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from askidcpc.edges import indexer  # imported here so that `ask` starts without rich

    modes = [bool(args.sources or args.out), bool(args.add or args.to), bool(args.remove or args.from_index)]
    if sum(modes) != 1:
        raise UsageError(
            "askidcpc index: use one of 'SOURCE... --out INDEX', '--add SOURCE... --to INDEX', "
            "'--remove DOC_ID... --from INDEX'"
        )
    if modes[0]:
        if not (args.sources and args.out):
            raise UsageError("askidcpc index: give the sources to read and --out INDEX, the folder to write")
        if args.jobs is not None and args.cluster is not None:
            raise UsageError("askidcpc index: give --jobs (processes on this machine) or --cluster, not both")
        return indexer.run_build(
            args.sources,
            args.out,
            settings.bm25,
            sys.stdout,
            sys.stderr,
            args.semantic,
            jobs=args.jobs,
            cluster=args.cluster,
        )
    for option, value in (("--jobs", args.jobs), ("--cluster", args.cluster)):
        if value is not None:
            raise UsageError(f"askidcpc index: {option} goes with building ('SOURCE... --out INDEX')")
    if modes[1]:
        if not (args.add and args.to):
            raise UsageError("askidcpc index: --add SOURCE... needs --to INDEX, the saved index to add to")
        return indexer.run_add(args.add, args.to, sys.stdout, sys.stderr, args.semantic)
    if not (args.remove and args.from_index):
        raise UsageError("askidcpc index: --remove DOC_ID... needs --from INDEX, the saved index to remove from")
    if args.semantic:
        raise UsageError("askidcpc index: --semantic goes with building or adding; --remove drops the removed rows")
    return indexer.run_remove(args.remove, args.from_index, sys.stdout)


def _cluster_address(value: str) -> ClusterAddress:
    try:
        return ClusterAddress.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return number

    return parse


def _add_corpus(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--corpus",
        type=Path,
        default=default,
        help="a folder of articles or a saved index (default: bundled corpus/)",
    )


def _rate(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {value!r}") from None
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError("must be from 0 to 1")
    return number


def _add_filter(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (only the matching documents are cited; ranked with the whole corpus)")
    group.add_argument("--doc", action="append", metavar="DOC_ID", help="only this document (repeatable)")
    group.add_argument("--source", action="append", metavar="NAME", help="only this source, any case (repeatable)")
    group.add_argument("--since", metavar="DATE", help="only documents dated on or after DATE (2007, 2016-06, ...)")
    group.add_argument(
        "--until",
        metavar="DATE",
        help="only documents dated on or before DATE (an article dated '2007' is in 2007: it overlaps --since 2007-06)",
    )


def _add_verbose(parser: argparse.ArgumentParser, default: object = False) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=default,
        help="also show the messages of the libraries askidcpc uses (such as the HTML extractor's)",
    )


def _add_semantic(parser: argparse.ArgumentParser, default: object = False) -> None:
    parser.add_argument(
        "--semantic",
        action="store_true",
        default=default,
        help="for a folder of articles, compute sentence vectors at load so the reader can use their cosine with the "
        "question (needs pip install 'askidcpc[semantic]'); a saved index uses the vectors it holds, if any",
    )


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The argument parser and the function of each sub-command."""
    parser = _Parser(prog="askidcpc", description="Ask questions of a collection of news articles.")
    parser.add_argument("--version", action="version", version=f"askidcpc {__version__}")
    _add_verbose(parser)
    _add_corpus(parser)
    _add_semantic(parser)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    handlers: dict[str, Command] = {}

    ask = commands.add_parser("ask", help="answer one question (or JSON Lines from stdin with --json -)")
    ask.add_argument("question", help="the question, or '-' to read JSON request objects a line from stdin")
    ask.add_argument("--top-k", type=_top_k, help=f"citations to show (1-{MAX_TOP_K}, default {DEFAULT_TOP_K})")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    _add_corpus(ask, default=argparse.SUPPRESS)  # so a --corpus before the command is kept
    _add_semantic(ask, default=argparse.SUPPRESS)  # so is a --semantic
    _add_filter(ask)
    handlers["ask"] = cmd_ask

    search = commands.add_parser("search", help="the sentences that match some words best, with citations (no answer)")
    search.add_argument("words", help="what to look for")
    search.add_argument("--top-k", type=_top_k, help=f"sentences to show (1-{MAX_TOP_K}, default {DEFAULT_TOP_K})")
    search.add_argument("--json", action="store_true", help='print {"query", "results": [citation objects]}')
    _add_corpus(search, default=argparse.SUPPRESS)
    _add_semantic(search, default=argparse.SUPPRESS)
    _add_filter(search)
    handlers["search"] = cmd_search

    evaluation = commands.add_parser(
        "eval", help="measure answer accuracy on a question file (docs/questions.md), as pytest eval does"
    )
    evaluation.add_argument("questions", type=Path, metavar="QUESTIONS.yaml", help="the question file")
    evaluation.add_argument(
        "--corpus",
        "--index",
        type=Path,
        default=argparse.SUPPRESS,
        help="a folder of articles or a saved index (default: bundled corpus/)",
    )
    evaluation.add_argument("--json", action="store_true", help="print the table, each case and the floors as JSON")
    for flag, what in (
        ("--min-top1", "answerable questions whose gold sentence is cited first"),
        ("--min-noans", "unanswerable questions abstained on"),
        ("--min-key", "answerable questions whose key is in the answer"),
        ("--max-false-abstain", "answerable questions abstained on (a ceiling)"),
    ):
        evaluation.add_argument(flag, type=_rate, metavar="X", help=f"exit 1 unless the share of {what} meets X")
    _add_semantic(evaluation, default=argparse.SUPPRESS)
    handlers["eval"] = cmd_eval

    chat = commands.add_parser("chat", help="the terminal chat (the default command)")
    chat.add_argument("--top-k", type=_top_k, help=f"citations to show (1-{MAX_TOP_K}, default {DEFAULT_TOP_K})")
    chat.add_argument("--json", action="store_true", help="print each answer as a JSON answer object, one a line")
    _add_corpus(chat, default=argparse.SUPPRESS)
    _add_semantic(chat, default=argparse.SUPPRESS)
    _add_filter(chat)
    handlers["chat"] = cmd_chat

    serve = commands.add_parser("serve", help="serve POST /ask and the web chat page over HTTP (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_whole_number(0, 65535), default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=_whole_number(1, 64), default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let web pages from ORIGIN (e.g. https://example.org, or '*') call the API; repeatable; default none",
    )
    serve.add_argument(
        "--answer-cache",
        type=_whole_number(0, 1_000_000),
        metavar="N",
        help=f"keep the answers to the last N distinct requests and serve a repeat from memory (default "
        f"{Settings.answer_cache}; 0: off); emptied when the index is reloaded",
    )
    _add_corpus(serve, default=argparse.SUPPRESS)
    _add_semantic(serve, default=argparse.SUPPRESS)
    handlers["serve"] = cmd_serve

    index = commands.add_parser("index", help="build a saved index from articles, or add to / remove from one")
    index.add_argument("sources", nargs="*", type=Path, metavar="SOURCE", help="files, folders: .md .txt .html .jsonl")
    index.add_argument("--out", type=Path, metavar="INDEX", help="the saved index to write (an old one is replaced)")
    index.add_argument("--add", nargs="+", type=Path, metavar="SOURCE", help="articles to add to the index --to names")
    index.add_argument("--to", type=Path, metavar="INDEX", help="the saved index to add to")
    index.add_argument("--remove", nargs="+", metavar="DOC_ID", help="documents to remove from the index --from names")
    index.add_argument("--from", dest="from_index", type=Path, metavar="INDEX", help="the saved index to remove from")
    index.add_argument(
        "--semantic",
        action="store_true",
        help="store every passage's sentence vector in the index (--out, or --add to an index without them: every "
        "passage is encoded; an index that holds them always has new passages encoded); needs the semantic extra",
    )
    index.add_argument(
        "--jobs",
        type=_whole_number(1, 1024),
        metavar="N",
        help="worker processes that split and tokenize (default: one per CPU; 1: all in this process; a small "
        "corpus is always indexed in this process)",
    )
    index.add_argument(
        "--cluster",
        type=_cluster_address,
        metavar="ADDRESS",
        help="split and tokenize on a Dask cluster instead: local:N starts N worker processes here, tcp://HOST:PORT "
        "uses the scheduler there (its workers need this askidcpc); the same index; needs the cluster extra",
    )
    _add_verbose(index, default=argparse.SUPPRESS)
    handlers["index"] = cmd_index
    return parser, handlers


class _LogFormat(logging.Formatter):
    """askidcpc's own messages as ``askidcpc: ...``; another library's (shown with --verbose) under its name. An
    error logged with its exception (the server's "unexpected error on POST /ask") is followed by the traceback, so
    that a server's log says what went wrong; a warning stays one line, traceback or not (a user of ``ask`` sees
    "searching with numpy", not a stack)."""

    def format(self, record: logging.LogRecord) -> str:
        source = "askidcpc" if record.name.split(".")[0] == "askidcpc" else record.name
        line = f"{source}: {record.getMessage()}"
        if record.exc_info and record.levelno >= logging.ERROR:
            return f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _own_messages(record: logging.LogRecord) -> bool:
    return record.name.split(".")[0] == "askidcpc"


def _configure_logging(verbose: bool) -> None:
    """Warnings on standard error: askidcpc's own; the libraries' too (trafilatura's remarks on every page it
    parses, ...) only with ``--verbose``. On a terminal, also the notice that a one-time step (compiling the search
    kernels) is running."""
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig does: a host that set up logging (a test runner) keeps its own
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_LogFormat())
        if not verbose:
            handler.addFilter(_own_messages)
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    if sys.stderr.isatty():
        logging.getLogger(_KERNELS_LOGGER).setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    try:
        args = parser.parse_args(argv)
        _configure_logging(args.verbose)
        command = args.command or "chat"
        if command not in handlers:
            raise UsageError(f"askidcpc: no command {command!r}; try 'askidcpc ask \"QUESTION\"'")
        settings = Settings.from_env(corpus=getattr(args, "corpus", None), semantic=args.semantic or None)
        return handlers[command](args, settings)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except AskError as exc:
        print(f"askidcpc: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return interrupted()
    except BrokenPipeError:
        return 1
