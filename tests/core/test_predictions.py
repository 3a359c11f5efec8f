"""PredictionSet: the one place thresholds turn probabilities into labels."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from core.base.errors import OutputError, UsageError
from core.inference.predictions import Prediction, PredictionSet, parse_label_thresholds

LABELS = ["Action", "Romance", "Crime"]
TUNED = [0.3, 0.6, 0.9]


def filled() -> PredictionSet:
    predictions = PredictionSet(LABELS, TUNED)
    predictions.add(["a.jpg", "b.jpg", "c.jpg"])
    predictions.record(
        [
            Prediction("a.jpg", np.array([0.2, 0.5, 0.8])),
            Prediction("b.jpg", None, "b.jpg: cannot read this image (truncated)"),
            Prediction("c.jpg", np.array([0.95, 0.7, 0.1])),
        ]
    )
    return predictions


def test_global_tuned_and_custom_thresholds_decide_the_labels() -> None:
    predictions = filled()
    assert predictions.mode == "global"
    assert predictions.all_predicted_labels() == [["Romance", "Crime"], [], ["Action", "Romance"]]
    predictions.use_tuned()
    np.testing.assert_allclose(predictions.thresholds, TUNED)
    assert predictions.predicted_labels(0) == []  # 0.2 < 0.3, 0.5 < 0.6, 0.8 < 0.9
    assert predictions.predicted_labels(2) == ["Action", "Romance"]
    predictions.use_custom({"Crime": 0.05})
    np.testing.assert_allclose(predictions.thresholds, [0.3, 0.6, 0.05])
    assert predictions.predicted_labels(2) == ["Action", "Romance", "Crime"]
    predictions.use_global(0.99)
    assert predictions.predicted().sum() == 0


def test_a_failed_input_is_never_predicted_even_at_threshold_zero() -> None:
    predictions = filled()
    predictions.use_global(0.0)
    assert predictions.predicted()[1].tolist() == [False, False, False]
    assert predictions.rows()[1]["probabilities"] is None
    assert "truncated" in predictions.rows()[1]["error"]


def test_pending_rows_and_incremental_adds() -> None:
    predictions = PredictionSet(LABELS)
    assert list(predictions.add(["a.jpg", "b.jpg"])) == [0, 1]
    assert list(predictions.add(["b.jpg", "c.jpg"])) == [2]  # duplicates are ignored
    predictions.record([Prediction("b.jpg", np.array([0.1, 0.2, 0.3]))])
    assert predictions.pending() == ["a.jpg", "c.jpg"]
    assert predictions.done_count() == 1


def test_a_new_model_forgets_results_and_drops_stale_ones() -> None:
    predictions = filled()
    old = predictions.generation
    new = predictions.set_model(["Drama", "Comedy"], [0.5, 0.5])
    assert new == old + 1
    assert predictions.pending() == ["a.jpg", "b.jpg", "c.jpg"]
    stale = [Prediction("a.jpg", np.array([0.9, 0.9, 0.9]))]
    assert predictions.record(stale, generation=old) == []
    assert predictions.probabilities(0) is None
    fresh = [Prediction("a.jpg", np.array([0.9, 0.1]))]
    assert predictions.record(fresh, generation=new) == [0]
    assert predictions.predicted_labels(0) == ["Drama"]


def test_a_prediction_of_the_wrong_width_is_refused() -> None:
    predictions = PredictionSet(LABELS)
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        predictions.record([Prediction("x.jpg", np.array([0.1, 0.2]))])


def test_csv_and_json_come_from_the_same_rows(tmp_path: Path) -> None:
    predictions = filled()
    predictions.use_tuned()
    out = tmp_path / "out.csv"
    assert predictions.write_csv(out) == 3
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["file", *LABELS, "predicted", "error"]
    assert rows[3] == ["c.jpg", "0.9500", "0.7000", "0.1000", "Action|Romance", ""]
    assert rows[2][1:4] == ["", "", ""] and "truncated" in rows[2][5]
    document = json.loads(json.dumps(predictions.to_json()))
    assert document["threshold_mode"] == "tuned"
    assert document["thresholds"] == dict(zip(LABELS, TUNED, strict=True))
    assert [p["labels"] for p in document["predictions"]] == [[], [], ["Action", "Romance"]]


def test_writing_over_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a folder"):
        filled().write_csv(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Action=0.4,Crime:0.6", {"Action": 0.4, "Crime": 0.6}), (" Romance = 0 ", {"Romance": 0.0})],
)
def test_parse_label_thresholds(text: str, expected: dict[str, float]) -> None:
    assert parse_label_thresholds(text) == expected


@pytest.mark.parametrize("text", ["Action", "Action=2", "Action=x", "=0.3", ""])
def test_bad_label_thresholds_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_label_thresholds(text)


def test_custom_thresholds_for_an_unknown_label_name_the_labels() -> None:
    with pytest.raises(UsageError, match="Action, Romance, Crime"):
        filled().use_custom({"Horror": 0.5})
