"""Threads asked to stop whose owner is gone, kept referenced until they end.

A QThread destroyed while it runs aborts the whole process ("QThread: Destroyed while
thread is still running"). Closing a window must not wait for a training step either, so
its running threads are handed here (`retire`), and the app waits for them only after its
window is gone (`wait_for_retired`, gui.app).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QThread


class _Retired(QObject):
    """Threads asked to stop whose window is gone: referenced until `finished` arrives on
    the UI thread. A QThread destroyed while it runs aborts the whole process."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[QThread] = set()

    def keep(self, thread: QThread) -> None:
        if thread in self.threads:
            return
        thread.setParent(None)  # a parent widget deleted now must not take the thread along
        self.threads.add(thread)
        thread.finished.connect(self._on_thread_finished, Qt.ConnectionType.QueuedConnection)

    def _on_thread_finished(self) -> None:
        self.threads = {t for t in self.threads if not t.isFinished()}


_retired: _Retired | None = None


def retire(thread: QThread) -> None:
    """Keep `thread` (already asked to stop) referenced until it ends, whoever owned it."""
    global _retired
    if not thread.isRunning():
        return
    if _retired is None:
        _retired = _Retired()
    _retired.keep(thread)


def still_running() -> list[QThread]:
    """Retired threads that have not ended yet."""
    return [t for t in (_retired.threads if _retired else ()) if t.isRunning()]


def wait_for_retired(timeout_ms: int) -> bool:
    """At exit, after the window is gone: give the retired threads up to `timeout_ms` to
    end (a stopped training saves its run). False if one still runs."""
    deadline = time.monotonic() + timeout_ms / 1000
    for thread in still_running():
        thread.wait(max(0, int((deadline - time.monotonic()) * 1000)))
    return not still_running()
