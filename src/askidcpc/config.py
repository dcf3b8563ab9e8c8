"""Settings: every tunable of askidcpc, in one module that imports nothing heavy.

- :class:`BM25Params`: the BM25 variant and its parameters (the index's).
- :class:`RankParams`: how the reader ranks sentences (synonyms, paragraph blend, answer-type bonus, candidates).
- :class:`AnswerPolicy`: how the reader reads (candidates, follow-ups, conflicting figures; the learned model's
  weights ship as data, see :mod:`askidcpc.reader.model`).
- :class:`Settings`: the three together, plus where the corpus is and what the edges default to.

Every construction path (a folder, a saved index, documents in memory, the benchmarks) takes these defaults, so a
question gets the same answer however the pipeline was built. :meth:`Settings.from_env` is the only place that reads
the environment. Importing this module loads no numpy, numba, scipy, FastAPI or prompt-toolkit (a test checks).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from askidcpc.errors import AskError

__all__ = [
    "DEFAULT_CORPUS",
    "DEFAULT_TOP_K",
    "MAX_HISTORY",
    "MAX_QUESTION_CHARS",
    "MAX_TOP_K",
    "VARIANTS",
    "AnswerPolicy",
    "BM25Params",
    "RankParams",
    "Settings",
    "bundled_corpus",
]


def bundled_corpus(project_root: Path, prefix: Path) -> Path:
    """The bundled articles: ``corpus/`` at the project root beside src/ (a source tree, an editable install), else
    where a regular install puts them (``<prefix>/share/askidcpc/corpus``)."""
    source_tree = project_root / "corpus"
    installed = prefix / "share" / "askidcpc" / "corpus"
    return source_tree if source_tree.is_dir() or not installed.is_dir() else installed


DEFAULT_CORPUS = bundled_corpus(Path(__file__).resolve().parents[2], Path(sys.prefix))

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 20
MAX_HISTORY = 20
# Citations shown (and answer sentences considered) when a request does not say.
DEFAULT_TOP_K = 3

VARIANTS = ("okapi", "lucene", "plus", "l")


@dataclass(frozen=True)
class BM25Params:
    """BM25 settings (see :mod:`askidcpc.index.bm25`). ``epsilon`` is used by ``okapi`` only, ``delta`` by ``plus``
    and ``l`` only."""

    # Lucene's idf never goes negative or to zero, which matters on small corpora: rank-bm25's Okapi floors a term
    # found in over half of the passages, so in a two-article corpus common words can score nothing. See README.
    variant: str = "lucene"
    # 0.4, not the textbook 1.2: sentences are short and a repeated word says little; +3 points P@1 on ReQA-SQuAD
    # (benchmarks/RESULTS.md).
    k1: float = 0.4
    b: float = 0.75
    epsilon: float = 0.25
    delta: float = 1.0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown BM25 variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError("BM25 needs k1 >= 0 and 0 <= b <= 1")


@dataclass(frozen=True)
class RankParams:
    """Ranking knobs. Weights are relative to a question term's weight of 1 and to max-normalised scores."""

    paragraph_weight: float = 1.5
    synonym_weight: float = 0.2
    # A question word the corpus never uses cannot match; its synonyms stand in for it at this (higher) weight.
    substitute_weight: float = 0.8
    derivation_weight: float = 0.15
    type_bonus: float = 0.3
    # Answer types (:class:`askidcpc.reader.answer_type.AnswerType` values) that earn ``type_bonus``.
    answer_types: frozenset[str] = frozenset({"date", "number"})
    drop_type_words: bool = True
    # Candidates re-ranked per question: the best sentences by their own score, and the sentences of the best
    # paragraphs (measured on ReQA-SQuAD, benchmarks/RESULTS.md).
    candidates: int = 200
    paragraph_candidates: int = 20


@dataclass(frozen=True)
class AnswerPolicy:
    """How the reader reads. Which sentence answers and how sure it is are the learned model's
    (``askidcpc/data/reader_weights.json``, fitted by ``tools/train_reader.py``); ``threshold`` overrides the
    model's abstention threshold when set. ``candidates``: how many of the retriever's best sentences the model
    chooses among (what it was fitted on). Follow-ups weigh earlier questions' terms at ``history_weight``, decaying by
    ``history_decay`` a turn. A figure from another, differently dated document conflicts when its sentence is among
    the top ``conflict_depth`` and scores at least ``conflict_ratio`` of the best."""

    threshold: float | None = None
    candidates: int = 30
    history_weight: float = 0.5
    history_decay: float = 0.5
    conflict_ratio: float = 0.3
    conflict_depth: int = 10
    ranking: RankParams = field(default_factory=RankParams)


@dataclass(frozen=True)
class Settings:
    """How askidcpc loads, indexes and answers.

    ``corpus``: a folder of documents or a saved index. ``bm25``: the index's parameters. ``policy``: the reader's
    ranking and answering parameters. ``top_k``: citations per answer when a request does not say. ``semantic``:
    compute sentence vectors for a folder corpus (or documents in memory) when it is loaded, so the reader can use
    their cosine with the question (needs the optional ``semantic`` extra); a saved index that holds vectors uses
    them whatever this says, and one without them is loaded without them.
    """

    corpus: Path = DEFAULT_CORPUS
    bm25: BM25Params = field(default_factory=BM25Params)
    policy: AnswerPolicy = field(default_factory=AnswerPolicy)
    top_k: int = DEFAULT_TOP_K
    # Origins a browser may call the HTTP API from (CORS); none by default. "*" allows any.
    cors_origins: tuple[str, ...] = ()
    semantic: bool = False
    # Answers the HTTP server keeps for repeated requests (a bounded LRU per loaded index); 0 keeps none.
    answer_cache: int = 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``ASKIDCPC_*`` variables, then ``overrides`` (``None`` values are ignored).

        ``ASKIDCPC_CORPUS``: ``corpus``; ``ASKIDCPC_CORS_ORIGINS``: ``cors_origins``, comma-separated;
        ``ASKIDCPC_SEMANTIC``: ``semantic`` (``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``);
        ``ASKIDCPC_ANSWER_CACHE``: ``answer_cache``, a whole number.
        """
        env = os.environ if environ is None else environ
        settings = cls()
        if env.get("ASKIDCPC_CORPUS"):
            settings = replace(settings, corpus=Path(env["ASKIDCPC_CORPUS"]))
        if env.get("ASKIDCPC_CORS_ORIGINS"):
            origins = tuple(origin.strip() for origin in env["ASKIDCPC_CORS_ORIGINS"].split(",") if origin.strip())
            settings = replace(settings, cors_origins=origins)
        if env.get("ASKIDCPC_SEMANTIC"):
            settings = replace(settings, semantic=_flag("ASKIDCPC_SEMANTIC", env["ASKIDCPC_SEMANTIC"]))
        if env.get("ASKIDCPC_ANSWER_CACHE"):
            settings = replace(settings, answer_cache=_count("ASKIDCPC_ANSWER_CACHE", env["ASKIDCPC_ANSWER_CACHE"]))
        given = {name: value for name, value in overrides.items() if value is not None}
        return replace(settings, **given)  # type: ignore[arg-type]


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _count(name: str, value: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise AskError(f"{name} must be a whole number (0 or more), not {value!r}")
    return int(text)


def _flag(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise AskError(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), not {value!r}")
