from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from core.base.paths import log_dir
from gui.errors import LOG_FILE, ErrorHandler, setup_logging, show_error


def test_error_dialog_folds_details_and_logs(qtbot):
    setup_logging()
    box = show_error(None, "The poster folder is empty.", "Traceback: details here")
    qtbot.addWidget(box)
    assert box.text() == "The poster folder is empty."
    assert box.detailedText() == "Traceback: details here"
    assert "details here" in (log_dir() / LOG_FILE).read_text()


def test_uncaught_exception_reaches_one_dialog(qtbot, monkeypatch):
    shown = []
    monkeypatch.setattr("gui.errors.show_error", lambda parent, m, d: shown.append((m, d)))
    handler = ErrorHandler()
    try:
        raise ValueError("bad value")
    except ValueError as exc:
        handler._excepthook(type(exc), exc, exc.__traceback__)
    qtbot.waitUntil(lambda: bool(shown), timeout=2_000)
    assert "bad value" in shown[0][0] and "Traceback" in shown[0][1]
    assert isinstance(QMessageBox.Icon.Warning, QMessageBox.Icon)
