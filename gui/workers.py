"""QThread workers: Qt-free core calls take progress / should_stop callbacks; these
threads turn the callbacks into signals and cancel through requestInterruption().

Heavy modules (torch via core.engine / core.predictor / core.checkpoint) are imported
inside run(), so nothing heavy is imported on the UI thread at start-up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSize, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QImage, QImageReader

from core.config import TrainConfig
from core.errors import Cancelled, MarqueeError

if TYPE_CHECKING:
    from core.datasets import Dataset

log = logging.getLogger(__name__)

Task = Callable[[Callable[..., None], Callable[[], bool]], Any]


def lower_thread_priority(nice: int = 8) -> None:
    """Make the calling worker thread yield the CPU to the UI thread when cores are busy.

    On Linux, nice values are per thread, so this leaves the UI thread's priority alone;
    elsewhere it is a no-op (QThread priorities cover those platforms).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)


def describe(exc: BaseException) -> tuple[str, str]:
    """(plain message, details): a MarqueeError is written for users and needs no traceback;
    anything else is a bug, shown with its traceback folded away."""
    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, MarqueeError):
        return message, ""
    return f"{message} ({type(exc).__name__})", "".join(traceback.format_exception(exc))


class FunctionWorker(QThread):
    """Runs `task(progress, should_stop)` off the UI thread and reports the outcome."""

    progressed = Signal(object, object, str)  # done, total (None if unknown), phase
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, details
    cancelled = Signal()

    def __init__(self, task: Task, name: str = "task", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._task = task
        self.setObjectName(name)

    def run(self) -> None:
        lower_thread_priority()
        try:
            result = self._task(self._progress, self.isInterruptionRequested)
        except Cancelled:
            self.cancelled.emit()
            return
        except Exception as exc:
            log.exception("%s failed", self.objectName())
            self.failed.emit(*describe(exc))
            return
        if self.isInterruptionRequested():
            self.cancelled.emit()
        else:
            self.succeeded.emit(result)

    def _progress(self, done: Any, total: Any = None, phase: str = "") -> None:
        self.progressed.emit(done, total, phase)


class TrainingWorker(QThread):
    """core.engine.fit in a thread; each engine event is re-emitted as `event(object)`.

    The outcome is exactly one of `succeeded` (finished, or stopped with the best model so
    far), `cancelled` (stopped before there was a model) or `failed`. A finished run is
    auto-saved with core.runs.save_run here too, so writing ~20 MB never blocks the UI.
    """

    event = Signal(object)
    succeeded = Signal(object, object, str)  # TrainResult, run folder (Path | None), save error
    failed = Signal(str, str)  # message, details
    cancelled = Signal()

    def __init__(
        self,
        config: TrainConfig,
        data: Dataset,
        save_run: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("training")
        self._config = config
        self._data = data
        self._save_run = save_run

    def run(self) -> None:
        lower_thread_priority()
        try:
            from core import engine

            result = engine.fit(
                self._config, self._data, on_event=self.event.emit, should_stop=self.should_stop
            )
        except Cancelled:
            self.cancelled.emit()
            return
        except Exception as exc:
            log.exception("training failed")
            self.failed.emit(*describe(exc))
            return
        run_dir, save_error = None, ""
        if self._save_run:
            try:
                from core.runs import save_run

                run_dir = save_run(result)
            except Exception as exc:
                log.exception("saving the run failed")
                save_error = describe(exc)[0]
        self.succeeded.emit(result, run_dir, save_error)

    def should_stop(self) -> bool:
        return self.isInterruptionRequested()


class PredictionWorker(QThread):
    """Expands files/folders to images, then predicts them in chunks (cards fill progressively)."""

    expanded = Signal(object, object)  # list[Path] images, list[str] skipped messages
    batch_ready = Signal(object)  # list[Prediction]
    progressed = Signal(int, int)
    failed = Signal(str, str)

    def __init__(
        self,
        predictor: Any | None,
        inputs: Sequence[Path],
        expand: bool = True,
        chunk: int = 16,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("prediction")
        self._predictor = predictor
        self._inputs = list(inputs)
        self._expand = expand
        self._chunk = chunk

    def run(self) -> None:
        lower_thread_priority()
        try:
            images = self._inputs
            if self._expand:
                from core.predictor import expand_inputs

                images, skipped = expand_inputs(self._inputs)
                self.expanded.emit(list(images), list(skipped))
            if self._predictor is not None:
                self._predict(list(images))
        except Exception as exc:
            log.exception("prediction failed")
            self.failed.emit(*describe(exc))

    def _predict(self, images: list[Path]) -> None:
        from core.runtime import prediction_threads, use_torch_threads

        # Per thread: one while a training runs in this process, so the two do not fight.
        use_torch_threads(prediction_threads())
        for start in range(0, len(images), self._chunk):
            if self.isInterruptionRequested():
                return
            chunk = images[start : start + self._chunk]
            predictions = self._predictor.predict(chunk, should_stop=self.isInterruptionRequested)
            self.batch_ready.emit(list(predictions))
            self.progressed.emit(min(start + self._chunk, len(images)), len(images))


class ThumbnailWorker(QThread):
    """A long-lived loader: request(key, path) queues work; `ready(key, QImage)` answers.

    QImage (unlike QPixmap) is safe to build off the UI thread; QImageReader decodes
    straight to the small size, so even big posters cost little.
    """

    ready = Signal(object, QImage)

    def __init__(self, size: int = 128, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thumbnails")
        self._size = size
        self._queue: queue.SimpleQueue[tuple[object, Path]] = queue.SimpleQueue()
        self._stopped = False

    def request(self, key: object, path: Path) -> None:
        if self._stopped:
            return
        self._queue.put((key, Path(path)))
        if not self.isRunning():
            self.start(QThread.Priority.LowPriority)

    def clear(self) -> None:
        while not self._queue.empty():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break

    def stop(self, timeout_ms: int = 2000) -> None:
        self._stopped = True
        self.requestInterruption()
        self.wait(timeout_ms)

    def run(self) -> None:
        lower_thread_priority()
        while not self.isInterruptionRequested():
            try:
                key, path = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.ready.emit(key, load_thumbnail(path, self._size))


def load_thumbnail(path: Path, size: int) -> QImage:
    """A QImage scaled to fit size x size (null image when the file cannot be read)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and (full.width() > size or full.height() > size):
        reader.setScaledSize(full.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class WorkerSet:
    """Keeps Python references to running threads and stops them all on close."""

    def __init__(self) -> None:
        self._running: set[QThread] = set()
        self.closed = False

    def start(self, worker: QThread) -> QThread:
        """Start and keep `worker`; after stop_all() (shutdown) nothing new starts."""
        if self.closed:
            return worker
        self._running.add(worker)
        # Drop our reference only after `finished` has been delivered everywhere.
        worker.finished.connect(lambda: QTimer.singleShot(0, lambda: self._running.discard(worker)))
        worker.start()
        return worker

    def busy(self) -> bool:
        return any(w.isRunning() for w in self._running)

    def stop_all(self, timeout_ms: int = 10_000) -> bool:
        """Ask every worker to stop and wait; False if one is still running after the timeout."""
        self.closed = True
        for worker in list(self._running):
            worker.requestInterruption()
        return all(worker.wait(timeout_ms) for worker in list(self._running))
