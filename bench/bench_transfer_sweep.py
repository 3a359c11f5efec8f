"""Frozen-backbone transfer sweep across a style shift: pooling, feature normalisation, zoomed-crop
MIL at inference and augmented feature views, scored on cached features.

For each sample set, every image is embedded once per *input* (the training images, one
augmented view of them, the validation images, their mirror images and five zoomed crops
of them: the four corners and the centre at 65% of the side, resized back up). The
backbone is the frozen EfficientNet-Lite0 of the "cpu" recipe with its stage tap
(core.model.heads.stage_tap); each input's spatial maps are pooled several ways (average,
max, GeM p=3, average+max) on the last features and on the tapped stage. Each variant
then trains the engine's linear head (AdamW + one-cycle, 5 epochs, lr 1e-2, dropout 0.2;
with views: one view per image per epoch, as the loop does) for every seed, and scores
validation mAP with flip TTA unless it says otherwise.

Cost: the column "× embeds" is the number of images the variant embeds in one training
(train + views + validation inputs) over what today's "cpu" recipe embeds (train + val +
val mirrored); embedding is most of a cold frozen run's wall time, and every validation
input is also paid by every later prediction.

    python bench/bench_transfer_sweep.py [--sets hard,print,normal] [--seeds 0,1,2]
        [--variants a,b] [--threads N] [--json FILE]

Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data.cached import load_split_images
from core.data.datasets import load_dataset
from core.data.samples import ensure_sample_data
from core.model.backbones import IMAGENET_MEAN, IMAGENET_STD, create_backbone
from core.model.heads import stage_tap
from core.model.preprocess import normalize
from core.training import autotune  # its train_head is the engine's head trainer
from core.training.embedding import augmented_images
from core.training.metrics import average_precision

SIZE = 224
CROP_SIDE = 0.65
CROP_PLACES = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.5, 0.5))  # (y, x)
POOLS = ("avg", "max", "gem", "avgmax")


@dataclass(frozen=True)
class Variant:
    name: str
    pool: tuple[str, str] = ("avg", "avg")  # last features, tapped stage
    norm: str = "none"  # "none" | "ssr_l2" (signed square root, then L2) | "std"
    views: int = 0  # augmented training views besides the clean one
    test: str = "flip"  # "flip" | "crops_mean" | "crops_max" | "crops_gmax" | "*_noflip"


VARIANTS = (
    Variant("today's cpu recipe (avg + avg, flip TTA)"),
    Variant("max pool", ("max", "max")),
    Variant("GeM p=3 + max", ("gem", "max")),
    Variant("avg+max concatenated", ("avgmax", "avgmax")),
    Variant("signed sqrt + L2", norm="ssr_l2"),
    Variant("standardised (train stats)", norm="std"),
    Variant("+1 view", views=1),
    Variant("crops: mean of all", test="crops_mean"),
    Variant("crops: max(whole, crops)", test="crops_max"),
    Variant("crops: (whole + max crop) / 2", test="crops_gmax"),
    Variant("crops: (whole + max crop) / 2, no flip", test="crops_gmax_noflip"),
    Variant("+1 view, crops (whole + max crop) / 2", views=1, test="crops_gmax"),
    Variant("+1 view, crops, no flip", views=1, test="crops_gmax_noflip"),
)


@dataclass
class SetFeatures:
    """Pooled features of one sample set: input name -> pool name -> (N, D) per stage."""

    inputs: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]
    y_train: torch.Tensor
    y_val: torch.Tensor
    seconds_per_image: float


def pooled(maps: torch.Tensor, how: str) -> torch.Tensor:
    """N x C x H x W -> N x C (N x 2C for avgmax)."""
    if how == "avg":
        return maps.mean((2, 3))
    if how == "max":
        return maps.amax((2, 3))
    if how == "gem":  # generalised mean, p = 3 (between average and max)
        return maps.clamp(min=1e-6).pow(3).mean((2, 3)).pow(1 / 3)
    if how == "avgmax":
        return torch.cat([maps.mean((2, 3)), maps.amax((2, 3))], 1)
    raise ValueError(how)


class SpatialEmbedder:
    """The frozen backbone's last feature maps and its tapped stage's, pooled every way."""

    def __init__(self) -> None:
        self.backbone = create_backbone("efficientnet_lite0").eval()
        found = stage_tap(self.backbone)
        assert found is not None
        self.tap = found[0]

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        captured: list[torch.Tensor] = []
        handle = self.tap.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            last = self.backbone.forward_features(normalize(images, IMAGENET_MEAN, IMAGENET_STD))
        finally:
            handle.remove()
        return {how: (pooled(last, how), pooled(captured[0], how)) for how in POOLS}


def crop(images: torch.Tensor, place: tuple[float, float]) -> torch.Tensor:
    """A CROP_SIDE square of uint8 N x 3 x S x S images at `place`, resized back to S."""
    side = images.shape[-1]
    k = round(side * CROP_SIDE)
    top, left = round((side - k) * place[0]), round((side - k) * place[1])
    part = images[:, :, top : top + k, left : left + k].float()
    up = F.interpolate(part, size=(side, side), mode="bilinear", align_corners=False)
    return up.round().clamp(0, 255).to(torch.uint8)


def embed_input(
    embed: SpatialEmbedder, images: torch.Tensor, transform: Callable, batch: int = 50
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    parts = [embed(transform(images[i : i + batch])) for i in range(0, len(images), batch)]
    return {how: tuple(torch.cat([p[how][k] for p in parts]) for k in (0, 1)) for how in POOLS}


def extract(variant: str) -> SetFeatures:
    """Every input of one sample set, embedded once (view generator seeded: 1)."""
    data = load_dataset(ensure_sample_data(variant=variant))
    train = load_split_images(data.train.paths, SIZE)
    val = load_split_images(data.val.paths, SIZE)
    embed, generator = SpatialEmbedder(), torch.Generator().manual_seed(1)
    jobs: dict[str, tuple[torch.Tensor, Callable]] = {
        "train": (train, lambda b: b),
        "view1": (train, lambda b: augmented_images(b, generator)),
        "val": (val, lambda b: b),
        "val_flip": (val, lambda b: b.flip(-1)),
    }
    for i, place in enumerate(CROP_PLACES):
        jobs[f"crop{i}"] = (val, lambda b, p=place: crop(b, p))
    started, inputs = time.perf_counter(), {}
    for name, (images, transform) in jobs.items():
        inputs[name] = embed_input(embed, images, transform)
    count = sum(len(images) for images, _ in jobs.values())
    return SetFeatures(
        inputs,
        torch.tensor(np.asarray(data.train.labels, np.float32)),
        torch.tensor(np.asarray(data.val.labels, np.float32)),
        (time.perf_counter() - started) / count,
    )


def features(feats: SetFeatures, name: str, v: Variant) -> torch.Tensor:
    last, tap = feats.inputs[name][v.pool[0]][0], feats.inputs[name][v.pool[1]][1]
    return _normalised(torch.cat([last, tap], 1), feats, v)


def _normalised(x: torch.Tensor, feats: SetFeatures, v: Variant) -> torch.Tensor:
    if v.norm == "ssr_l2":  # power normalisation, then unit length (times a fixed scale)
        x = x.sign() * x.abs().sqrt()
        return F.normalize(x, dim=-1) * 0.1 * x.shape[-1] ** 0.5
    if v.norm == "std":
        ref = torch.cat(
            [feats.inputs["train"][v.pool[0]][0], feats.inputs["train"][v.pool[1]][1]], 1
        )
        return (x - ref.mean(0)) / (ref.std(0) + 1e-3)
    return x


def linear_head(x: torch.Tensor, y: torch.Tensor, seed: int) -> nn.Module:
    """A dropout + linear head trained as the engine trains one (5 epochs, one-cycle)."""
    torch.manual_seed(seed)
    head = nn.Sequential(nn.Dropout(0.2), nn.Linear(x.shape[-1], y.shape[1]))
    generator = torch.Generator().manual_seed(seed)
    autotune.train_head(
        head, nn.BCEWithLogitsLoss(), x, y, torch.arange(len(y)), 1e-2, 1e-4, 5, 32, generator
    )
    return head.eval()


@torch.inference_mode()
def val_probs(head: nn.Module, feats: SetFeatures, v: Variant) -> torch.Tensor:
    """Validation probabilities as the variant's inference would compute them."""

    def probs(name: str) -> torch.Tensor:
        return torch.sigmoid(head(features(feats, name, v)))

    whole = probs("val") if v.test.endswith("noflip") else (probs("val") + probs("val_flip")) / 2
    if v.test == "flip":
        return whole
    crops = torch.stack([probs(f"crop{i}") for i in range(len(CROP_PLACES))])
    if v.test == "crops_mean":
        return (whole + crops.sum(0)) / (1 + len(crops))
    if v.test == "crops_max":
        return torch.maximum(whole, crops.max(0).values)
    return (whole + crops.max(0).values) / 2  # crops_gmax, crops_gmax_noflip


