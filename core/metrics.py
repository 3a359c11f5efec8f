"""Multi-label metrics: mAP, micro/macro F1, per-label tables and threshold tuning.

Labels with no positives have no average precision; they are reported as None (shown as
"n/a") and left out of the macro averages instead of turning them into NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.functional.classification import (
    binary_average_precision,
    multilabel_average_precision,
)

from core.events import LabelMetrics

THRESHOLD_GRID = np.round(np.arange(0.02, 0.99, 0.01), 2)


def average_precision(probs: np.ndarray, targets: np.ndarray) -> list[float | None]:
    """Per-label AP; None for labels without positives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns about the labels we mask below
        scores = torch.as_tensor(probs, dtype=torch.float32)
        truth = torch.as_tensor(targets, dtype=torch.long)
        if targets.shape[1] == 1:  # torchmetrics' multilabel functions need two labels or more
            ap = binary_average_precision(scores[:, 0], truth[:, 0]).reshape(1)
        else:
            ap = multilabel_average_precision(
                scores, truth, num_labels=targets.shape[1], average=None
            )
    has_positives = targets.sum(axis=0) > 0
    return [float(v) if ok else None for v, ok in zip(ap.tolist(), has_positives, strict=True)]


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
