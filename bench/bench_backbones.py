"""CPU images/s of every backbone, for embedding (frozen, inference) and fine-tuning (one
optimiser step over the whole network), at each backbone's default image size.

Random weights (no download: the speed is the architecture's), random pixels, batch 8,
one warm-up batch then `--batches` timed ones, on torch with one thread by default (the
app trains with all cores but one; the frozen path of `marquee train` embeds on ONNX
Runtime, often faster on a CPU). images/s come from this process's CPU time, so a shared
machine's other load does not count against the backbone; wall-clock images/s are kept
too, with the load average. Writes
core/model/backbone_speeds.json (read by `marquee backbones` and the app) with the date
and the machine, unless --no-write:

    python bench/bench_backbones.py [--batches 2] [--threads N] [--only NAME ...] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.model.backbones import list_backbones, normalisation
from core.model.catalog import SPEEDS_FILE
from core.model.classifier import create_model
from core.model.preprocess import normalize

BATCH = 8


def timed(step, batches: int) -> tuple[float, float]:
    """Wall and CPU seconds of `batches` calls of `step` after one warm-up call."""
    step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        step()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(name: str, size: int, batches: int) -> dict:
    model = create_model(name, 10, pretrained=False, image_size=size)
    mean, std = normalisation(name)
    pixels = torch.randint(0, 256, (BATCH, 3, size, size), dtype=torch.uint8)
    targets = torch.randint(0, 2, (BATCH, 10)).float()
    model.eval()

    def embed() -> None:
        with torch.inference_mode():
            model.embed(normalize(pixels, mean, std))

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def finetune() -> None:
        model.train()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(normalize(pixels, mean, std)), targets
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    embed_wall, embed_cpu = timed(embed, batches)
    tune_wall, tune_cpu = timed(finetune, batches)
    n = batches * BATCH
    return speeds(n, size, embed_wall, embed_cpu, tune_wall, tune_cpu)


def speeds(
    n: int, size: int, embed_wall: float, embed_cpu: float, tune_wall: float, tune_cpu: float
) -> dict:
    """images/s from this process's CPU seconds (with one thread: what one free core does,
    whatever else runs on a shared machine), and from the wall clock as measured."""
    return {
        "image_size": size,
        "embed_images_per_s": round(n / embed_cpu, 2),
        "finetune_images_per_s": round(n / tune_cpu, 2),
        "embed_images_per_s_wall": round(n / embed_wall, 2),
        "finetune_images_per_s_wall": round(n / tune_wall, 2),
        "embed_cpu_s_per_image": round(embed_cpu / n, 4),
        "finetune_cpu_s_per_image": round(tune_cpu / n, 4),
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="1: images/s per free core")
    parser.add_argument("--only", nargs="*", help="backbone names (default: all)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {}
    for info in list_backbones():
        if args.only and info.name not in args.only:
            continue
        results[info.name] = measure(info.name, info.default_image_size, args.batches)
        row = results[info.name]
        print(
            f"{info.name:<34} {info.default_image_size:>4}px  embed "
            f"{row['embed_images_per_s']:>7.1f} img/s  fine-tune "
            f"{row['finetune_images_per_s']:>6.1f} img/s",
            flush=True,
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = {
        "measured": {
            "date": datetime.date.today().isoformat(),
            "machine": machine(),
            "threads": args.threads,
            "batch": BATCH,
            "load_average": load,
            "how": "python bench/bench_backbones.py",
        },
        "backbones": results,
    }
    if not args.no_write and not args.only:
        SPEEDS_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {SPEEDS_FILE}")
    else:
        print(json.dumps(report["measured"]))


if __name__ == "__main__":
    main()
