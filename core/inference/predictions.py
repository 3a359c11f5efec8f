"""One prediction state for every front end: the inputs, their results and the thresholds.

The CLI, the desktop app and the server all fill a `PredictionSet` with the `Prediction`s a
`Predictor` returns, choose thresholds on it, and read the predicted labels, rows, CSV
and JSON from it. "probability >= threshold" is computed here and nowhere else.

A set belongs to one model at a time. `set_model` bumps `generation` and forgets every
result, so results computed with an older model (a run still in flight) can be recognised
and dropped by `record`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.base.errors import UsageError
from core.base.files import write_text

ThresholdMode = Literal["global", "tuned", "custom"]
CSV_LABEL_SEPARATOR = "|"  # the separator Marquee's CSV reader detects for label lists
DEFAULT_THRESHOLD = 0.5
NOT_A_NUMBER = "the model gave NaN instead of probabilities (the model file may be damaged)"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Prediction:
    """One image's result: probabilities per label, or the reason it could not be read."""

    source: str
    probabilities: np.ndarray | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.probabilities is not None


class PredictionSet:
    """Inputs in the order they were added, with a result or an error per input."""

    def __init__(
        self,
        label_names: Sequence[str] = (),
        tuned: Sequence[float] | None = None,
    ) -> None:
        self.generation = 0
        self.sources: list[str] = []
        self._row_of: dict[str, int] = {}
        self._errors: list[str | None] = []
        self._probs = np.zeros((0, 0), dtype=np.float32)
        self.mode: ThresholdMode = "global"
        self._global = DEFAULT_THRESHOLD
        self._custom: np.ndarray | None = None
        self._reset_model(label_names, tuned)

    # ------------------------------------------------------------------ the model
    def set_model(self, label_names: Sequence[str], tuned: Sequence[float] | None = None) -> int:
        """Switch to another model: results are forgotten (rows stay, pending); new generation."""
        self._reset_model(label_names, tuned)
        self.generation += 1
        return self.generation

    def _reset_model(self, label_names: Sequence[str], tuned: Sequence[float] | None) -> None:
        self.label_names = list(label_names)
        n = len(self.label_names)
        self.tuned = np.asarray(tuned if tuned is not None else [DEFAULT_THRESHOLD] * n, float)
        if self.tuned.shape != (n,):
            raise ValueError("tuned thresholds must have one value per label")
        self._custom = None
        if self.mode == "custom":
            self.mode = "global"
        self._probs = np.full((len(self.sources), n), np.nan, dtype=np.float32)
        self._errors = [None] * len(self.sources)

    # ------------------------------------------------------------------ inputs and results
    def __len__(self) -> int:
        return len(self.sources)

    def add(self, sources: Iterable[str | Path]) -> range:
        """Append inputs not already in the set; returns the new rows."""
        first = len(self.sources)
        for source in map(str, sources):
            if source not in self._row_of:
                self._row_of[source] = len(self.sources)
                self.sources.append(source)
                self._errors.append(None)
        added = len(self.sources) - first
        if added:
            pad = np.full((added, len(self.label_names)), np.nan, dtype=np.float32)
            self._probs = np.concatenate([self._probs, pad])
        return range(first, len(self.sources))

    def record(self, predictions: Iterable[Prediction], generation: int | None = None) -> list[int]:
        """Store results (adding unknown sources); returns the rows that changed.

        Results for another generation (an older model) are dropped: returns [].
        """
        if generation is not None and generation != self.generation:
            return []
        predictions = list(predictions)
        self.add(p.source for p in predictions)
        rows = []
        for prediction in predictions:
            row = self._row_of[prediction.source]
            values = self._checked(prediction.probabilities)
            if values is None:
                self._probs[row] = np.nan
                self._errors[row] = prediction.error or "could not be predicted"
            elif not np.isfinite(values).all():  # a broken model: never a silent null
                self._probs[row] = np.nan
                self._errors[row] = f"{prediction.source}: {NOT_A_NUMBER}"
            else:
                self._probs[row] = values
                self._errors[row] = None
            rows.append(row)
        return rows

    def _checked(self, probabilities: np.ndarray | None) -> np.ndarray | None:
        if probabilities is None:
            return None
        values = np.asarray(probabilities, dtype=np.float32)
        if values.shape != (len(self.label_names),):
            raise ValueError(
                f"a prediction has {values.size} values for {len(self.label_names)} labels"
            )
        return values

    def clear(self) -> None:
        """Forget every input (the model and thresholds stay)."""
        self.sources, self._row_of, self._errors = [], {}, []
        self._probs = np.zeros((0, len(self.label_names)), dtype=np.float32)

    def row_of(self, source: str | Path) -> int | None:
        return self._row_of.get(str(source))

    def probabilities(self, row: int) -> np.ndarray | None:
        values = self._probs[row]
        return None if np.isnan(values).any() or not values.size else values

    def error(self, row: int) -> str | None:
        return self._errors[row]

    def is_done(self, row: int) -> bool:
        return self._errors[row] is not None or self.probabilities(row) is not None

    def pending(self) -> list[str]:
        """Inputs with neither a result nor an error, in order."""
        return [s for row, s in enumerate(self.sources) if not self.is_done(row)]

    def done_count(self) -> int:
        return sum(self.is_done(row) for row in range(len(self.sources)))

    def any_done(self) -> bool:
        """Whether some input has a result or an error (stops at the first)."""
        return any(self.is_done(row) for row in range(len(self.sources)))

    # ------------------------------------------------------------------ thresholds
    @property
    def thresholds(self) -> np.ndarray:
        """The threshold per label in the current mode."""
        if self.mode == "tuned":
            return self.tuned.copy()
        if self.mode == "custom" and self._custom is not None:
            return self._custom.copy()
        return np.full(len(self.label_names), self._global)

    def use_global(self, value: float, what: str = "the threshold") -> None:
        self._global = _checked_threshold(value, what)
        self.mode = "global"

    def use_tuned(self) -> None:
        self.mode = "tuned"

    def use_custom(self, values: Mapping[str, float] | Sequence[float]) -> None:
        """Per-label thresholds: a full sequence, or a mapping for some labels (the rest keep
        the current thresholds)."""
        current = self.thresholds
        if isinstance(values, Mapping):
            for name, value in values.items():
                if name not in self.label_names:
                    raise UsageError(
                        f"'{name}' is not one of the model's labels: {', '.join(self.label_names)}"
                    )
                what = f"the threshold for {name}"
                current[self.label_names.index(name)] = _checked_threshold(value, what)
        else:
            if len(values) != len(self.label_names):
                raise UsageError(f"give {len(self.label_names)} thresholds, one per label")
            current = np.array([_checked_threshold(v, "a threshold") for v in values])
        self._custom = current
        self.mode = "custom"

    # ------------------------------------------------------------------ what is predicted
    def predicted(self) -> np.ndarray:
        """Boolean matrix (rows x labels): probability >= threshold. The one place it is decided."""
        with np.errstate(invalid="ignore"):
            return self._probs >= self.thresholds  # NaN (no result) compares False

    def predicted_labels(self, row: int) -> list[str]:
        with np.errstate(invalid="ignore"):
            hits = self._probs[row] >= self.thresholds  # the rule of predicted(), one row
        return [name for name, hit in zip(self.label_names, hits, strict=True) if hit]

    def all_predicted_labels(self) -> list[list[str]]:
        matrix = self.predicted()
        return [
            [n for n, hit in zip(self.label_names, hits, strict=True) if hit] for hits in matrix
        ]

    # ------------------------------------------------------------------ export
    def rows(self) -> list[dict[str, Any]]:
        """One dict per input: file, probabilities (by label) or None, labels, error."""
        labels = self.all_predicted_labels()
        out = []
        for row, source in enumerate(self.sources):
            probs = self.probabilities(row)
            out.append(
                {
                    "file": source,
                    "probabilities": None
                    if probs is None
                    else {
                        n: round(float(p), 4) for n, p in zip(self.label_names, probs, strict=True)
                    },
                    "labels": labels[row] if probs is not None else [],
                    "error": self._errors[row],
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """The document behind `--json`, the server and any script."""
        return {
            "labels": list(self.label_names),
            "threshold_mode": self.mode,
            "thresholds": {
                n: float(t) for n, t in zip(self.label_names, self.thresholds, strict=True)
            },
            "predictions": self.rows(),
        }

    def csv_header(self) -> list[str]:
        return [csv_cell(c) for c in ("file", *self.label_names, "predicted", "error")]

    def csv_rows(self) -> list[list[str]]:
        rows = []
        for item in self.rows():
            probs = item["probabilities"] or {}
            values = [f"{probs[n]:.4f}" if probs else "" for n in self.label_names]
            predicted = CSV_LABEL_SEPARATOR.join(item["labels"])
            texts = [item["file"], predicted, item["error"] or ""]
            file, predicted, error = (csv_cell(text) for text in texts)
            rows.append([file, *values, predicted, error])
        return rows

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.csv_header())
        writer.writerows(self.csv_rows())
        return buffer.getvalue()

    def write_csv(self, path: str | Path) -> int:
        """Write every input as one CSV row, atomically; returns the number of rows."""
        write_text(Path(path), self.to_csv(), "the CSV")
        return len(self.sources)


def csv_cell(text: str) -> str:
    """`text` safe for a spreadsheet: a leading ' keeps =, +, -, @, tab or CR from being run."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _checked_threshold(value: float | str, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{what} must be a number, got {value!r}") from exc
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise UsageError(f"{what} must be between 0 and 1, got {value}")
    return number


def parse_label_thresholds(text: str) -> dict[str, float]:
    """'Action=0.4,Crime:0.6' -> {"Action": 0.4, "Crime": 0.6} (either '=' or ':')."""
    result: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.replace(":", "=", 1).partition("=")
        if not sep or not name.strip():
            raise UsageError(f"'{part}' is not LABEL=THRESHOLD (for example Action=0.4)")
        result[name.strip()] = _checked_threshold(
            value.strip(), f"the threshold for {name.strip()}"
        )
    if not result:
        raise UsageError("no thresholds given (for example Action=0.4,Crime=0.6)")
    return result
