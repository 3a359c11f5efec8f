"""Modules imported off the UI thread; widgets that need them are built on the UI thread once
they are loaded: the plots library (pyqtgraph), and the later pages' modules (numpy...).

Importing pyqtgraph takes 0.3-0.6 s, nearly all of it Python code (its modules, the
attribute copies of its Qt shim), which gives the GIL back every few milliseconds: imported
in a worker thread, the window kept answering within 13-46 ms where the same import on the
UI thread froze it 350-560 ms. The import creates no QObject and never touches the
QApplication (`mkQApp` runs only when a plot widget is made); the Qt objects it does make at
import time are value types (QPainterPath, QColor, QTransform), safe in any thread. The
later pages' modules likewise define classes and make no QObject (checked the same way);
their widgets are made on the UI thread.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

PLOTS = "pyqtgraph"


class BackgroundImports(QObject):
    """Imports `modules` once, in a plain thread; `ready` fires on the UI thread."""

    ready = Signal()
    _imported = Signal()  # emitted by the import thread, delivered queued to the UI thread

    def __init__(self, modules: tuple[str, ...], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.modules = modules
        self.loaded = False
        self._thread: threading.Thread | None = None
        self._imported.connect(self._on_imported)

    def load(self) -> None:
        """Start importing it (once); a no-op when it is loaded or loading."""
        if self.loaded or self._thread is not None:
            return
        # A daemon thread, not a QThread: one still importing when the app quits must not
        # abort the process ("QThread: Destroyed while thread is still running").
        self._thread = threading.Thread(target=self._import, name="imports", daemon=True)
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
            for module in self.modules:
                importlib.import_module(module)
        except Exception:  # a broken install: what needs them stays empty, the app goes on
            log.exception("importing %s failed", ", ".join(self.modules))
            return
        self._imported.emit()

    def _on_imported(self) -> None:
        self.loaded = True
        self.ready.emit()


_plots: BackgroundImports | None = None


def plots_library() -> BackgroundImports:
    """The plots library's one loader in this process (made on the UI thread on first use)."""
    global _plots
    if _plots is None:
        _plots = BackgroundImports((PLOTS,))
    return _plots
