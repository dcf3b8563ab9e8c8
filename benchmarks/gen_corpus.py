"""Deterministic benchmark corpora: one sentence a line, tokens separated by single spaces, plus query files.

Two kinds, both seeded so every run and every engine sees the same text:

- ``zipf``: synthetic sentences. Vocabulary of ``--vocab`` pseudo-words drawn from a Zipf-Mandelbrot distribution
  (``p(rank) ∝ 1 / (rank + 2.7) ** 1.0``, close to English word frequencies), sentence lengths log-normal with a
  median of 17 tokens (mean ≈ 19, clipped to 3..80), as in news text. Queries: four tokens drawn from random positions
  of the corpus, so common words are as common in queries as in text (the hard case for pruning).
- ``squad``: natural text. The SQuAD v1.1 dev contexts (``dev-v1.1.json`` from
  https://rajpurkar.github.io/SQuAD-explorer/, zipped as ``squad-dev-v1.1.json.zip`` in the ``shared/data`` folder
  beside the repository) split into sentences, lowercased, words only; repeated with variation until the size is
  reached (each copy after the first drops each word with probability 0.1 and inserts one to three words drawn from
  the SQuAD vocabulary), so sentences stay distinct.
  Queries: the SQuAD dev questions, tokenized the same way.

Usage: ``python benchmarks/gen_corpus.py --kind zipf --sentences 1000000 --out /tmp/askidcpc-bench``
writes ``zipf-1000000.txt`` and ``zipf-1000000.queries.txt`` (one query a line) there; with ``--news`` also
``zipf-1000000.news.jsonl``: the same sentences as articles for ``askidcpc index`` (JSON Lines with ``id``,
``title``, ``date`` and ``text``; 25 sentences an article in five paragraphs of five, each sentence capitalised and
ending in a full stop), so the whole build (reading, splitting into sentences, tokenizing, counting, writing) is
measured on exactly the sentences the retrieval engines index.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

SQUAD_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-dev-v1.1.json.zip"
SEED = 20261126
N_QUERIES = 2000
ARTICLE_SENTENCES = 25
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]
_WORD = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")


def pseudo_word(rank: int) -> str:
    """A distinct pronounceable word for each rank (base-85 syllables), short for frequent ranks."""
    syllables = []
    rank += 1
    while rank:
        rank, digit = divmod(rank - 1, len(_SYLLABLES))
        syllables.append(_SYLLABLES[digit])
    return "".join(reversed(syllables))


def zipf_corpus(n_sentences: int, vocab_size: int, seed: int = SEED) -> tuple[list[str], list[str]]:
    """``n_sentences`` synthetic sentences and ``N_QUERIES`` four-word queries."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(vocab_size, dtype=np.float64)
    probs = 1.0 / (ranks + 2.7)
    probs /= probs.sum()
    lengths = np.clip(np.rint(rng.lognormal(np.log(17.0), 0.45, n_sentences)), 3, 80).astype(np.int64)
    token_ids = np.searchsorted(np.cumsum(probs), rng.random(int(lengths.sum())), side="right")
    token_ids = np.minimum(token_ids, vocab_size - 1)
    words = np.array([pseudo_word(r) for r in range(vocab_size)], dtype=object)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    sentences = [" ".join(words[token_ids[s:e]]) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    positions = rng.integers(0, len(token_ids), size=(N_QUERIES, 4))
    queries = [" ".join(words[token_ids[row]]) for row in positions]
    return sentences, queries


def squad_text() -> tuple[list[list[str]], list[list[str]]]:
    """SQuAD dev contexts as tokenized sentences, and its questions tokenized the same way."""
    if not SQUAD_ZIP.exists():
        raise SystemExit(
            f"{SQUAD_ZIP}: not found; the squad kind needs SQuAD dev-v1.1.json from "
            "https://rajpurkar.github.io/SQuAD-explorer/ zipped there (or use --kind zipf)"
        )
    with zipfile.ZipFile(SQUAD_ZIP) as archive, archive.open("dev-v1.1.json") as raw:
        squad = json.load(io.TextIOWrapper(raw, encoding="utf-8"))
    sentences: list[list[str]] = []
    questions: list[list[str]] = []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            for sentence in _SENTENCE_END.split(paragraph["context"]):
                tokens = _WORD.findall(sentence.lower())
                if tokens:
                    sentences.append(tokens)
            for qa in paragraph["qas"]:
                tokens = _WORD.findall(qa["question"].lower())
                if tokens:
                    questions.append(tokens)
    return sentences, questions


def squad_corpus(n_sentences: int, seed: int = SEED) -> tuple[list[str], list[str]]:
    """``n_sentences`` natural sentences: SQuAD dev contexts repeated with variation; SQuAD questions as queries."""
    base, questions = squad_text()
    rng = np.random.default_rng(seed)
    vocab = sorted({token for sentence in base for token in sentence})
    sentences = [" ".join(tokens) for tokens in base[:n_sentences]]
    copy = 0
    while len(sentences) < n_sentences:
        copy += 1
        for tokens in base:
            if len(sentences) >= n_sentences:
                break
            kept = [token for token, drop in zip(tokens, rng.random(len(tokens)) < 0.1, strict=True) if not drop]
            for _ in range(int(rng.integers(1, 4))):
                kept.insert(int(rng.integers(0, len(kept) + 1)), vocab[int(rng.integers(0, len(vocab)))])
            sentences.append(" ".join(kept))
    order = rng.permutation(len(questions))[:N_QUERIES]
    return sentences, [" ".join(questions[i]) for i in order]


def write_corpus(kind: str, n_sentences: int, out: Path, vocab_size: int = 200_000) -> tuple[Path, Path]:
    """Generate (if not there yet) and return the paths of the corpus and its queries."""
    out.mkdir(parents=True, exist_ok=True)
    corpus_path = out / f"{kind}-{n_sentences}.txt"
    queries_path = out / f"{kind}-{n_sentences}.queries.txt"
    if corpus_path.exists() and queries_path.exists():
        return corpus_path, queries_path
    if kind == "zipf":
        sentences, queries = zipf_corpus(n_sentences, vocab_size)
    elif kind == "squad":
        sentences, queries = squad_corpus(n_sentences)
    else:
        raise ValueError(f"unknown corpus kind {kind!r}; choose zipf or squad")
    tmp = corpus_path.with_suffix(".tmp")
    tmp.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    tmp.replace(corpus_path)
    queries_path.write_text("\n".join(queries) + "\n", encoding="utf-8")
    return corpus_path, queries_path


def write_news(kind: str, n_sentences: int, out: Path, vocab_size: int = 200_000) -> Path:
    """The corpus of :func:`write_corpus` as news-like articles in JSON Lines (generated if not there yet)."""
    corpus_path, _ = write_corpus(kind, n_sentences, out, vocab_size)
    news_path = out / f"{kind}-{n_sentences}.news.jsonl"
    if news_path.exists():
        return news_path
    tmp = news_path.with_suffix(".tmp")
    with corpus_path.open(encoding="utf-8") as lines, tmp.open("w", encoding="utf-8") as articles:
        sentences: list[str] = []
        number = 0
        for line in [*lines, None]:
            if line is not None:
                first, _, rest = line.strip().partition(" ")
                sentences.append(f"{first.capitalize()} {rest}".rstrip() + ".")
            if len(sentences) == ARTICLE_SENTENCES or (line is None and sentences):
                paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
                record = {"id": f"a{number:07d}", "title": f"Article {number}", "date": "2024-01-01"}
                articles.write(json.dumps({**record, "text": "\n\n".join(paragraphs)}) + "\n")
                number += 1
                sentences = []
    tmp.replace(news_path)
    return news_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["zipf", "squad"], default="zipf")
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--vocab", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/askidcpc-bench"))
    parser.add_argument("--news", action="store_true", help="also write the sentences as articles in JSON Lines")
    args = parser.parse_args()
    for path in write_corpus(args.kind, args.sentences, args.out, args.vocab):
        print(path)
    if args.news:
        print(write_news(args.kind, args.sentences, args.out, args.vocab))


if __name__ == "__main__":
    main()
