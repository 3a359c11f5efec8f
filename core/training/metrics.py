"""Multi-label metrics: mAP, micro/macro F1, per-label tables and threshold tuning.

Labels with no positives have no average precision; they are reported as None (shown as
"n/a") and left out of the macro averages instead of turning them into NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core.training.events import LabelMetrics

THRESHOLD_GRID = np.round(np.arange(0.02, 0.99, 0.01), 2)


def average_precision(probs: np.ndarray, targets: np.ndarray) -> list[float | None]:
    """Per-label AP; None for labels without positives.

    The step-wise area under the precision-recall curve: the sum over the distinct scores,
    from the highest, of (recall gained) x (precision there), ties taken together. That is
    torchmetrics' and scikit-learn's definition (a test holds them equal); numpy alone, so
    evaluation does not load torchmetrics (seconds of imports: scipy, its audio and image
    code) in every training run.
    """
    scores = np.asarray(probs, dtype=np.float32)
    truth = np.asarray(targets).astype(bool)
    return [_label_ap(scores[:, k], truth[:, k]) for k in range(truth.shape[1])]


def _label_ap(scores: np.ndarray, positive: np.ndarray) -> float | None:
    n_positive = int(positive.sum())
    if n_positive == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], positive[order]
    tp = np.cumsum(hits)
    last = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])  # ends of tied runs
    precision = tp[last] / (last + 1)
    recall_gain = np.diff(np.r_[0, tp[last]]) / n_positive
    return float(np.sum(recall_gain * precision))


def _counts(preds: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, ...]:
    tp = (preds & targets).sum(axis=-2)
    fp = (preds & ~targets).sum(axis=-2)
    fn = (~preds & targets).sum(axis=-2)
    return tp, fp, fn


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(np.shape(num), dtype=float), where=den > 0)


def compute_metrics(
    probs: np.ndarray,
    targets: np.ndarray,
    label_names: Sequence[str],
    thresholds: float | np.ndarray = 0.5,
) -> tuple[dict[str, float], tuple[LabelMetrics, ...]]:
    """Return ({"map", "f1_micro", "f1_macro"}, per-label metrics) at the given thresholds."""
    targets_b = targets.astype(bool)
    thr = np.broadcast_to(np.asarray(thresholds, dtype=float), (targets.shape[1],))
    tp, fp, fn = _counts(probs >= thr, targets_b)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    aps = average_precision(probs, targets)
    support = targets_b.sum(axis=0)
    scored = support > 0
    per_label = tuple(
        LabelMetrics(
            name=name,
            ap=aps[i],
            precision=float(precision[i]),
            recall=float(recall[i]),
            f1=float(f1[i]),
            support=int(support[i]),
            threshold=float(thr[i]),
        )
        for i, name in enumerate(label_names)
    )
    valid_aps = [a for a in aps if a is not None]
    summary = {
        "map": float(np.mean(valid_aps)) if valid_aps else 0.0,
        "f1_micro": float(_ratio(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum())),
        "f1_macro": float(f1[scored].mean()) if scored.any() else 0.0,
    }
    return summary, per_label


def tune_thresholds(probs: np.ndarray, targets: np.ndarray, default: float = 0.5) -> np.ndarray:
    """Per-label threshold maximising F1 on (validation) data; `default` where no positives."""
    targets_b = targets.astype(bool)
    # (grid, n, labels) predictions for every candidate threshold at once.
    preds = probs[None, :, :] >= THRESHOLD_GRID[:, None, None]
    tp, fp, fn = _counts(preds, targets_b[None])
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)  # (grid, labels)
    best = THRESHOLD_GRID[np.argmax(f1, axis=0)]
    return np.where(targets_b.sum(axis=0) > 0, best, default).astype(float)


# ------------------------------------------------------------------ what the GUI's views show
MAX_CURVE_POINTS = 200


@dataclass(frozen=True)
class CurvePoint:
    """Predicting "probability >= threshold" gives this precision and recall."""

    threshold: float
    precision: float
    recall: float


@dataclass(frozen=True)
class ErrorExample:
    """A confident mistake: the image and the label's probability for it."""

    source: str
    probability: float


@dataclass(frozen=True)
class LabelReport:
    """One label on a labelled split: its PR curve, confusion counts and worst errors.

    The curve is empty for a label without positives (recall is undefined there).
    """

    name: str
    threshold: float
    support: int
    ap: float | None
    tp: int
    fp: int
    fn: int
    tn: int
    curve: tuple[CurvePoint, ...]
    false_positives: tuple[ErrorExample, ...]  # negatives, highest probability first
    false_negatives: tuple[ErrorExample, ...]  # positives, lowest probability first


