"""core.training.metrics: hand-checked F1 and AP, labels without positives, threshold tuning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.training.metrics import average_precision, compute_metrics, tune_thresholds

NAMES = ["a", "b"]


def test_f1_micro_and_macro_match_hand_computation() -> None:
    probs = np.array([[0.9, 0.2], [0.8, 0.7], [0.3, 0.6], [0.1, 0.4]])
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    # At 0.5: label a predicts rows 0,1 -> tp 1 (row 0), fp 1 (row 1), fn 1 (row 2): F1 = 0.5.
    # Label b predicts rows 1,2 -> tp 2, fp 0, fn 0: F1 = 1.0.
    summary, per_label = compute_metrics(probs, targets, NAMES)
    assert per_label[0].f1 == pytest.approx(0.5)
    assert per_label[0].precision == pytest.approx(0.5)
    assert per_label[0].recall == pytest.approx(0.5)
    assert per_label[1].f1 == pytest.approx(1.0)
    assert summary["f1_macro"] == pytest.approx(0.75)
    # Micro: tp 3, fp 1, fn 1 -> 6 / 8.
    assert summary["f1_micro"] == pytest.approx(0.75)
    assert [p.support for p in per_label] == [2, 2]


def test_micro_and_macro_f1_differ_when_labels_are_unbalanced() -> None:
    probs = np.array([[0.9, 0.9], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]])
    targets = np.array([[1, 1], [1, 0], [1, 0], [1, 1]])
    # a: tp 4 -> F1 1. b: tp 1, fn 1 -> F1 2/3. micro: tp 5, fn 1 -> 10/11.
    summary, _ = compute_metrics(probs, targets, NAMES)
    assert summary["f1_macro"] == pytest.approx((1 + 2 / 3) / 2)
    assert summary["f1_micro"] == pytest.approx(10 / 11)


def test_average_precision_matches_hand_computation() -> None:
    # Ranking for label a: 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg).
    # AP = mean precision at each positive = (1/1 + 2/3) / 2.
    probs = np.array([[0.9, 0.1], [0.8, 0.9], [0.7, 0.2], [0.1, 0.3]])
    targets = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    aps = average_precision(probs, targets)
    assert aps[0] == pytest.approx((1 + 2 / 3) / 2)
    assert aps[1] == pytest.approx(1.0)
    summary, _ = compute_metrics(probs, targets, NAMES)
    assert summary["map"] == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)


def test_label_without_positives_has_no_ap_and_is_left_out_of_averages() -> None:
    probs = np.array([[0.9, 0.8, 0.2], [0.2, 0.1, 0.7], [0.8, 0.3, 0.6]])
    targets = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 1]])
    summary, per_label = compute_metrics(probs, targets, ["a", "none", "c"])
    assert per_label[1].ap is None
    assert per_label[1].support == 0
    assert all(math.isfinite(v) for v in summary.values())
    # a and c are perfect; the empty label (which has a false positive) must not drag them down.
    assert summary["map"] == pytest.approx(1.0)
    assert summary["f1_macro"] == pytest.approx(1.0)
    assert summary["f1_micro"] < 1.0  # the false positive still counts in the micro average


def test_no_positives_anywhere_gives_zeros_not_nan() -> None:
    probs = np.array([[0.2, 0.7], [0.1, 0.3]])
    targets = np.zeros((2, 2), dtype=int)
    summary, per_label = compute_metrics(probs, targets, NAMES)
    assert summary == {"map": 0.0, "f1_micro": 0.0, "f1_macro": 0.0}
    assert [p.ap for p in per_label] == [None, None]


def test_per_label_thresholds_are_applied_and_reported() -> None:
    probs = np.array([[0.3, 0.3], [0.1, 0.1]])
    targets = np.array([[1, 1], [0, 0]])
    summary, per_label = compute_metrics(probs, targets, NAMES, np.array([0.25, 0.5]))
    assert [p.threshold for p in per_label] == [0.25, 0.5]
    assert [p.f1 for p in per_label] == [1.0, 0.0]
    assert summary["f1_macro"] == pytest.approx(0.5)


def test_tune_thresholds_separates_separable_probabilities() -> None:
    rng = np.random.default_rng(0)
    targets = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 1]] * 3)
    # Label 0 positives lie in [0.6, 0.7], label 1 positives in [0.15, 0.25], negatives below.
    probs = np.where(
        targets == 1,
        rng.uniform([0.6, 0.15], [0.7, 0.25], targets.shape),
        rng.uniform([0.3, 0.0], [0.5, 0.1], targets.shape),
    )
    thresholds = tune_thresholds(probs, targets)
    for j in range(2):
        positives, negatives = probs[targets[:, j] == 1, j], probs[targets[:, j] == 0, j]
        assert negatives.max() < thresholds[j] <= positives.min()
    _, per_label = compute_metrics(probs, targets, NAMES, thresholds)
    assert [p.f1 for p in per_label] == [1.0, 1.0]
    _, at_half = compute_metrics(probs, targets, NAMES)
    assert at_half[1].f1 == 0.0  # the default threshold misses label 1 entirely


def test_tune_thresholds_keeps_the_default_for_labels_without_positives() -> None:
    probs = np.array([[0.9, 0.8], [0.2, 0.6], [0.7, 0.1]])
    targets = np.array([[1, 0], [0, 0], [1, 0]])
    thresholds = tune_thresholds(probs, targets, default=0.42)
    assert thresholds[1] == 0.42
    assert thresholds[0] != 0.42
    assert thresholds.shape == (2,)


def test_a_single_label_is_scored_like_one_column_of_many() -> None:
    probs = np.array([[0.9, 0.2], [0.4, 0.7], [0.8, 0.1], [0.3, 0.6]])
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    _, per_label = compute_metrics(probs, targets, ["A", "B"])
    one, (only,) = compute_metrics(probs[:, :1], targets[:, :1], ["A"])
    assert only == per_label[0]
    assert one["map"] == pytest.approx(per_label[0].ap)


def test_average_precision_equals_torchmetrics_with_ties_and_one_label() -> None:
    """The numpy AP is torchmetrics' (the reference it replaced), ties and all."""
    torch = pytest.importorskip("torch")
    classification = pytest.importorskip("torchmetrics.functional.classification")
    rng = np.random.default_rng(7)
    probs = np.round(rng.random((200, 5)), 2).astype(np.float32)  # rounding makes ties
    targets = (rng.random((200, 5)) < 0.3).astype(int)
    targets[:, 4] = 0  # no positives: None here, masked there
    reference = classification.multilabel_average_precision(
        torch.from_numpy(probs), torch.from_numpy(targets), num_labels=5, average=None
    ).tolist()
    ours = average_precision(probs, targets)
    assert ours[4] is None
    assert ours[:4] == pytest.approx(reference[:4], abs=1e-6)
    single = classification.binary_average_precision(
        torch.from_numpy(probs[:, 0]), torch.from_numpy(targets[:, 0])
    )
    assert average_precision(probs[:, :1], targets[:, :1])[0] == pytest.approx(float(single))
