"""Style-randomised views of training images, for feature views that generalise across style.

The plain views (core.training.feature_views) jitter geometry and colour a little; these
change what a drawing style changes and keep what a concept is: a random resized crop that
may also zoom out (objects drawn smaller), swapped colour channels or grey (another
palette), a tone curve and lifted blacks (another medium), blur and grain (another
reproduction). They work on uint8 images, so the frozen backbone can embed them on the
same ONNX Runtime graph as the clean images.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

_GREY = (0.299, 0.587, 0.114)


def style_view(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A style-randomised copy of a uint8 N x 3 x S x S batch (uint8 out, same shape)."""
    x = images.float() / 255.0
    x = _geometry(x, generator)
    x = _palette(x, generator)
    x = _texture(x, generator)
    x = _medium(x, generator)
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8)


def _rand(generator: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=generator)


def _geometry(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Flip, then a crop of 45-100% of the area or a zoom out to 65-100% (edge padding)."""
    n = x.shape[0]
    flip = _rand(generator, n) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(-1), x)
    zoom_out = _rand(generator, n) < 0.35
    crop = (0.45 + 0.55 * _rand(generator, n)).sqrt()
    shrink = 1.0 / (0.65 + 0.35 * _rand(generator, n))
    scale = torch.where(zoom_out, shrink, crop)
    aspect = torch.exp((_rand(generator, n) - 0.5) * 0.4)
    sx, sy = scale * aspect.sqrt(), scale / aspect.sqrt()
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = sx, sy
    theta[:, 0, 2] = (_rand(generator, n) * 2 - 1) * (1 - sx).abs()
    theta[:, 1, 2] = (_rand(generator, n) * 2 - 1) * (1 - sy).abs()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="border")


def _palette(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Per image: swapped colour channels (half), grey (a fifth), saturation 0.5-1.5."""
    n = x.shape[0]
    order = torch.stack([torch.randperm(3, generator=generator) for _ in range(n)])
    swap = (_rand(generator, n) < 0.5).view(n, 1)
    order = torch.where(swap, order, torch.arange(3).expand(n, 3))
    x = torch.gather(x, 1, order.view(n, 3, 1, 1).expand_as(x))
    grey = (x * torch.tensor(_GREY).view(1, 3, 1, 1)).sum(1, keepdim=True)
    saturation = 0.5 + _rand(generator, n)
    saturation = torch.where(_rand(generator, n) < 0.2, torch.zeros(n), saturation)
    return grey + (x - grey) * saturation.view(n, 1, 1, 1)


def _medium(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Tone curve, contrast and black level, then blur (half) and grain."""
    n = x.shape[0]
    gamma = torch.exp((_rand(generator, n) - 0.5) * 0.8).view(n, 1, 1, 1)
    x = x.clamp(0, 1) ** gamma
    contrast = (0.6 + 0.6 * _rand(generator, n)).view(n, 1, 1, 1)
    floor = (0.25 * _rand(generator, n)).view(n, 1, 1, 1)
    x = floor + (1 - floor) * ((x - 0.5) * contrast + 0.5)
    blurred = _blur(x, 0.6 + 0.9 * float(_rand(generator, 1)))
    x = torch.where((_rand(generator, n) < 0.5).view(n, 1, 1, 1), blurred, x)
    grain = (0.04 * _rand(generator, n)).view(n, 1, 1, 1)
    return x + grain * torch.randn(x.shape, generator=generator)


def _texture(x: torch.Tensor, generator: torch.Generator | None, p: float = 0.6) -> torch.Tensor:
    """Half the time, a screen over the picture: parallel lines (hatching) or a dot grid
    (halftone) of random angle and period, light paper showing between the lines."""
    n, _, h, w = x.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij"
    )
    angle = (_rand(generator, n) * torch.pi).view(n, 1, 1)
    period = (4 + 6 * _rand(generator, n)).view(n, 1, 1)
    along = (xs * torch.cos(angle) + ys * torch.sin(angle)) / period
    across = (-xs * torch.sin(angle) + ys * torch.cos(angle)) / period
    lines = torch.cos(2 * torch.pi * along)
    dots = torch.where(
        _rand(generator, n).view(n, 1, 1) < 0.3, torch.cos(2 * torch.pi * across), torch.ones(1)
    )
    duty = (_rand(generator, n) - 0.5).view(n, 1, 1)
    ink = (torch.minimum(lines, dots) > duty).to(x.dtype).unsqueeze(1)
    paper = 0.75 + 0.25 * _rand(generator, n, 3, 1, 1)
    screened = x * (1 - ink) + paper * ink
    return torch.where((_rand(generator, n) < p).view(n, 1, 1, 1), screened, x)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, round(2 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    row = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), row, groups=channels)
    column = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), column, groups=channels)
