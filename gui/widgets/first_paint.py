"""A one-shot hook on a widget's first paint (what start-up defers until the window is seen),
and the start-up probe that bench/bench_startup.py and the packaged build's check read."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

STARTUP_PROBE_ENV = "MARQUEE_STARTUP_PROBE"  # print first-paint and ready times, then quit


class FirstPaintWatcher(QObject):
    """Reports the first paint to the start-up probe, then calls `callback` once, just after
    it (from the event loop), and stops watching."""

    def __init__(self, parent: QObject, callback: Callable[[], None]) -> None:
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            report("FIRST_PAINT")
            QTimer.singleShot(0, self._callback)
        return False


def probing() -> bool:
    return bool(os.environ.get(STARTUP_PROBE_ENV))


def report_ready_and_quit() -> None:
    """Start-up is done (the later pages and their plots are built): say so, then quit."""
    report("READY")
    QTimer.singleShot(0, QCoreApplication.quit)


def report(stage: str) -> None:
    """One probe line: `stage`, the wall clock, whether torch has loaded, process CPU seconds
    (steadier than the wall clock on a busy machine). Nothing unless the probe is on."""
    if probing():
        torch = "torch" in sys.modules  # must still be False at first paint: torch loads lazily
        print(f"{stage} {time.time():.6f} torch_loaded={torch} {time.process_time():.6f}")
        sys.stdout.flush()
