"""Python's garbage collector runs on the UI thread only.

A collection starts in whichever thread happens to allocate, and it may destroy Qt
objects (widgets and wrappers kept alive only by a reference cycle) that must die on
the thread owning them. One that started in a worker thread crashed the app and the
test suite (a segfault in `QThread.run`, "Garbage-collecting" while a model loaded). So
automatic collection is switched off and a timer on the UI thread collects whenever
Python's own thresholds say it would have (the approach calibre takes), except that full
passes are rare: with the app's libraries loaded one walks about half a million objects and
stops the window for about 0.22 s, and Python's own rule that limits them (a full pass only
when the long-lived objects grew by a quarter) does not apply to an explicit collection.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

from core.base.runtime import RARE_FULL_COLLECTION

CHECK_MS = 500


class GarbageCollector(QObject):
    """Collects on the UI thread, generation by generation, as Python's thresholds say."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_MS) -> None:
        super().__init__(parent)
        young, middle, _full = gc.get_threshold()
        self._thresholds = (young, middle, RARE_FULL_COLLECTION)
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start()

    def _on_timer_timeout(self) -> None:
        generation = _due_generation(gc.get_count(), self._thresholds)
        if generation is not None:
            gc.collect(generation)

    def stop(self) -> None:
        """Give collection back to Python (automatic, in any thread)."""
        self._timer.stop()
        gc.enable()


def _due_generation(counts: tuple[int, int, int], thresholds: tuple[int, ...]) -> int | None:
    """The oldest generation Python would collect now, or None."""
    due = None
    for generation, (count, threshold) in enumerate(zip(counts, thresholds, strict=False)):
        if count <= threshold:
            break
        due = generation
    return due


_installed: GarbageCollector | None = None


def install(app: QObject | None) -> GarbageCollector:
    """Collect on this (the UI) thread from now on, owned by `app` (once per process)."""
    global _installed
    if _installed is None:
        _installed = GarbageCollector(app)
    return _installed
