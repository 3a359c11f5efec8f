"""The strays tab: images far from all others (blank frames, wrong files), strangest first,
each with a thumbnail; Drop (D) / Keep (K)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.health.decisions import drop_stray, keep_stray
from core.health.report import Outlier
from gui.health.issue_review import SPLIT_NAMES
from gui.health.review_list import ReviewWidget, heading_labels, poster_beside
from gui.theme import set_muted
from gui.widgets.poster_view import PosterWidget
from gui.workers import ThumbnailWorker

KEYS_HINT = "D drop · K keep · ↑ ↓ move · Ctrl+Z undo"
ICON = QSize(44, 60)


class StraysWidget(ReviewWidget[Outlier]):
    def __init__(self, thumbnails: ThumbnailWorker, parent: QWidget | None = None) -> None:
        super().__init__(thumbnails, "No strays left to review.", parent)
        self.list.setIconSize(ICON)
        self.poster = PosterWidget()
        self.title, self.where = heading_labels()
        self.explain = QLabel(
            "Far from every other image in the data set: a wrong file, a blank frame, or "
            "something that is not a poster. Drop it from training, or keep it."
        )
        self.explain.setWordWrap(True)
        self.drop_button = self.button(
            "Drop from the data set  (D)", "Leave this image out (undo: Ctrl+Z)", self.drop, True
        )
        self.keep_button = self.button("Keep  (K)", "It belongs; do not show it again", self.keep)
        hint = QLabel(KEYS_HINT)
        set_muted(hint)
        info = QVBoxLayout()
        info.setSpacing(10)
        for widget in (self.title, self.where, self.explain, self.drop_button, self.keep_button):
            info.addWidget(widget)
        self.detail_box.addLayout(poster_beside(self.poster, info, hint), 1)
        self.add_key("D", self.drop)
        self.add_key("Delete", self.drop)
        self.add_key("K", self.keep)

    def drop(self) -> None:
        self.decide(drop_stray)

    def keep(self) -> None:
        self.decide(keep_stray)

    def set_items(self, items: list, folder: Path, focus: str | None = None) -> None:
        super().set_items(items, folder, focus)
        for row, item in enumerate(self.items):  # thumbnails: asked for now, shown as they come
            image = self.image(item.file)
            if image is not None:
                self._set_icon(row, image)

    def _set_icon(self, row: int, image: QImage) -> None:
        if not image.isNull():
            self.list.item(row).setIcon(
                QIcon(QPixmap.fromImage(image.scaled(ICON, Qt.AspectRatioMode.KeepAspectRatio)))
            )

    def _on_thumbnails_ready(self, key: object, image: QImage) -> None:
        super()._on_thumbnails_ready(key, image)
        if isinstance(key, tuple) and len(key) == 2 and key[0] == id(self):
            for row, item in enumerate(self.items):
                if item.file == key[1]:
                    self._set_icon(row, image)

    # ------------------------------------------------------------------ ReviewWidget
    def item_text(self, item: Outlier) -> str:
        split = SPLIT_NAMES.get(item.split, item.split)
        return f"{item.file.rsplit('/', 1)[-1]}\n{split}  ·  score {item.score:.2f}"

    def files_of(self, item: Outlier) -> tuple[str, ...]:
        return (item.file,)

    def show_item(self, item: Outlier) -> None:
        self.title.setText(Path(item.file).name)
        split = SPLIT_NAMES.get(item.split, item.split)
        self.where.setText(f"{split} image · {item.file} · strangeness {item.score:.2f}")
        self.poster.set_image(self.image(item.file))
