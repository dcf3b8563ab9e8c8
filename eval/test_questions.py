"""The question set itself: well formed, its gold sentences exist in the corpus, every factual sentence is asked."""

from __future__ import annotations

from collections import Counter

import evaluate
import pytest
import yaml

from askidcpc.config import Settings
from askidcpc.pipeline import Pipeline
from askidcpc.text.tokenize import normalize

SPEC = yaml.safe_load(evaluate.QUESTIONS.read_text(encoding="utf-8"))
CASES = evaluate.load_cases() + evaluate.load_cases(evaluate.HELDOUT)
PIPELINE = Pipeline.load(Settings())
PASSAGES = [normalize(p.text) for p in PIPELINE.passages]


def test_minimum_counts() -> None:
    singles = Counter(item["category"] for item in SPEC["questions"])
    assert sum(singles.values()) >= 100
    assert singles["unanswerable"] >= 25
    assert singles["multi_source"] >= 4
    assert len(SPEC["dialogues"]) >= 12
    assert all(2 <= len(d["turns"]) <= 4 for d in SPEC["dialogues"])


def test_ids_unique() -> None:
    ids = [c.case_id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", [c for c in CASES if c.gold], ids=lambda c: c.case_id)
def test_gold_in_exactly_one_passage_with_key(case: evaluate.Case) -> None:
    matched = []
    for substring in case.gold:
        hits = [text for text in PASSAGES if normalize(substring) in text]
        assert len(hits) == 1, f"gold {substring!r} is in {len(hits)} passages"
        matched.append(hits[0])
    for key in case.keys:
        assert any(normalize(key) in text for text in matched), f"key {key!r} not in its gold sentence(s)"


def test_every_factual_passage_is_some_questions_gold() -> None:
    exempt = [normalize(s) for s in SPEC.get("non_factual") or []]
    golds = [normalize(g) for item in SPEC["questions"] for g in item["gold"]]
    unasked = [p for p in PASSAGES if not any(g in p for g in golds) and not any(e in p for e in exempt)]
    assert unasked == []
