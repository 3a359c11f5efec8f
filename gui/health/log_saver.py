"""Writes the data set's fix log off the UI thread, once per burst of decisions.

The health view and the labelling view record into the one shared `FixLog` of the data set
without saving (`record(..., save=False)`); each change asks this saver for a write, which
happens in a worker a moment after the last key press. `flush` writes at once (closing).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from core.base.errors import MarqueeError
from gui.workers import FunctionWorker, TaskState, WorkerSet

if TYPE_CHECKING:
    from core.data.fixes import FixLog

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 400  # key presses closer than this are written together


def decisions_in_force(fix_log: FixLog) -> int:
    """How many decisions are in force (the last one per image, label or pair): what every
    view that counts decisions says."""
    return len(fix_log.current())


class FixLogSaver(QObject):
    """Saves `fix_log` in a worker, SAVE_DELAY_MS after the last `changed()`; one write at a
    time (a change during a write schedules another). `failed(message)` if a write fails."""

    failed = Signal(str)
    saved = Signal()

    def __init__(
        self,
        fix_log: FixLog,
        workers: WorkerSet,
        parent: QObject | None = None,
        delay_ms: int = SAVE_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self.fix_log, self.workers = fix_log, workers
        self._writing: FunctionWorker | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def changed(self) -> None:
        """The log changed: write it soon (later changes push the write back)."""
        self._timer.start()

    def pending(self) -> bool:
        """Whether a write is scheduled or under way."""
        return self._timer.isActive() or self._writing is not None

    def _on_timer_timeout(self) -> None:
        if self._writing is not None:  # one write at a time; this change goes in the next
            self._timer.start()
            return
        fix_log = self.fix_log

        def task(_state: TaskState) -> None:
            fix_log.save()  # thread-safe; merges with what other writers saved

        worker = self._writing = FunctionWorker(task, name="save-fix-log")
        worker.succeeded.connect(lambda _r: self.saved.emit())
        worker.failed.connect(lambda message, _details: self.failed.emit(message))
        worker.finished.connect(self._on_worker_finished)
        self.workers.start(worker)

    def _on_worker_finished(self) -> None:
        self._writing = None

    def flush(self) -> None:
        """Write now, on this thread (closing a view or the app; one small file)."""
        self._timer.stop()
        if self.fix_log.dirty:
            try:
                self.fix_log.save()
            except (MarqueeError, OSError) as exc:
                log.warning("could not save the fix log: %s", exc)
                self.failed.emit(str(exc))
