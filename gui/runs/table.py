"""The runs as a table: one row a run (the live training pinned on top), sortable, filterable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
SWATCH_ROLE = Qt.ItemDataRole.UserRole + 1  # the colour name of a compared run's curves, or ""


@dataclass(frozen=True)
class RunRow:
    """What the table shows of one run (a stored one, or the training running now)."""

    run_id: str  # "" for the live training until it is stored
    started: str  # ISO time: sorts as text
    dataset: str
    backbone: str
    strategy: str
    epochs: int | None
    image_size: int | None
    map: float | None
    f1: float | None
    seconds: float | None
    disk_bytes: int | None
    starred: bool = False
    status: str = "finished"
    has_model: bool = True
    origin: str = ""
    epochs_total: int | None = None  # the live row: epochs planned

    @property
    def live(self) -> bool:
        return self.status == "running"

    @property
    def date_text(self) -> str:
        text = local_time(self.started)
        return f"running… {text[11:]}" if self.live else text

    @property
    def epochs_text(self) -> str:
        if self.live and self.epochs_total:
            return f"{self.epochs or 0}/{self.epochs_total}"
        return "–" if self.epochs is None else str(self.epochs)


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Any], str]
    key: Callable[[Any], Any]  # what sorting compares
    tip: str


def local_time(iso: str) -> str:
    """An ISO time (UTC in run records) as local "YYYY-MM-DD HH:MM"."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:16]
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "–"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _size(n_bytes: int | None) -> str:
    if not n_bytes:
        return "–"
    return f"{n_bytes / 1e6:.0f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.0f} kB"


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("-inf")


COLUMNS = (
    Column("", lambda r: "", lambda r: 0, "Colour of this run's curves when selected"),
    Column("Date", lambda r: r.date_text, lambda r: r.started, "When the run started"),
    Column("Data set", lambda r: r.dataset, lambda r: r.dataset.lower(), "What it trained on"),
    Column("Backbone", lambda r: r.backbone, lambda r: r.backbone, "The pretrained network"),
    Column("Strategy", lambda r: r.strategy, lambda r: r.strategy, "How the backbone trained"),
    Column("Epochs", lambda r: r.epochs_text, lambda r: _num(r.epochs), "Epochs run"),
    Column("Size", lambda r: f"{r.image_size}px", lambda r: _num(r.image_size), "Image size"),
    Column("mAP", lambda r: _score(r.map), lambda r: _num(r.map), "Validation mAP"),
    Column("F1", lambda r: _score(r.f1), lambda r: _num(r.f1), "Validation F1 (macro, tuned)"),
    Column("Time", lambda r: _duration(r.seconds), lambda r: _num(r.seconds), "Wall time"),
    Column("Disk", lambda r: _size(r.disk_bytes), lambda r: _num(r.disk_bytes), "Space on disk"),
    Column("★", lambda r: "★" if r.starred else "", lambda r: r.starred, "Starred: always kept"),
)
SWATCH_COLUMN = 0
STAR_COLUMN = len(COLUMNS) - 1


class RunsTableModel(QAbstractTableModel):
    """Stored runs, newest first as given, with the live training (if any) as row 0."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._stored: list[RunRow] = []
        self._live: RunRow | None = None
        self._swatches: dict[str, str] = {}  # run id -> colour of its curves
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)

    # ------------------------------------------------------------------ contents
    def set_rows(self, rows: list[RunRow]) -> None:
        """Replace the stored runs (kept in the current sort order)."""
        self.beginResetModel()
        self._stored = self._sorted(rows)
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the stored runs by a column; the live row stays on top. Selections and
        other persistent indexes follow their runs."""
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        ids = [self.row(index.row()).run_id for index in old]
        self._stored = self._sorted(self._stored)
        rows = {row.run_id: n for n, row in enumerate(self.rows())}
        new = [
            self.index(rows.get(run_id, 0), index.column())
            for run_id, index in zip(ids, old, strict=True)
        ]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _sorted(self, rows: list[RunRow]) -> list[RunRow]:
        column, order = self._sort
        if not 0 <= column < len(COLUMNS):
            return list(rows)
        key = COLUMNS[column].key
        return sorted(
            rows, key=lambda r: (key(r), r.started), reverse=order == Qt.SortOrder.DescendingOrder
        )

    def set_live(self, live: RunRow | None) -> None:
        """Show, update or remove the running training's row (always row 0)."""
        if live is None and self._live is not None:
            self.beginRemoveRows(QModelIndex(), 0, 0)
            self._live = None
            self.endRemoveRows()
        elif live is not None and self._live is None:
            self.beginInsertRows(QModelIndex(), 0, 0)
            self._live = live
            self.endInsertRows()
        elif live is not None:
            self._live = live
            self.dataChanged.emit(self.index(0, 0), self.index(0, len(COLUMNS) - 1))

    def set_swatches(self, colours: dict[str, str]) -> None:
        if colours == self._swatches:
            return  # (a repaint changes nothing, and the proxy would filter again)
        self._swatches = dict(colours)
        if self.rowCount():
            last = self.rowCount() - 1
            first, last_index = self.index(0, SWATCH_COLUMN), self.index(last, SWATCH_COLUMN)
            self.dataChanged.emit(first, last_index, [SWATCH_ROLE])

    def rows(self) -> list[RunRow]:
        return ([self._live] if self._live else []) + self._stored

    def row(self, index: int) -> RunRow:
        if self._live is not None:
            return self._live if index == 0 else self._stored[index - 1]
        return self._stored[index]

    def stored_rows(self) -> list[RunRow]:
        return list(self._stored)

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._stored) + (self._live is not None)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tip
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self.row(index.row()), COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == SWATCH_ROLE:
            return self._swatches.get(row.run_id, "")
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.run_id or 'the training running now'} · {row.status}"
        if role == Qt.ItemDataRole.FontRole and row.status != "finished":
            font = QFont()  # running: bold; stopped or failed: italic (the tooltip says which)
            font.setBold(row.live)
            font.setItalic(not row.live)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 5:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RunsFilterProxy(QSortFilterProxyModel):
    """Keeps the rows whose text holds every word typed, in the source model's order
    (which the model sorts itself; see `sort`)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self.setDynamicSortFilter(True)  # filters again when rows change; sorting is the model's

    def set_filter_text(self, text: str) -> None:
        self.beginFilterChange()
        self._words = text.lower().split()
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if not self._words or not isinstance(model, RunsTableModel):
            return True
        row = model.row(source_row)
        if row.live:
            return True
        haystack = " ".join(
            [row.run_id, row.started, row.dataset, row.backbone, row.strategy, row.status]
            + (["starred", "★"] if row.starred else [])
        ).lower()
        return all(word in haystack for word in self._words)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts its own list (a Python sort of 1,000 rows takes about a
        millisecond; Qt calling a Python lessThan ~10,000 times took a second or more)."""
        model = self.sourceModel()
        if isinstance(model, RunsTableModel):
            model.sort(column, order)


class SwatchDelegate(QStyledItemDelegate):
    """A selected run's curve colour as a dot with a ring, readable on a selected row too."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        name = index.data(SWATCH_ROLE)  # a string, never None (see the model's data)
        super().paint(painter, option, index)  # background and selection
        if not name:
            return
        colour = QColor(name)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.setBrush(colour)
        radius = min(option.rect.height(), option.rect.width()) * 0.3
        painter.drawEllipse(QRectF(option.rect).center(), radius, radius)
        painter.restore()