def precision_recall_curve(
    probs: np.ndarray, targets: np.ndarray, max_points: int = MAX_CURVE_POINTS
) -> list[CurvePoint]:
    """One label's PR curve at every distinct probability, thinned to at most `max_points`.

    Point i is what "probability >= threshold_i" gives; thresholds fall from the highest
    probability to the lowest, so recall rises. Empty when there are no positives.
    """
    probs = np.asarray(probs, dtype=np.float64)
    positive = np.asarray(targets).astype(bool)
    if not positive.any():
        return []
    order = np.argsort(-probs, kind="stable")
    sorted_probs, hits = probs[order], positive[order]
    tp, fp = np.cumsum(hits), np.cumsum(~hits)
    # The last index of each run of equal probabilities: all ties are predicted together.
    last = np.flatnonzero(np.r_[sorted_probs[1:] != sorted_probs[:-1], True])
    if len(last) > max_points:
        keep = np.unique(np.linspace(0, len(last) - 1, max(max_points, 2)).round().astype(int))
        last = last[keep]
    precision = tp[last] / (tp[last] + fp[last])
    recall = tp[last] / positive.sum()
    return [
        CurvePoint(float(t), float(p), float(r))
        for t, p, r in zip(sorted_probs[last], precision, recall, strict=True)
    ]


def label_reports(
    probabilities: np.ndarray,
    targets: np.ndarray,
    label_names: Sequence[str],
    thresholds: float | Sequence[float] | np.ndarray,
    sources: Sequence[str] | None = None,
    top_k: int = 8,
    max_points: int = MAX_CURVE_POINTS,
) -> list[LabelReport]:
    """Per label: PR curve, TP/FP/FN/TN at `thresholds`, and the `top_k` most confident
    false positives and false negatives (by `sources`, the images' names, row order).

    Qt-free; the PR-curve view, the confusion table and the error gallery all read this.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(targets).astype(bool)
    thr = np.broadcast_to(np.asarray(thresholds, dtype=float), (truth.shape[1],))
    names = (
        [str(s) for s in sources] if sources is not None else [str(i) for i in range(len(probs))]
    )
    if probs.shape != truth.shape or len(names) != len(probs) or len(label_names) != truth.shape[1]:
        raise ValueError("probabilities, targets, sources and label names do not line up")
    predicted = probs >= thr
    aps = average_precision(probs, truth.astype(np.int64)) if len(probs) else [None] * len(thr)
    reports = []
    for j, name in enumerate(label_names):
        p, t, hit = probs[:, j], truth[:, j], predicted[:, j]
        reports.append(
            LabelReport(
                name=name,
                threshold=float(thr[j]),
                support=int(t.sum()),
                ap=aps[j],
                tp=int((hit & t).sum()),
                fp=int((hit & ~t).sum()),
                fn=int((~hit & t).sum()),
                tn=int((~hit & ~t).sum()),
                curve=tuple(precision_recall_curve(p, t, max_points)),
                false_positives=_worst(p, hit & ~t, names, top_k, highest=True),
                false_negatives=_worst(p, ~hit & t, names, top_k, highest=False),
            )
        )
    return reports


def _worst(
    probs: np.ndarray, mask: np.ndarray, names: list[str], k: int, highest: bool
) -> tuple[ErrorExample, ...]:
    rows = np.flatnonzero(mask)
    rows = rows[np.argsort(-probs[rows] if highest else probs[rows], kind="stable")][:k]
    return tuple(ErrorExample(names[i], float(probs[i])) for i in rows)


def reports_to_json(reports: Sequence[LabelReport]) -> list[dict]:
    """Plain JSON for `evaluate --json`: curves as {"threshold", "precision", "recall"}."""
    return [
        {
            "name": r.name,
            "threshold": r.threshold,
            "support": r.support,
            "ap": r.ap,
            "confusion": {"tp": r.tp, "fp": r.fp, "fn": r.fn, "tn": r.tn},
            "pr_curve": [asdict(point) for point in r.curve],
            "false_positives": [
                {"file": e.source, "probability": e.probability} for e in r.false_positives
            ],
            "false_negatives": [
                {"file": e.source, "probability": e.probability} for e in r.false_negatives
            ],
        }
        for r in reports
    ]
