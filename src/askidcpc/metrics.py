"""Accuracy measures shared by ``eval/`` and ``benchmarks/``: ranks of gold sentences, key containment, token F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from askidcpc.text.tokenize import normalize, words

__all__ = ["contains_keys", "gold_rank", "mean", "reciprocal_rank", "roc_auc", "token_f1"]


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


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """The area under the ROC curve of a score separating ``positives`` from ``negatives``: the probability that a
    random positive scores above a random negative, ties counting half (the Mann-Whitney U statistic over
    ``len(positives) * len(negatives)``). 0.5 when either side is empty."""
    if not positives or not negatives:
        return 0.5
    ordered = sorted([(score, 1) for score in positives] + [(score, 0) for score in negatives])
    rank_sum = 0.0
    at = 0
    while at < len(ordered):
        end = at
        while end < len(ordered) and ordered[end][0] == ordered[at][0]:
            end += 1
        mid_rank = (at + 1 + end) / 2  # 1-based ranks at..end-1 share their mean
        rank_sum += mid_rank * sum(label for _, label in ordered[at:end])
        at = end
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
