"""All predictions as a table: file, a probability column per label, predicted labels.

The table is a view over the page's `PredictionSet`: new rows are inserted, changed rows
and threshold changes repaint, and nothing is rebuilt when a batch arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from core.inference.predictions import PredictionSet

Index = QModelIndex | QPersistentModelIndex
NO_LABEL = "—"
PENDING = "…"


class PredictionTableModel(QAbstractTableModel):
    def __init__(self, predictions: PredictionSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._set = predictions
        self._predicted = predictions.predicted()
        self._bold = QFont()
        self._bold.setBold(True)

    # ------------------------------------------------------------------ updates from the page
    def reset(self) -> None:
        """The labels or every row changed (a new model, Clear)."""
        self.beginResetModel()
        self._predicted = self._set.predicted()
        self.endResetModel()

    def rows_added(self, rows: range) -> None:
        if not rows:
            return
        self.beginInsertRows(QModelIndex(), rows.start, rows.stop - 1)
        self._predicted = self._set.predicted()
        self.endInsertRows()

    def rows_changed(self, rows: Iterable[int]) -> None:
        rows = list(rows)
        if not rows:
            return
        self._predicted = self._set.predicted()
        last = self.columnCount() - 1
        self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), last))

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._set)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._set.label_names) + 2

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        names = ["File", *self._set.label_names, "Predicted"]
        return names[section] if section < len(names) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        n_labels = len(self._set.label_names)
        if col == 0:
            return self._file_cell(row, role)
        if col == n_labels + 1:
            return self._predicted_cell(row, role)
        return self._probability_cell(row, col - 1, role)

    def _file_cell(self, row: int, role: int) -> Any:
        source = self._set.sources[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return Path(source).name
        if role == Qt.ItemDataRole.ToolTipRole:
            return source
        return None

    def _probability_cell(self, row: int, label: int, role: int) -> Any:
        probs = self._set.probabilities(row)
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if probs is None else f"{probs[label]:.3f}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and self._is_predicted(row, label):
            return self._bold
        return None

    def _predicted_cell(self, row: int, role: int) -> Any:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        error = self._set.error(row)
        if error:
            return error
        if self._set.probabilities(row) is None:
            return PENDING
        hits = self._predicted[row] if row < len(self._predicted) else []
        names = [n for n, hit in zip(self._set.label_names, hits, strict=False) if hit]
        return ", ".join(names) or NO_LABEL

    def _is_predicted(self, row: int, label: int) -> bool:
        return row < len(self._predicted) and bool(self._predicted[row, label])


class ResultsTable(QTableView):
    def __init__(self, predictions: PredictionSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results = PredictionTableModel(predictions, self)
        self.setModel(self.results)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setToolTip("Every result; bold probabilities are at or above the threshold")
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(86)
        header.setStretchLastSection(True)
        self.results.modelReset.connect(lambda: self.setColumnWidth(0, 220))

    def predicted_column(self) -> list[str]:
        last = self.results.columnCount() - 1
        return [
            str(self.results.data(self.results.index(row, last)))
            for row in range(self.results.rowCount())
        ]
