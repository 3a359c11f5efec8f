"""Active learning: which unlabelled images a label would help most.

Every image goes through the one inference pipeline (`Predictor`); an image scores high
when some label's probability sits close to that label's tuned threshold (the model
cannot tell), normalised by the room on that side of the threshold. Each suggestion
carries the model's own pre-ticked labels (probability at or above the threshold).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.base.errors import Cancelled, UsageError
from core.inference.predictor import Predictor, expand_inputs


@dataclass(frozen=True)
class Suggestion:
    """One unlabelled image, how much a label would help (`score` in [0, 1]), the label
    the model is least sure of, and the labels it would tick."""

    file: str
    score: float
    uncertain_label: str
    suggested: tuple[str, ...]
    probabilities: dict[str, float] = field(default_factory=dict)


@dataclass
class Suggestions:
    """Ranked suggestions, plus the inputs that could not be used (one line each)."""

    items: list[Suggestion]
    skipped: list[str]


def uncertainty(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per image and label: 1 at the threshold, falling to 0 at probability 0 or 1."""
    t = np.clip(np.asarray(thresholds, dtype=float), 1e-3, 1 - 1e-3)
    room = np.where(probs >= t, 1 - t, t)
    return 1 - np.abs(probs - t) / room


def suggest(
    predictor: Predictor,
    inputs: Sequence[str | Path],
    top: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int = 32,
) -> Suggestions:
    """Rank the images of `inputs` (files or folders), most helpful first, at most `top`.

    Raises UsageError when there is no image; `Cancelled` when `should_stop()` turns true.
    """
    images, skipped = expand_inputs(inputs)
    if not images:
        raise UsageError("no images to rank (give a folder of unlabelled images)")
    results = predictor.predict(images, batch_size, progress=progress, should_stop=should_stop)
    if len(results) < len(images):
        raise Cancelled("Stopped while ranking images.")
    skipped += [r.error for r in results if not r.ok and r.error]
    good = [r for r in results if r.ok]
    if not good:
        return Suggestions([], skipped)
    probs = np.stack([r.probabilities for r in good if r.probabilities is not None])
    closeness = uncertainty(probs, predictor.thresholds)
    names = predictor.label_names
    items = []
    for result, p, c in zip(good, probs, closeness, strict=True):
        ticked = tuple(n for n, v, t in zip(names, p, predictor.thresholds, strict=True) if v >= t)
        items.append(
            Suggestion(
                result.source,
                round(float(c.max()), 4),
                names[int(c.argmax())],
                ticked,
                {n: round(float(v), 4) for n, v in zip(names, p, strict=True)},
            )
        )
    items.sort(key=lambda s: (-s.score, s.file))
    return Suggestions(items[:top] if top else items, skipped)
