"""The learned reader's model (reader.model): the shipped weights, and inference against a plain re-computation."""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

import numpy as np
import pytest

from askidcpc.reader.features import FEATURES
from askidcpc.reader.model import CONFIDENCE_EXTRA, LONE_MARGIN, ReaderModel, load_model


def shipped() -> dict[str, Any]:
    with resources.files("askidcpc").joinpath("data", "reader_weights.json").open() as handle:
        spec: dict[str, Any] = json.load(handle)
    return spec


def test_the_shipped_weights_name_exactly_this_versions_features() -> None:
    spec = shipped()
    assert spec["features"] == list(FEATURES)
    assert set(spec["ranking"]) <= set(FEATURES)
    assert set(spec["answerability"]) <= set(FEATURES)
    assert math.isfinite(spec["null"])
    assert {"intercept", *CONFIDENCE_EXTRA} <= set(spec["confidence"]) <= {"intercept", *FEATURES, *CONFIDENCE_EXTRA}
    assert 0.0 < spec["threshold"] < 1.0
    assert load_model().threshold == spec["threshold"]


def test_weights_for_other_features_are_refused() -> None:
    spec = shipped()
    spec["ranking"] = {**spec["ranking"], "a_feature_this_version_lacks": 1.0}
    with pytest.raises(ValueError, match="do not match"):
        ReaderModel.from_json(spec)


def reference(spec: dict[str, Any], rows: list[list[float]]) -> tuple[int, float]:
    """The chosen row and confidence computed term by term from the weight file."""

    def standard(row: list[float], name: str) -> float:
        return (row[FEATURES.index(name)] - spec["mean"][name]) / spec["scale"][name]

    scores = [sum(w * standard(row, name) for name, w in spec["ranking"].items()) for row in rows]
    chosen = max(range(len(rows)), key=lambda i: (scores[i], -i))
    verdicts = [sum(w * standard(row, name) for name, w in spec["answerability"].items()) for row in rows]
    probability = math.exp(verdicts[chosen]) / (sum(math.exp(v) for v in verdicts) + math.exp(spec["null"]))
    others = [s for i, s in enumerate(scores) if i != chosen]
    margin = scores[chosen] - max(others) if others else LONE_MARGIN
    extra = {"rerank_prob": probability, "rerank_margin": margin}
    logit = spec["confidence"]["intercept"]
    for name, weight in spec["confidence"].items():
        if name in FEATURES:
            logit += weight * standard(rows[chosen], name)
        elif name in extra:
            logit += weight * extra[name]
    sure = 1.0 / (1.0 + math.exp(-logit))
    calibration = spec.get("calibration")
    if calibration is not None:
        clipped = min(max(sure, 1e-6), 1 - 1e-6)
        logit = calibration["scale"] * math.log(clipped / (1 - clipped)) + calibration["shift"]
        sure = 1.0 / (1.0 + math.exp(-logit))
    return chosen, sure


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [1, 2, 30])
def test_inference_equals_the_weights_applied_by_hand(seed: int, n: int) -> None:
    spec = shipped()
    rng = np.random.default_rng(seed)
    mean = np.asarray([spec["mean"][name] for name in FEATURES])
    scale = np.asarray([spec["scale"][name] for name in FEATURES])
    rows = mean + scale * rng.normal(size=(n, len(FEATURES)))
    chosen, sure = load_model().best(rows)
    expected_row, expected = reference(spec, rows.tolist())
    assert chosen == expected_row
    assert sure == pytest.approx(expected, rel=1e-9)


def test_a_lone_candidate_is_not_certain_by_being_alone() -> None:
    """The null candidate ("no answer") competes with every list: one candidate at the training data's average
    features gets an answerability probability well under 1 (a plain softmax over one candidate would give 1)."""
    spec = shipped()
    model = load_model()
    row = np.asarray([[spec["mean"][name] for name in FEATURES]])
    assert model.answerability is not None
    verdict = float((((row - model.mean) / model.scale) @ model.answerability)[0])
    probability = math.exp(verdict) / (math.exp(verdict) + math.exp(model.null))
    assert probability < 0.9
