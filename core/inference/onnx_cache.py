"""The inference graph on ONNX Runtime, exported once per model (core.model.onnx_runtime)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import __version__
from core.base.runtime import prediction_threads
from core.model.onnx_runtime import (
    OPSET,
    cached_session,
    cached_session_if_present,
    exporter_version,
)
from core.modelfile.checkpoint import ModelMeta, weights_digest

if TYPE_CHECKING:  # torch is needed to export a graph, not to run a cached one
    from core.inference.graph import InferenceGraph


def onnx_session(
    graph: InferenceGraph, meta: ModelMeta, threads: int | None = None, key: str | None = None
) -> Any:
    """An ONNX Runtime session (CPU) running `graph`, from the cache when it is there
    (`key`: the graph's name in the cache; default: from its weights)."""
    from core.inference.onnx_export import export_graph

    return cached_session(
        key or graph_key(graph, meta),
        lambda path: export_graph(graph, meta, path),
        threads or prediction_threads(),
    )


def cached_file_session(path: Path, meta: ModelMeta, tta: bool) -> tuple[str, Any | None]:
    """The cache key of a model file's graph, and its session if the cache holds it: no
    torch model is built, so a second `marquee predict` starts in a fraction of the time."""
    key = file_graph_key(path, meta, tta)
    return key, cached_session_if_present(key, prediction_threads())


def file_graph_key(path: Path, meta: ModelMeta, tta: bool) -> str:
    """A digest of the model file's weights (the bytes after its header) and of everything
    else that shapes the graph; thresholds edits do not change it."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(("inference-file", *_graph_shape(meta, tta))).encode())
    with open(path, "rb") as handle:
        header_size = int.from_bytes(handle.read(8), "little")
        handle.seek(8 + header_size)
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def graph_key(graph: InferenceGraph, meta: ModelMeta) -> str:
    """A digest of everything that shapes the exported graph."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(("inference", *_graph_shape(meta, graph.tta))).encode())
    digest.update(weights_digest(graph.model).encode())
    return digest.hexdigest()


def _graph_shape(meta: ModelMeta, tta: bool) -> tuple:
    """Besides the weights, what the exported graph depends on: the architecture (backbone,
    labels, the training config that sets the head and `multi_stage`), the input (size,
    mean, std, TTA), Marquee's version (the graph's code) and how it is written (exporter,
    opset). Thresholds are outside the graph: editing them keeps the key."""
    architecture = (meta.backbone, len(meta.label_names), json.dumps(meta.config, sort_keys=True))
    sizes = (meta.image_size, meta.mean, meta.std, tta)
    return (*architecture, *sizes, OPSET, exporter_version(), __version__)
