"""One probability per (image, label) from the doctor's three witnesses, weighed per label.

The witnesses: the out-of-fold heads' probability, the leave-one-out kNN vote of the
neighbours' labels, and the image's other given labels (genres come in typical
combinations, so a poster's Action makes its faintly drawn Adventure plausible, while a
label that neither the picture nor its companions support is the likelier slip). Per
label, a small L2-regularised logistic regression on [logit heads, logit vote, other
labels] is trained on the given labels of all folds but one and scores the held-out fold
(cross-fitting, as the heads are), so no image's own label ever decides its probability.
It replaces a fixed half-and-half average: each label learns how far to trust the probe
against the vote, and the combinations its labels come in. A label with too few examples
for such a fit keeps the average.
"""

from __future__ import annotations

import numpy as np

from core.health.oof import fold_assignment

NEWTON_STEPS = 25
# The usual rule for a logistic regression that generalises: at least 10 of the rarer
# outcome per input (Peduzzi et al., J Clin Epidemiol 1996). A label with fewer in the
# training folds (a small data set, a rare label) keeps the plain average of the two.
EVENTS_PER_INPUT = 10
PROBABILITY_FLOOR = 1e-4  # the heads' probabilities are clipped here before the logit


def logit(p: np.ndarray, floor: float) -> np.ndarray:
    p = np.clip(p, floor, 1 - floor)
    return np.log(p / (1 - p))


def witnesses(heads: np.ndarray, votes: np.ndarray, given: np.ndarray, neighbours: int):
    """Per label j, the N x (2 + labels - 1) inputs of its regression (a function of j).

    A vote is at most sure to half a neighbour (0 of 20 neighbours: 1/40, not 0)."""
    head_logits = logit(heads, PROBABILITY_FLOOR)
    vote_logits = logit(votes, 0.5 / max(neighbours, 1))
    labels = np.asarray(given, dtype=np.float64)

    def inputs(j: int) -> np.ndarray:
        others = np.delete(labels, j, axis=1)
        return np.column_stack([head_logits[:, j], vote_logits[:, j], others])

    return inputs


def combined_probabilities(
    heads: np.ndarray,
    votes: np.ndarray,
    given: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    neighbours: int = 20,
) -> np.ndarray:
    """N x labels probabilities, each image's from regressions fitted without it."""
    heads = np.asarray(heads, dtype=np.float64)
    votes = np.asarray(votes, dtype=np.float64)
    target = (np.asarray(given) > 0.5).astype(np.float64)
    inputs = witnesses(heads, votes, target, neighbours)
    fold_of = fold_assignment(len(heads), folds, seed)
    probs = (heads + votes) / 2
    for j in range(heads.shape[1]):
        x = inputs(j)
        if not enough_examples(target[:, j], x.shape[1], folds):
            continue
        for fold in range(folds):
            held = fold_of == fold
            if not held.any():
                continue
            weights = fit_logistic(x[~held], target[~held, j])
            probs[held, j] = predict(x[held], weights)
    return probs


def enough_examples(target: np.ndarray, inputs: int, folds: int) -> bool:
    """Whether the training folds hold EVENTS_PER_INPUT of the rarer value per input."""
    rarer = min(target.sum(), len(target) - target.sum())
    return rarer * (folds - 1) / folds >= EVENTS_PER_INPUT * inputs


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights (bias last) of a logistic regression with an L2 penalty `l2`/2 |w|^2 on the
    slopes, by Newton's method (a handful of inputs: each step is a tiny linear solve)."""
    design = np.column_stack([x, np.ones(len(x))])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 1e-6  # the bias is (almost) free
    weights = np.zeros(design.shape[1])
    for _ in range(NEWTON_STEPS):
        p = _sigmoid(design @ weights)
        gradient = design.T @ (p - y) + penalty * weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def predict(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return _sigmoid(x @ weights[:-1] + weights[-1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(z, -40, 40)))
