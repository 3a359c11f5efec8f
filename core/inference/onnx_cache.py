"""ONNX Runtime sessions for inference graphs, exported once per model and cached on disk.

A graph is exported the first time a model runs on ONNX Runtime and kept under the cache
folder (`cache_dir()/onnx`), named by a digest of everything that shapes it: the weights,
the image size, normalisation, TTA, the opset and the torch version. A cached file that
does not load (a damaged disk, a killed write from an older version) is deleted and
exported again, never trusted; without a writable cache the graph goes to a temporary
folder for this process only.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Any

import torch

from core.base.files import replacing
from core.base.paths import cache_dir
from core.base.runtime import prediction_threads
from core.inference.graph import InferenceGraph
from core.inference.onnx_export import OPSET, export_graph
from core.modelfile.checkpoint import ModelMeta, weights_digest

log = logging.getLogger("marquee.inference")


def onnx_session(graph: InferenceGraph, meta: ModelMeta, threads: int | None = None) -> Any:
    """An ONNX Runtime session (CPU) running `graph`, from the cache when it is there."""
    path = _cached_path(graph, meta)
    if path is None:
        return _exported_to_temp(graph, meta, threads)
    if path.is_file():
        try:
            return _session(path, threads)
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            log.warning("the cached ONNX graph %s is damaged (%s); exporting it again", path, exc)
            path.unlink(missing_ok=True)
    with replacing(path, "the ONNX graph", suffix=".onnx") as tmp:
        export_graph(graph, meta, tmp)
    return _session(path, threads)


def graph_key(graph: InferenceGraph, meta: ModelMeta) -> str:
    """A digest of everything that shapes the exported graph."""
    digest = hashlib.blake2b(digest_size=16)
    details = (meta.image_size, meta.mean, meta.std, graph.tta, OPSET, torch.__version__)
    digest.update(repr(details).encode())
    digest.update(weights_digest(graph.model).encode())
    return digest.hexdigest()


def _cached_path(graph: InferenceGraph, meta: ModelMeta) -> Path | None:
    folder = cache_dir() / "onnx"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder / f"{graph_key(graph, meta)}.onnx"


def _exported_to_temp(graph: InferenceGraph, meta: ModelMeta, threads: int | None) -> Any:
    with tempfile.TemporaryDirectory(prefix="marquee-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        export_graph(graph, meta, path)
        return _session(path, threads)


def _session(path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or prediction_threads()
    options.inter_op_num_threads = 1
    # No busy-waiting between batches: inference shares the CPU with decoding, HTTP and
    # often the desktop app; spinning threads would starve them.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
