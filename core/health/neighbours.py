"""Near neighbours, blockwise: kNN similarities in embedding space (for strays) and the
pairs that look like the same picture (candidate duplicates), in one pass.

Two measures per pair: the cosine of the centred embeddings (semantic: survives crops
and colour changes) and a perceptual fingerprint, the correlation of 16 x 16 colour
thumbnails made from the decoded images the image cache already holds (survives
resizing and re-encoding, and tells apart posters that only share a style, which the
embeddings of a synthetic set may not). Nearest neighbours get a third look, with a crop
lined up (core.health.thumbnails), which finds slightly cropped copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from core.health.thumbnails import aligned_similarity

BLOCK = 1024
PCA_FROM, PCA_DIMS = 2000, 256


@dataclass
class Neighbourhood:
    """Each image's `k` highest embedding cosines to others, and the candidate pairs."""

    knn: np.ndarray  # N x k centred-embedding cosines, highest first
    knn_index: np.ndarray  # N x k: which images those are
    pairs: np.ndarray  # M x 2 indices, i < j
    cosines: np.ndarray  # M embedding cosines
    fingerprints: np.ndarray  # M thumbnail correlations


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


def with_cropped_copies(
    near: Neighbourhood, small: torch.Tensor, min_aligned: float, min_cosine: float = 0.5
) -> Neighbourhood:
    """`near` plus the nearest-neighbour pairs (embedding cosine >= `min_cosine`) whose
    crop-aligned thumbnail correlation is >= `min_aligned`; their fingerprint is that."""
    known = {(int(i), int(j)) for i, j in near.pairs}
    pairs, cosines = _nearest_pairs(near.knn, near.knn_index, min_cosine)
    new = np.array([tuple(p) not in known for p in pairs.tolist()], dtype=bool)
    pairs, cosines = pairs[new], cosines[new]
    if len(pairs) == 0:
        return near
    aligned = aligned_similarity(
        small, torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    ).numpy()
    keep = aligned >= min_aligned
    return Neighbourhood(
        near.knn,
        near.knn_index,
        np.concatenate([near.pairs, pairs[keep]]),
        np.concatenate([near.cosines, cosines[keep]]),
        np.concatenate([near.fingerprints, aligned[keep]]),
    )


def _nearest_pairs(
    knn: np.ndarray, knn_index: np.ndarray, min_cosine: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each image with its nearest neighbour when their cosine is at least `min_cosine`,
    once per pair: M x 2 indices (i < j) and the M cosines."""
    i = np.flatnonzero(knn[:, 0] >= min_cosine)
    pairs = np.sort(np.stack([i, knn_index[i, 0]], 1), axis=1).reshape(-1, 2)
    pairs, first = np.unique(pairs, axis=0, return_index=True)
    return pairs, knn[i[first], 0]


def neighbour_votes(
    near: Neighbourhood, targets: np.ndarray, temperature: float = 0.05
) -> np.ndarray:
    """Per image and label: its neighbours' labels, weighted by a softmax of their
    cosines (a leave-one-out kNN classifier; never the image's own label)."""
    weights = np.exp((near.knn - near.knn.max(axis=1, keepdims=True)) / temperature)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkl->nl", weights, targets[near.knn_index])
