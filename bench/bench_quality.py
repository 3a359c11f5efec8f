"""Accuracy recipes compared in one run: validation mAP, micro-F1 and cost.

For the two development sets with a shift between training and validation (`hard`:
recoloured and outlined motifs; `print`: photographed prints of hatched, smaller motifs)
and the normal sample set, trains each recipe with core.training.loop.fit and reports
validation mAP, micro-F1 at the tuned per-label thresholds (as the model file stores them),
wall seconds and CPU seconds of this process, and the load average. Each recipe runs with
the image and embedding cache off (MARQUEE_NO_IMAGE_CACHE=1; --warm keeps it), so every
time is the whole first run a user waits for (decode, model build, embeddings, tuning,
epochs, evaluation). CPU seconds are less sensitive than
wall seconds to other processes sharing the machine; compare recipes within one run.

    python bench/bench_quality.py [--sets hard,print,normal] [--recipes a,b,...] [--threads N]
        [--finetune-epochs 3] [--finetune-train N] [--json FILE] [--warm]

Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.base.config import TrainConfig
from core.data.datasets import Dataset, load_dataset
from core.data.decode import decoded_cache
from core.data.samples import ensure_sample_data
from core.training.loop import fit
from core.training.recipes import recipe_config

BASE = TrainConfig()  # today's default: frozen lite0, linear head, BCE, 5 epochs, 224 px

# name -> (what it is, config); each improvement is measured alone on top of the baseline.
RECIPES: dict[str, tuple[str, TrainConfig]] = {
    "baseline": ("today's default (linear probe, 5 epochs)", BASE),
    "asl": ("+ asymmetric loss", replace(BASE, loss="asl")),
    "mlp": ("+ MLP head", replace(BASE, head="mlp")),
    "two_stage": ("+ two-stage pooled features", replace(BASE, multi_stage=True)),
    "views1": ("+ 1 augmented feature view", replace(BASE, feature_views=1)),
    "views2": ("+ 2 augmented feature views", replace(BASE, feature_views=2)),
    "auto_tune": ("+ auto-tune (lr, wd, epochs)", replace(BASE, auto_tune=True)),
    "tta": ("+ flip TTA", replace(BASE, tta=True)),
    "cpu": ("new CPU default (recipe 'cpu')", recipe_config("cpu")),
    "cpu_views": (
        "two-stage + 1 feature view + TTA",
        replace(recipe_config("cpu"), feature_views=1),
    ),
    "cpu_views2": (
        "two-stage + 2 feature views + TTA",
        replace(recipe_config("cpu"), feature_views=2),
    ),
    "finetune": ("no_freeze fine-tune, 224 px (reference)", replace(BASE, strategy="no_freeze")),
}


def _subset(data: Dataset, n_train: int | None) -> Dataset:
    if not n_train or n_train >= len(data.train):
        return data
    keep = np.arange(len(data.train))[:n_train]
    return replace(data, train=data.train.subset(keep))


def run_one(name: str, config: TrainConfig, data: Dataset) -> dict:
    decoded_cache.clear()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fit(config, data)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    m, used = result.meta.metrics, result.meta.config
    return {
        "recipe": name,
        "map": m["map"],
        "f1_micro": m["f1_micro"],
        "wall_s": wall,
        "cpu_s": cpu,
        "epochs": used["epochs"],
        "lr": used["lr"],
        "weight_decay": used["weight_decay"],
        "n_train": len(data.train),
        "load_avg": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="hard,print,normal")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0, help="training seed of every recipe")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-train", type=int, default=None, help="subset of train")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--warm", action="store_true", help="reuse cached images/embeddings")
    args = parser.parse_args()
    if not args.warm:
        os.environ["MARQUEE_NO_IMAGE_CACHE"] = "1"
    rows: list[dict] = []
    for variant in args.sets.split(","):
        data = load_dataset(ensure_sample_data(variant=variant))
        print(
            f"## {variant}: {len(data.train)} train / {len(data.val)} val, "
            f"{len(data.label_names)} labels",
            flush=True,
        )
        for name in args.recipes.split(","):
            what, config = RECIPES[name]
            config = replace(config, num_threads=args.threads, seed=args.seed)
            subset = data
            if name == "finetune":
                config = replace(config, epochs=args.finetune_epochs)
                subset = _subset(data, args.finetune_train)
            row = {"set": variant, "what": what, **run_one(name, config, subset)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


def _table(rows: list[dict]) -> str:
    base: dict[str, dict] = {}  # per set: "baseline" if it ran, else the set's first recipe
    for r in rows:
        if r["set"] not in base or r["recipe"] == "baseline":
            base[r["set"]] = r
    lines = [
        "| set | recipe | val mAP | Δ mAP | micro-F1 (tuned) | wall s | × wall | CPU s | epochs "
        "| load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = base.get(r["set"])
        delta = f"{r['map'] - b['map']:+.3f}" if b else ""
        ratio = f"{r['wall_s'] / b['wall_s']:.2f}" if b else ""
        lines.append(
            f"| {r['set']} | {r['what']} | {r['map']:.3f} | {delta} | {r['f1_micro']:.3f} | "
            f"{r['wall_s']:.0f} | {ratio} | {r['cpu_s']:.0f} | {r['epochs']} | "
            f"{r.get('load_avg', 0):.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
