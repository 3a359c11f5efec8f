"""Plain data types of core.data.datasets (kept apart so its helper modules can share them).

Import these from ``core.data.datasets``; this module is an implementation detail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.errors import Cancelled, DataError

if TYPE_CHECKING:  # the app's window imports these types; numpy loads with the data
    import numpy as np

__all__ = ["IMAGE_SUFFIXES", "Cancelled", "DataError"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
SPLITS = ("train", "val", "test")  # a data set's splits, in this order


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, named by file and/or CSV row."""

    severity: str  # "error" (item skipped) | "warning" (item kept)
    where: str  # e.g. "train/metadata.csv row 12" or "train/tt0123.jpg"
    message: str  # what is wrong and what to do
    label: str | None = None  # the label a coverage warning is about (redone on a new choice)

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


@dataclass
class ValidationReport:
    problems: list[Problem] = field(default_factory=list)

    def add(self, severity: str, where: str, message: str, label: str | None = None) -> None:
        self.problems.append(Problem(severity, where, message, label))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass
class LabeledImages:
    """One split: image paths and a (n_images, n_labels) 0/1 float32 matrix."""

    paths: list[Path]
    labels: np.ndarray
    label_names: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def positives(self) -> np.ndarray:
        """Positive count per label."""
        return self.labels.sum(axis=0).astype(int)

    def subset(self, indices: np.ndarray) -> LabeledImages:
        """The images at ``indices``, in that order."""
        return LabeledImages(
            [self.paths[i] for i in indices], self.labels[indices], list(self.label_names)
        )


@dataclass
class Dataset:
    train: LabeledImages
    val: LabeledImages
    test: LabeledImages | None
    label_names: list[str]
    report: ValidationReport
    source: str  # human description: path and detected format
    val_was_split: bool = False  # True when val was carved out of train
    # Every label the source holds, in its order; label_names may be a chosen subset.
    all_label_names: list[str] = field(default_factory=list)
    root: Path | None = None  # the folder or label file it was read from
    fixes_applied: int = 0  # decisions of its fix log (core.data.fixes) in force

    def __post_init__(self) -> None:
        if not self.all_label_names:
            self.all_label_names = list(self.label_names)


@dataclass
class CsvPreview:
    """What a CSV would load as, for the GUI's live preview (no image checks)."""

    columns: list[str]
    id_column: str
    mode: str  # "onehot" | "delimited"
    label_column: str | None  # the delimited-labels column, None in onehot mode
    delimiter: str | None  # None: one label per cell or list literals only
    label_names: list[str]
    rows: list[tuple[str, list[str]]]  # first rows as (image id, labels)
    n_rows: int  # usable rows in the whole file
    problems: list[Problem]
