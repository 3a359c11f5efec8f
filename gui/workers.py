"""QThread workers: Qt-free core calls take progress / should_stop callbacks; these
threads turn the callbacks into signals and cancel through requestInterruption().

Heavy modules (torch, via core.training / inference / modelfile) are imported
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QSize, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QImage, QImageReader

from core.base.config import TrainConfig
from core.base.errors import Cancelled, MarqueeError
from core.data.image_format import sniff_format
from gui.thread_keeper import retire

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.training.loop import TrainResult

log = logging.getLogger(__name__)
AnyThread = TypeVar("AnyThread", bound=QThread)  # WorkerSet.start hands back what it got


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


class TaskState:
    """What a background task function gets: report progress and partial results, poll stop.

    Plain Python (after Orange3's TaskState), so task functions can be tested without Qt.
    """

    def __init__(
        self,
        progress: Callable[[Any, Any, str], None],
        partial: Callable[[Any], None],
        should_stop: Callable[[], bool],
    ) -> None:
        self._progress, self._partial, self._should_stop = progress, partial, should_stop

    def progress(self, done: Any, total: Any = None, phase: str = "") -> None:
        self._progress(done, total, phase)

    def partial(self, value: Any) -> None:
        """Hand a piece of the result to the UI now (e.g. one batch of predictions)."""
        self._partial(value)

    def should_stop(self) -> bool:
        return self._should_stop()

    def check_stop(self) -> None:
        """Raise Cancelled when a stop was requested."""
        if self._should_stop():
            raise Cancelled()


Task = Callable[[TaskState], Any]


class FunctionWorker(QThread):
    """Runs `task(state)` off the UI thread and reports exactly one outcome.

    Outcomes: `succeeded(result)`, `failed(message, details)` or `cancelled()` (the task
    raised Cancelled). A task that stops early by returning what it has succeeds.
    """

    progressed = Signal(object, object, str)  # done, total (None if unknown), phase
    partial = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, details
    cancelled = Signal()

    def __init__(self, task: Task, name: str = "task", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._task = task
        self.setObjectName(name)

    def run(self) -> None:
        lower_thread_priority()
        state = TaskState(self.progressed.emit, self.partial.emit, self.isInterruptionRequested)
        try:
            result = self._task(state)
        except Cancelled:
            self.cancelled.emit()
            return
        except Exception as exc:
            log.exception("%s failed", self.objectName())
            self.failed.emit(*describe(exc))
            return
        self.succeeded.emit(result)  # a task that honours a stop by returning early succeeded


@dataclass(frozen=True)
class TrainingOutcome:
    """A finished (or stopped) run, where it was saved, and why saving failed if it did."""

    result: TrainResult
    run_dir: Path | None
    save_error: str = ""
    run_id: str | None = None  # the run record (core.runs.RunStore) it was saved as


@dataclass(frozen=True)
class Tracking:
    """Where the app also logs a training: a TensorBoard folder, an MLflow URI ("" for
    MLFLOW_TRACKING_URI); None: not there."""

    tensorboard_dir: str | None = None
    mlflow_uri: str | None = None


def training_task(
    config: TrainConfig, data: Dataset, save_run: bool = True, tracking: Tracking | None = None
) -> Task:
    """core.training.loop.fit as a task: every engine event goes out through state.partial.

    Stopping returns the best model so far (or raises Cancelled before the first step).
    With `save_run` the training is recorded as a run from its start (core.runs: it lists
    as running, then finished, stopped or failed) and its model saved there, off the UI;
    `tracking` also logs it to TensorBoard / MLflow (checked before training starts).
    """

    def task(state: TaskState) -> TrainingOutcome:
        from core.model.export_process import prestart
        from core.training import loop as engine

        prestart()  # the graph exports' process loads torch while the images are decoded
        trackers = _trackers(tracking)
        writer = _run_writer(config, data, None, trackers) if save_run else None
        sink = _sink(state, writer, trackers)
        with _recording(writer, trackers):
            result = engine.fit(config, data, on_event=sink, should_stop=state.should_stop)
        assert result is not None  # a local training always has a result
        return _saved(result, writer, trackers) if save_run else TrainingOutcome(result, None)

    return task


def train_more_task(
    previous: TrainResult,
    data: Dataset,
    epochs: int,
    source: Path | None,
    tracking: Tracking | None = None,
) -> Task:
    """core.training.loop.train_more as a task: `epochs` more epochs from a finished run,
    recorded as a run whose parent is the run `source` belongs to (if it is one)."""

    def task(state: TaskState) -> TrainingOutcome:
        from core.model.export_process import prestart
        from core.training import loop as engine

        prestart()  # the graph exports' process loads torch while the images are decoded
        trackers = _trackers(tracking)
        writer = _run_writer(previous.meta.config, data, source, trackers)
        with _recording(writer, trackers):
            result = engine.train_more(
                previous,
                data,
                epochs,
                on_event=_sink(state, writer, trackers),
                should_stop=state.should_stop,
                source=str(source) if source else None,
            )
        return _saved(result, writer, trackers)

    return task


def _trackers(tracking: Tracking | None) -> Any:
    """The trackers asked for, opened before the run exists (a wrong URI fails the task
    with one message before any training); None when none is asked for."""
    if tracking is None or (tracking.tensorboard_dir is None and tracking.mlflow_uri is None):
        return None
    from core.runs.trackers import TrackerSet

    return TrackerSet(tracking.tensorboard_dir, tracking.mlflow_uri)


def _run_writer(config: Any, data: Dataset, source: Path | None, trackers: Any) -> Any:
    """A run record for this training; None (logged) when the runs folder cannot be written:
    the training itself still goes on."""
    try:
        from core.runs import RunStore, RunWriter

        store = RunStore()
        parent = store.run_of_model(source) if source else None
        settings = config if isinstance(config, dict) else config.to_dict()
        writer = RunWriter.start(settings, data, store=store, origin="app", parent=parent)
    except Exception:
        log.exception("could not start the run record")
        return None
    if trackers is not None:
        trackers.bind(writer.id)
    return writer


@contextlib.contextmanager
def _recording(writer: Any, trackers: Any) -> Iterator[None]:
    """Record a stop or a failure in the run (and close its trackers), then re-raise."""
    if writer is None:
        yield
        return
    try:
        with writer.recording():
            yield
    except BaseException:
        if trackers is not None:
            trackers.close(writer.record, writer.folder)
        raise


def _sink(state: TaskState, writer: Any, trackers: Any = None) -> Callable[[Any], None]:
    if writer is None:
        return state.partial
    from core.runs import fan_out

    extra = trackers.sinks() if trackers is not None else []
    return fan_out(writer.on_event, *extra, state.partial)


def _saved(result: TrainResult, writer: Any, trackers: Any = None) -> TrainingOutcome:
    """Finish the run record with its model; a failure to save is reported, the model kept."""
    if writer is None:
        return TrainingOutcome(result, None, "the runs folder could not be written")
    try:
        writer.finish(result)
    except Exception as exc:
        log.exception("saving the run failed")
        writer.fail(exc)
        return TrainingOutcome(result, None, describe(exc)[0])
    finally:
        if trackers is not None:
            trackers.close(writer.record, writer.folder)
    return TrainingOutcome(result, writer.folder, run_id=writer.id)


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

    def stop(self, timeout_ms: int = 200) -> None:
        """Stop loading; a thumbnail still decoding after `timeout_ms` finishes on its own
        (the thread is kept until then, see `retire`)."""
        self._stopped = True
        self.requestInterruption()
        if not self.wait(timeout_ms):
            retire(self)

    def run(self) -> None:
        lower_thread_priority()
        while not self.isInterruptionRequested():
            try:
                key, path = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.ready.emit(key, load_thumbnail(path, self._size))


def load_thumbnail(path: Path, size: int) -> QImage:
    """A QImage scaled to fit size x size (null image when the file cannot be read).

    Only JPEG, PNG and WebP, judged by content as everywhere in Marquee: Qt would
    otherwise pick any of its plugins (TIFF, SVG, ...) for a file named .jpg.
    """
    fmt = _thumbnail_format(path)
    if fmt is None:
        return QImage()
    reader = QImageReader(str(path), fmt)
    reader.setAutoDetectImageFormat(False)  # that plugin only, whatever the content says
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and (full.width() > size or full.height() > size):
        reader.setScaledSize(full.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


def _thumbnail_format(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            fmt = sniff_format(handle.read(16))
    except OSError:
        return None
    return fmt.lower().encode() if fmt else None


class WorkerSet:
    """Keeps Python references to running threads and stops them all on close."""

    def __init__(self) -> None:
        self._running: set[QThread] = set()
        self.closed = False

    def start(self, worker: AnyThread) -> AnyThread:
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

    def release(self) -> list[QThread]:
        """Ask every worker to stop and return at once (closing a window must not wait for a
        training step); the running ones are kept alive until they end (`retire`) and finish
        what they do on a stop, such as saving the best model so far. Returns those."""
        self.closed = True
        running = [worker for worker in self._running if worker.isRunning()]
        for worker in self._running:
            worker.requestInterruption()
        for worker in running:
            retire(worker)
        return running
