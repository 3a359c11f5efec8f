"""Near neighbours, blockwise: kNN similarities in embedding space (for strays) and the
pairs that look like the same picture (candidate duplicates), in one pass.

Two measures per pair: the cosine of the centred embeddings (semantic: survives crops
and colour changes) and a perceptual fingerprint, the correlation of 16 x 16 colour
thumbnails made from the decoded images the image cache already holds (survives
resizing and re-encoding, and tells apart posters that only share a style, which the
embeddings of a synthetic set may not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

BLOCK = 1024
THUMB_PX = 16
PCA_FROM, PCA_DIMS = 2000, 256


@dataclass
class Neighbourhood:
    """Each image's `k` highest embedding cosines to others, and the candidate pairs."""

    knn: np.ndarray  # N x k centred-embedding cosines, highest first
    knn_index: np.ndarray  # N x k: which images those are
    pairs: np.ndarray  # M x 2 indices, i < j
    cosines: np.ndarray  # M embedding cosines
    fingerprints: np.ndarray  # M thumbnail correlations


def fingerprints(images: Any, n: int, batch: int = 256) -> torch.Tensor:
    """N x (3 * 16 * 16) unit vectors: each image's colour thumbnail, mean removed."""
    out = []
    for start in range(0, n, batch):
        idx = torch.arange(start, min(start + batch, n))
        thumb = F.adaptive_avg_pool2d(images[idx].float(), THUMB_PX).reshape(len(idx), -1)
        out.append(F.normalize(thumb - thumb.mean(1, keepdim=True), dim=1))
    return torch.cat(out) if out else torch.zeros((0, 3 * THUMB_PX * THUMB_PX))


def centred(features: torch.Tensor) -> torch.Tensor:
    """Unit vectors of the embeddings less their mean (plain cosines of post-ReLU
    features are all high; centring spreads them). Large sets keep their top principal
    components only (the N x N similarities then cost a fifth)."""
    x = features.float()
    x = x - x.mean(0, keepdim=True)
    if len(x) > PCA_FROM and x.shape[1] > PCA_DIMS:
        torch.manual_seed(0)
        _, _, v = torch.pca_lowrank(x, q=PCA_DIMS, center=False)
        x = x @ v
    return F.normalize(x, dim=1)


def neighbourhood(
    features: torch.Tensor,
    prints: torch.Tensor,
    k: int = 5,
    min_fingerprint: float = 0.985,
    min_cosine: float = 0.9,
    check: Callable[[], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Neighbourhood:
    """kNN cosines, and pairs with a fingerprint >= `min_fingerprint` or an embedding
    cosine >= `min_cosine`; `check()` runs between blocks (it may raise)."""
    x, n = centred(features), len(features)
    k = max(1, min(k, n - 1))
    knn, knn_index, pairs, cosines, prints_out = [], [], [], [], []
    for start in range(0, n, BLOCK):
        if check is not None:
            check()
        sims = x[start : start + BLOCK] @ x.T
        thumbs = prints[start : start + BLOCK] @ prints.T
        rows = torch.arange(len(sims))
        sims[rows, rows + start] = -2.0  # not its own neighbour
        top = sims.topk(k, dim=1)
        knn.append(top.values.numpy())
        knn_index.append(top.indices.numpy())
        i, j = torch.nonzero((thumbs >= min_fingerprint) | (sims >= min_cosine), as_tuple=True)
        keep = i + start < j
        i, j = i[keep], j[keep]
        pairs.append(torch.stack([i + start, j], 1).numpy())
        cosines.append(sims[i, j].numpy())
        prints_out.append(thumbs[i, j].numpy())
        if progress is not None:
            progress(min(start + BLOCK, n), n)
    if n < 2:
        empty = np.zeros((n, 1))
        return Neighbourhood(empty, empty.astype(int), np.zeros((0, 2), int), *[np.zeros(0)] * 2)
    return Neighbourhood(
        np.concatenate(knn),
        np.concatenate(knn_index),
        np.concatenate(pairs),
        np.concatenate(cosines),
        np.concatenate(prints_out),
    )


def neighbour_votes(
    near: Neighbourhood, targets: np.ndarray, temperature: float = 0.05
) -> np.ndarray:
    """Per image and label: its neighbours' labels, weighted by a softmax of their
    cosines (a leave-one-out kNN classifier; never the image's own label)."""
    weights = np.exp((near.knn - near.knn.max(axis=1, keepdims=True)) / temperature)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkl->nl", weights, targets[near.knn_index])
