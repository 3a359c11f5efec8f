"""One central error handler: a plain message with the traceback folded away, plus a log file."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from core.base.paths import log_dir

LOG_FILE = "marquee.log"
log = logging.getLogger("marquee")


def setup_logging() -> Path:
    """Log to a rotating file in the user log dir; returns the file's path."""
    path = log_dir() / LOG_FILE
    root = logging.getLogger()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def show_error(parent: QWidget | None, message: str, details: str = "") -> QMessageBox:
    """Log and show a non-blocking error dialog; details (a traceback) start folded."""
    log.error("%s%s", message, f"\n{details}" if details else "")
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Marquee")
    box.setText(message)
    if details:
        box.setDetailedText(details)
        box.setInformativeText(f"Details are also in the log: {log_dir() / LOG_FILE}")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box


class ErrorHandler(QObject):
    """Routes uncaught exceptions (any thread) to one dialog on the UI thread."""

    raised = Signal(str, str)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__()
        self._parent_widget = parent_widget
        self.raised.connect(self._on_self_raised, Qt.ConnectionType.QueuedConnection)

    def set_parent_widget(self, widget: QWidget | None) -> None:
        self._parent_widget = widget

    def install(self) -> None:
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:  # not from a raised exception (that always has one)
            threading.__excepthook__(args)
        else:
            self._excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def _excepthook(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        details = "".join(traceback.format_exception(kind, value, tb))
        self.raised.emit(plain_message(value), details)

    def _on_self_raised(self, message: str, details: str) -> None:
        show_error(self._parent_widget, message, details)


def plain_message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"Something went wrong: {text}"
