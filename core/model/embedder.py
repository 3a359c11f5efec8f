"""The frozen backbone as one graph: uint8 images (N x 3 x S x S) in, embeddings out.

What a frozen training run computes once per image; on a CPU it runs on ONNX Runtime
(core.model.onnx_runtime), about three times as fast as torch there.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from core import __version__
from core.model.classifier import MultiLabelClassifier
from core.model.onnx_runtime import OPSET, cached_session, export_module, exporter_version
from core.model.preprocess import normalize

log = logging.getLogger("marquee.training")


class Embedder(nn.Module):
    """uint8 N x 3 x S x S -> what the head sees (pooled features, plus the tapped stage)."""

    def __init__(
        self, model: MultiLabelClassifier, mean: Sequence[float], std: Sequence[float]
    ) -> None:
        super().__init__()
        self.model, self.mean, self.std = model, list(mean), list(std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.embed(normalize(images, self.mean, self.std)).float()


def onnx_embedder(
    model: MultiLabelClassifier,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    family: str,
    threads: int,
) -> Any | None:
    """An ONNX Runtime session embedding uint8 batches; None (use torch) where the graph
    cannot be exported or ONNX Runtime is missing, with one log line saying so."""
    embedder = Embedder(model, mean, std).eval()
    example = torch.zeros(2, 3, size, size, dtype=torch.uint8)
    # family: backbone, weights and size; then how the graph is written, and by which code
    shape = ("embed", family, OPSET, exporter_version(), __version__)
    key = hashlib.blake2b(repr(shape).encode(), digest_size=16).hexdigest()
    try:
        return cached_session(
            key, lambda path: export_module(embedder, example, path, "images", "features"), threads
        )
    except Exception as exc:  # no onnxruntime, or an operator the exporter does not know
        log.warning("embedding on torch: ONNX Runtime is not available here (%s)", exc)
        return None


def run_embedder(session: Any, images: torch.Tensor, rows: int | None = None) -> torch.Tensor:
    """Embeddings of a uint8 N x 3 x S x S batch on an `onnx_embedder` session. With `rows`,
    a shorter batch runs padded to `rows` images (their embeddings are dropped; the real
    ones are unchanged): ONNX Runtime's memory arena grows for each new batch shape it
    meets (a short last batch added up to 80 MB at 160 px), so one shape keeps it at the
    size of the first."""
    batch = np.ascontiguousarray(images.numpy(), dtype=np.uint8)
    count = len(batch)
    if rows is not None and count < rows:
        padding = np.zeros((rows - count, *batch.shape[1:]), dtype=np.uint8)
        batch = np.concatenate([batch, padding])
    return torch.from_numpy(session.run(None, {"images": batch})[0][:count])
