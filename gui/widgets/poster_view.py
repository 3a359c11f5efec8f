"""A poster shown as large as its box allows, aspect kept, with a caption under it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.theme import set_muted

MINIMUM = QSize(220, 300)


class PosterWidget(QWidget):
    """`set_image(None)` shows "Loading…"; a null QImage says the file cannot be shown."""

    def __init__(self, minimum: QSize = MINIMUM, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.view = QLabel("Loading…")
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setMinimumSize(minimum)
        # Ignored: the pixmap never asks the layout for more room than the box has.
        self.view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        set_muted(self.view)
        self.caption = QLabel("")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)
        box.addWidget(self.view, 1)
        box.addWidget(self.caption)

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self._rescale()

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)
        self.caption.setVisible(bool(text))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._image is None or self._image.isNull():
            self.view.setPixmap(QPixmap())
            self.view.setText("Loading…" if self._image is None else "No preview")
            return
        size = self.view.size()
        pixmap = QPixmap.fromImage(self._image).scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.view.setPixmap(pixmap)
