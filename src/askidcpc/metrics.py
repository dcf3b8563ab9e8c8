"""Accuracy measures shared by ``eval/`` and ``benchmarks/``: ranks of gold sentences, key containment, token F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from askidcpc.text.tokenize import normalize, words

__all__ = ["contains_keys", "gold_rank", "mean", "reciprocal_rank", "token_f1"]


def gold_rank(sentences: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first sentence that contains any gold substring (quotes and case folded), else None."""
    targets = [normalize(substring) for substring in gold]
    for rank, sentence in enumerate(sentences, start=1):
        folded = normalize(sentence)
        if any(target in folded for target in targets):
            return rank
    return None


def reciprocal_rank(rank: int | None, cutoff: int = 10) -> float:
    return 1.0 / rank if rank is not None and rank <= cutoff else 0.0


def contains_keys(answer: str | None, keys: Sequence[str]) -> bool:
    """Whether ``answer`` contains every key (case and quotes folded). No answer contains nothing."""
    if answer is None:
        return False
    folded = normalize(answer)
    return all(normalize(key) in folded for key in keys)


def token_f1(prediction: str | None, reference: str) -> float:
    """SQuAD-style token F1 between two texts (normalized words, stop words kept)."""
    if prediction is None:
        return 0.0
    predicted, expected = Counter(words(prediction)), Counter(words(reference))
    overlap = sum((predicted & expected).values())
    if overlap == 0:
        return 0.0
    precision = overlap / sum(predicted.values())
    recall = overlap / sum(expected.values())
    return 2 * precision * recall / (precision + recall)


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
