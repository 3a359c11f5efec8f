"""One horizontal probability bar per label, with the threshold drawn on each bar."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.theme import ACCENT, muted_colour, text_tint

ROW = 21
VALUE_W = 38


class ProbabilityBarsWidget(QWidget):
    """Draws what it is given: probabilities, thresholds and which labels are predicted.

    It never compares a probability with a threshold itself; the PredictionSet decides.
    Clicking a label's row emits `label_clicked(row)` (the Predict page explains it).
    """

    label_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._probs: np.ndarray | None = None
        self._thresholds = np.zeros(0)
        self._predicted = np.zeros(0, dtype=bool)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_labels(self, names: Sequence[str]) -> None:
        self._names = list(names)
        self._probs = None
        self._thresholds = np.full(len(names), 0.5)
        self._predicted = np.zeros(len(names), dtype=bool)
        self.updateGeometry()
        self.update()

    def show_result(
        self, probs: np.ndarray | None, thresholds: np.ndarray, predicted: np.ndarray
    ) -> None:
        self._probs = None if probs is None else np.asarray(probs, dtype=float)
        self._thresholds = np.asarray(thresholds, dtype=float)
        self._predicted = np.asarray(predicted, dtype=bool)
        self.setCursor(
            Qt.CursorShape.PointingHandCursor if probs is not None else Qt.CursorShape.ArrowCursor
        )
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        row = int(event.position().y() // ROW)
        if self._probs is not None and 0 <= row < len(self._names):
            self.label_clicked.emit(row)
            return
        super().mousePressEvent(event)

    @property
    def thresholds(self) -> np.ndarray:
        return self._thresholds.copy()

    def has_result(self) -> bool:
        return self._probs is not None

    def predicted(self) -> list[str]:
        if self._probs is None:
            return []
        return [n for n, hit in zip(self._names, self._predicted, strict=False) if hit]

    def sizeHint(self) -> QSize:
        return QSize(240, max(1, len(self._names)) * ROW)

    def minimumSizeHint(self) -> QSize:
        return QSize(180, max(1, len(self._names)) * ROW)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bold = QFont(self.font())
        bold.setBold(True)  # measure bold: predicted labels are drawn bold
        metrics = QFontMetrics(bold)
        name_w = min(120, max((metrics.horizontalAdvance(n) for n in self._names), default=0) + 10)
        bar_w = max(20, self.width() - name_w - VALUE_W)
        for row, name in enumerate(self._names):
            self._paint_row(painter, row, name, name_w, bar_w)
        painter.end()

    def _paint_row(self, p: QPainter, row: int, name: str, name_w: int, bar_w: int) -> None:
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        prob = None if self._probs is None else float(self._probs[row])
        threshold = float(self._thresholds[row]) if row < len(self._thresholds) else 0.5
        on = prob is not None and row < len(self._predicted) and bool(self._predicted[row])
        top = row * ROW
        font = QFont(self.font())
        font.setBold(on)
        p.setFont(font)
        p.setPen(text if on else muted_colour(self))
        elided = QFontMetrics(font).elidedText(name, Qt.TextElideMode.ElideRight, name_w - 6)
        p.drawText(QRectF(0, top, name_w - 6, ROW), Qt.AlignmentFlag.AlignVCenter, elided)
        track = QRectF(name_w, top + 5, bar_w, ROW - 10)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(text_tint(self, 0.1))
        p.drawRoundedRect(track, 4, 4)
        if prob is not None:
            fill = QRectF(track.x(), track.y(), max(2.0, bar_w * prob), track.height())
            p.setBrush(QColor(ACCENT) if on else text_tint(self, 0.35))
            p.drawRoundedRect(fill, 4, 4)
        x = name_w + bar_w * threshold
        p.setPen(QPen(text, 2))
        p.drawLine(int(x), top + 2, int(x), top + ROW - 2)
        value = "–" if prob is None else f"{prob:.2f}"
        p.setPen(text if on else muted_colour(self))
        p.drawText(
            QRectF(name_w + bar_w, top, VALUE_W, ROW),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            value,
        )
