"""ONNX exports run in a child process where the process has a window to keep answering.

torch.onnx.export runs its C++ graph passes holding Python's GIL for up to a second or more
at a time: in a worker thread of the desktop app, the UI thread cannot run meanwhile and the
window freezes (0.5-1.4 s on the first training of a session, which exports the frozen
backbone's embedding graph and then the model's inference graph). The app calls
`export_in_child_processes()` once; from then on every export (`run_export`) is done by one
'spawn' child process (safe with Qt's threads, and what a PyInstaller build supports after
`multiprocessing.freeze_support()`), while the calling worker waits without the GIL. The
process is started on first use (or by `prestart()` when a training starts: importing torch
there takes ~4 s), kept for later exports and ended after `IDLE_S` unused. The command line
and torchrun jobs have no window: they export in their own process, as before.

The child writes to the path it is given (a temporary name the caller's `replacing` moves
into place), so the graph cache only ever holds whole files. An error in the child is raised
in the caller as the same exception with the same message.
"""

from __future__ import annotations

import io
import multiprocessing
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

IDLE_S = 120.0  # an unused export process ends after this long (torch loaded: ~500 MB)

_in_children = False
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_running = 0
_idle: threading.Timer | None = None


def export_in_child_processes(enabled: bool = True) -> None:
    """Run every later `run_export` of this process in a child process (the desktop app)."""
    global _in_children
    _in_children = enabled


def exports_in_child_processes() -> bool:
    return _in_children


def prestart() -> None:
    """Start the export process now (it imports torch and the model code, ~4 s) when exports
    go to one, so the first export does not wait for that; returns at once."""
    if _in_children:
        _submit(_warm_up)


def run_export(job: Callable[..., None], *args: Any) -> None:
    """`job(*args)`: here, or in the export process after `export_in_child_processes()`.
    `job` is a module-level function; `args` are what torch.save can write (modules,
    tensors, dataclasses, paths)."""
    if not _in_children:
        job(*args)
        return
    import torch

    payload = io.BytesIO()
    torch.save((job, args), payload)
    try:
        _submit(_child_job, payload.getvalue()).result()  # waits without the GIL
    except BrokenProcessPool as exc:  # the process died (killed, out of memory)
        _forget_pool()
        raise RuntimeError("the ONNX export process ended early; try again") from exc


def _submit(function: Callable[..., None], *args: Any) -> Any:
    global _pool, _running
    with _lock:
        if _idle is not None:
            _idle.cancel()
        if _pool is None:
            _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        _running += 1
        future = _pool.submit(function, *args)
    future.add_done_callback(_one_done)
    return future


def _one_done(_future: Any) -> None:
    global _running, _idle
    with _lock:
        _running -= 1
        if _running == 0 and _pool is not None:
            _idle = threading.Timer(IDLE_S, _forget_pool)
            _idle.daemon = True
            _idle.start()


def _forget_pool() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False)


def _warm_up() -> None:
    import torch  # noqa: F401  (the slow part of the first export)

    import core.model.classifier  # noqa: F401  (timm, the model classes)


def _child_job(payload: bytes) -> None:
    """In the export process: load the job and run it. An exception that would not pickle
    comes back as a RuntimeError with its type and message."""
    import torch

    torch.set_num_threads(1)  # the export is serial; the app's training waits for it
    # Our own bytes from the parent, not a user's file: full unpickling is safe here.
    job, args = torch.load(io.BytesIO(payload), weights_only=False)
    try:
        job(*args)
    except Exception as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise
