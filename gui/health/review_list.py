"""The shape of every data-health tab: a ranked list on the left, the chosen finding on the
right with its posters and the buttons that decide it; keys do what the buttons do.

A subclass says how an item reads in the list (`item_text`), which files it shows
(`files_of`) and how its detail looks (`show_item`); deciding emits `decided(Decision)`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.theme import set_muted
from gui.workers import ThumbnailWorker

if TYPE_CHECKING:
    from core.data.fixes import Decision

Item = TypeVar("Item")  # what a tab lists: a LabelIssue, DuplicatePair or Outlier

CACHED_POSTERS = 64  # decoded posters kept per tab (about 0.5 MB each)


def heading_labels() -> tuple[QLabel, QLabel]:
    """A review's detail heading: the file's name (card title) and, muted, where it is."""
    title, where = QLabel(), QLabel()
    title.setObjectName("cardTitle")
    for label in (title, where):
        label.setWordWrap(True)
    set_muted(where)
    return title, where


def poster_beside(poster: QWidget, info: QVBoxLayout, hint: QLabel) -> QHBoxLayout:
    """A one-poster review's detail row: the poster, and beside it the facts and buttons
    with the key hint at the bottom."""
    info.addStretch(1)
    info.addWidget(hint)
    row = QHBoxLayout()
    row.setSpacing(18)
    row.addWidget(poster, 3)
    row.addLayout(info, 2)
    return row


class ReviewWidget(QWidget, Generic[Item]):
    decided = Signal(object)  # a core.data.fixes.Decision

    def __init__(
        self, thumbnails: ThumbnailWorker, empty_text: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.items: list[Item] = []
        self.folder = Path()
        self._thumbnails = thumbnails
        self._images: OrderedDict[str, QImage] = OrderedDict()
        thumbnails.ready.connect(self._on_thumbnails_ready)
        self.list = QListWidget()
        self.list.setObjectName("reviewList")
        self.list.setUniformItemSizes(True)  # every row of a tab has as many lines
        self.list.setMinimumWidth(250)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentRowChanged.connect(self._on_list_current_row_changed)
        self.detail = QWidget()
        self.detail_box = QVBoxLayout(self.detail)
        self.detail_box.setContentsMargins(14, 4, 4, 4)
        self.detail_box.setSpacing(10)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        splitter.setChildrenCollapsible(False)
        self._empty_text = empty_text
        self.empty = QLabel("Findings appear here when the check is done.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        set_muted(self.empty)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(splitter)
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 10, 10, 10)
        box.addWidget(self.stack)
        self.add_key(Qt.Key.Key_Down, lambda: self.move_selection(1))
        self.add_key(Qt.Key.Key_Up, lambda: self.move_selection(-1))

    # ------------------------------------------------------------------ for subclasses
    def item_text(self, item: Item) -> str:
        raise NotImplementedError

    def files_of(self, item: Item) -> tuple[str, ...]:
        raise NotImplementedError

    def show_item(self, item: Item) -> None:
        raise NotImplementedError

    def add_key(self, key: Qt.Key | str, slot: Callable[[], None]) -> QShortcut:
        """A window-wide key, live only while this tab is the one showing."""
        return QShortcut(QKeySequence(key), self, slot)

    def button(self, text: str, tip: str, slot: Callable[[], None], primary: bool = False):
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        if primary:
            button.setObjectName("primary")
        return button

    def decide(self, make: Callable[[Item], Decision]) -> None:
        """Emit the decision `make(current item)` (nothing when the list is empty)."""
        item = self.current()
        if item is not None:
            self.decided.emit(make(item))

    def image(self, file: str) -> QImage | None:
        """The decoded poster of `file`, or None while it loads (it is asked for)."""
        if file in self._images:
            self._images.move_to_end(file)
            return self._images[file]
        self._thumbnails.request((id(self), file), self.path_of(file))
        return None

    def path_of(self, file: str) -> Path:
        path = Path(file)
        return path if path.is_absolute() else self.folder / path

    # ------------------------------------------------------------------ the list
    def set_items(self, items: list[Item], folder: Path, focus: str | None = None) -> None:
        """Show `items` (ranked); the selection stays on the same row (the next finding moves
        up into it) or goes to the item about `focus` (a file)."""
        if items == self.items and folder == self.folder and focus is None:
            return  # unchanged (another tab's decision): keep the list as it is
        row = max(self.list.currentRow(), 0)
        if focus is not None:
            row = next((i for i, it in enumerate(items) if focus in self.files_of(it)), row)
        self.list.blockSignals(True)
        if folder != self.folder:
            self.reset()
        self._sync_rows(list(items))
        self.items, self.folder = list(items), folder
        self.list.blockSignals(False)
        self.empty.setText(self._empty_text)
        self.stack.setCurrentIndex(1 if self.items else 0)
        if self.items:
            self.list.setCurrentRow(min(row, len(self.items) - 1))
            self._on_list_current_row_changed(self.list.currentRow())

    def reset(self) -> None:
        """Forget the rows (a new report: set_items builds them afresh)."""
        self.list.clear()
        self.items = []

    def _sync_rows(self, new: list[Item]) -> None:
        """Turn the rows for `self.items` into rows for `new` in one pass. Both are the same
        ranked report less what was decided, so a decision takes rows out and an undo puts
        them back; nothing is rebuilt (thousands of rows cost 100 ms)."""
        old, keep, i, j = self.items, set(new), 0, 0
        while i < len(old) or j < len(new):
            if i < len(old) and j < len(new) and old[i] == new[j]:
                i, j = i + 1, j + 1
            elif i < len(old) and old[i] not in keep:
                self.list.takeItem(j)
                i += 1
            else:
                entry = QListWidgetItem(self.item_text(new[j]))
                entry.setToolTip("\n".join(self.files_of(new[j])))
                self.list.insertItem(j, entry)
                j += 1

    def current(self) -> Item | None:
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    def move_selection(self, step: int) -> None:
        if self.items:
            self.list.setCurrentRow(max(0, min(len(self.items) - 1, self.list.currentRow() + step)))

    def _on_list_current_row_changed(self, row: int) -> None:
        if not 0 <= row < len(self.items):
            return
        self.show_item(self.items[row])
        if row + 1 < len(self.items):  # the next one is ready when this one is decided
            for file in self.files_of(self.items[row + 1]):
                self.image(file)

    def _on_thumbnails_ready(self, key: object, image: QImage) -> None:
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == id(self)):
            return
        self._images[key[1]] = image
        while len(self._images) > CACHED_POSTERS:
            self._images.popitem(last=False)
        item = self.current()
        if item is not None and key[1] in self.files_of(item):
            self.show_item(item)
