"""How training passes run fast: memory format, optimiser kernels, BatchNorm, resizing.

Each speed-up is measured in bench/bench_finetune.py against the plain path in the same
run. On a 2-core CPU (a full fine-tune at 128 px) channels-last tensors (oneDNN's depthwise
convolutions are far faster in NHWC than in NCHW) and AdamW's multi-tensor (`foreach`) step
paid without costing accuracy, so they are the default. So is frozen BatchNorm: the
backbone's normalisation layers keep their ImageNet running statistics while their scale
and shift still train. It skips the batch statistics (about 10% of a step) and, with a
few hundred images in batches of 32, noisy batch statistics were what hurt accuracy:
mAP rose on every sample set (normal +0.02-0.03, print +0.10). Progressive resizing (the first
third of the unfrozen epochs at 3/4 of the image size) saved a little more time but lost
about 0.01 mAP, so it is opt-in. bf16 autocast was slower there (it stays CUDA-only,
core.base.device.amp_dtype).

MARQUEE_TRAIN_SPEEDUPS picks them: "default" (unset: channels_last, foreach, frozen_bn),
"all", "none" (the plain path, for comparisons), or some of channels_last, foreach,
progressive, frozen_bn joined by "," or "+". Every torchrun rank reads the same
environment, so all ranks train alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from core.base.config import TrainConfig
from core.model.backbones import get_backbone_info

M = TypeVar("M", bound=nn.Module)

SPEEDUPS = ("channels_last", "foreach", "progressive", "frozen_bn")
DEFAULT_SPEEDUPS = ("channels_last", "foreach", "frozen_bn")
ENV = "MARQUEE_TRAIN_SPEEDUPS"
PROGRESSIVE_SCALE = 0.75
SIZE_STEP = 32  # progressive sizes are multiples of the backbone's stride


@dataclass(frozen=True)
class SpeedOptions:
    """Which speed-ups a run uses (off means the path main took before them)."""

    channels_last: bool = True  # model and image batches in NHWC (CPU and CUDA)
    foreach: bool = True  # AdamW's multi-tensor step; off: torch's own choice (CPU: loop)
    progressive: bool = False  # first third of the unfrozen epochs at 3/4 size
    frozen_bn: bool = True  # the backbone's BatchNorm keeps its running statistics


def speed_options(device: str) -> SpeedOptions:
    """The speed-ups for `device` that the environment asks for (DEFAULT_SPEEDUPS if unset)."""
    chosen = _chosen(os.environ.get(ENV, "default"))
    return SpeedOptions(
        channels_last="channels_last" in chosen and device in ("cpu", "cuda"),
        foreach="foreach" in chosen and device in ("cpu", "cuda"),
        progressive="progressive" in chosen,
        frozen_bn="frozen_bn" in chosen,
    )


def _chosen(value: str) -> set[str]:
    words = {w.strip() for w in value.lower().replace("+", ",").split(",") if w.strip()}
    if "all" in words:
        return set(SPEEDUPS)
    if "default" in words:
        words |= set(DEFAULT_SPEEDUPS)
    return words & set(SPEEDUPS)


def to_memory_format(module: M, options: SpeedOptions) -> M:
    return module.to(memory_format=torch.channels_last) if options.channels_last else module


def input_format(x: torch.Tensor, options: SpeedOptions) -> torch.Tensor:
    """An image batch in the layout the model's weights are in."""
    return x.contiguous(memory_format=torch.channels_last) if options.channels_last else x


def epoch_image_size(config: TrainConfig, epoch: int, options: SpeedOptions) -> int:
    """The training image size of `epoch` (1-based): 3/4 of the image size during the first
    third of the unfrozen epochs when progressive resizing is on, else the image size. At
    least one unfrozen epoch always trains at full size, and frozen epochs never shrink."""
    size, first_unfrozen = config.image_size, config.first_unfrozen_epoch
    if not options.progressive or first_unfrozen is None or epoch < first_unfrozen:
        return size
    if get_backbone_info(config.backbone).fixed_size:  # a transformer's position embeddings
        return size
    unfrozen = config.epochs - first_unfrozen + 1
    small_epochs = unfrozen // 3
    if epoch - first_unfrozen >= small_epochs:
        return size
    small = int(size * PROGRESSIVE_SCALE) // SIZE_STEP * SIZE_STEP
    return max(SIZE_STEP, small)
