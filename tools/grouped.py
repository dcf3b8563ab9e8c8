"""Rows grouped by question, as the training scripts (``train_reader.py``, ``train_short.py``) hold their candidates:
each question's candidate rows are one consecutive run, ``qidx`` giving each row's question."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def segments(qidx: IntArray) -> tuple[IntArray, IntArray]:
    """Start offsets of each question's run of rows, and the question of each run."""
    starts = np.flatnonzero(np.r_[True, qidx[1:] != qidx[:-1]])
    return starts, qidx[starts]


def softmax_by(scores: FloatArray, starts: IntArray) -> FloatArray:
    """The softmax of ``scores`` within each question's run (``starts`` from :func:`segments`)."""
    top = np.maximum.reduceat(scores, starts)
    sizes = np.diff(np.r_[starts, len(scores)])
    e = np.exp(scores - np.repeat(top, sizes))
    return np.asarray(e / np.repeat(np.add.reduceat(e, starts), sizes))