def score(feats: SetFeatures, v: Variant, seed: int) -> float:
    stack = [features(feats, "train", v)] + [features(feats, "view1", v)] * min(v.views, 1)
    x = torch.stack(stack) if len(stack) > 1 else stack[0]
    p = val_probs(linear_head(x, feats.y_train, seed), feats, v).numpy()
    aps = [a for a in average_precision(p, feats.y_val.numpy()) if a is not None]
    return float(np.mean(aps))


def embed_ratio(v: Variant, n_train: int, n_val: int) -> float:
    """Images embedded by the variant over today's cpu recipe (train + val + val mirrored)."""
    val_inputs = (0 if v.test.endswith("noflip") else 1) + 1
    if v.test.startswith("crops"):
        val_inputs += len(CROP_PLACES)
    ours = n_train * (1 + v.views) + n_val * val_inputs
    return ours / (n_train + 2 * n_val)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="hard,print,normal")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default=None, help="comma-separated indices")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = VARIANTS
    if args.variants:
        chosen = tuple(VARIANTS[int(i)] for i in args.variants.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = [row for variant in args.sets.split(",") for row in _sweep(variant, chosen, seeds)]
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


def _sweep(variant: str, chosen: tuple[Variant, ...], seeds: list[int]) -> list[dict]:
    feats = extract(variant)
    n_train, n_val = len(feats.y_train), len(feats.y_val)
    print(
        f"## {variant}: {n_train} train / {n_val} val, "
        f"{feats.seconds_per_image * 1000:.0f} ms per embedded image",
        flush=True,
    )
    rows = []
    for v in chosen:
        maps = [score(feats, v, seed) for seed in seeds]
        row = {
            "set": variant,
            "variant": v.name,
            "map": float(np.mean(maps)),
            "map_std": float(np.std(maps)),
            "seeds": seeds,
            "embed_ratio": embed_ratio(v, n_train, n_val),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _table(rows: list[dict]) -> str:
    base = {r["set"]: r["map"] for r in reversed(rows) if r["variant"] == VARIANTS[0].name}
    lines = [
        "| set | variant | val mAP (± sd over seeds) | Δ mAP | × embeds |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        delta = f"{r['map'] - base[r['set']]:+.3f}" if r["set"] in base else ""
        lines.append(
            f"| {r['set']} | {r['variant']} | {r['map']:.3f} ± {r['map_std']:.3f} | "
            f"{delta} | {r['embed_ratio']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
