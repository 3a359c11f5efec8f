"""The Data page's report: problems found while reading, filtered, shown as they scroll in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QListWidgetItem,
    QStyle,
)

from gui.widgets.thumbnail_grid import GridItem

if TYPE_CHECKING:
    from core.data.datasets import Dataset

REPORT_BATCH = 200  # report lines added at a time, more as the list is scrolled to its end


class DataReportView:
    """The Data page's report: problems found while reading, filtered, shown as they scroll in."""

    def _fill_report(self, dataset: Dataset) -> None:
        self.report.clear()
        if not dataset.report.problems:
            icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
            self.report.addItem(QListWidgetItem(icon, "No problems found."))
        self._unshown_problems = list(dataset.report.problems)
        self._add_report_lines()

    def _add_report_lines(self) -> None:
        """The next batch of problems (a 20,000-image folder may have thousands)."""
        batch = self._unshown_problems[:REPORT_BATCH]
        del self._unshown_problems[:REPORT_BATCH]
        if self.report.count() and self.report.item(self.report.count() - 1).data(
            Qt.ItemDataRole.UserRole
        ):
            self.report.takeItem(self.report.count() - 1)  # the old "more below" line
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
            self.report.addItem(item)
        if self._unshown_problems:
            more = QListWidgetItem(f"… {len(self._unshown_problems)} more (scroll down)")
            more.setData(Qt.ItemDataRole.UserRole, True)
            self.report.addItem(more)

    def _on_report_scrolled(self, value: int) -> None:
        if self._unshown_problems and value >= self.report.verticalScrollBar().maximum():
            self._add_report_lines()

    def _on_filter_changed(self, *_: object) -> None:
        if self.dataset is None:
            return
        splits = {0: ("train", "val"), 1: ("train",), 2: ("val",)}[self.split_filter.currentIndex()]
        wanted = self.label_filter.currentIndex() - 1  # -1: all labels
        items: list[GridItem] = []
        names = self.dataset.label_names
        captions: dict[bytes, str] = {}  # one caption per label combination (20,000 rows)
        for split in splits:
            part = getattr(self.dataset, split)
            split_name = "train" if split == "train" else "validation"
            for path, row in zip(part.paths, part.labels, strict=True):
                if wanted >= 0 and not row[wanted]:
                    continue
                key = row.tobytes()
                if key not in captions:
                    labels = [n for n, v in zip(names, row, strict=True) if v]
                    captions[key] = ", ".join(labels) or "(no label)"
                path = path if isinstance(path, Path) else Path(path)
                tip = f"{path.name} · {split_name}\n{captions[key]}"
                items.append(GridItem(path, captions[key], tip))
        self.grid.grid_model.set_items(items)
