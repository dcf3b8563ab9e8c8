"""SQuAD development sets as askidcpc sees them: every context a Document, split into askidcpc's own sentence
passages, and each question with its gold sentences (those of its own context holding the start of one of its
answers; none for an unanswerable SQuAD 2.0 question).

Used by ``benchmarks/reqa_squad.py`` (SQuAD v1.1: sentence retrieval), ``benchmarks/squad2_abstention.py`` (SQuAD 2.0:
abstention) and ``tools/train_reader.py`` (fitting the reader). The files are not part of askidcpc: pass ``--data``
(the official ``dev-v1.1.json`` / ``dev-v2.0.json``, or a zip holding one), downloaded from the SQuAD site,
https://rajpurkar.github.io/SQuAD-explorer/ ("Dev Set v1.1" and "Dev Set v2.0").
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from askidcpc.text.sentences import make_passages
from askidcpc.types import Document, Passage

__all__ = ["DATA_DIR", "Question", "Squad", "load_squad"]

# Where the project's developers keep the data sets (beside the repository); anyone else passes --data.
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class Question:
    text: str
    article: int
    title: str  # the article's title: what cross-validation groups by
    doc_id: str  # its own context
    gold: frozenset[int]  # pids; empty for an unanswerable question
    answers: tuple[str, ...]  # the annotated answer texts (none when unanswerable)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class Squad:
    documents: tuple[Document, ...]
    passages: tuple[Passage, ...]
    questions: tuple[Question, ...]
    n_articles: int


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SystemExit(
            f"{path}: not found; download SQuAD dev-v1.1.json or dev-v2.0.json from "
            "https://rajpurkar.github.io/SQuAD-explorer/ and pass it (or a zip holding it) with --data"
        )
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist() if name.endswith(".json")]
            if len(names) != 1:
                raise SystemExit(f"{path}: expected one .json file inside, found {names}")
            raw = archive.read(names[0])
    else:
        raw = path.read_bytes()
    try:
        spec: dict[str, Any] = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{path}: not SQuAD JSON ({exc.msg})") from exc
    if "data" not in spec:
        raise SystemExit(f"{path}: not SQuAD JSON (no 'data' list)")
    return spec


def load_squad(path: Path) -> Squad:
    """Contexts as Documents (``doc_id`` "AA-PPP"), their passages, and each question with its gold pids."""
    spec = _read(path)
    documents: list[Document] = []
    pending: list[tuple[str, int, str, str, list[int], tuple[str, ...]]] = []
    for a, article in enumerate(spec["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{a:02d}-{p:03d}"
            documents.append(Document(doc_id=doc_id, title=article["title"], text=paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else qa["answers"]
                starts = [int(answer["answer_start"]) for answer in answers]
                texts = tuple(answer["text"] for answer in answers)
                pending.append((qa["question"], a, article["title"], doc_id, starts, texts))
    passages = tuple(make_passages(documents))
    by_doc: dict[str, list[Passage]] = {}
    for passage in passages:
        by_doc.setdefault(passage.doc_id, []).append(passage)
    questions = tuple(
        Question(
            text=text,
            article=article,
            title=title,
            doc_id=doc_id,
            gold=frozenset(p.pid for p in by_doc[doc_id] for start in starts if p.start <= start < p.end),
            answers=answers,
        )
        for text, article, title, doc_id, starts, answers in pending
    )
    return Squad(tuple(documents), passages, questions, len(spec["data"]))
