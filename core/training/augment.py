"""Batch augmentation for training on images: flips, shifts, zooms, brightness and contrast."""

from __future__ import annotations

from collections.abc import Callable

import torch

Uniform = Callable[..., torch.Tensor]  # shape -> uniform [0, 1) numbers on the batch's device


def uniform(generator: torch.Generator | None, device: torch.device) -> Uniform:
    """Uniform random numbers drawn from `generator` (on the CPU, so runs are reproducible
    on any device) and moved to `device`."""

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(device)

    return rand


def random_flip(batch: torch.Tensor, rand: Uniform) -> torch.Tensor:
    """Each image of an NCHW batch mirrored left-right with probability 1/2."""
    n = batch.shape[0]
    return torch.where((rand(n) < 0.5).view(n, 1, 1, 1), batch.flip(-1), batch)


def augment(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image horizontal flips, small random shifts/zooms and brightness/contrast jitter.

    Works on a float batch on any device; cheap next to a backbone forward pass.
    """
    n, dev = batch.shape[0], batch.device
    rand = uniform(generator, dev)
    batch = random_flip(batch, rand)
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
