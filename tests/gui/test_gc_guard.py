"""Garbage collection happens on the UI thread only, never in a worker thread.

A collection that starts in a worker thread may destroy Qt objects owned by the UI
thread: the suite crashed that way (a segfault while a model loaded in a task).
"""

from __future__ import annotations

import gc
import threading

from core.base.runtime import RARE_FULL_COLLECTION
from gui import gc_guard
from gui.gc_guard import _due_generation


def _make_cycles(n: int) -> None:
    for _ in range(n):
        cycle: list = []
        cycle.append(cycle)


def test_collections_run_on_the_ui_thread_only(qtbot) -> None:
    starts: list[int] = []

    def record(phase: str, _info: dict) -> None:
        if phase == "start":
            starts.append(threading.get_ident())

    gc.callbacks.append(record)
    try:
        worker = threading.Thread(target=_make_cycles, args=(100_000,), name="allocating")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: bool(starts), timeout=30_000)  # the UI thread's turn
    finally:
        gc.callbacks.remove(record)
    assert set(starts) == {threading.main_thread().ident}


def test_the_due_generation_follows_pythons_thresholds() -> None:
    thresholds = (700, 10, 10)
    assert _due_generation((5, 0, 0), thresholds) is None
    assert _due_generation((701, 3, 0), thresholds) == 0
    assert _due_generation((701, 11, 2), thresholds) == 1
    assert _due_generation((701, 11, 11), thresholds) == 2
    assert _due_generation((5, 11, 11), thresholds) is None  # young first, as Python does


def test_full_passes_on_the_ui_thread_are_rare(qapp) -> None:
    """A full pass walks every object torch brought (a quarter second on the UI thread)."""
    guard = gc_guard.install(qapp)  # the one the app (and this suite) runs with
    young, middle, full = guard._thresholds
    assert full == RARE_FULL_COLLECTION and (young, middle) == gc.get_threshold()[:2]
    assert _due_generation((young + 1, middle + 1, 11), guard._thresholds) == 1  # not full
