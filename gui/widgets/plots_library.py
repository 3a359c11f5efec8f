"""The plots library (pyqtgraph) imported off the UI thread; plot widgets are built on the UI
thread once it is loaded.

Importing pyqtgraph takes 0.3-0.6 s, nearly all of it Python code (its modules, the
attribute copies of its Qt shim), which gives the GIL back every few milliseconds: imported
in a worker thread, the window kept answering within 13-46 ms where the same import on the
UI thread froze it 350-560 ms. The import creates no QObject and never touches the
QApplication (`mkQApp` runs only when a plot widget is made); the Qt objects it does make at
import time are value types (QPainterPath, QColor, QTransform), safe in any thread.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

MODULE = "pyqtgraph"


class PlotsLibrary(QObject):
    """Loads the plots library once, in a plain thread; `ready` fires on the UI thread."""

    ready = Signal()
    _imported = Signal()  # emitted by the import thread, delivered queued to the UI thread

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        self._thread: threading.Thread | None = None
        self._imported.connect(self._on_imported)

    def load(self) -> None:
        """Start importing it (once); a no-op when it is loaded or loading."""
        if self.loaded or self._thread is not None:
            return
        # A daemon thread, not a QThread: one still importing when the app quits must not
        # abort the process ("QThread: Destroyed while thread is still running").
        self._thread = threading.Thread(target=self._import, name="plots-import", daemon=True)
        self._thread.start()

    def when_loaded(self, slot: Callable[[], None]) -> None:
        """Call `slot` on the UI thread once the library is loaded: now when it is."""
        if self.loaded:
            slot()
            return
        self.ready.connect(slot)  # dropped by Qt when the slot's widget is deleted first
        self.load()

    def _import(self) -> None:
        try:
            importlib.import_module(MODULE)
        except Exception:  # a broken install: the plots stay empty, the app goes on
            log.exception("the plots library (%s) could not be imported", MODULE)
            return
        self._imported.emit()

    def _on_imported(self) -> None:
        self.loaded = True
        self.ready.emit()


_library: PlotsLibrary | None = None


def plots_library() -> PlotsLibrary:
    """The one loader of this process (made on the UI thread on first use)."""
    global _library
    if _library is None:
        _library = PlotsLibrary()
    return _library
