"""The inference graph: what runs after decoding, identical on torch and in the ONNX file.

Input `images`: uint8 RGB, N x S x S x 3 (NHWC), each image resized to S x S (Pillow,
bilinear), exactly as decoded. Output `probabilities`: float32 N x labels. Inside:
normalisation with the model file's mean/std, the classifier, the flip test-time
augmentation when the model file asks for it, and the sigmoid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from core.inference.contract import INPUT_NAME, OUTPUT_NAME
from core.modelfile.checkpoint import ModelMeta

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "InferenceGraph", "graph_for"]


class InferenceGraph(nn.Module):
    """uint8 RGB N x S x S x 3 -> probabilities N x labels: normalise, model, flip TTA, sigmoid."""

    def __init__(
        self, model: nn.Module, mean: Sequence[float], std: Sequence[float], tta: bool
    ) -> None:
        super().__init__()
        self.model, self.tta = model, tta
        # (pixels / 255 - mean) / std is (pixels - 255 mean) / (255 std): one step per channel
        self.register_buffer("offset", _per_channel(mean))
        self.register_buffer("scale", _per_channel(std))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.permute(0, 3, 1, 2).float() - self.offset) / self.scale
        probs = torch.sigmoid(self.model(x).float())
        if self.tta:  # the mirror image's probabilities, averaged in
            probs = (probs + torch.sigmoid(self.model(x.flip(-1)).float())) / 2
        return probs


def graph_for(model: nn.Module, meta: ModelMeta, tta: bool | None = None) -> InferenceGraph:
    """The model file's inference graph; `tta` overrides what the file says."""
    use_tta = bool(meta.config.get("tta", False)) if tta is None else tta
    return InferenceGraph(model, meta.mean, meta.std, use_tta).eval()


def _per_channel(values: Sequence[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).mul(255.0).view(1, 3, 1, 1)
