"""The inference graph on ONNX Runtime, exported once per model (core.model.onnx_runtime)."""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from core.base.runtime import prediction_threads
from core.inference.graph import InferenceGraph
from core.inference.onnx_export import export_graph
from core.model.onnx_runtime import OPSET, cached_session
from core.modelfile.checkpoint import ModelMeta, weights_digest


def onnx_session(graph: InferenceGraph, meta: ModelMeta, threads: int | None = None) -> Any:
    """An ONNX Runtime session (CPU) running `graph`, from the cache when it is there."""
    return cached_session(
        graph_key(graph, meta),
        lambda path: export_graph(graph, meta, path),
        threads or prediction_threads(),
    )


def graph_key(graph: InferenceGraph, meta: ModelMeta) -> str:
    """A digest of everything that shapes the exported graph."""
    digest = hashlib.blake2b(digest_size=16)
    details = ("inference", meta.image_size, meta.mean, meta.std, graph.tta, OPSET)
    digest.update(repr((*details, torch.__version__)).encode())
    digest.update(weights_digest(graph.model).encode())
    return digest.hexdigest()
