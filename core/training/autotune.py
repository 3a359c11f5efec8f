"""Auto-tune: a small sweep of the head's learning rate, weight decay and epochs.

It runs on the cached embeddings of a frozen backbone, so each trial only trains a head
(milliseconds per step), with the training loop's own steps (`head_training.train_head`).
Trials are scored by mAP with k-fold cross-validation inside the training split; the
validation split is never looked at, so the reported validation numbers stay honest.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from core.base.config import TrainConfig
from core.training.context import StopFlag, TrainingContext
from core.training.head_training import feature_split, train_head
from core.training.steps import evaluate

LRS = (3e-3, 1e-2, 3e-2)
WEIGHT_DECAYS = (1e-4, 1e-2, 1e-1)
EPOCHS = (5, 10, 20)
FOLDS = 2


@dataclass(frozen=True)
class TuneChoice:
    lr: float
    weight_decay: float
    epochs: int
    score: float  # mean cross-validated mAP of the winner
    trials: tuple[dict, ...]  # every (lr, weight_decay, epochs, score)


@dataclass(frozen=True)
class TuneGrid:
    """The settings the sweep tries (every combination) and its number of folds."""

    lrs: tuple[float, ...] = LRS
    weight_decays: tuple[float, ...] = WEIGHT_DECAYS
    epochs: tuple[int, ...] = EPOCHS
    folds: int = FOLDS

    def settings(self) -> list[tuple[float, float, int]]:
        return list(itertools.product(self.lrs, self.weight_decays, sorted(self.epochs)))


def tune_head(
    features: torch.Tensor,
    targets: torch.Tensor,
    make_head: Callable[[], nn.Module],
    config: TrainConfig,
    *,
    grid: TuneGrid = TuneGrid(),
    pos_weight: torch.Tensor | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: StopFlag | None = None,
) -> TuneChoice:
    """The (lr, weight decay, epochs) with the best cross-validated mAP.

    `features` is (n, dims), or (views, n, dims) for feature-level augmentation (trials
    then train on a random view per epoch and score on the clean view 0). Each trial
    trains `make_head()` with `config`'s loss and schedule; `should_stop` ends the sweep
    with `Cancelled` within a training step.
    """
    trials = _Trials(features, targets, make_head, config, pos_weight, should_stop, grid.folds)
    settings = grid.settings()
    scores: list[dict] = []
    for done, (lr, wd, n_epochs) in enumerate(settings, start=1):
        score = trials.cross_validated(lr, wd, n_epochs)
        scores.append({"lr": lr, "weight_decay": wd, "epochs": n_epochs, "score": score})
        if on_progress is not None:
            on_progress(done, len(settings))
    best = max(scores, key=lambda t: (round(t["score"], 4), -t["epochs"]))
    return TuneChoice(
        best["lr"], best["weight_decay"], best["epochs"], best["score"], tuple(scores)
    )


class _Trials:
    """Trains and scores one setting of the sweep on each fold (one shared generator, so
    the sweep is reproducible from `config.seed`)."""

    def __init__(
        self,
        features: torch.Tensor,
        targets: torch.Tensor,
        make_head: Callable[[], nn.Module],
        config: TrainConfig,
        pos_weight: torch.Tensor | None,
        should_stop: StopFlag | None,
        folds: int,
    ) -> None:
        self.features, self.targets, self.make_head = features, targets, make_head
        self.config, self.pos_weight, self.folds = config, pos_weight, folds
        # Only this process runs the trials: a local context, stopped by the job's flag.
        self.context = TrainingContext(should_stop)
        self.generator = torch.Generator().manual_seed(config.seed)
        n = targets.shape[0]
        self.fold_of = torch.empty(n, dtype=torch.long)
        self.fold_of[torch.randperm(n, generator=self.generator)] = torch.arange(n) % folds
        self.label_names = [str(i) for i in range(targets.shape[1])]

    def cross_validated(self, lr: float, weight_decay: float, epochs: int) -> float:
        # A trial scores its own held-out fold: no mirrored embeddings, so no flip average.
        config = replace(self.config, lr=lr, weight_decay=weight_decay, epochs=epochs, tta=False)
        scores = []
        for fold in range(self.folds):
            self.context.check_stop("auto-tuning")
            torch.manual_seed(config.seed + fold)
            train_idx = (self.fold_of != fold).nonzero().squeeze(1)
            held_idx = (self.fold_of == fold).nonzero().squeeze(1)
            model, setup = train_head(
                self.make_head(),
                feature_split(self.features, self.targets, train_idx),
                config,
                context=self.context,
                pos_weight=self.pos_weight,
                generator=self.generator,
                views_drawn_for=(len(self.targets), train_idx),
            )
            clean = self.features[0] if self.features.dim() == 3 else self.features
            held = feature_split(clean, self.targets, held_idx)
            evaluation = evaluate(model, held, setup, self.label_names, frozen=True)
            scores.append(evaluation.metrics["map"])
        return float(np.mean(scores))


def fresh_head(head: nn.Module) -> nn.Module:
    """An untrained copy of a head (for the tuner's trials)."""
    fresh = copy.deepcopy(head)
    for layer in fresh.modules():
        reset = getattr(layer, "reset_parameters", None)
        if callable(reset):
            reset()
    return fresh
