"""askidcpc: extractive question answering with citations over a collection of news articles.

>>> from askidcpc import Pipeline, Settings
>>> pipeline = Pipeline.load(Settings.from_env())
>>> pipeline.ask("When was the International Department founded?").answer

``Pipeline`` is imported on first use, so that importing the settings, the errors or the types (``askidcpc.config``,
...) loads no numpy, numba or scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from askidcpc.config import Settings
from askidcpc.errors import AskError, CorpusError, DocumentError, IndexFormatError, QuestionError
from askidcpc.types import Answer, Citation, Document, Hit, Passage

if TYPE_CHECKING:
    from askidcpc.pipeline import Pipeline

__all__ = [
    "Answer",
    "AskError",
    "Citation",
    "CorpusError",
    "Document",
    "DocumentError",
    "Hit",
    "IndexFormatError",
    "Passage",
    "Pipeline",
    "QuestionError",
    "Settings",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from askidcpc.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'askidcpc' has no attribute {name!r}")
