"""Latency of a Grad-CAM explanation (core.inference.explain) on CPU: the first map for a new image.

Builds EfficientNet-Lite0 (bundled ImageNet weights) with a 25-label head at 224 px, writes
`--images` different 600 x 900 JPEG posters, and times `Explainer.explain(path, label)` for
each: decode + resize + one forward + one backward + upsampling to the poster's size. That
is what the GUI does when a genre's bar is clicked. Also times `explain_all` (one forward,
one backward per label) and the very first call of the process (warm-up excluded from
the median). Wall and CPU time are both given: on a shared machine the CPU time
of this process is the fairer figure. Prints numbers, asserts nothing:

    python bench/bench_explain.py [--images 20] [--image-size 224] [--threads N]
                                  [--backbone efficientnet_lite0] [--labels 25]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.inference.explain import Explainer, overlay
from core.model.backbones import get_backbone_info, normalisation
from core.model.classifier import create_model
from core.modelfile.checkpoint import ModelMeta


def posters(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        pixels = rng.integers(0, 255, size=(900, 600, 3), dtype=np.uint8)
        pixels[rng.integers(0, 700) :][:200, :300] = rng.integers(0, 255, 3)
        path = folder / f"poster-{i:03d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--labels", type=int, default=25)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    explainer = _explainer(args)
    with tempfile.TemporaryDirectory() as tmp:
        paths = posters(Path(tmp), args.images + 1)
        first_call, one, one_cpu, render, every = _measure(explainer, paths, args.labels)
    _report(args, first_call, one, one_cpu, render, every)


def _explainer(args: argparse.Namespace) -> Explainer:
    pretrained = get_backbone_info(args.backbone).offline
    model = create_model(args.backbone, args.labels, pretrained=pretrained)
    labels = [f"label{i}" for i in range(args.labels)]
    mean, std = normalisation(args.backbone)
    meta = ModelMeta(
        args.backbone, args.image_size, labels, [0.5] * args.labels, list(mean), list(std)
    )
    return Explainer(model, meta, device="cpu")


def _measure(explainer: Explainer, paths: list[Path], n_labels: int) -> tuple:
    """First call (cold), then per image: map wall and CPU s, overlay s; explain_all s."""
    t0 = time.perf_counter()
    explainer.explain(paths[0], 0)
    first_call = time.perf_counter() - t0
    one, one_cpu, render, every = [], [], [], []
    for i, path in enumerate(paths[1:]):
        t0, c0 = time.perf_counter(), time.process_time()
        explanation = explainer.explain(path, i % n_labels)
        one.append(time.perf_counter() - t0)
        one_cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        overlay(path, explanation.heatmap, alpha=0.5)
        render.append(time.perf_counter() - t0)
    for path in paths[1:6]:
        t0 = time.perf_counter()
        explainer.explain_all(path)
        every.append(time.perf_counter() - t0)
    return first_call, one, one_cpu, render, every


def _report(
    args: argparse.Namespace,
    first_call: float,
    one: list[float],
    one_cpu: list[float],
    render: list[float],
    every: list[float],
) -> None:
    print(
        f"{args.backbone} at {args.image_size}px, {torch.get_num_threads()} torch threads, "
        f"{args.labels} labels, 600x900 JPEG posters"
    )
    print(f"first call of the process (cold):  {first_call * 1000:7.1f} ms")
    print(
        f"first map for a new image: median {statistics.median(one) * 1000:7.1f} ms "
        f"(min {min(one) * 1000:.1f}, max {max(one) * 1000:.1f}, n={len(one)})"
    )
    print(
        f"  CPU time of this process per map: median "
        f"{statistics.median(one_cpu) * 1000:7.1f} ms (wall time suffers on a busy machine)"
    )
    print(f"overlay rendering:         median {statistics.median(render) * 1000:7.1f} ms")
    print(
        f"all {args.labels} labels (explain_all): median {statistics.median(every) * 1000:7.1f} ms"
    )


if __name__ == "__main__":
    main()
