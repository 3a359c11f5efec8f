"""One image's result: thumbnail, file name and a probability bar per label."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.theme import set_muted
from gui.widgets.probability_bars import ProbabilityBarsWidget

CARD_MIN_WIDTH, CARD_MAX_WIDTH = 400, 580  # cards widen to fill the row, up to a point
THUMB_W, THUMB_H = 104, 148


class PredictionCardWidget(QFrame):
    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.path = path
        self.error: str | None = None
        self.setMinimumWidth(CARD_MIN_WIDTH)
        self.setMaximumWidth(CARD_MAX_WIDTH)
        self.thumbnail = QLabel()
        self.thumbnail.setFixedSize(THUMB_W, THUMB_H)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name = QLabel(path.name)
        self.name.setObjectName("cardTitle")
        self.name.setToolTip(str(path))
        self.summary = QLabel("Waiting for a model…")
        self.summary.setWordWrap(True)
        set_muted(self.summary)
        self.bars = ProbabilityBarsWidget()
        self.bars.setToolTip(
            "Probability per label; the vertical mark is the threshold. "
            "Click a label to see which parts of the image raised it."
        )
        text = QVBoxLayout()
        text.setSpacing(6)
        text.addWidget(self.name)
        text.addWidget(self.summary)
        text.addWidget(self.bars)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(12)
        layout.addWidget(self.thumbnail, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)

    def set_image(self, image: QImage) -> None:
        if image.isNull():
            self.thumbnail.setText("(unreadable)")
            return
        pixmap = QPixmap.fromImage(image).scaled(
            THUMB_W,
            THUMB_H,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.thumbnail.setPixmap(pixmap)

    def set_labels(self, names: Sequence[str]) -> None:
        self.bars.set_labels(names)
        self.summary.setText("Predicting…" if names else "Waiting for a model…")

    def show_result(
        self,
        probabilities: np.ndarray | None,
        error: str | None,
        thresholds: np.ndarray,
        predicted: np.ndarray,
    ) -> None:
        """Render one row of the page's PredictionSet."""
        self.bars.show_result(probabilities, thresholds, predicted)
        self.error = error
        if error:
            self.summary.setText(error)
        elif probabilities is not None:
            names = self.bars.predicted()
            self.summary.setText(", ".join(names) if names else "No label above threshold")
        else:
            self.summary.setText("Predicting…" if len(thresholds) else "Waiting for a model…")
