"""Small layout helpers shared by the pages: rounded cards, page headers, stat tiles."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from gui.theme import set_muted

MARGIN = 14


class CardWidget(QFrame):
    """A rounded panel with an optional bold title; put content in `.body` (a QVBoxLayout)."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(MARGIN, MARGIN - 2, MARGIN, MARGIN)
        self.body.setSpacing(8)
        self.title_label: QLabel | None = None
        if title:
            self.title_label = QLabel(title)
            self.title_label.setObjectName("cardTitle")
            self.body.addWidget(self.title_label)


class StatTileWidget(CardWidget):
    """A big number with a caption, e.g. '320' / 'training images'."""

    def __init__(self, caption: str, tooltip: str, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.value_label = QLabel("–")
        self.value_label.setObjectName("statValue")
        caption_label = QLabel(caption)
        set_muted(caption_label)
        self.body.addWidget(self.value_label)
        self.body.addWidget(caption_label)
        self.setToolTip(tooltip)
        self.setMinimumWidth(130)

    def set_value(self, text: str) -> None:
        self.value_label.setText(text)


def page_header(title: str, subtitle: str) -> tuple[QWidget, QLabel]:
    """A title row; returns (widget, subtitle label) so pages can update the subtitle."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 4)
    layout.setSpacing(2)
    title_label = QLabel(title)
    title_label.setObjectName("pageTitle")
    sub = QLabel(subtitle)
    sub.setWordWrap(True)
    sub.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    set_muted(sub)
    layout.addWidget(title_label)
    layout.addWidget(sub)
    return box, sub


def hbox(*widgets: QWidget, spacing: int = 8, stretch_last: bool = False) -> QHBoxLayout:
    layout = QHBoxLayout()
    layout.setSpacing(spacing)
    for widget in widgets:
        layout.addWidget(widget)
    if not stretch_last:
        layout.addStretch(1)
    return layout


def vertical_scroll_area(content: QWidget) -> QScrollArea:
    """`content` scrolling up and down inside a card: no frame, no horizontal bar, and the
    card's own background (QScrollArea.setWidget would paint a grey box behind it)."""
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.viewport().setAutoFillBackground(False)
    content.setAutoFillBackground(False)
    return scroll
