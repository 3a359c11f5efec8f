"""Per-label validation metrics: AP, precision, recall, F1, support (AP 'n/a' without positives)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.training.events import LabelMetrics

COLUMNS = ("Label", "AP", "Precision", "Recall", "F1", "Support", "Threshold")


class LabelMetricsTable(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setSortingEnabled(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.setMinimumHeight(140)
        self.setToolTip(
            "Validation metrics per label, updated every epoch; after training, F1 uses each "
            "label's tuned threshold. AP is n/a for a label with no positive validation image."
        )

    def clear_rows(self) -> None:
        self.setRowCount(0)

    def set_metrics(self, rows: Sequence[LabelMetrics], tuned: bool = False) -> None:
        if not rows:
            return
        self.setRowCount(len(rows))
        for r, m in enumerate(rows):
            values = (
                m.name,
                "n/a" if m.ap is None else f"{m.ap:.3f}",
                f"{m.precision:.3f}",
                f"{m.recall:.3f}",
                f"{m.f1:.3f}",
                str(m.support),
                f"{m.threshold:.2f}" + (" (tuned)" if tuned else ""),
            )
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.setItem(r, c, item)
