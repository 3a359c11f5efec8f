"""The training loop's public steps: `train_one_epoch` and `evaluate`, returning typed results.

After timm / torchvision's reference scripts, but on Marquee's data: a split is decoded
uint8 images (memory-mapped from the image cache) plus targets, and, while the backbone is
frozen, its cached embeddings, so a frozen epoch only runs the head. Both steps take a
`Setup` (optimiser, loss, device, the training context) and check its one stop signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.base.config import TrainConfig
from core.base.errors import Cancelled
from core.model.backbones import normalisation
from core.model.classifier import MultiLabelClassifier
from core.model.graph import InferenceGraph, flip_average
from core.model.preprocess import normalize
from core.training.augment import augment
from core.training.context import TrainingContext
from core.training.events import LabelMetrics
from core.training.feature_views import gather_views
from core.training.metrics import compute_metrics
from core.training.speed import SpeedOptions, input_format
from core.training.step_log import StepCallback, StepLog


@dataclass
class SplitData:
    """One split as the loop reads it."""

    images: Any  # CachedRecords or a uint8 tensor: images[idx] -> N x 3 x S x S
    targets: torch.Tensor  # float32 N x labels
    features: torch.Tensor | None = None  # frozen embeddings: N x D, or views x N x D
    flipped: torch.Tensor | None = None  # embeddings of the mirrored images (TTA)
    view_choice: torch.Tensor | None = None  # per image: the view used this epoch

    def __len__(self) -> int:
        return len(self.targets)

    def embedded(self, idx: torch.Tensor, flip: bool = False) -> torch.Tensor:
        """The cached embeddings of `idx` (each training image in its chosen view)."""
        feats = self.flipped if flip else self.features
        assert feats is not None
        if feats.dim() == 3:
            assert self.view_choice is not None
            return gather_views(feats, self.view_choice, idx)
        return feats[idx]

    def has_features(self) -> bool:
        return self.features is not None


@dataclass
class Setup:
    """What every step needs besides the model and the data."""

    config: TrainConfig
    context: TrainingContext
    device: str
    generator: torch.Generator
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    amp_dtype: torch.dtype | None = None
    speed: SpeedOptions = field(default_factory=SpeedOptions)
    train_size: int | None = None  # this epoch's training image size (progressive resizing)
    steps_done: int = 0  # optimiser steps taken with this setup (over every epoch)

    def __post_init__(self) -> None:
        enabled = self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=enabled)
        # The backbone's normalisation: the one the model file records (ModelMeta.mean/std).
        self.mean, self.std = normalisation(self.config.backbone)

    def batches(self, n: int, shuffle: bool) -> Iterator[torch.Tensor]:
        order = torch.randperm(n, generator=self.generator) if shuffle else torch.arange(n)
        yield from order.split(self.config.batch_size)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)


@dataclass(frozen=True)
class EpochStats:
    """What `train_one_epoch` did: the mean training loss over its steps."""

    loss: float
    steps: int


@dataclass(frozen=True)
class Evaluation:
    """Validation loss, probabilities (TTA applied when configured) and metrics at 0.5."""

    loss: float
    probs: np.ndarray
    metrics: dict[str, float]
    per_label: tuple[LabelMetrics, ...]


def model_inputs(split: SplitData, idx: torch.Tensor, setup: Setup, train: bool) -> torch.Tensor:
    """A normalised (and, when training with augmentation, augmented) image batch."""
    batch = split.images[idx].to(setup.device, non_blocking=True)
    x = normalize(batch, setup.mean, setup.std)
    if train and setup.train_size is not None and setup.train_size < x.shape[-1]:
        size = (setup.train_size, setup.train_size)
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    if train and setup.config.use_augmentation:
        x = augment(x, setup.generator)
    return input_format(x, setup.speed)


def forward(
    model: MultiLabelClassifier,
    split: SplitData,
    idx: torch.Tensor,
    setup: Setup,
    *,
    frozen: bool,
) -> torch.Tensor:
    """Training logits for `idx`, through the context (DDP under torchrun)."""
    if frozen and split.has_features():
        return setup.context.for_training(model.head)(split.embedded(idx).to(setup.device))
    x = model_inputs(split, idx, setup, train=True)
    with setup.autocast():
        if frozen:
            with torch.no_grad():
                feats = model.embed(x)
            return setup.context.for_training(model.head)(feats.float())
        return setup.context.for_training(model)(x).float()


def train_one_epoch(
    model: MultiLabelClassifier,
    split: SplitData,
    setup: Setup,
    *,
    frozen: bool,
    on_step: StepCallback | None = None,
) -> EpochStats:
    """One pass over `split` in shuffled batches. A stop agreed by every process raises
    `Cancelled` before the next step (the steps done so far are kept in the model).

    `on_step(steps done this epoch, mean loss, images/s)` is called every
    `config.log_every` steps and after the last one: the loss is read only then."""
    model.train()
    if frozen:
        model.backbone.eval()  # keep BatchNorm statistics of a frozen backbone
    elif setup.speed.frozen_bn:
        _freeze_batchnorm(model.backbone)
    log = StepLog(setup.config.log_every, math.ceil(len(split) / setup.config.batch_size), on_step)
    for idx in setup.batches(len(split), shuffle=True):
        if setup.context.agree_to_stop():
            raise Cancelled("Stopped while training.")
        logits = forward(model, split, idx, setup, frozen=frozen)
        loss = setup.criterion(logits, split.targets[idx].to(setup.device))
        _optimiser_step(loss, setup)
        setup.steps_done += 1
        log.add(loss, len(idx))
    return EpochStats(log.epoch_loss(), log.done)


def _freeze_batchnorm(backbone: nn.Module) -> None:
    for module in backbone.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def _optimiser_step(loss: torch.Tensor, setup: Setup) -> None:
    setup.optimizer.zero_grad(set_to_none=True)
    setup.scaler.scale(loss).backward()
    setup.scaler.step(setup.optimizer)
    setup.scaler.update()
    setup.scheduler.step()


@torch.inference_mode()
def evaluate(
    model: MultiLabelClassifier,
    split: SplitData,
    setup: Setup,
    label_names: list[str],
    *,
    frozen: bool,
) -> Evaluation:
    """Validation loss, probabilities and metrics (threshold 0.5), in eval + inference mode.

    The probabilities are the inference graph's (`InferenceGraph.scores`: with
    `config.tta` the flip average), so they are what the saved model predicts.
    """
    model.eval()
    graph = InferenceGraph(model, setup.mean, setup.std, setup.config.tta)
    scored = [
        _scores(graph, model, split, idx, setup, frozen)
        for idx in setup.batches(len(split), shuffle=False)
    ]
    logits = torch.cat([batch_logits for batch_logits, _ in scored])
    probs = torch.cat([batch_probs for _, batch_probs in scored]).cpu().numpy()
    loss = setup.criterion(logits, split.targets.to(logits.device)).item()
    metrics, per_label = compute_metrics(probs, split.targets.numpy(), label_names)
    return Evaluation(loss, probs, metrics, per_label)


def _scores(
    graph: InferenceGraph,
    model: MultiLabelClassifier,
    split: SplitData,
    idx: torch.Tensor,
    setup: Setup,
    frozen: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch's (logits, probabilities); a frozen backbone's cached embeddings (and, for
    TTA, its mirrored ones) stand in for the images."""
    if not (frozen and split.has_features()):
        with setup.autocast():
            return graph.scores(model_inputs(split, idx, setup, train=False))
    logits = model.head(split.embedded(idx).to(setup.device)).float()
    probs = torch.sigmoid(logits)
    if graph.tta:
        mirrored = model.head(split.embedded(idx, flip=True).to(setup.device)).float()
        probs = flip_average(probs, torch.sigmoid(mirrored))
    return logits, probs


def make_optimizer(
    model: MultiLabelClassifier, config: TrainConfig, total_steps: int, foreach: bool | None = None
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW with the head at `lr` and the backbone at `lr * backbone_lr_factor` (`foreach`:
    the multi-tensor step; None lets torch choose)."""
    backbone_lr = config.lr * config.backbone_lr_factor
    groups = [
        {"params": list(model.head.parameters()), "lr": config.lr},
        {"params": list(model.backbone.parameters()), "lr": backbone_lr},
    ]
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay, foreach=foreach)
    scheduler: torch.optim.lr_scheduler.LRScheduler
    if config.schedule == "onecycle":
        total = max(total_steps, 1)
        # OneCycleLR divides by pct_start * total - 1 (a ZeroDivisionError at 4 steps).
        pct_start = 0.25 if abs(0.25 * total - 1) > 1e-6 else 0.3
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[config.lr, backbone_lr], total_steps=total, pct_start=pct_start
        )
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return optimizer, scheduler
