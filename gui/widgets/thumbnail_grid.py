"""A lazy grid of image thumbnails with captions: only the items the view paints are loaded.

The model asks the shared ThumbnailWorker for an item the first time the view wants its
icon, and shows a placeholder until the decoded QImage arrives from the worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from gui.theme import text_tint
from gui.workers import ThumbnailWorker

THUMB = 112
FETCH_BATCH = 1000  # rows the view lays out at a time; more arrive as it scrolls (fetchMore)
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class GridItem:
    path: Path
    caption: str
    tooltip: str = ""


class ThumbnailModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailWorker, placeholder: QPixmap) -> None:
        super().__init__()
        self._loader = loader
        self._placeholder = placeholder
        self._items: list[GridItem] = []
        self._shown = 0  # rows exposed to the view so far (lazy: a 20,000-image set is cheap)
        self._pixmaps: dict[int, QPixmap] = {}
        self._requested: set[int] = set()
        self._generation = 0
        loader.ready.connect(self._on_loader_ready)

    def set_items(self, items: list[GridItem]) -> None:
        if items and [i.path for i in items] == [i.path for i in self._items]:
            # Same images, new captions (another label choice): keep the loaded thumbnails.
            self._items = list(items)
            roles = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole]
            if self._shown:
                self.dataChanged.emit(self.index(0), self.index(self._shown - 1), roles)
            return
        self.beginResetModel()
        self._generation += 1
        self._loader.clear()
        self._items = list(items)
        self._shown = min(len(self._items), FETCH_BATCH)
        self._pixmaps.clear()
        self._requested.clear()
        self.endResetModel()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._shown < len(self._items)

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid():
            return
        more = min(FETCH_BATCH, len(self._items) - self._shown)
        if more > 0:
            self.beginInsertRows(QModelIndex(), self._shown, self._shown + more - 1)
            self._shown += more
            self.endInsertRows()

    def item_count(self) -> int:
        """Every item of the current set, shown yet or not."""
        return len(self._items)

    def loaded_count(self) -> int:
        return len(self._pixmaps)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._shown

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = index.row()
        item = self._items[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.caption
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.tooltip or str(item.path)
        if role == Qt.ItemDataRole.DecorationRole:
            if row not in self._pixmaps and row not in self._requested:
                self._requested.add(row)
                self._loader.request(("grid", id(self), self._generation, row), item.path)
            return self._pixmaps.get(row, self._placeholder)
        return None

    def _on_loader_ready(self, key: object, image: QImage) -> None:
        if not (isinstance(key, tuple) and key[:3] == ("grid", id(self), self._generation)):
            return
        row = key[3]
        self._pixmaps[row] = square_pixmap(image, self._placeholder)
        index = self.index(row)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def square_pixmap(image: QImage, fallback: QPixmap) -> QPixmap:
    """Centre the image on a transparent square so every grid cell lines up."""
    if image.isNull():
        return fallback
    size = fallback.width()
    canvas = QPixmap(size, size)
    canvas.fill(Qt.GlobalColor.transparent)
    scaled = QPixmap.fromImage(image).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    painter = QPainter(canvas)
    painter.drawPixmap((size - scaled.width()) // 2, (size - scaled.height()) // 2, scaled)
    painter.end()
    return canvas


class _CaptionDelegate(QStyledItemDelegate):
    """Icon on top, caption wrapped over up to two lines below (QListView would elide it)."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(THUMB + 24, THUMB + 44)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        rect = option.rect
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.highlight())
            painter.drawRoundedRect(rect.adjusted(2, 2, -2, -2), 6, 6)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap):
            painter.drawPixmap(rect.x() + (rect.width() - THUMB) // 2, rect.y() + 4, pixmap)
        text_rect = QRect(rect.x() + 4, rect.y() + THUMB + 6, rect.width() - 8, 34)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        painter.setFont(option.font)
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        painter.drawText(text_rect, flags, str(index.data(Qt.ItemDataRole.DisplayRole)))


class ThumbnailGridWidget(QListView):
    def __init__(self, loader: ThumbnailWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 28, THUMB + 48))
        self.setItemDelegate(_CaptionDelegate(self))
        self.setWordWrap(True)
        self.setSpacing(4)
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.grid_model = ThumbnailModel(loader, self._placeholder())
        self.setModel(self.grid_model)

    def _placeholder(self) -> QPixmap:
        pixmap = QPixmap(THUMB, THUMB)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(text_tint(self, 0.08)))
        painter.drawRoundedRect(8, 4, THUMB - 16, THUMB - 8, 6, 6)
        painter.end()
        return pixmap
