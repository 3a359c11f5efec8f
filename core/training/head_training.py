"""A head trained alone on cached embeddings, with the training loop's own steps.

Auto-tune's trials, the health check's out-of-fold heads and the transfer benchmark train
fresh heads on a frozen backbone's embeddings. They run `train_one_epoch` and `evaluate`
with the recipe's optimiser, schedule and loss (`make_optimizer`, `make_criterion`), so
core has one optimiser loop: mixed precision and the stop check come with it.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from core.base.config import TrainConfig
from core.base.device import amp_dtype
from core.model.classifier import MultiLabelClassifier
from core.training.context import TrainingContext
from core.training.feature_views import sample_views
from core.training.losses import make_criterion
from core.training.steps import Setup, SplitData, make_optimizer, train_one_epoch


class HeadOnly(nn.Module):
    """What the training steps touch of a classifier whose embeddings are cached: its
    head (the backbone is an empty stand-in, so the optimiser skips 300 frozen tensors)."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.backbone = nn.Identity()
        self.head = head


def head_setup(
    model: nn.Module,
    config: TrainConfig,
    context: TrainingContext,
    steps: int,
    *,
    device: str = "cpu",
    pos_weight: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Setup:
    """The training steps' `Setup` for `model` (a new optimiser and schedule over `steps`);
    `model` has the classifier's `head` and `backbone` (`HeadOnly`, or the classifier)."""
    optimizer, scheduler = make_optimizer(cast(MultiLabelClassifier, model), config, steps)
    return Setup(
        config,
        context,
        device,
        generator or torch.Generator().manual_seed(config.seed),
        make_criterion(config, pos_weight),
        optimizer,
        scheduler,
        amp_dtype(device),
    )


def feature_split(
    features: torch.Tensor,
    targets: torch.Tensor,
    idx: torch.Tensor | None = None,
    flipped: torch.Tensor | None = None,
) -> SplitData:
    """Rows `idx` (default: all) of cached embeddings (N x D, or views x N x D) as a split."""
    if idx is None:
        return SplitData(None, targets, features, flipped)
    rows = features[:, idx] if features.dim() == 3 else features[idx]
    mirrored = flipped[idx] if flipped is not None else None
    return SplitData(None, targets[idx], rows, mirrored)


def train_head(
    head: nn.Module,
    split: SplitData,
    config: TrainConfig,
    *,
    context: TrainingContext | None = None,
    pos_weight: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    views_drawn_for: tuple[int, torch.Tensor] | None = None,
) -> tuple[MultiLabelClassifier, Setup]:
    """`config.epochs` epochs of `train_one_epoch` for `head` on the split's embeddings (a
    random view per image and epoch when it has views); the trained model and its setup,
    ready for `evaluate`. A stop asked for through `context` raises `Cancelled`.

    `views_drawn_for` (items, rows): the split is these rows of a larger set, and each
    epoch's views are drawn for all its items (a fold draws as the whole set would)."""
    assert split.features is not None
    device = str(split.features.device)
    model = HeadOnly(head).to(device)
    # With cached embeddings the steps use only a classifier's head (and its backbone's
    # train/eval mode), which HeadOnly has.
    classifier = cast(MultiLabelClassifier, model)
    steps = math.ceil(len(split) / config.batch_size) * config.epochs
    context = context or TrainingContext()
    setup = head_setup(
        model, config, context, steps, device=device, pos_weight=pos_weight, generator=generator
    )
    for _ in range(config.epochs):
        if split.features.dim() == 3:
            split.view_choice = _draw_views(
                split.features.shape[0], len(split), setup, views_drawn_for
            )
        train_one_epoch(classifier, split, setup, frozen=True)
    return classifier, setup


def _draw_views(
    views: int, items: int, setup: Setup, drawn_for: tuple[int, torch.Tensor] | None
) -> torch.Tensor:
    if drawn_for is None:
        return sample_views(items, views, setup.generator)
    total, rows = drawn_for
    return sample_views(total, views, setup.generator)[rows]
