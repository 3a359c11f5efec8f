"""Running a torch module on ONNX Runtime (CPU): export once, cache the file, rebuild it when
damaged. Used by the inference graph and by the frozen backbone's embedding pass.

A module is exported the first time and kept under the cache folder (`cache_dir()/onnx`),
named by a key the caller derives from everything that shapes the graph (weights, sizes,
options, torch version). A cached file that does not load is deleted and exported again,
never trusted; without a writable cache the file goes to a temporary folder for this
process only.
"""

from __future__ import annotations

import importlib.metadata
import logging
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.base.files import replacing
from core.base.paths import cache_dir
from core.model.export_process import run_export

OPSET = 18
log = logging.getLogger("marquee.inference")

if TYPE_CHECKING:  # a cached graph runs without torch: it is imported only to export one
    import torch
Writer = Callable[[Path], None]  # writes the ONNX file to the given path

# torch's exporter keeps process-wide state and refuses a second export while one runs
# ("GLOBALS.in_onnx_export must be False"): the app can export a trained model's graph for
# Predict while a new training exports its backbone, so exports take turns.
_EXPORTING = threading.Lock()


def export_module(
    module: torch.nn.Module, example: torch.Tensor, path: Path, input_name: str, output_name: str
) -> None:
    """Write `module` as ONNX with a dynamic batch axis (the TorchScript-based exporter:
    self-contained, one file, and fast for a CNN); in a child process in the desktop app
    (core.model.export_process)."""
    run_export(export_here, module, example, path, input_name, output_name)


def export_here(
    module: torch.nn.Module, example: torch.Tensor, path: Path, input_name: str, output_name: str
) -> None:
    """`export_module` in this process."""
    import torch

    with _EXPORTING, warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # deprecation notes about the legacy exporter
        torch.onnx.export(
            module.eval(),
            (example,),
            str(path),
            input_names=[input_name],
            output_names=[output_name],
            dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def exporter_version() -> str:
    """The installed torch's version, for cache keys, read without importing torch (its
    distribution's metadata; a frozen app without it carries one fixed torch)."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "bundled"


def cached_session(key: str, write: Writer, threads: int) -> Any:
    """An ONNX Runtime session for the graph named `key`, exported by `write` when missing."""
    folder = cache_dir() / "onnx"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return _session_from_temp(write, threads)
    path = folder / f"{key}.onnx"
    session = _load_cached(path, threads)
    if session is not None:
        return session
    with replacing(path, "the ONNX graph", suffix=".onnx") as tmp:
        write(tmp)
    return session_for(path, threads)


def cache_graph(key: str, write: Writer) -> Path | None:
    """Export the graph named `key` into the cache unless it is there already (no session is
    built); its path, or None without a writable cache."""
    path = cache_dir() / "onnx" / f"{key}.onnx"
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    with replacing(path, "the ONNX graph", suffix=".onnx") as tmp:
        write(tmp)
    return path


def cached_session_if_present(key: str, threads: int) -> Any | None:
    """The session for a graph already in the cache (None when it is missing or damaged:
    the caller exports it, which needs the torch model)."""
    return _load_cached(cache_dir() / "onnx" / f"{key}.onnx", threads)


def _load_cached(path: Path, threads: int) -> Any | None:
    """A session on the cached file; None when it is missing, or damaged (then deleted, so
    it is exported again: a cached graph is never trusted blindly)."""
    if not path.is_file():
        return None
    try:
        return session_for(path, threads)
    except Exception as exc:  # onnxruntime raises its own types for a bad file
        log.warning("the cached ONNX graph %s is damaged (%s); exporting it again", path, exc)
        path.unlink(missing_ok=True)
        return None


def session_for(path: Path, threads: int) -> Any:
    """A CPU session on `path` with `threads` intra-op threads that sleep between runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    # No busy-waiting between batches: inference shares the CPU with decoding, HTTP and
    # often the desktop app; spinning threads would starve them.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _session_from_temp(write: Writer, threads: int) -> Any:
    with tempfile.TemporaryDirectory(prefix="marquee-onnx-") as tmp:
        path = Path(tmp) / "graph.onnx"
        write(path)
        return session_for(path, threads)
