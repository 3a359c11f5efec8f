"""A frame that accepts dropped image files and folders; anything else is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QWidget


class DropAreaWidget(QFrame):
    """Emits `paths_dropped` with the usable paths, `rejected` with a message for the rest."""

    paths_dropped = Signal(list)
    rejected = Signal(str)

    def __init__(self, accepts: Callable[[Path], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._accepts = accepts
        self.setObjectName("dropArea")
        self.setAcceptDrops(True)
        self.set_empty(True)

    def set_empty(self, empty: bool) -> None:
        self._set_flag("empty", empty)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._local_paths(event):
            event.acceptProposedAction()
            self._set_flag("dragging", True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._local_paths(event):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._set_flag("dragging", False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_flag("dragging", False)
        paths = self._local_paths(event)
        usable = [p for p in paths if self._accepts(p)]
        refused = [p for p in paths if not self._accepts(p)]
        if not usable:
            event.ignore()
        else:
            event.acceptProposedAction()
        if refused:
            names = ", ".join(p.name for p in refused[:3]) + (" …" if len(refused) > 3 else "")
            self.rejected.emit(f"Not an image or folder, ignored: {names}")
        if usable:
            self.paths_dropped.emit(usable)

    @staticmethod
    def _local_paths(event: QDropEvent | QDragEnterEvent) -> list[Path]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def _set_flag(self, name: str, value: bool) -> None:
        self.setProperty(name, value)
        self.style().unpolish(self)
        self.style().polish(self)
