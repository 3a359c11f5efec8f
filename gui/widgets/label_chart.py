"""Per-label image counts, train vs validation, as bars in a table with a tick per label.

The ticks choose the labels to train on, in the order they were ticked (a model's label
order). At least one stays ticked: unticking the last one is refused. Right-click a label
for "Train on this label only".
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.theme import ACCENT, SECOND, muted_colour, set_muted
from gui.widgets.cards import hbox

COUNT_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


class _BarDelegate(QStyledItemDelegate):
    """Paints a count as a bar scaled to the column's largest count, the number beside it."""

    def __init__(self, table: QTableWidget, colour: str) -> None:
        super().__init__(table)
        self._table = table
        self._colour = QColor(colour)
        self.top = 1

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        super().paint(painter, option, index)  # background and selection
        count = int(index.data(COUNT_ROLE) or 0)
        ticked = index.sibling(index.row(), 0).data(Qt.ItemDataRole.CheckStateRole) == (
            Qt.CheckState.Checked.value
        )
        rect = option.rect.adjusted(4, 0, -4, 0)
        digits = option.fontMetrics.horizontalAdvance(f"{max(self.top, 10)}")
        bar_space = max(rect.width() - digits - 6, 0)
        colour = QColor(self._colour)
        if not ticked:
            colour.setAlpha(70)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        height = max(6, rect.height() // 2)
        width = round(bar_space * count / max(self.top, 1))
        if count and width < 2:
            width = 2
        bar = QRect(rect.left(), rect.center().y() - height // 2 + 1, width, height)
        painter.drawRoundedRect(bar, 2, 2)
        text_colour = option.palette.text().color() if ticked else muted_colour(self._table)
        painter.setPen(text_colour)
        number = QRect(rect.left() + width + 4, rect.top(), digits + 2, rect.height())
        painter.drawText(
            number, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, str(count)
        )
        painter.restore()


class LabelCountsWidget(QWidget):
    choice_changed = Signal(list)  # the ticked labels, in the order ticked; never empty

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: tuple[list[int], list[int]] = ([], [])  # of the ticked labels
        self._names: list[str] = []
        self._order: list[str] = []  # the ticked labels, in the order they were ticked
        self._note = ""
        self.summary = QLabel("No data set loaded.")
        self.summary.setWordWrap(True)
        set_muted(self.summary)
        self.all_button = QPushButton("Tick all")
        self.all_button.setToolTip("Train on every label of the data set")
        self.all_button.clicked.connect(self._on_all_button_clicked)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Train on", "Training", "Validation"])
        for column, split in ((1, "Training"), (2, "Validation")):
            header_item = self.table.horizontalHeaderItem(column)
            assert header_item is not None  # made by setHorizontalHeaderLabels
            header_item.setToolTip(f"{split} images with the label")
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self._bars = (_BarDelegate(self.table, ACCENT), _BarDelegate(self.table, SECOND))
        self.table.setItemDelegateForColumn(1, self._bars[0])
        self.table.setItemDelegateForColumn(2, self._bars[1])
        self.table.itemChanged.connect(self._on_table_item_changed)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        row = hbox(self.summary, self.all_button, stretch_last=True)
        row.setStretch(0, 1)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)

    # ------------------------------------------------------------------ public
    def set_counts(
        self,
        names: Sequence[str],
        train: Sequence[int],
        val: Sequence[int],
        chosen: Sequence[str] | None = None,
    ) -> None:
        """Show every label of the data set; tick `chosen` (default: all), in that order."""
        self._names = list(names)
        self._order = [n for n in dict.fromkeys(self._names if chosen is None else chosen)]
        self._order = [n for n in self._order if n in self._names]
        self._bars[0].top, self._bars[1].top = max([*train, 1]), max([*val, 1])
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._names))
        for r, (name, n_train, n_val) in enumerate(zip(self._names, train, val, strict=True)):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            tip = f"{name}: {n_train} training and {n_val} validation images"
            item.setToolTip(f"{tip}\nTick to train on this label; right-click for more.")
            self.table.setItem(r, 0, item)
            for c, count in ((1, n_train), (2, n_val)):
                bar = QTableWidgetItem()
                bar.setData(COUNT_ROLE, int(count))
                bar.setToolTip(tip)
                self.table.setItem(r, c, bar)
        self.table.blockSignals(False)
        self._sync_ticks()
        # The check boxes come after the items: measure the names again with them, or a
        # second data set (fixes applied) keeps the first one's too narrow column.
        self.table.resizeColumnToContents(0)

    def chosen(self) -> list[str]:
        """The ticked labels, in the order they were ticked."""
        return list(self._order)

    def set_chosen(self, names: Sequence[str], emit: bool = False) -> None:
        order = [n for n in dict.fromkeys(names) if n in self._names]
        if not order:
            return
        self._order = order
        self._sync_ticks()
        if emit:
            self.choice_changed.emit(self.chosen())

    def set_note(self, note: str) -> None:
        """A second line under the "Training on N of M labels" summary."""
        self._note = note
        self._sync_ticks()

    def set_item_checked(self, name: str, checked: bool) -> None:
        """Tick or untick one label as a click on its box would."""
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self._cell(self._names.index(name), 0).setCheckState(state)

    # ------------------------------------------------------------------ behaviour
    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        name = self._names[item.row()]
        if item.checkState() == Qt.CheckState.Checked:
            self._order = [*[n for n in self._order if n != name], name]
        elif self._order == [name]:  # keep one: a model needs at least one label
            self._sync_ticks()
            self.summary.setText("At least one label stays ticked.")
            return
        else:
            self._order = [n for n in self._order if n != name]
        self._sync_ticks()
        self.choice_changed.emit(self.chosen())

    def _on_all_button_clicked(self) -> None:
        self.set_chosen([*self._order, *self._names], emit=True)

    def _on_table_context_menu(self, pos: QPoint) -> None:
        item = self.table.itemAt(pos)
        if item is None:
            return
        name = self._names[item.row()]
        menu = QMenu(self)
        menu.addAction(f"Train on '{name}' only", lambda: self.set_chosen([name], emit=True))
        menu.addAction("Tick all labels", lambda: self.set_chosen(self._names, emit=True))
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def _cell(self, row: int, column: int) -> QTableWidgetItem:
        item = self.table.item(row, column)
        assert item is not None  # set_counts fills every cell of every row
        return item

    def _sync_ticks(self) -> None:
        """Ticks, colours, counts and summary from `_order`."""
        muted = muted_colour(self.table)
        chosen = set(self._order)
        self.table.blockSignals(True)
        for r, name in enumerate(self._names):
            item = self._cell(r, 0)
            ticked = name in chosen
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            item.setForeground(self.palette().text() if ticked else muted)
        self.table.blockSignals(False)
        rows = [self._names.index(name) for name in self._order]
        train, val = ([int(self._cell(r, c).data(COUNT_ROLE)) for r in rows] for c in (1, 2))
        self.counts = (train, val)
        self.all_button.setEnabled(len(rows) < len(self._names))
        total = len(self._names)
        text = f"Training on {len(rows)} of {total} labels" if total else "No data set loaded."
        self.summary.setText(f"{text}\n{self._note}" if self._note and total else text)
        self.table.viewport().update()
