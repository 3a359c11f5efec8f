"""The Data page's validation report: problems found while reading, shown as they scroll in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QWidget

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.data.types import Problem

REPORT_BATCH = 200  # report lines added at a time, more as the list is scrolled to its end


class ProblemReportWidget(QListWidget):
    """One line per problem (file name or CSV row and what is wrong), added in batches: a
    20,000-image folder may have thousands."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("Problems found while reading the data: file names and CSV rows")
        self.setWordWrap(True)
        self.setMinimumHeight(90)
        self._unshown: list[Problem] = []  # the rest of a long report, added on scrolling
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)

    def show_problems(self, dataset: Dataset) -> None:
        self.clear()
        if not dataset.report.problems:
            icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
            self.addItem(QListWidgetItem(icon, "No problems found."))
        self._unshown = list(dataset.report.problems)
        self._add_lines()

    def _add_lines(self) -> None:
        """The next batch of problems, then a "more below" line while some are left."""
        batch = self._unshown[:REPORT_BATCH]
        del self._unshown[:REPORT_BATCH]
        if self.count() and self.item(self.count() - 1).data(Qt.ItemDataRole.UserRole):
            self.takeItem(self.count() - 1)  # the old "more below" line
        style = self.style()
        for problem in batch:
            pixmap = (
                QStyle.StandardPixmap.SP_MessageBoxCritical
                if problem.severity == "error"
                else QStyle.StandardPixmap.SP_MessageBoxWarning
            )
            item = QListWidgetItem(
                style.standardIcon(pixmap), f"{problem.where}: {problem.message}"
            )
            item.setToolTip(str(problem))
            self.addItem(item)
        if self._unshown:
            more = QListWidgetItem(f"… {len(self._unshown)} more (scroll down)")
            more.setData(Qt.ItemDataRole.UserRole, True)
            self.addItem(more)

    def _on_scrolled(self, value: int) -> None:
        if self._unshown and value >= self.verticalScrollBar().maximum():
            self._add_lines()
