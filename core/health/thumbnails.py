"""Perceptual fingerprints for duplicates: colour thumbnails, compared as they are
(resized and re-encoded copies) or after lining up a crop (slightly cropped copies).

A cropped copy's thumbnail is shifted and stretched against the original's, so their
plain correlation drops below any safe threshold after a few percent of crop. The
embedding's nearest neighbour of a cropped copy is still its original, though; so each
image's nearest neighbour is checked once more, with the crop of one image that best
matches the other (a coordinate search over the four edges' trims).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

BASE_PX = 32  # the downsampled images the crops are cut from
THUMB_PX = 16
TRIMS = tuple(step / 50 for step in range(7))  # 0 to 12% off an edge
SEARCH_PASSES = 2


def small_images(images: Any, n: int, batch: int = 256) -> torch.Tensor:
    """N x 3 x 32 x 32 float: each decoded image averaged down (area)."""
    out = [
        F.adaptive_avg_pool2d(images[torch.arange(s, min(s + batch, n))].float(), BASE_PX)
        for s in range(0, n, batch)
    ]
    return torch.cat(out) if out else torch.zeros((0, 3, BASE_PX, BASE_PX))


def fingerprints(small: torch.Tensor) -> torch.Tensor:
    """N x (3 * 16 * 16) unit vectors: each image's colour thumbnail, mean removed."""
    return _unit(F.avg_pool2d(small, BASE_PX // THUMB_PX).flatten(1))


def aligned_similarity(small: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per pair (a[k], b[k]): the best thumbnail correlation of a crop of either image
    against the whole other one (the uncropped correlation included)."""
    return torch.maximum(_best_crop(small, a, b), _best_crop(small, b, a))


def _best_crop(small: torch.Tensor, crop: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
    """Coordinate ascent over the edges' trims of `crop`'s images, against `whole`'s."""
    target = _crop_prints(small[whole], torch.zeros(len(whole), 4))
    sources = small[crop]
    box = torch.zeros(len(crop), 4)  # left, top, right, bottom trims
    best = (_crop_prints(sources, box) * target).sum(1)
    for _ in range(SEARCH_PASSES):
        for edge in range(4):
            for trim in TRIMS:
                trial = box.clone()
                trial[:, edge] = trim
                score = (_crop_prints(sources, trial) * target).sum(1)
                better = score > best
                best = torch.where(better, score, best)
                box[better] = trial[better]
    return best


def _crop_prints(images: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """Fingerprints of the crops `box` (edge trims, fractions) of `images`."""
    left, top, right, bottom = box.unbind(1)
    theta = torch.zeros(len(images), 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = 1 - left - right, left - right
    theta[:, 1, 1], theta[:, 1, 2] = 1 - top - bottom, top - bottom
    grid = F.affine_grid(theta, [len(images), 3, THUMB_PX, THUMB_PX], align_corners=False)
    return _unit(F.grid_sample(images, grid, align_corners=False).flatten(1))


def _unit(thumbs: torch.Tensor) -> torch.Tensor:
    return F.normalize(thumbs - thumbs.mean(1, keepdim=True), dim=1)
