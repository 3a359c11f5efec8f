"""core.training.metrics: PR curves, confusion counts and most confident errors per label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.training.metrics import (
    average_precision,
    label_reports,
    precision_recall_curve,
    reports_to_json,
)

PROBS = np.array(
    [
        [0.9, 0.1],
        [0.8, 0.7],
        [0.6, 0.4],
        [0.4, 0.9],
        [0.3, 0.2],
        [0.1, 0.6],
    ]
)
TARGETS = np.array([[1, 0], [0, 1], [1, 0], [1, 1], [0, 0], [0, 0]])
FILES = [f"img{i}.jpg" for i in range(6)]


def test_pr_curve_points_by_hand() -> None:
    curve = precision_recall_curve(PROBS[:, 0], TARGETS[:, 0])
    got = [(p.threshold, round(p.precision, 4), round(p.recall, 4)) for p in curve]
    assert got == [
        (0.9, 1.0, 0.3333),  # img0 (positive)
        (0.8, 0.5, 0.3333),  # + img1 (negative)
        (0.6, 0.6667, 0.6667),  # + img2 (positive)
        (0.4, 0.75, 1.0),  # + img3 (positive)
        (0.3, 0.6, 1.0),
        (0.1, 0.5, 1.0),
    ]


def test_pr_curve_ties_are_one_point_and_match_compute_at_threshold() -> None:
    probs = np.array([0.5, 0.5, 0.5, 0.2])
    curve = precision_recall_curve(probs, np.array([1, 0, 1, 0]))
    assert [p.threshold for p in curve] == [0.5, 0.2]
    assert curve[0].precision == pytest.approx(2 / 3) and curve[0].recall == 1.0


def test_pr_curve_is_capped_and_keeps_both_ends() -> None:
    rng = np.random.default_rng(0)
    probs, targets = rng.random(5000), rng.random(5000) < 0.3
    curve = precision_recall_curve(probs, targets, max_points=50)
    assert len(curve) <= 50
    assert curve[0].threshold == probs.max() and curve[-1].threshold == probs.min()
    assert curve[-1].recall == 1.0
    thresholds = [p.threshold for p in curve]
    assert thresholds == sorted(thresholds, reverse=True)
    # The area under the thinned curve still agrees with the exact AP.
    recall = np.array([0.0] + [p.recall for p in curve])
    precision = np.array([p.precision for p in curve])
    area = float(np.sum(np.diff(recall) * precision))
    exact = average_precision(probs[:, None], targets[:, None].astype(int))[0]
    assert area == pytest.approx(exact, abs=0.02)


def test_no_positives_gives_an_empty_curve() -> None:
    assert precision_recall_curve(np.array([0.2, 0.9]), np.array([0, 0])) == []


def test_confusion_counts_and_worst_errors_at_per_label_thresholds() -> None:
    first, second = label_reports(PROBS, TARGETS, ["A", "B"], [0.5, 0.65], FILES, top_k=2)
    # A at 0.5: predicted img0, img1, img2; positives img0, img2, img3.
    assert (first.tp, first.fp, first.fn, first.tn) == (2, 1, 1, 2)
    assert first.threshold == 0.5 and first.support == 3
    assert [(e.source, e.probability) for e in first.false_positives] == [("img1.jpg", 0.8)]
    assert [(e.source, e.probability) for e in first.false_negatives] == [("img3.jpg", 0.4)]
    # B at 0.65: predicted img1, img3 (both positive); img5 (0.6) is the nearest miss.
    assert (second.tp, second.fp, second.fn, second.tn) == (2, 0, 0, 4)
    assert second.false_positives == () and second.false_negatives == ()
    assert second.tp + second.fp + second.fn + second.tn == len(FILES)


def test_false_positives_are_sorted_most_confident_first_and_capped() -> None:
    probs = np.array([[0.55], [0.95], [0.75], [0.85], [0.1]])
    targets = np.zeros((5, 1))
    (report,) = label_reports(probs, targets, ["A"], 0.5, FILES[:5], top_k=3)
    assert [e.probability for e in report.false_positives] == [0.95, 0.85, 0.75]
    assert report.curve == () and report.ap is None


def test_reports_to_json_is_plain_json() -> None:
    document = reports_to_json(label_reports(PROBS, TARGETS, ["A", "B"], 0.5, FILES))
    text = json.dumps(document, allow_nan=False)
    first = json.loads(text)[0]
    assert first["confusion"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    assert first["pr_curve"][0] == {"threshold": 0.9, "precision": 1.0, "recall": 1 / 3}
    assert first["false_positives"] == [{"file": "img1.jpg", "probability": 0.8}]


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="line up"):
        label_reports(PROBS, TARGETS, ["A", "B"], 0.5, FILES[:3])


def test_evaluate_json_has_curves_confusion_and_errors(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path
) -> None:
    from core.cli.main import main

    assert main(["evaluate", str(model_path), "--data", str(data_dir), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    reports = document["label_reports"]
    assert [r["name"] for r in reports] == ["Action", "Romance", "Crime"]
    for report, row in zip(reports, document["per_label"], strict=True):
        counts = report["confusion"]
        assert sum(counts.values()) == document["images"]
        assert counts["tp"] + counts["fn"] == row["support"]
        assert report["threshold"] == row["threshold"]
        assert report["pr_curve"] and report["pr_curve"][-1]["recall"] == 1.0
        for error in report["false_positives"] + report["false_negatives"]:
            assert Path(error["file"]).is_file()


def test_a_single_label_gets_an_average_precision() -> None:
    (ap,) = average_precision(np.array([[0.9], [0.2], [0.6]]), np.array([[1], [0], [0]]))
    assert ap == pytest.approx(1.0)
