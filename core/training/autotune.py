"""Auto-tune: a small sweep of the head's learning rate, weight decay and epochs.

It runs on the cached embeddings of a frozen backbone, so each trial only trains a head
(milliseconds per step). Trials are scored by mAP with k-fold cross-validation inside the
training split; the validation split is never looked at, so the reported validation
numbers stay honest.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.base.config import TrainConfig
from core.base.errors import Cancelled
from core.training.feature_views import gather_views, sample_views
from core.training.metrics import average_precision

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


def tune_head(
    features: torch.Tensor,
    targets: torch.Tensor,
    make_head: Callable[[], nn.Module],
    make_criterion: Callable[[], nn.Module],
    config: TrainConfig,
    *,
    lrs: tuple[float, ...] = LRS,
    weight_decays: tuple[float, ...] = WEIGHT_DECAYS,
    epochs: tuple[int, ...] = EPOCHS,
    folds: int = FOLDS,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TuneChoice:
    """The (lr, weight decay, epochs) with the best cross-validated mAP.

    `features` is (n, dims), or (views, n, dims) for feature-level augmentation (trials
    then train on a random view per epoch and score on the clean view 0).
    """
    n = targets.shape[0]
    generator = torch.Generator().manual_seed(config.seed)
    fold_of = torch.empty(n, dtype=torch.long)
    fold_of[torch.randperm(n, generator=generator)] = torch.arange(n) % folds
    grid = list(itertools.product(lrs, weight_decays, sorted(epochs)))
    trials: list[dict] = []
    for done, (lr, wd, n_epochs) in enumerate(grid, start=1):
        if should_stop is not None and should_stop():
            raise Cancelled("Stopped while auto-tuning.")
        trial = _Trial(features, targets, make_head, make_criterion, config, generator)
        score = trial.cross_validated(fold_of, folds, lr, wd, n_epochs)
        trials.append({"lr": lr, "weight_decay": wd, "epochs": n_epochs, "score": score})
        if on_progress is not None:
            on_progress(done, len(grid))
    best = max(trials, key=lambda t: (round(t["score"], 4), -t["epochs"]))
    return TuneChoice(
        best["lr"], best["weight_decay"], best["epochs"], best["score"], tuple(trials)
    )


@dataclass
class _Trial:
    """One setting of the sweep, trained and scored on each fold."""

    features: torch.Tensor
    targets: torch.Tensor
    make_head: Callable[[], nn.Module]
    make_criterion: Callable[[], nn.Module]
    config: TrainConfig
    generator: torch.Generator

    def cross_validated(
        self, fold_of: torch.Tensor, folds: int, lr: float, wd: float, epochs: int
    ) -> float:
        scores = []
        for fold in range(folds):
            torch.manual_seed(self.config.seed + fold)
            train_idx = (fold_of != fold).nonzero().squeeze(1)
            held_idx = (fold_of == fold).nonzero().squeeze(1)
            head = self.make_head()
            train_head(
                head,
                self.make_criterion(),
                self.features,
                self.targets,
                train_idx,
                lr,
                wd,
                epochs,
                self.config.batch_size,
                self.generator,
            )
            scores.append(_score(head, self.features, self.targets, held_idx))
        return float(np.mean(scores))


def train_head(
    head: nn.Module,
    criterion: nn.Module,
    features: torch.Tensor,
    targets: torch.Tensor,
    idx: torch.Tensor,
    lr: float,
    weight_decay: float,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
) -> None:
    """AdamW + one-cycle, as the engine trains a head."""
    steps = epochs * -(-len(idx) // batch_size)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    pct_start = 0.25 if abs(0.25 * steps - 1) > 1e-6 else 0.3
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=max(steps, 1), pct_start=pct_start
    )
    head.train()
    for _ in range(epochs):
        choice = (
            sample_views(targets.shape[0], features.shape[0], generator)
            if features.dim() == 3
            else None
        )
        for batch in idx[torch.randperm(len(idx), generator=generator)].split(batch_size):
            x = features[batch] if choice is None else gather_views(features, choice, batch)
            loss = criterion(head(x), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()


@torch.inference_mode()
def _score(
    head: nn.Module, features: torch.Tensor, targets: torch.Tensor, idx: torch.Tensor
) -> float:
    head.eval()
    clean = features[0] if features.dim() == 3 else features
    probs = torch.sigmoid(head(clean[idx])).numpy()
    aps = [a for a in average_precision(probs, targets[idx].numpy()) if a is not None]
    return float(np.mean(aps)) if aps else 0.0


def fresh_head(head: nn.Module) -> nn.Module:
    """An untrained copy of a head (for the tuner's trials)."""
    fresh = copy.deepcopy(head)
    for layer in fresh.modules():
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    return fresh
