"""The Data page's image browser: a thumbnail grid of the data set, filtered by split and label."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QComboBox, QWidget

from gui.widgets.cards import CardWidget, hbox
from gui.widgets.thumbnail_grid import GridItem, ThumbnailGridWidget
from gui.workers import ThumbnailWorker

if TYPE_CHECKING:
    from core.data.datasets import Dataset

SPLITS = {0: ("train", "val"), 1: ("train",), 2: ("val",)}  # split filter index -> splits


def grid_items(dataset: Dataset, splits: tuple[str, ...], label: int | None) -> list[GridItem]:
    """The images of these splits (with this label, when given), captioned with their labels."""
    items: list[GridItem] = []
    names = dataset.label_names
    captions: dict[bytes, str] = {}  # one caption per label combination (20,000 rows)
    for split in splits:
        part = getattr(dataset, split)
        split_name = "train" if split == "train" else "validation"
        for path, row in zip(part.paths, part.labels, strict=True):
            if label is not None and not row[label]:
                continue
            key = row.tobytes()
            if key not in captions:
                labels = [n for n, v in zip(names, row, strict=True) if v]
                captions[key] = ", ".join(labels) or "(no label)"
            path = path if isinstance(path, Path) else Path(path)
            tip = f"{path.name} · {split_name}\n{captions[key]}"
            items.append(GridItem(path, captions[key], tip))
    return items


class ImageBrowserCard(CardWidget):
    """The "Images" card: split and label filters over a thumbnail grid."""

    def __init__(self, thumbnails: ThumbnailWorker, parent: QWidget | None = None) -> None:
        super().__init__("Images", parent)
        self.dataset: Dataset | None = None
        self.split_filter = QComboBox()
        self.split_filter.addItems(["Train + validation", "Train", "Validation"])
        self.split_filter.setToolTip("Which split to show")
        self.label_filter = QComboBox()
        self.label_filter.setToolTip("Show only images with this label")
        self.label_filter.setMinimumContentsLength(12)
        for combo in (self.split_filter, self.label_filter):
            combo.currentIndexChanged.connect(self._on_filter_changed)
        self.body.addLayout(hbox(self.split_filter, self.label_filter))
        self.grid = ThumbnailGridWidget(thumbnails)
        self.grid.setToolTip("Images and their labels (hover for the file name)")
        self.grid.setMinimumSize(300, 240)
        self.body.addWidget(self.grid, 1)

    def show_dataset(self, dataset: Dataset) -> None:
        """Show this data set; the label filter keeps its label while the set still has it."""
        self.dataset = dataset
        wanted = self.label_filter.currentText()
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItems(["All labels", *dataset.label_names])
        self.label_filter.setCurrentIndex(max(0, self.label_filter.findText(wanted)))
        self.label_filter.blockSignals(False)
        self._on_filter_changed()

    def _on_filter_changed(self, *_: object) -> None:
        if self.dataset is None:
            return
        splits = SPLITS[self.split_filter.currentIndex()]
        label = self.label_filter.currentIndex() - 1  # -1: all labels
        self.grid.grid_model.set_items(
            grid_items(self.dataset, splits, label if label >= 0 else None)
        )
