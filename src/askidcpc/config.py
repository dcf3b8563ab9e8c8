"""Settings: every tunable of askidcpc in one frozen dataclass.

:meth:`Settings.from_env` is the only place that reads the environment. Everything else receives a ``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from askidcpc.bm25 import BM25Params

__all__ = ["DEFAULT_CORPUS", "MAX_HISTORY", "MAX_QUESTION_CHARS", "MAX_TOP_K", "Settings"]

# The bundled corpus sits at the project root, beside src/ (an editable install keeps it there).
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "corpus"

_BM25 = BM25Params()

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 20
MAX_HISTORY = 20


@dataclass(frozen=True)
class Settings:
    """How askidcpc loads, indexes and answers.

    ``corpus``: a folder of documents or a saved index. ``variant``: the BM25 variant (see :mod:`askidcpc.bm25`).
    """

    corpus: Path = DEFAULT_CORPUS
    variant: str = _BM25.variant
    # k1 = 0.4 (not BM25Params' 1.2): sentences are short and a repeated word says little; +3 points P@1 on
    # ReQA-SQuAD (benchmarks/RESULTS.md).
    k1: float = 0.4
    b: float = _BM25.b
    epsilon: float = _BM25.epsilon
    delta: float = _BM25.delta
    top_k: int = 3
    # Origins a browser may call the HTTP API from (CORS); none by default. "*" allows any.
    cors_origins: tuple[str, ...] = ()

    @property
    def bm25(self) -> BM25Params:
        return BM25Params(variant=self.variant, k1=self.k1, b=self.b, epsilon=self.epsilon, delta=self.delta)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``ASKIDCPC_*`` variables, then ``overrides`` (``None`` values are ignored)."""
        env = os.environ if environ is None else environ
        settings = cls()
        if env.get("ASKIDCPC_CORPUS"):
            settings = replace(settings, corpus=Path(env["ASKIDCPC_CORPUS"]))
        if env.get("ASKIDCPC_CORS_ORIGINS"):
            origins = tuple(origin.strip() for origin in env["ASKIDCPC_CORS_ORIGINS"].split(",") if origin.strip())
            settings = replace(settings, cors_origins=origins)
        given = {name: value for name, value in overrides.items() if value is not None}
        return replace(settings, **given)  # type: ignore[arg-type]
