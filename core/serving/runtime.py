"""What runs the model for the server: the inference pipeline on torch or ONNX Runtime.

Both take decoded size x size RGB uint8 arrays and return probabilities (N x labels) from
the same inference graph (TTA included), so the batcher does not care which one it drives
and both agree with `marquee predict` and the exported ONNX file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.inference.pipeline import RUNTIMES
from core.inference.predictor import Predictor
from core.modelfile.checkpoint import ModelMeta

__all__ = ["RUNTIMES", "ModelRuntime", "load_runtime"]


@dataclass
class ModelRuntime:
    """A loaded model for the server: its metadata, runtime and `run(arrays)`."""

    predictor: Predictor  # labels, tuned thresholds, new_set, the pipeline

    @property
    def meta(self) -> ModelMeta:
        return self.predictor.meta

    @property
    def name(self) -> str:
        return self.predictor.pipeline.runtime

    @property
    def device(self) -> str:
        return self.predictor.pipeline.device

    @property
    def device_name(self) -> str:
        return self.predictor.pipeline.device_name

    def run(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        return self.predictor.predict_arrays(arrays)

    def warm_up(self, max_batch: int) -> None:
        """Run the model once per warm-up batch size before the server says it is ready."""
        size = self.meta.image_size
        blank = np.zeros((size, size, 3), np.uint8)
        for n in warm_up_batches(size, max_batch):
            self.run([blank] * n)


def warm_up_batches(image_size: int, max_batch: int) -> list[int]:
    """Batch sizes to warm up with: 1 and a small batch, but only 1 for large images (a
    batch of 4 at 2048 px takes about 45 s and 5 GB on a 2-core CPU; one image, 8 s)."""
    if image_size > WARM_UP_FULL_SIZE:
        return [1]
    return sorted({1, min(max_batch, 4)})


WARM_UP_FULL_SIZE = 512


def load_runtime(
    model_path: str | Path, device: str = "auto", runtime: str = "auto"
) -> ModelRuntime:
    """Load the model file for serving; `runtime="onnx"` runs its exported graph (CPU)."""
    return ModelRuntime(Predictor.from_file(model_path, device=device, runtime=runtime))
