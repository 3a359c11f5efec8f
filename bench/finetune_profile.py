"""`bench_finetune.py --profile`: where a full fine-tuning step's time goes, by the torch
profiler, for each candidate speed-up (fp32 as the engine runs today, bf16 autocast, a fused
AdamW, torch.compile): data (image cache read + normalise), augmentation, forward, loss,
backward, optimiser, and one evaluation pass over the validation images, in CPU milliseconds
per step. The first (warm-up) step's wall time is reported apart: it holds torch.compile's
compilation, which a 3-epoch run would have to win back.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from core.base.config import TrainConfig
from core.data.cached import load_split_images
from core.data.datasets import Dataset
from core.model.backbones import IMAGENET_MEAN, IMAGENET_STD
from core.model.classifier import create_model
from core.model.preprocess import normalize
from core.training.augment import augment
from core.training.context import TrainingContext
from core.training.losses import make_criterion
from core.training.speed import input_format, speed_options, to_memory_format
from core.training.steps import Setup, SplitData, evaluate, make_optimizer

PHASES = ("data", "augment", "forward", "loss", "backward", "optimizer", "evaluate")
CANDIDATES = ("fp32", "bf16", "fused", "compile")


def _setup(config: TrainConfig, data: Dataset, candidate: str, steps: int):
    torch.manual_seed(0)
    speed = speed_options("cpu")
    model = to_memory_format(create_model(config.backbone, len(data.label_names)), speed)
    optimizer, scheduler = make_optimizer(model, config, steps, foreach=speed.foreach or None)
    if candidate == "fused":
        groups = [dict(g) for g in optimizer.param_groups]
        optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay, fused=True)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    if candidate == "compile":
        model.compile()  # in place: the engine's code keeps its model and attributes
    amp = torch.bfloat16 if candidate == "bf16" else None
    setup = Setup(
        config, TrainingContext(), "cpu", torch.Generator().manual_seed(0),
        make_criterion(config, None), optimizer, scheduler, amp, speed,
    )  # fmt: skip
    return model, setup


def _split(paths, labels, size: int) -> SplitData:
    return SplitData(load_split_images(paths, size), torch.from_numpy(labels))


def profile_steps(config: TrainConfig, data: Dataset, steps: int, candidate: str) -> dict:
    """CPU ms per step by phase (evaluation: ms per pass), and wall ms per step."""
    config = replace(config, strategy="no_freeze")
    model, setup = _setup(config, data, candidate, steps + 2)
    train = _split(data.train.paths, data.train.labels, config.image_size)
    val = _split(data.val.paths, data.val.labels, config.image_size)
    batches = list(setup.batches(len(train), shuffle=True))
    model.train()
    start = time.perf_counter()
    _step(model, train, batches[0], setup)  # warm-up: oneDNN picks kernels, compile compiles
    first_step = time.perf_counter() - start
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            _step(model, train, batches[(i + 1) % len(batches)], setup)
        wall = (time.perf_counter() - start) / steps
        with record_function("evaluate"):
            evaluate(model, val, setup, list(data.label_names), frozen=False)
    totals = {e.key: e.cpu_time_total / 1000 for e in prof.key_averages() if e.key in PHASES}
    row = {p: totals.get(p, 0.0) / (1 if p == "evaluate" else steps) for p in PHASES}
    return {
        "candidate": candidate, "first_step_s": first_step, "wall_ms_per_step": wall * 1000, **row
    }  # fmt: skip


def _step(model, split: SplitData, idx: torch.Tensor, setup: Setup) -> None:
    with record_function("data"):
        x = normalize(split.images[idx], IMAGENET_MEAN, IMAGENET_STD)
    with record_function("augment"):
        x = input_format(augment(x, setup.generator), setup.speed)
    with record_function("forward"), setup.autocast():
        logits = model(x).float()
    with record_function("loss"):
        loss = setup.criterion(logits, split.targets[idx])
    with record_function("backward"):
        setup.optimizer.zero_grad(set_to_none=True)
        loss.backward()
    with record_function("optimizer"):
        setup.optimizer.step()
        setup.scheduler.step()


def table(rows: list[dict]) -> str:
    head = "| candidate | first step s | wall ms/step | " + " | ".join(PHASES) + " |"
    lines = [head, "|" + "---|" * (len(PHASES) + 3)]
    for r in rows:
        cells = " | ".join(f"{r[p]:.0f}" for p in PHASES)
        first = f"{r['first_step_s']:.1f}"
        lines.append(f"| {r['candidate']} | {first} | {r['wall_ms_per_step']:.0f} | {cells} |")
    return "\n".join(lines)
