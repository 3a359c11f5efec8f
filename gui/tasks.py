"""One task slot per page: starting a task cancels the previous one; stale results are dropped.

In the spirit of Orange3's ConcurrentWidgetMixin: a page owns a `TaskSlot`, starts its
background work through it, and receives results through callbacks. The slot holds at most
one current task. Every signal of a worker passes one rule before it reaches the page: it
is delivered only while that worker is the slot's current one. A task that was cancelled,
or replaced by a newer one, can therefore never put its results on the page, however late
its queued signals arrive.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Slot

from gui.workers import FunctionWorker, Task, WorkerSet

Handler = Callable[..., object] | None  # what a handler returns is ignored


@dataclass
class _Handlers:
    done: Handler = None
    partial: Handler = None
    progress: Handler = None
    failed: Handler = None
    cancelled: Handler = None
    finished: Handler = None


class TaskSlot(QObject):
    def __init__(self, workers: WorkerSet, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workers = workers
        self._current: FunctionWorker | None = None
        self._handlers = _Handlers()

    @property
    def current(self) -> FunctionWorker | None:
        return self._current

    def busy(self) -> bool:
        """True from start() until the task's last signal (finished) has been handled."""
        return self._current is not None

    def start(
        self,
        task: Task,
        name: str,
        *,
        on_done: Handler = None,
        on_partial: Handler = None,
        on_progress: Handler = None,
        on_failed: Handler = None,
        on_cancelled: Handler = None,
        on_finished: Handler = None,
    ) -> FunctionWorker:
        """Cancel the current task (its results will be dropped) and start `task`."""
        self.cancel()
        worker = FunctionWorker(task, name=name)
        for signal, slot in self._wiring(worker):
            signal.connect(slot)
        self._current = worker
        self._handlers = _Handlers(
            on_done, on_partial, on_progress, on_failed, on_cancelled, on_finished
        )
        self._workers.start(worker)
        return worker

    def request_stop(self) -> None:
        """Ask the current task to finish early; unlike cancel(), its outcome still arrives."""
        if self._current is not None:
            self._current.requestInterruption()

    def stop_requested(self) -> bool:
        return self._current is not None and self._current.isInterruptionRequested()

    def cancel(self) -> None:
        """Ask the current task to stop and drop it: none of its signals reach the page."""
        worker, self._current = self._current, None
        if worker is None:
            return
        worker.requestInterruption()
        for signal, slot in self._wiring(worker):
            with contextlib.suppress(RuntimeError, TypeError):  # already gone
                signal.disconnect(slot)
        self._handlers = _Handlers()

    def _wiring(self, worker: FunctionWorker) -> list[tuple[Any, Callable[..., None]]]:
        return [
            (worker.succeeded, self._on_worker_succeeded),
            (worker.partial, self._on_worker_partial),
            (worker.progressed, self._on_worker_progressed),
            (worker.failed, self._on_worker_failed),
            (worker.cancelled, self._on_worker_cancelled),
            (worker.finished, self._on_worker_finished),
        ]

    # ------------------------------------------------------------------ the one rule
    def _deliver(self, handler: Handler, *args: Any) -> None:
        if self.sender() is self._current and self._current is not None and handler is not None:
            handler(*args)

    @Slot(object)
    def _on_worker_succeeded(self, result: object) -> None:
        self._deliver(self._handlers.done, result)

    @Slot(object)
    def _on_worker_partial(self, value: object) -> None:
        self._deliver(self._handlers.partial, value)

    @Slot(object, object, str)
    def _on_worker_progressed(self, done: object, total: object, phase: str) -> None:
        self._deliver(self._handlers.progress, done, total, phase)

    @Slot(str, str)
    def _on_worker_failed(self, message: str, details: str) -> None:
        self._deliver(self._handlers.failed, message, details)

    @Slot()
    def _on_worker_cancelled(self) -> None:
        self._deliver(self._handlers.cancelled)

    @Slot()
    def _on_worker_finished(self) -> None:
        if self.sender() is not self._current:
            return
        handler = self._handlers.finished
        self._current, self._handlers = None, _Handlers()
        if handler is not None:
            handler()
