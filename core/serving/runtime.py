"""What runs the model for the server: torch (any device) or ONNX Runtime (CPU).

Both take decoded size x size RGB uint8 arrays and return probabilities (N x labels), so
the batcher does not care which one it drives.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.base.errors import ConfigError

RUNTIMES = ("torch", "onnx")


@dataclass
class ModelRuntime:
    """A loaded model: its metadata and a `run(arrays) -> probabilities` function."""

    meta: Any  # core.modelfile.checkpoint.ModelMeta
    name: str
    device: str
    device_name: str
    predictor: Any  # core.inference.predictor.Predictor (labels, tuned thresholds, new_set)
    _session: Any = None

    def run(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        if self._session is None:
            return self.predictor.predict_arrays(arrays)
        batch = np.stack(arrays).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        mean = np.asarray(self.meta.mean, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(self.meta.std, np.float32).reshape(1, 3, 1, 1)
        x = np.ascontiguousarray((batch - mean) / std, dtype=np.float32)
        return self._session.run(None, {"images": x})[0]

    def warm_up(self, max_batch: int) -> None:
        size = self.meta.image_size
        blank = np.zeros((size, size, 3), np.uint8)
        for n in sorted({1, min(max_batch, 4)}):
            self.run([blank] * n)


def load_runtime(model_path: str | Path, device: str = "auto", runtime: str = "torch"):
    """Load the model file for serving; `runtime="onnx"` exports it to ONNX first (CPU)."""
    from core.inference.predictor import Predictor

    if runtime not in RUNTIMES:
        raise ConfigError(f"Unknown runtime '{runtime}'.", "Use torch or onnx.")
    if runtime == "onnx" and device not in ("auto", "cpu"):
        raise ConfigError(
            "--runtime onnx runs on the CPU.", "Use --device cpu, or --runtime torch."
        )
    predictor = Predictor.from_file(model_path, device="cpu" if runtime == "onnx" else device)
    from core.base.device import resolve_device

    dev, dev_name = resolve_device(predictor.device)
    session = _onnx_session(model_path) if runtime == "onnx" else None
    return ModelRuntime(predictor.meta, runtime, dev, dev_name, predictor, session)


def _onnx_session(model_path: str | Path) -> Any:
    import os

    import onnxruntime as ort

    from core.inference.onnx_export import export_onnx

    with tempfile.TemporaryDirectory(prefix="marquee-onnx-") as tmp:
        onnx_file = export_onnx(model_path, Path(tmp) / "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # No busy-waiting between batches: the server shares the CPU with decoding, HTTP
        # and often the desktop app; spinning threads would starve them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
