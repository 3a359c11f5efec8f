"""A scrollable grid of equal-width cards that re-flows its columns with the width."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QScrollArea, QWidget

SPACING = 14


class CardFlowWidget(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._container = QWidget()
        self._container.setObjectName("cardFlow")
        self._grid = QGridLayout(self._container)
        self._grid.setContentsMargins(SPACING, SPACING, SPACING, SPACING)
        self._grid.setSpacing(SPACING)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setWidget(self._container)
        self._cards: list[QWidget] = []
        self._columns = 0
        self._stretch_row = 0  # an empty row below the cards soaks up spare height

    def cards(self) -> list[QWidget]:
        return list(self._cards)

    def add_card(self, card: QWidget) -> None:
        self._cards.append(card)
        self._reflow(force=False)
        self._place(len(self._cards) - 1, self._columns)

    def clear(self) -> None:
        for card in self._cards:
            self._grid.removeWidget(card)
            card.deleteLater()
        self._cards.clear()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._reflow(force=False)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._reflow(force=True)

    def _reflow(self, force: bool) -> None:
        """Recompute the column count from the viewport width; re-place cards if it changed."""
        card_w = max((c.minimumWidth() for c in self._cards[:1]), default=0) or 420
        available = self.viewport().width() - 2 * SPACING
        columns = max(1, (available + SPACING) // (card_w + SPACING))
        if columns != self._columns or force:
            for column in range(max(columns, self._columns)):
                self._grid.setColumnStretch(column, 1 if column < columns else 0)
            self._columns = columns
            for index in range(len(self._cards)):
                self._place(index, columns)

    def _place(self, index: int, columns: int) -> None:
        card = self._cards[index]
        self._grid.removeWidget(card)  # re-adding in place would warn "already in a layout"
        self._grid.addWidget(card, index // columns, index % columns)
        self._set_stretch_row((len(self._cards) - 1) // columns + 1)

    def _set_stretch_row(self, row: int) -> None:
        if row != self._stretch_row:
            self._grid.setRowStretch(self._stretch_row, 0)
            self._stretch_row = row
        self._grid.setRowStretch(row, 1)
