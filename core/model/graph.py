"""The inference graph: a classifier as it predicts, identical in training's evaluation, on
torch and in the ONNX file.

Input `images`: uint8 RGB, N x S x S x 3 (NHWC), each image resized to S x S (Pillow,
bilinear), exactly as decoded. Output `probabilities`: float32 N x labels. Inside:
normalisation with the backbone's mean/std (the model file's), the classifier, the flip
test-time augmentation when asked for, and the sigmoid. Training's `evaluate` runs the same
graph (`scores`) on its normalised batches, so validation numbers are the predictor's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class InferenceGraph(nn.Module):
    """uint8 RGB N x S x S x 3 -> probabilities N x labels: normalise, model, flip TTA, sigmoid."""

    def __init__(
        self, model: nn.Module, mean: Sequence[float], std: Sequence[float], tta: bool
    ) -> None:
        super().__init__()
        self.model, self.tta = model, tta
        # (pixels / 255 - mean) / std is (pixels - 255 mean) / (255 std): one step per channel
        self.offset: torch.Tensor
        self.scale: torch.Tensor
        self.register_buffer("offset", _per_channel(mean))
        self.register_buffer("scale", _per_channel(std))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.permute(0, 3, 1, 2).float() - self.offset) / self.scale
        return self.scores(x)[1]

    def scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, probabilities) of a normalised NCHW batch; with TTA the probabilities
        average in the mirror image's (the logits are the image's own)."""
        logits = self.model(x).float()
        probs = torch.sigmoid(logits)
        if self.tta:
            probs = flip_average(probs, torch.sigmoid(self.model(x.flip(-1)).float()))
        return logits, probs


def flip_average(probs: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
    """The flip test-time augmentation: an image's probabilities averaged with its mirror's."""
    return (probs + mirrored) / 2


def _per_channel(values: Sequence[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).mul(255.0).view(1, 3, 1, 1)
