"""What every model input goes through: uint8 pixels to normalised floats (on any device)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def normalize(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 NCHW -> float, scaled to [0, 1] then standardised per channel."""
    x = batch.float().div_(255.0)
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return x.sub_(m).div_(s)
