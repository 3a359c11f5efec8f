"""Helpers shared by the GUI tests (a module, so tests can import it)."""

from __future__ import annotations

import warnings
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from core.base.config import TrainConfig

TINY = TrainConfig(epochs=2, batch_size=8, image_size=64, strategy="freeze", num_threads=1)


def drop_files(target: QWidget, paths: list[Path]) -> QDropEvent:
    """Deliver a synthetic drag-enter + drop of local file URLs, as a file manager would.

    Qt routes a Drop only to the widget that accepted the DragEnter, so both are sent.
    """
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPointF(target.width() / 2, target.height() / 2)
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with warnings.catch_warnings():  # PySide marks the only QDragEnterEvent constructor
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(centre.toPoint(), *args)
    QApplication.sendEvent(target, enter)
    event = QDropEvent(centre, *args)
    QApplication.sendEvent(target, event)
    _KEEP_ALIVE.append(mime)  # the event refers to it; keep it valid for later inspection
    return event


_KEEP_ALIVE: list[QMimeData] = []
