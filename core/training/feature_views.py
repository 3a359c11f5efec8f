"""Feature-level augmentation for a frozen backbone.

Each training image is embedded once as its clean view plus K augmented views (flip,
random resized crop, colour jitter); every epoch the head trains on one view per image,
chosen at random. That is augmentation at close to the cost of the linear probe.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from core.training.augment import random_flip, uniform


def sample_views(n_items: int, n_views: int, generator: torch.Generator) -> torch.Tensor:
    """One view index in [0, n_views) per item, drawn uniformly (a LongTensor of n_items)."""
    return torch.randint(n_views, (n_items,), generator=generator)


def gather_views(views: torch.Tensor, choice: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows `idx` of a (views, items, dims) cache, each from its chosen view."""
    return views[choice[idx], idx]


def view_augment(
    batch: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Flip, random resized crop (40-100% of the area) and colour jitter (brightness,
    contrast, saturation, sometimes grey) of a normalised NCHW float batch."""
    n, dev = batch.shape[0], batch.device
    rand = uniform(generator, dev)
    batch = random_flip(batch, rand)
    area = 0.4 + 0.6 * rand(n)
    aspect = torch.exp((rand(n) - 0.5) * 0.58)  # 3/4 .. 4/3
    sx = (area * aspect).sqrt().clamp(max=1.0)
    sy = (area / aspect).sqrt().clamp(max=1.0)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 1, 1] = sx, sy
    theta[:, 0, 2] = (rand(n) * 2 - 1) * (1 - sx)
    theta[:, 1, 2] = (rand(n) * 2 - 1) * (1 - sy)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    batch = F.grid_sample(batch, grid, align_corners=False, padding_mode="reflection")
    m = torch.tensor(mean, device=dev, dtype=batch.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=dev, dtype=batch.dtype).view(1, 3, 1, 1)
    rgb = batch * s + m  # back to [0, 1] for the colour jitter
    grey = (rgb * torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)).sum(
        1, keepdim=True
    )
    saturation = (0.5 + rand(n)).view(n, 1, 1, 1)  # 0.5 .. 1.5
    saturation = torch.where(
        rand(n).view(n, 1, 1, 1) < 0.2, torch.zeros_like(saturation), saturation
    )
    rgb = grey + (rgb - grey) * saturation
    contrast = (0.7 + 0.6 * rand(n)).view(n, 1, 1, 1)
    brightness = ((rand(n) - 0.5) * 0.4).view(n, 1, 1, 1)
    centre = rgb.mean(dim=(1, 2, 3), keepdim=True)
    rgb = ((rgb - centre) * contrast + centre + brightness).clamp(0, 1)
    return (rgb - m) / s
