"""Fit and cross-validate askidcpc's short-answer scorer (:mod:`askidcpc.reader.short`): a linear score over the
named features of each candidate phrase of the sentence holding the answer, fitted on SQuAD v1.1 dev.

Stages (the candidates and their features are cached under cache/ as .npz, keyed by the feature names):

    python tools/train_short.py extract [--data PATH]   # one to two minutes on two cores
    python tools/train_short.py fit [--l2 X]            # cross-validated figures and the weights: a few minutes

Each question's sentence is its gold sentence (the sentence of its own context holding its first answer's start,
``benchmarks/short_answers.py``); its targets are the candidates whose official token F1 against its annotated
answers is at least 0.5, weighted by that F1 to the 4th power (questions with none are left out of fitting, not of
scoring). The model is a softmax over a question's candidates maximising the weighted probability of its targets,
L2-penalised (L-BFGS).
``fit`` cross-validates by article (5 folds of SQuAD's 48 article titles, shuffled with seed 0), prints exact match
and F1 by question kind for the held-out folds, and writes ``src/askidcpc/data/short_weights.json`` fitted on every
question. Rerunning both stages reproduces the shipped file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from grouped import segments, softmax_by  # noqa: E402
from short_answers import answer_starts, gold_sentences, normalize_answer, squad_f1  # noqa: E402
from squad import DATA_DIR, load_squad  # noqa: E402

from askidcpc.config import AnswerPolicy  # noqa: E402
from askidcpc.reader.query import build_query  # noqa: E402
from askidcpc.reader.short import FEATURES, GROUPS, phrase_features, question_group  # noqa: E402

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CACHE = ROOT / "cache"
WEIGHTS = ROOT / "src" / "askidcpc" / "data" / "short_weights.json"
FOLDS = 5
SEED = 0
# The least F1 a question's best candidate must reach for the question to be fitted on.
MIN_TARGET_F1 = 0.5
L2 = 1.0
TARGET_POWER = 4


def cache_path() -> Path:
    key = hashlib.sha256("|".join(FEATURES).encode()).hexdigest()[:10]
    return CACHE / f"short-{key}.npz"


def run_extract(data: Path) -> None:
    started = time.perf_counter()
    bench = load_squad(data)
    gold = gold_sentences(bench, answer_starts(data))
    policy = AnswerPolicy()
    rows, qidx, f1, em, group, article = [], [], [], [], [], []
    for q, (question, pid) in enumerate(zip(bench.questions, gold, strict=True)):
        query = build_query(question.text, (), policy)
        sentence = bench.passages[pid].text
        phrases, features = phrase_features(question.text, query, sentence)
        group.append(GROUPS.index(question_group(question.text, query)))
        article.append(question.article)
        answers = {normalize_answer(answer) for answer in question.answers}
        for phrase in phrases:
            text = sentence[phrase.start : phrase.end]
            f1.append(squad_f1(text, question.answers))
            em.append(normalize_answer(text) in answers)
            qidx.append(q)
        rows.append(features)
    CACHE.mkdir(exist_ok=True)
    np.savez_compressed(
        cache_path(),
        X=np.vstack(rows).astype(np.float32),
        qidx=np.asarray(qidx, dtype=np.int32),
        f1=np.asarray(f1, dtype=np.float32),
        em=np.asarray(em, dtype=bool),
        group=np.asarray(group, dtype=np.int8),
        article=np.asarray(article, dtype=np.int16),
    )
    n = len(bench.questions)
    print(f"{n:,} questions, {len(qidx):,} candidates, {time.perf_counter() - started:.0f} s -> {cache_path()}")


def fit(Z: FloatArray, target: FloatArray, qidx: IntArray, l2: float) -> FloatArray:
    """Softmax over each question's candidates maximising the log-probability of its targets (rows of ``Z``
    standardised; questions without a target left out)."""
    starts, _ = segments(qidx)
    has_target = np.add.reduceat(target, starts) > 0
    keep = np.repeat(has_target, np.diff(np.r_[starts, len(qidx)]))
    Z, target, qidx = Z[keep], target[keep], qidx[keep]
    starts, _ = segments(qidx)
    sizes = np.diff(np.r_[starts, len(qidx)])

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        p = softmax_by(Z @ w, starts)
        mass = np.add.reduceat(p * target, starts)
        r = p * target / np.repeat(mass, sizes)
        return -float(np.log(mass + 1e-300).sum()) + 0.5 * l2 * float(w @ w), Z.T @ (p - r) + l2 * w

    result = minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return np.asarray(result.x)


def targets(f1: FloatArray) -> FloatArray:
    """Each candidate's weight as a target: its F1 to the power TARGET_POWER when the F1 reaches MIN_TARGET_F1, else
    0, so a near miss counts a little and an exact match most (on an earlier set of features, cross-validated F1
    .495 with each question's best-F1 candidates alone as targets, .504 with these)."""
    return np.where(f1 >= MIN_TARGET_F1, f1**TARGET_POWER, 0.0)


def picked(scores: FloatArray, qidx: IntArray) -> tuple[IntArray, IntArray]:
    """The question of each run and the row of its best score (the first of equals)."""
    starts, questions = segments(qidx)
    sizes = np.diff(np.r_[starts, len(scores)])
    best = np.repeat(np.maximum.reduceat(scores, starts), sizes)
    marked = np.where(scores == best, np.arange(len(scores)), len(scores))
    return questions, np.minimum.reduceat(marked, starts)


def report(title: str, em: FloatArray, f1: FloatArray, group: IntArray) -> None:
    print(f"\n{title}\n| questions | n | EM | F1 |\n|---|---|---|---|")
    for at, name in enumerate([*GROUPS, "all"]):
        mask = np.ones(len(group), dtype=bool) if name == "all" else group == at
        if mask.any():
            print(f"| {name} | {int(mask.sum()):,} | {em[mask].mean():.3f} | {f1[mask].mean():.3f} |")


def run_fit(l2: float) -> None:
    z = np.load(cache_path())
    X = z["X"].astype(np.float64)
    qidx = z["qidx"].astype(np.int64)
    f1 = z["f1"].astype(np.float64)
    em = z["em"].astype(np.float64)
    group = z["group"].astype(np.int64)
    article = z["article"].astype(np.int64)
    n = len(group)
    target = targets(f1)
    # Oracles: the best candidate of each question (what a perfect scorer over these candidates would reach).
    starts, questions = segments(qidx)
    oracle_em, oracle_f1 = np.zeros(n), np.zeros(n)
    oracle_em[questions] = np.maximum.reduceat(em, starts)
    oracle_f1[questions] = np.maximum.reduceat(f1, starts)
    report("candidate oracle (the best candidate of each question)", oracle_em, oracle_f1, group)

    articles = np.unique(article)
    order = np.random.default_rng(SEED).permutation(articles)
    fold_of = {int(a): i % FOLDS for i, a in enumerate(order.tolist())}
    fold = np.asarray([fold_of[int(a)] for a in article])
    cv_em, cv_f1 = np.zeros(n), np.zeros(n)
    for k in range(FOLDS):
        train_rows = fold[qidx] != k
        mean, scale = X[train_rows].mean(axis=0), X[train_rows].std(axis=0)
        scale[scale == 0] = 1.0
        w = fit((X[train_rows] - mean) / scale, target[train_rows], qidx[train_rows], l2)
        test_rows = ~train_rows
        scores = ((X[test_rows] - mean) / scale) @ w
        q, row = picked(scores, qidx[test_rows])
        cv_em[q] = em[test_rows][row]
        cv_f1[q] = f1[test_rows][row]
    report(f"cross-validated by article ({FOLDS} folds, seed {SEED}, l2 {l2})", cv_em, cv_f1, group)

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    w = fit((X - mean) / scale, target, qidx, l2)
    q, row = picked(((X - mean) / scale) @ w, qidx)
    fit_em, fit_f1 = np.zeros(n), np.zeros(n)
    fit_em[q], fit_f1[q] = em[row], f1[row]
    report("fitted on every question (in-sample)", fit_em, fit_f1, group)

    def named(values: FloatArray) -> dict[str, float]:
        return {name: round(float(value), 6) for name, value in zip(FEATURES, values, strict=True)}

    spec = {
        "trained_on": f"SQuAD v1.1 dev gold sentences ({n:,} questions), tools/train_short.py, l2 {l2}",
        "cross_validated": {"exact_match": round(float(cv_em.mean()), 4), "f1": round(float(cv_f1.mean()), 4)},
        "features": list(FEATURES),
        "mean": named(mean),
        "scale": named(scale),
        "weights": named(w),
    }
    WEIGHTS.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {WEIGHTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["extract", "fit"])
    parser.add_argument("--data", type=Path, default=DATA_DIR / "squad-dev-v1.1.json.zip")
    parser.add_argument("--l2", type=float, default=L2)
    args = parser.parse_args()
    if args.stage == "extract":
        run_extract(args.data)
    else:
        run_fit(args.l2)


if __name__ == "__main__":
    main()
