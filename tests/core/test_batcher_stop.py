"""The server's batcher never queues a job behind its stop marker: every accepted image is
answered, however a request and the shutdown interleave."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.serving import batcher as batching
from core.serving.batcher import Batcher, BatcherStopped


def _probabilities(arrays):
    return np.full((len(arrays), 3), 0.5, dtype=np.float32)


def test_a_request_arriving_as_the_server_stops_is_answered(monkeypatch) -> None:
    batcher = Batcher(_probabilities, max_batch=4, max_wait_s=0.001)
    batcher.start()
    stop_marker_queued = threading.Event()
    real_put, real_put_nowait = batcher._queue.put, batcher._queue.put_nowait

    def put(item, *args, **kwargs):  # stop() puts its marker through here
        real_put(item, *args, **kwargs)
        if item is batching._STOP:
            stop_marker_queued.set()

    def put_nowait(item):  # the request: it passed the check and is about to be queued
        stopper = threading.Thread(target=batcher.stop, args=(10.0,))
        stopper.start()
        stop_marker_queued.wait(timeout=0.3)  # a stop that does not wait for us is done now
        real_put_nowait(item)

    monkeypatch.setattr(batcher._queue, "put", put)
    monkeypatch.setattr(batcher._queue, "put_nowait", put_nowait)
    future = batcher.submit(np.zeros((4, 4, 3), np.uint8), time.monotonic() + 30)
    result = future.result(timeout=10)  # answered, not left waiting forever
    assert result.probabilities.shape == (3,)
    with pytest.raises(BatcherStopped):
        batcher.submit(np.zeros((4, 4, 3), np.uint8), time.monotonic() + 30)
