"""The learned reader's two models, read from the weights ``tools/train_reader.py`` writes
(``data/reader_weights.json``, every weight keyed by its feature's name):

- the **ranker**: a linear score over the standardised candidate features; the reader answers from the best one;
- the **confidence**: a logistic regression over the chosen candidate's features, the question's list features and
  two verdicts on the chosen candidate: ``rerank_prob``, its probability under the **answerability** model (a
  second linear score, over every feature, in a softmax among the candidates and a *null* candidate, "no answer",
  whose score ``null`` was fitted with the unanswerable questions as its targets; without one, the ranker's own
  softmax), and ``rerank_margin``, the ranker's lead over the runner-up; then Platt-scaled (a scale and shift of its
  logit fitted on the product's own questions, ``calibration``). The result is the probability that the answer is
  right. Below ``threshold`` (chosen by the training script for a stated false-abstention rate) the reader
  abstains.

Inference is numpy over a question's candidates only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from askidcpc.reader.features import FEATURES, SEMANTIC

__all__ = ["CONFIDENCE_EXTRA", "SEMANTIC_WEIGHTS", "WEIGHTS", "ReaderModel", "has_semantic_model", "load_model"]

FloatArray = npt.NDArray[np.float64]
WEIGHTS = "reader_weights.json"
# The model fitted with the semantic extra's cosine features (used when the passages have vectors).
SEMANTIC_WEIGHTS = "reader_weights_semantic.json"
# What the confidence model sees beyond the features: the ranker's verdict on the chosen candidate.
CONFIDENCE_EXTRA = ("rerank_prob", "rerank_margin")
# The lead given when a question has a single candidate (no runner-up), as in training.
LONE_MARGIN = 5.0
# How close to 0 or 1 a confidence is taken before calibrating its logit (as in training).
_EDGE = 1e-6


@dataclass(frozen=True, eq=False)
class ReaderModel:
    """Standardisation, ranking and confidence weights as arrays over its ``features`` (:data:`FEATURES`, then
    :data:`SEMANTIC` for the semantic model; zero where a model does not use a feature), and the abstention
    threshold."""

    features: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    ranking: FloatArray
    confidence_bias: float
    confidence: FloatArray
    confidence_extra: FloatArray  # weights of CONFIDENCE_EXTRA
    threshold: float
    answerability: FloatArray | None = None  # weights of the answerability score (None: the ranker's)
    null: float = -np.inf  # the "no answer" candidate's score (-inf: none)
    calibration: tuple[float, float] = (1.0, 0.0)  # scale and shift of the confidence's logit

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> ReaderModel:
        """The model from its weight file's contents; ValueError when the file names features this code does not
        compute (weights from another version)."""
        names = tuple(spec["features"])
        known = set(names) | set(CONFIDENCE_EXTRA) | {"intercept"}
        unknown = (set(spec["ranking"]) | set(spec["confidence"]) | set(spec.get("answerability") or ())) - known
        if unknown or names not in (FEATURES, FEATURES + SEMANTIC):
            raise ValueError(f"reader weights do not match this version's features (unknown: {sorted(unknown)})")

        def column(weights: dict[str, float]) -> FloatArray:
            return np.asarray([float(weights.get(name, 0.0)) for name in names])

        return cls(
            features=names,
            mean=column(spec["mean"]),
            scale=column(spec["scale"]),
            ranking=column(spec["ranking"]),
            confidence_bias=float(spec["confidence"]["intercept"]),
            confidence=column(spec["confidence"]),
            confidence_extra=np.asarray([float(spec["confidence"][name]) for name in CONFIDENCE_EXTRA]),
            threshold=float(spec["threshold"]),
            answerability=None if spec.get("answerability") is None else column(spec["answerability"]),
            null=-np.inf if spec.get("null") is None else float(spec["null"]),
            calibration=(
                (1.0, 0.0)
                if spec.get("calibration") is None
                else (float(spec["calibration"]["scale"]), float(spec["calibration"]["shift"]))
            ),
        )

    @property
    def semantic(self) -> bool:
        """Whether the model weighs the semantic extra's cosine features (it needs passage vectors)."""
        return len(self.features) > len(FEATURES)

    def scores(self, features: FloatArray) -> FloatArray:
        """The ranker's score of each candidate (one row of :data:`FEATURES` each)."""
        return np.asarray(((features - self.mean) / self.scale) @ self.ranking, dtype=np.float64)

    def best(self, features: FloatArray) -> tuple[int, float]:
        """The row of the best candidate (the first of equals) and the probability the answer from it is right."""
        chosen, sure, _ = self.judge(features)
        return chosen, sure

    def judge(self, features: FloatArray) -> tuple[int, float, FloatArray]:
        """:meth:`best` and :meth:`scores` from one standardisation."""
        standard = (features - self.mean) / self.scale
        scores = np.asarray(standard @ self.ranking, dtype=np.float64)
        chosen = int(np.argmax(scores))
        verdict = scores if self.answerability is None else standard @ self.answerability
        top = max(float(verdict.max()), self.null)
        shifted = np.exp(verdict - top)
        probability = float(shifted[chosen] / (shifted.sum() + np.exp(self.null - top)))
        others = np.delete(scores, chosen)
        margin = float(scores[chosen] - others.max()) if len(others) else LONE_MARGIN
        logit = self.confidence_bias + float(standard[chosen] @ self.confidence)
        logit += float(self.confidence_extra @ np.asarray([probability, margin]))
        sure = _sigmoid(logit)
        if self.calibration != (1.0, 0.0):
            scale, shift = self.calibration
            clipped = min(max(sure, _EDGE), 1.0 - _EDGE)
            sure = _sigmoid(scale * float(np.log(clipped / (1.0 - clipped))) + shift)
        return chosen, sure, scores


def _sigmoid(logit: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0))))


def has_semantic_model() -> bool:
    """Whether the package ships the model fitted with the semantic features."""
    return resources.files("askidcpc").joinpath("data", SEMANTIC_WEIGHTS).is_file()


@lru_cache(maxsize=2)
def load_model(semantic: bool = False) -> ReaderModel:
    """The shipped model (read once per process): the lexical one, or the one fitted with the semantic features."""
    name = SEMANTIC_WEIGHTS if semantic else WEIGHTS
    with resources.files("askidcpc").joinpath("data", name).open("r", encoding="utf-8") as handle:
        return ReaderModel.from_json(json.load(handle))
