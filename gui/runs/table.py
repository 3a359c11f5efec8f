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
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont

Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
LIVE_ROLE = Qt.ItemDataRole.UserRole + 2  # True on the running training's row
_ROOT = QModelIndex()


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

    # ------------------------------------------------------------------ contents
    def set_rows(self, rows: list[RunRow]) -> None:
        self.beginResetModel()
        self._stored = list(rows)
        self.endResetModel()

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
        self._swatches = dict(colours)
        if self.rowCount():
            last = self.rowCount() - 1
            self.dataChanged.emit(self.index(0, SWATCH_COLUMN), self.index(last, SWATCH_COLUMN))

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
        if role == SORT_ROLE:
            return column.key(row)
        if role == LIVE_ROLE:
            return row.live
        if role == Qt.ItemDataRole.DecorationRole and index.column() == SWATCH_COLUMN:
            colour = self._swatches.get(row.run_id)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.run_id or 'the training running now'} · {row.status}"
        if role == Qt.ItemDataRole.FontRole and row.live:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 5:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RunsFilterProxy(QSortFilterProxyModel):
    """Sorts by each column's key and keeps rows whose text holds every word typed;
    the live training stays on top whatever the sort."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

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

    def lessThan(self, left: Index, right: Index) -> bool:
        left_live, right_live = left.data(LIVE_ROLE), right.data(LIVE_ROLE)
        if left_live or right_live:  # the live row wins in either sort order
            ascending = self.sortOrder() == Qt.SortOrder.AscendingOrder
            return bool(left_live) == ascending and not (left_live and right_live)
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
