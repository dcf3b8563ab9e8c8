"""Plain-text rendering of answers, shared by the CLI and the REPL (the edges); no I/O here."""

from __future__ import annotations

import textwrap

from askidcpc.types import Answer, Citation

__all__ = ["ABSTAIN_MESSAGE", "citation_line", "render_answer"]

ABSTAIN_MESSAGE = "The articles do not answer this question."


def citation_line(number: int, citation: Citation) -> str:
    """``[1] Title (date)``."""
    date = f" ({citation.date})" if citation.date else ""
    return f"[{number}] {citation.title}{date}"


def render_answer(answer: Answer, width: int = 100) -> str:
    """The answer, then numbered citations with document, offsets and sentence."""
    lines: list[str] = []
    if answer.answer is None:
        lines.append(ABSTAIN_MESSAGE)
        if answer.citations:
            lines.append("Nearest sentences found:")
    else:
        lines.extend(textwrap.wrap(answer.answer, width=width) or [answer.answer])
        lines.append(f"(confidence {answer.confidence:.2f})")
    for number, citation in enumerate(answer.citations, start=1):
        lines.append("")
        lines.append(
            f"{citation_line(number, citation)} — {citation.doc_id} [{citation.start}:{citation.end}]"
            f" score {citation.score:.2f}"
        )
        lines.extend(textwrap.wrap(citation.sentence, width=width, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)
