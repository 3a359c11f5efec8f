"""Dynamic batching: a bounded queue feeding ONE inference thread.

The thread takes the first waiting image, then gathers more until it has `max_batch` or
`max_wait_s` has passed, runs the model once, and hands each row back to the future of
the request that sent it. Images arrive decoded and validated, so a batch cannot fail
because of one client's bytes. A full queue refuses at once (the caller answers 503);
images whose deadline has passed are skipped (the caller answers 504).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("marquee.serve")

RunBatch = Callable[[Sequence[np.ndarray]], np.ndarray]


class QueueFull(Exception):
    """The queue holds `max_queue` images already."""


class DeadlineExceeded(Exception):
    """The image waited past its deadline and was not run."""


class BatcherStopped(Exception):
    """The batcher is shutting down and takes no more work."""


@dataclass(frozen=True)
class BatchResult:
    probabilities: np.ndarray
    queue_ms: float
    inference_ms: float
    batch_size: int


@dataclass
class _Job:
    array: np.ndarray
    deadline: float  # time.monotonic()
    enqueued: float = field(default_factory=time.monotonic)
    future: Future = field(default_factory=Future)


_STOP = object()


class Batcher:
    """Collects single images into batches for one model-running thread."""

    def __init__(
        self,
        run_batch: RunBatch,
        max_batch: int = 8,
        max_wait_s: float = 0.01,
        max_queue: int = 64,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._on_batch = on_batch
        self._thread: threading.Thread | None = None
        self._accepting = False
        # Taking a job and refusing work are atomic: no job is queued behind the stop marker.
        self._gate = threading.Lock()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        self._accepting = True
        self._thread = threading.Thread(target=self._loop, name="marquee-inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Refuse new work, finish what is queued, then end the thread."""
        with self._gate:
            self._accepting = False
        if self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)  # waits while full: the queue drains
        except queue.Full:
            log.warning("the inference thread did not drain its queue in %ss", timeout)
            return
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._accepting and self._thread is not None and self._thread.is_alive()

    @property
    def depth(self) -> int:
        """Images waiting for the model."""
        return self._queue.qsize()

    # ------------------------------------------------------------------ callers
    def submit(self, array: np.ndarray, deadline: float) -> Future:
        """Queue one decoded image; the future's result is a `BatchResult`."""
        job = _Job(array, deadline)
        with self._gate:
            if not self._accepting:
                raise BatcherStopped()
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                raise QueueFull() from None
        return job.future

    # ------------------------------------------------------------------ the thread
    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch, stopping = self._gather(first)
            self._run(batch)
        self._refuse_leftovers()

    def _refuse_leftovers(self) -> None:
        """Answer anything still queued once the thread ends (nothing should be)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job) and item.future.set_running_or_notify_cancel():
                item.future.set_exception(BatcherStopped())

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        batch = [first]
        until = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = until - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else None
                if item is None:
                    item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self, batch: list[_Job]) -> None:
        now = time.monotonic()
        live = []
        for job in batch:
            if not job.future.set_running_or_notify_cancel():
                continue  # the request went away
            if now > job.deadline:
                job.future.set_exception(DeadlineExceeded())
            else:
                live.append(job)
        if not live:
            return
        started = time.monotonic()
        try:
            probs = self._run_batch([job.array for job in live])
        except Exception as exc:  # the model failed: every waiting request must learn it
            log.exception("inference failed for a batch of %d", len(live))
            for job in live:
                job.future.set_exception(exc)
            return
        except BaseException as exc:  # SystemExit and the like: answer, then end the thread
            for job in live:
                job.future.set_exception(RuntimeError(f"inference stopped ({exc!r})"))
            raise
        done = time.monotonic()
        inference_ms = (done - started) * 1000
        for row, job in enumerate(live):
            queue_ms = (started - job.enqueued) * 1000
            job.future.set_result(BatchResult(probs[row], queue_ms, inference_ms, len(live)))
        if self._on_batch is not None:
            self._on_batch(len(live), done - started)
