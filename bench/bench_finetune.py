"""Full fine-tuning speed on this machine: each speed-up against a baseline, same run.

`--strategy no_freeze` for --epochs epochs at --image-size px (default 3 at 128), through
core.training.loop.fit in a fresh process per run, once per variant: a value of
MARQUEE_TRAIN_SPEEDUPS (core.training.speed: "none" the plain path, one speed-up alone,
"default", "all", or `a+b`), or "main": the same run by another checkout of the project
(--baseline-tree, e.g. `git worktree add --detach /tmp/main main`) with its own defaults.
Speed-ups are taken against "main" when it runs, else against "none". The image cache is
filled first, so every variant reads the same pre-resized images. Reports wall and CPU
seconds of fit(), the speed-ups by both, and the validation mAP / micro-F1 (tuned
thresholds), so a speed-up that costs accuracy shows. Variants run in the order given,
--repeats times interleaved; the fastest of each is kept. `--profile STEPS` instead splits
a step's time by phase with the torch profiler (bench/finetune_profile.py).

    python bench/bench_finetune.py [--set normal|hard|print] [--train N] [--epochs 3]
        [--image-size 128] [--threads N] [--variants main,default,...] [--repeats 1]
        [--seed 0] [--baseline-tree DIR] [--profile STEPS]

Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.base.config import TrainConfig
from core.data.cached import load_split_images
from core.data.datasets import Dataset, load_dataset
from core.data.samples import ensure_sample_data
from core.training.speed import ENV, SPEEDUPS

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("none", *SPEEDUPS, "all")


def run_variant(variant: str, args: argparse.Namespace) -> dict:
    """fit() in a fresh process: this checkout with MARQUEE_TRAIN_SPEEDUPS=variant, or for
    "main" the tree named by --baseline-tree (main's code with its own defaults)."""
    tree = args.baseline_tree if variant == "main" else ROOT
    if tree is None:
        raise SystemExit('variant "main" needs --baseline-tree (a git worktree of main)')
    env = {**os.environ, ENV: variant, "PYTHONPATH": str(tree)}
    spec = {
        "set": args.set, "train": args.train, "epochs": args.epochs,
        "image_size": args.image_size, "batch_size": args.batch_size,
        "threads": args.threads, "seed": args.seed,
    }  # fmt: skip
    child = [sys.executable, str(Path(__file__).with_name("finetune_child.py")), json.dumps(spec)]
    done = subprocess.run(child, cwd=tree, env=env, capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{variant} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    row = json.loads(line.removeprefix("RESULT "))
    return {"variant": variant, **row, "load_avg": os.getloadavg()[0]}


def _subset(data: Dataset, n_train: int | None) -> Dataset:
    if not n_train or n_train >= len(data.train):
        return data
    return replace(data, train=data.train.subset(np.arange(n_train)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="normal", choices=("normal", "hard", "print"))
    parser.add_argument("--train", type=int, default=None, help="first N training images")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="training seed of every variant")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--baseline-tree", type=Path,
        help='a checkout of main (git worktree add --detach DIR main): the variant "main"',
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=int, default=0, metavar="STEPS",
        help="profile STEPS steps per candidate speed-up (bench/finetune_profile.py) and stop",
    )  # fmt: skip
    args = parser.parse_args()
    data = _subset(load_dataset(ensure_sample_data(variant=args.set)), args.train)
    config = TrainConfig(
        strategy="no_freeze",
        epochs=args.epochs,
        image_size=args.image_size,
        batch_size=args.batch_size,
        num_threads=args.threads,
        device="cpu",
        seed=args.seed,
    )
    for split in (data.train, data.val):  # every variant reads the cached images
        load_split_images(split.paths, args.image_size)
    if args.profile:
        from finetune_profile import CANDIDATES, profile_steps, table

        rows = [profile_steps(config, data, args.profile, c) for c in CANDIDATES]
        print(table(rows))
        return 0
    print(f"## {args.set}: {len(data.train)} train / {len(data.val)} val, no_freeze", flush=True)
    best: dict[str, dict] = {}
    for _ in range(args.repeats):
        for variant in args.variants.split(","):
            row = run_variant(variant, args)
            print(json.dumps(row), flush=True)
            if variant not in best or row["wall_s"] < best[variant]["wall_s"]:
                best[variant] = row
    print(_table(list(best.values())))
    if args.json:
        args.json.write_text(json.dumps(list(best.values()), indent=2))
    return 0


def _table(rows: list[dict]) -> str:
    base = next((r for r in rows if r["variant"] == "main"), None)
    base = base or next((r for r in rows if r["variant"] == "none"), None)
    lines = [
        "| speed-ups | wall s | × faster (wall) | CPU s | × faster (CPU) | mAP | micro-F1 | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        wall = f"{base['wall_s'] / r['wall_s']:.2f}" if base else ""
        cpu = f"{base['cpu_s'] / r['cpu_s']:.2f}" if base else ""
        lines.append(
            f"| {r['variant']} | {r['wall_s']:.0f} | {wall} | {r['cpu_s']:.0f} | {cpu} | "
            f"{r['map']:.3f} | {r['f1_micro']:.3f} | {r['load_avg']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
