"""Batch augmentation for training on images: flips, shifts, zooms, brightness and contrast."""

from __future__ import annotations

import torch


def augment(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image horizontal flips, small random shifts/zooms and brightness/contrast jitter.

    Works on a float batch on any device; cheap next to a backbone forward pass.
    """
    n = batch.shape[0]
    dev = batch.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    flip = rand(n) < 0.5
    batch = torch.where(flip.view(n, 1, 1, 1), batch.flip(-1), batch)
    scale = 1.0 - 0.2 * rand(n)  # zoom in by up to 20%
    shift = (rand(n, 2) - 0.5) * 2 * (1 - scale).unsqueeze(1)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = torch.nn.functional.affine_grid(theta, list(batch.shape), align_corners=False)
    batch = torch.nn.functional.grid_sample(
        batch, grid, align_corners=False, padding_mode="reflection"
    )
    brightness = (rand(n) - 0.5).mul(0.4).view(n, 1, 1, 1)
    contrast = (1 + (rand(n) - 0.5) * 0.4).view(n, 1, 1, 1)
    mean = batch.mean(dim=(1, 2, 3), keepdim=True)
    return (batch - mean) * contrast + mean + brightness
