"""All predictions as a table: file, a probability column per label, predicted labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

Results = dict[Path, tuple[np.ndarray | None, str | None]]


class ResultsTable(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, 2)
        self._names: list[str] = []
        self._paths: list[Path] = []
        self._results: Results = {}
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setToolTip("Every result; bold probabilities are at or above the threshold")
        self.set_labels([])

    def set_labels(self, names: Sequence[str]) -> None:
        self._names = list(names)
        self.setColumnCount(len(self._names) + 2)
        self.setHorizontalHeaderLabels(["File", *self._names, "Predicted"])
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def set_results(self, paths: Sequence[Path], results: Results, thresholds: np.ndarray) -> None:
        self._paths, self._results = list(paths), results
        self.setRowCount(len(self._paths))
        for row, path in enumerate(self._paths):
            name = QTableWidgetItem(path.name)
            name.setToolTip(str(path))
            self.setItem(row, 0, name)
            probs, error = results.get(path, (None, None))
            for col in range(len(self._names)):
                text = "" if probs is None else f"{probs[col]:.3f}"
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, col + 1, item)
            if error:
                self.setItem(row, len(self._names) + 1, QTableWidgetItem(error))
        self.update_predicted(thresholds)

    def update_predicted(self, thresholds: np.ndarray) -> None:
        last = len(self._names) + 1
        for row, path in enumerate(self._paths):
            probs, error = self._results.get(path, (None, None))
            if probs is None:
                if not error:
                    self.setItem(row, last, QTableWidgetItem("…"))
                continue
            on = probs >= thresholds
            for col in range(len(self._names)):
                item = self.item(row, col + 1)
                font = QFont(item.font())
                font.setBold(bool(on[col]))
                item.setFont(font)
            predicted = [n for n, hit in zip(self._names, on, strict=True) if hit]
            self.setItem(row, last, QTableWidgetItem(", ".join(predicted) or "—"))

    def predicted_column(self) -> list[str]:
        last = len(self._names) + 1
        return [
            self.item(r, last).text() if self.item(r, last) else "" for r in range(self.rowCount())
        ]
