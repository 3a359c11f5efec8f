"""Confident learning for multi-label data (Northcutt, Jiang and Chuang, JAIR 2021).

Each label is its own binary task. From the out-of-fold probability p of label j:

- per-label thresholds: t1 = mean p over images given 1 (the model's typical confidence in
  a true positive), t0 = mean (1 - p) over images given 0;
- the confident joint: an image given 0 with p >= t1 (and p > 1 - p when both thresholds
  pass) counts as "confidently 1"; an image given 1 with 1 - p >= t0 (and 1 - p > p) as
  "confidently 0". Those off-diagonal pairs are the label issues;
- the paper's calibration: each label's off-diagonal count is scaled so the joint sums to
  the number of images given each value; the issues kept per label and direction are the
  `count` with the lowest self-confidence (the probability of the given value), which is
  the paper's "prune by noise rate".

Issues are ranked by a score in [0, 1]: how far the probability lies past the threshold of
the suggested value, relative to the room there is (so labels with different base rates
compare).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Flag:
    """One flagged (image, label) pair: indices into the probability matrix."""

    image: int
    label: int
    given: int
    score: float
    probability: float


def thresholds(probs: np.ndarray, given: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-label (t1, t0): mean p over given-1 images, mean 1 - p over given-0 images
    (0.5 for a label without such images)."""
    pos = given > 0.5
    n_pos, n_neg = pos.sum(0), (~pos).sum(0)
    t1 = np.where(n_pos > 0, (probs * pos).sum(0) / np.maximum(n_pos, 1), 0.5)
    t0 = np.where(n_neg > 0, ((1 - probs) * ~pos).sum(0) / np.maximum(n_neg, 1), 0.5)
    return t1, t0


def label_issues(probs: np.ndarray, given: np.ndarray, prune: bool = True) -> list[Flag]:
    """Flagged pairs, highest score first (see the module docstring)."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    pos = np.asarray(given) > 0.5
    t1, t0 = thresholds(probs, pos)
    says_1 = (probs >= t1) & ((probs > 0.5) | ((1 - probs) < t0))
    says_0 = ((1 - probs) >= t0) & ((probs < 0.5) | (probs < t1))
    off = (~pos & says_1) | (pos & says_0)
    if prune:
        off = _pruned(probs, pos, off)
    score = _scores(probs, pos, t1, t0)
    flags = [
        Flag(int(i), int(j), int(pos[i, j]), float(score[i, j]), float(probs[i, j]))
        for i, j in zip(*np.nonzero(off), strict=True)
    ]
    return sorted(flags, key=lambda f: (-f.score, f.image, f.label))


def _scores(probs: np.ndarray, pos: np.ndarray, t1: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """Given 0: how far p went towards 1 past t1's start; given 1: towards 0 past t0's.

    The margin over the given value's own threshold, scaled to the room above it: a pair
    that only just crosses scores near 0, a certain disagreement 1.
    """
    p0 = 1 - probs
    miss = np.clip((probs - (1 - t0)) / np.maximum(t0, 1e-6), 0, 1)  # given 0, looks like 1
    wrong = np.clip((p0 - (1 - t1)) / np.maximum(t1, 1e-6), 0, 1)  # given 1, looks like 0
    return np.where(pos, wrong, miss)


def _pruned(probs: np.ndarray, pos: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Per label and given value v: the calibrated count of confidently-other images,
    taken as those given v with the lowest self-confidence (prune by noise rate)."""
    keep = np.zeros_like(off)
    self_conf = np.where(pos, probs, 1 - probs)
    says_given = self_conf >= np.where(pos, *thresholds(probs, pos))
    for j in range(probs.shape[1]):
        for value in (False, True):
            given_v = np.flatnonzero(pos[:, j] == value)
            n_off = int(off[given_v, j].sum())
            if not n_off:
                continue
            confident = n_off + int((says_given[given_v, j] & ~off[given_v, j]).sum())
            count = round(n_off * len(given_v) / max(confident, 1))
            chosen = given_v[np.argsort(self_conf[given_v, j], kind="stable")[:count]]
            keep[chosen, j] = True
    return keep
