"""Training throughput of core.training against plain PyTorch, and what the embedding cache saves.

(a) `no_freeze` training steps: core.training.loop.fit (epochs 1, no augmentation) against a minimal
    PyTorch loop over the same model (core.model.classifier.create_model) and the same pre-decoded
    tensors (normalize, AdamW, BCEWithLogits). Both time steps 2..N from the end of step 1
    (decoding and the first, warm-up step excluded), so the figure is the train-step phase.
(b) `freeze` for --epochs epochs on the whole data set, wall seconds of fit() with images
    already decoded: with the embedding cache (augment off: the backbone runs once per
    image), with the cache disabled (the same work, backbone run every step), and with
    augmentation on (what users get: the cache is skipped whenever augment is on).
(c) a second frozen `marquee train` (caches warm) against `import torch, timm`, and the
    first predict of the model it saved against later ones (bench/rerun_timing.py).

Prints numbers, asserts nothing:

    python bench/bench_train.py [--data PATH] [--image-size 224] [--batch-size 32]
                                [--steps 20] [--epochs 5] [--device auto|cpu|cuda|mps]
                                [--threads N] [--repeats N] [--skip a|b|c]
                                [--only c] [--rerun-images 1600]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.base.config import TrainConfig
from core.base.device import resolve_device
from core.data.datasets import Dataset, LabeledImages, ValidationReport, load_dataset
from core.data.decode import decode_images, decoded_cache
from core.model.backbones import IMAGENET_MEAN, IMAGENET_STD
from core.model.classifier import create_model
from core.model.preprocess import normalize
from core.training import loop as engine
from core.training.events import Event, StepEnded


def repeat_to(split: LabeledImages, n: int) -> LabeledImages:
    """Exactly `n` images, cycling through the split when it is smaller."""
    return split.subset(np.arange(n) % len(split))


def step_dataset(data: Dataset, steps: int, batch_size: int) -> Dataset:
    """steps * batch_size training images (one epoch = `steps` full steps), a small val set."""
    train = repeat_to(data.train, steps * batch_size)
    val = repeat_to(data.val, min(len(data.val), batch_size))
    return Dataset(train, val, None, data.label_names, ValidationReport(), "bench")


Rates = tuple[float, float]  # images per wall second, images per CPU second of this process


def stamp() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def rates(stamps: list[tuple[float, float]], batch_size: int) -> Rates:
    """Images per second between the first and the last step end, by wall and by CPU time.

    CPU time is the steadier figure on a shared machine: other processes stretch the wall
    clock, not this process's CPU seconds (with --threads 1 no thread spins while waiting).
    """
    images = (len(stamps) - 1) * batch_size
    wall, cpu = (stamps[-1][i] - stamps[0][i] for i in (0, 1))
    return images / wall, images / cpu


def engine_no_freeze(data: Dataset, args: argparse.Namespace) -> Rates:
    # log_every=1: a StepEnded (its time stamp) per step; the plain loop reads every loss too
    config = base_config(args, strategy="no_freeze", epochs=1, augment=False, log_every=1)
    stamps: list[tuple[float, float]] = []

    def on_event(event: Event) -> None:
        if isinstance(event, StepEnded):
            stamps.append(stamp())

    engine.fit(config, data, on_event)
    return rates(stamps, args.batch_size)


def plain_no_freeze(data: Dataset, args: argparse.Namespace) -> Rates:
    """The textbook loop: same model, same decoded images, same optimiser and loss."""
    device, _ = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model(args.backbone, len(data.label_names)).to(device).train()
    images = decode_images(data.train.paths, args.image_size)
    targets = torch.from_numpy(data.train.labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    criterion = torch.nn.BCEWithLogitsLoss()
    amp = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else None
    if device == "cuda":  # the usual GPU recipe, as the engine does it
        model = model.to(memory_format=torch.channels_last)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    stamps: list[tuple[float, float]] = []
    for idx in order.split(args.batch_size):
        x = normalize(images[idx].to(device), IMAGENET_MEAN, IMAGENET_STD)
        if device == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device, dtype=amp, enabled=amp is not None):
            logits = model(x).float()
        loss = criterion(logits, targets[idx].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()  # as the engine does at log_every=1 (it syncs a GPU)
        stamps.append(stamp())
    return rates(stamps, args.batch_size)


@contextmanager
def embedding_cache_disabled() -> Iterator[None]:
    """The same frozen-backbone training, but the backbone runs in every step."""
    original = TrainConfig.caches_embeddings  # the loop's switch for its embed phase
    TrainConfig.caches_embeddings = property(lambda config: False)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        TrainConfig.caches_embeddings = original  # type: ignore[method-assign]


def timed_fit(config: TrainConfig, data: Dataset) -> tuple[float, float]:
    """Wall and process CPU seconds of one fit()."""
    start = stamp()
    engine.fit(config, data)
    end = stamp()
    return end[0] - start[0], end[1] - start[1]


def base_config(args: argparse.Namespace, **overrides) -> TrainConfig:
    return TrainConfig(
        backbone=args.backbone,
        batch_size=args.batch_size,
        image_size=args.image_size,
        device=args.device,
        num_threads=args.threads,
        **overrides,
    )


def fastest(repeats: int, run: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    results = [run() for _ in range(repeats)]
    return min(r[0] for r in results), min(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="data set (default: the sample posters)")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="training steps timed in (a)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of (b)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per figure (best kept)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    parser.add_argument("--skip", choices=("a", "b", "c"), action="append", default=[])
    parser.add_argument("--only", choices=("a", "b", "c"), help="run just this part")
    parser.add_argument("--rerun-images", type=int, default=1600, help="data set size of (c)")
    args = parser.parse_args()
    if args.only:
        args.skip = [p for p in "abc" if p != args.only]
    if args.steps < 3:
        parser.error("--steps must be at least 3")

    if args.data is None:
        from core.data.samples import ensure_sample_data

        args.data = ensure_sample_data()
    data = load_dataset(args.data)
    torch.set_num_threads(args.threads)
    _, device_name = resolve_device(args.device)
    print(
        f"data: {data.source}, {len(data.train)} train / {len(data.val)} val images\n"
        f"backbone {args.backbone}, {args.image_size} px, batch {args.batch_size}, "
        f"{device_name}, torch {torch.__version__}\n"
    )

    if "c" not in args.skip:
        from rerun_timing import run as rerun_timing

        rerun_timing(args.rerun_images, max(1, args.repeats))
    if "a" not in args.skip:
        part_a(data, args)
    if "b" not in args.skip:
        part_b(data, args)


def part_a(data: Dataset, args: argparse.Namespace) -> None:
    """(a) no_freeze steps: the engine against the plain loop, interleaved."""
    small = step_dataset(data, args.steps, args.batch_size)
    decoded_cache.get(small.train.paths, args.image_size)  # decoding is not measured
    plains, runs = [], []
    for _ in range(args.repeats):  # interleaved, so a busy moment hits both alike
        plains.append(plain_no_freeze(small, args))
        runs.append(engine_no_freeze(small, args))
    plain = tuple(max(r[i] for r in plains) for i in (0, 1))
    ours = tuple(max(r[i] for r in runs) for i in (0, 1))
    print(f"(a) no_freeze training, steps 2..{args.steps} timed (decode excluded), best of")
    print(f"    {args.repeats} interleaved runs; img/s by wall clock and by process CPU time")
    print(f"    {'':<30} {'wall img/s':>11} {'CPU img/s':>11}")
    print(f"    {'core.training.loop.fit':<30} {ours[0]:>11.2f} {ours[1]:>11.2f}")
    print(f"    {'plain PyTorch loop':<30} {plain[0]:>11.2f} {plain[1]:>11.2f}")
    ratio = [ours[i] / plain[i] for i in (0, 1)]
    print(f"    {'ratio engine / plain':<30} {ratio[0]:>11.2f} {ratio[1]:>11.2f}", end="")
    print("   (target >= 0.9)\n")


def part_b(data: Dataset, args: argparse.Namespace) -> None:
    """(b) freeze epochs: the embedding cache against no cache and against augmentation."""
    for split in (data.train, data.val):
        decoded_cache.get(split.paths, args.image_size)  # all variants start decoded
    cached = base_config(args, strategy="freeze", epochs=args.epochs, augment=False)
    augmented = base_config(args, strategy="freeze", epochs=args.epochs, augment=True)
    with_cache = fastest(args.repeats, lambda: timed_fit(cached, data))
    with embedding_cache_disabled():
        without = fastest(args.repeats, lambda: timed_fit(cached, data))
    with_augment = fastest(args.repeats, lambda: timed_fit(augmented, data))
    print(f"(b) freeze, {args.epochs} epochs, seconds of fit() (images pre-decoded)")
    print(f"    {'variant':<40} {'wall s':>7} {'x cache':>7} {'CPU s':>7} {'x cache':>7}")
    rows = (
        ("embedding cache (augment off)", with_cache),
        ("cache disabled, otherwise the same", without),
        ("augment on (the cache is skipped then)", with_augment),
    )
    for name, (wall, cpu) in rows:
        print(
            f"    {name:<40} {wall:>7.1f} {wall / with_cache[0]:>7.2f} "
            f"{cpu:>7.1f} {cpu / with_cache[1]:>7.2f}"
        )


if __name__ == "__main__":
    main()
