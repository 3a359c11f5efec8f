"""ONNX exports run in a child process where the process has a window to keep answering.

torch.onnx.export runs its C++ graph passes holding Python's GIL for up to a second or more
at a time: in a worker thread of the desktop app, the UI thread cannot run meanwhile and the
window freezes (0.5-1.4 s on the first training of a session, which exports the frozen
backbone's embedding graph and then the model's inference graph). The app calls
`export_in_child_processes()` once; from then on every export (`run_export`) is done by a
fresh 'spawn' child (safe with Qt's threads, and what a PyInstaller build supports after
`multiprocessing.freeze_support()`), while the calling worker waits without the GIL. The
command line and torchrun jobs have no window: they export in their own process, as before.

The child writes to the path it is given (a temporary name the caller's `replacing` moves
into place), so the graph cache only ever holds whole files. An error in the child is raised
in the caller as the same exception with the same message.
"""

from __future__ import annotations

import io
import multiprocessing
from collections.abc import Callable
from typing import Any

_in_children = False


def export_in_child_processes(enabled: bool = True) -> None:
    """Run every later `run_export` of this process in a child process (the desktop app)."""
    global _in_children
    _in_children = enabled


def exports_in_child_processes() -> bool:
    return _in_children


def run_export(job: Callable[..., None], *args: Any) -> None:
    """`job(*args)`: here, or in a child process after `export_in_child_processes()`. `job`
    is a module-level function; `args` are what torch.save can write (modules, tensors,
    dataclasses, paths)."""
    if not _in_children:
        job(*args)
        return
    import torch

    payload = io.BytesIO()
    torch.save((job, args), payload)
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main, args=(payload.getvalue(), send), name="marquee-export", daemon=True
    )
    child.start()
    send.close()  # the child holds the only writer: a child that dies means EOFError here
    try:
        outcome = receive.recv()  # waits without the GIL
    except EOFError:
        outcome = EOFError()
    finally:
        receive.close()
        child.join()
    if isinstance(outcome, EOFError):
        raise RuntimeError(f"the ONNX export process ended early (exit code {child.exitcode})")
    if isinstance(outcome, BaseException):
        raise outcome


def _child_main(payload: bytes, send: Any) -> None:
    """The child: load the job and run it; send back None, or the exception it raised."""
    try:
        import torch

        torch.set_num_threads(1)  # the export is serial; the app's training waits for it
        # Our own bytes from the parent, not a user's file: full unpickling is safe here.
        job, args = torch.load(io.BytesIO(payload), weights_only=False)
        job(*args)
        outcome: BaseException | None = None
    except BaseException as exc:
        outcome = exc
    try:
        send.send(outcome)
    except Exception:  # an exception that does not pickle: its type and message instead
        send.send(RuntimeError(f"{type(outcome).__name__}: {outcome}"))
    finally:
        send.close()
