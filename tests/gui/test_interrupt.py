"""Ctrl+C: before the app's `main` runs, one line and no traceback; with a window open,
the window closes (no KeyboardInterrupt inside an event filter, no app left running)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QWidget

from gui.interrupt import InterruptCloses
from gui.single_instance import FileOpenFilter

REPO = Path(__file__).resolve().parents[2]


def test_ctrl_c_closes_the_window_it_was_opened_from(qtbot, qapp) -> None:
    before = signal.getsignal(signal.SIGINT)
    window = QWidget()
    qtbot.addWidget(window)
    file_open = FileOpenFilter(qapp)  # Python code on every event, as in the app
    qapp.installEventFilter(file_open)
    interrupt = InterruptCloses(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    finally:
        interrupt.uninstall()
        qapp.removeEventFilter(file_open)
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_while_the_app_starts_prints_one_line() -> None:
    code = "import gui.app\nraise KeyboardInterrupt  # as if Ctrl+C came during the imports"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == "marquee: cancelled"
    assert done.returncode in (130, -signal.SIGINT)
