"""A model file's ONNX graph exported in a child process, so that exporting never stalls
the window.

torch.onnx.export spends a second or more inside C++ passes that hold Python's GIL: run in
a worker thread of the app, it stops the UI thread for that long (measured: 1.3 s when a
new model was opened). A child process writes the same on-disk graph cache
(core.inference.onnx_cache) instead; the app's own load then finds the graph there and
only opens a session.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from pathlib import Path

from core.base.errors import Cancelled

log = logging.getLogger(__name__)

POLL_S = 0.1


def warm_graph_cache(path: Path, should_stop: Callable[[], bool] = lambda: False) -> bool:
    """In a worker, before loading `path` for prediction: when the load would export the
    graph (CPU, not in the cache yet), export it in a child process first. Returns whether
    a child ran. Quiet when the child fails: the load that follows says what is wrong."""
    if not _needs_export(path):
        return False
    child = multiprocessing.get_context("spawn").Process(
        target=export_graph_of, args=(str(path),), name="marquee-graph-export", daemon=True
    )
    child.start()
    while child.is_alive():
        child.join(POLL_S)
        if should_stop():
            child.terminate()
            child.join()
            raise Cancelled()
    if child.exitcode != 0:
        log.warning(
            "exporting the graph of %s in a child process failed (exit %s)", path, child.exitcode
        )
    return True


def _needs_export(path: Path) -> bool:
    from core.base.device import resolve_device

    if resolve_device("auto")[0] != "cpu":
        return False  # torch runs it on the GPU: no graph
    try:
        from core.inference.onnx_cache import cached_file_session
        from core.modelfile.checkpoint import read_meta

        meta = read_meta(path)
        _key, session = cached_file_session(Path(path), meta, bool(meta.config.get("tta", False)))
    except Exception:  # a file that cannot load: the real load reports it
        return False
    return session is None


def export_graph_of(path: str) -> None:
    """The child process: load the model file as the app would, which exports its graph
    into the cache."""
    from core.base.runtime import configure_threading

    configure_threading()
    from core.inference.predictor import Predictor

    Predictor.from_file(path, device="cpu")
