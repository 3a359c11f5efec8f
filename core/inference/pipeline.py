"""The one inference pipeline: decode -> resize -> normalise -> model -> TTA -> sigmoid.

Decoding and resizing run in Python (Pillow, JPEG draft mode); everything after them is
one graph (core.inference.graph) taking uint8 RGB N x S x S x 3. torch runs that module;
ONNX Runtime runs the same module exported (core.inference.onnx_export), so the predictor,
both server runtimes, evaluation, Grad-CAM's displayed probability and the exported file
give the same numbers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.base.device import resolve_device
from core.base.errors import ConfigError
from core.base.runtime import prediction_threads
from core.data.decode import ImageSource, load_rgb
from core.inference.graph import INPUT_NAME, InferenceGraph, graph_for
from core.modelfile.checkpoint import ModelMeta, load_model

RUNTIMES = ("torch", "onnx")


class InferencePipeline:
    """A model file ready to turn images into probabilities on one runtime and device."""

    def __init__(
        self,
        model: nn.Module,
        meta: ModelMeta,
        device: str = "auto",
        tta: bool | None = None,
        runtime: str = "torch",
    ) -> None:
        if runtime not in RUNTIMES:
            raise ConfigError(f"Unknown runtime '{runtime}'.", "Use torch or onnx.")
        if runtime == "onnx" and device not in ("auto", "cpu"):
            raise ConfigError("The onnx runtime runs on the CPU.", "Use --device cpu or torch.")
        self.meta, self.runtime = meta, runtime
        self.device, self.device_name = resolve_device("cpu" if runtime == "onnx" else device)
        self.graph = graph_for(model, meta, tta).to(self.device)
        self._session = _onnx_session(self.graph, meta) if runtime == "onnx" else None

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        device: str = "auto",
        tta: bool | None = None,
        runtime: str = "torch",
    ) -> InferencePipeline:
        """Load a .safetensors model file (ModelFileError with a clear message if bad)."""
        model, meta = load_model(path)
        return cls(model, meta, device, tta, runtime)

    @property
    def tta(self) -> bool:
        return self.graph.tta

    @property
    def model(self) -> nn.Module:
        return self.graph.model

    def decode(self, source: ImageSource) -> np.ndarray:
        """One image as the graph's input row: S x S x 3 uint8 (ImageDecodeError if bad)."""
        return load_rgb(source, self.meta.image_size)

    def run(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (N x labels) for decoded S x S x 3 uint8 arrays."""
        batch = np.ascontiguousarray(np.stack(arrays), dtype=np.uint8)
        if self._session is not None:
            return self._session.run(None, {INPUT_NAME: batch})[0]
        with torch.inference_mode():
            return self.graph(torch.from_numpy(batch).to(self.device)).cpu().numpy()


def _onnx_session(graph: InferenceGraph, meta: ModelMeta) -> Any:
    """The graph exported to ONNX and loaded into an ONNX Runtime session on the CPU."""
    import onnxruntime as ort

    from core.inference.onnx_export import export_graph

    with tempfile.TemporaryDirectory(prefix="marquee-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        export_graph(graph, meta, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = prediction_threads()
        options.inter_op_num_threads = 1
        # No busy-waiting between batches: the server shares the CPU with decoding, HTTP
        # and often the desktop app; spinning threads would starve them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
