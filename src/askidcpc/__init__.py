"""askidcpc: extractive question answering with citations over a collection of news articles.

>>> from askidcpc import Pipeline, Settings
>>> pipeline = Pipeline.load(Settings.from_env())
>>> pipeline.ask("When was the International Department founded?").answer
"""

from askidcpc.config import Settings
from askidcpc.errors import AskError, CorpusError, DocumentError, IndexFormatError, QuestionError
from askidcpc.pipeline import Pipeline
from askidcpc.types import Answer, Citation, Document, Hit, Passage

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
