"""Strays: images far from every other image in embedding space (a wrong file, a blank
frame, something that is not a poster), ranked by their kNN distance."""

from __future__ import annotations

import numpy as np

from core.health.embeddings import Embedded
from core.health.neighbours import Neighbourhood
from core.health.report import Outlier

Z_MIN = 3.5  # robust z-score from which an image counts as a stray


STRAY_NEIGHBOURS = 5


def stray_scores(near: Neighbourhood) -> np.ndarray:
    """1 - the mean cosine to the image's 5 nearest neighbours, per image."""
    return 1.0 - near.knn[:, :STRAY_NEIGHBOURS].mean(axis=1)


def find_outliers(data: Embedded, near: Neighbourhood, limit: int = 50) -> list[Outlier]:
    """Images whose stray score is far above the usual (a robust z-score over Z_MIN),
    strangest first, at most `limit`."""
    scores = stray_scores(near)
    if len(scores) < 3:
        return []
    median = float(np.median(scores))
    spread = 1.4826 * float(np.median(np.abs(scores - median))) or 1e-6
    z = (scores - median) / spread
    chosen = [int(i) for i in np.argsort(-scores, kind="stable") if z[i] >= Z_MIN][:limit]
    return [
        Outlier(data.refs[i].file, round(float(scores[i]), 4), data.refs[i].split) for i in chosen
    ]
