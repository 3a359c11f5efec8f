"""Scale benchmark: memory and time of `fit` as the data set grows, the image cache, DDP.

    python bench/bench_scale.py [--sizes 1000 5000] [--also-20k] [--image-size 160]
                                [--cache-size 5000] [--ddp-size 2000] [--only-memory]

Every measurement runs in a fresh process (peak RSS is that process's ru_maxrss):
1. fit with the CPU recipe (frozen efficientnet_lite0, multi-stage, TTA), 1 epoch, 160 px,
   on N synthetic JPEGs, with a cold cache and then warm (a second run): peak RSS, its
   growth from the smallest N (the target: under 200 MB from 1,000 to 5,000 images, under
   300 MB to 20,000), wall time. 20,000 images only with --also-20k (slow on 2 cores);
2. time to the first training step on a second run: with the warm cache, against the same
   run with the cache switched off (MARQUEE_NO_IMAGE_CACHE: decode and embed every run);
3. torchrun on CPU with 1 and 2 gloo processes: training images per second of the whole
   job (start-up included) with a cold cache.
Prints a table; asserts nothing. The numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["Action", "Drama", "Comedy", "Horror"]

_CHILD = """
import json, resource, sys, time
import numpy as np
from pathlib import Path
from core.base.config import TrainConfig
from core.data.datasets import Dataset, LabeledImages, ValidationReport
from core.training.loop import fit
from core.training.events import StepEnded
from core.training.recipes import recipe_config
data = Path(sys.argv[1]); n = int(sys.argv[2]); size = int(sys.argv[3])
labels = np.load(data / "labels.npy")[:n]
paths = [data / f"{{i:06d}}.jpg" for i in range(n)]
names = {names!r}
cut = n * 4 // 5
ds = Dataset(LabeledImages(paths[:cut], labels[:cut], names),
             LabeledImages(paths[cut:], labels[cut:], names), None, names, ValidationReport(), "b")
config = recipe_config("cpu", epochs=1, image_size=size, batch_size=64, num_threads=2)
import torch
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
first = []
t0 = time.perf_counter()
def on_event(e):
    if isinstance(e, StepEnded) and not first:
        first.append(time.perf_counter() - t0)
fit(config, ds, on_event)
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("RESULT " + json.dumps({{"wall": wall, "first_step": first[0], "rss_kb": rss,
                              "rss_start_kb": rss0}}))
"""


def make_images(folder: Path, n: int) -> None:
    """n distinct tiny JPEGs (a noise texture and a coloured block per label) and labels."""
    folder.mkdir(parents=True, exist_ok=True)
    have = len(list(folder.glob("*.jpg")))
    rng = np.random.default_rng(0)
    labels = (rng.random((max(n, have), len(LABELS))) < 0.35).astype(np.float32)
    base = rng.integers(60, 200, size=(80, 80, 3), dtype=np.uint8)
    for i in range(have, n):
        pixels = np.roll(base, (i * 7) % 80, axis=(i % 2)).copy()
        pixels[0, :3, :] = np.array([i % 256, (i // 256) % 256, i // 65536], dtype=np.uint8)[
            :, None
        ]
        for k in np.flatnonzero(labels[i]):
            pixels[20 * k : 20 * k + 20, 10:70] = (40 + 50 * k, 220 - 40 * k, 90)
        Image.fromarray(pixels).save(folder / f"{i:06d}.jpg", quality=85)
    np.save(folder / "labels.npy", labels)


def run_fit(data: Path, n: int, home: Path, cache: bool = True, size: int = 160) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARQUEE_HOME": str(home)}
    env.pop("MARQUEE_NO_IMAGE_CACHE", None)
    if not cache:
        env["MARQUEE_NO_IMAGE_CACHE"] = "1"
    code = _CHILD.format(names=LABELS)
    out = subprocess.run(
        [sys.executable, "-c", code, str(data), str(n), str(size)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def run_ddp(data: Path, n: int, procs: int, work: Path) -> float:
    """Wall seconds of a whole torchrun job (cold cache), 1 epoch on n images."""
    sys.path.insert(0, str(ROOT))
    from core.base.config import TrainConfig
    from core.data.datasets import Dataset, LabeledImages, ValidationReport
    from core.training.job import export_job

    labels = np.load(data / "labels.npy")[:n]
    paths = [data / f"{i:06d}.jpg" for i in range(n)]
    cut = n * 4 // 5
    ds = Dataset(
        LabeledImages(paths[:cut], labels[:cut], LABELS),
        LabeledImages(paths[cut:], labels[cut:], LABELS),
        None,
        LABELS,
        ValidationReport(),
        "bench",
    )
    config = TrainConfig(epochs=1, image_size=64, batch_size=64, strategy="freeze")
    job = export_job(work / f"job{procs}", config, ds)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARQUEE_HOME": str(work / f"home{procs}")}
    torchrun = Path(sys.executable).with_name("torchrun")
    t0 = time.perf_counter()
    subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc-per-node",
            str(procs),
            "-m",
            "core.distributed",
            str(job),
            "--device",
            "cpu",
        ],
        env=env,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--also-20k", action="store_true", help="add 20,000 images (slow)")
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--cache-size", type=int, default=5000)
    parser.add_argument("--ddp-size", type=int, default=2000)
    parser.add_argument("--only-memory", action="store_true", help="part 1 only")
    parser.add_argument("--work", type=Path, help="keep the images here (default: a temp dir)")
    args = parser.parse_args()
    sizes = [*args.sizes, *([20000] if args.also_20k else [])]
    work = args.work or Path(tempfile.mkdtemp(prefix="marquee-bench-scale-"))
    data = work / "images"
    t0 = time.perf_counter()
    make_images(data, max(sizes if args.only_memory else [*sizes, args.cache_size, args.ddp_size]))
    print(f"images ready in {time.perf_counter() - t0:.0f} s ({os.cpu_count()} cores)\n")
    memory_at_scale(data, sizes, args.image_size, work)
    if not args.only_memory:
        first_step_and_ddp(data, args.cache_size, args.ddp_size, work)


def memory_at_scale(data: Path, sizes: list[int], image_size: int, work: Path) -> None:
    print(f"1. fit, CPU recipe, 1 epoch, {image_size} px: cold cache, then warm (second run)")
    print(f"{'images':>8} {'cache':>5} {'wall s':>8} {'peak RSS MB':>12} {'growth MB':>10}")
    base: dict[str, float] = {}
    for n in sizes:
        home = work / f"home-{n}-{image_size}"
        for kind in ("cold", "warm"):
            r = run_fit(data, n, home, size=image_size)
            peak = r["rss_kb"] / 1024
            base.setdefault(kind, peak)
            print(
                f"{n:>8} {kind:>5} {r['wall']:>8.1f} {peak:>12.0f} {peak - base[kind]:>10.0f}",
                flush=True,
            )


def first_step_and_ddp(data: Path, cache_size: int, ddp_size: int, work: Path) -> None:
    n = cache_size
    print(f"\n2. time to the first training step, second run on {n} images")
    home = work / "home-cache"
    cold = run_fit(data, n, home)
    warm = run_fit(data, n, home)
    off = run_fit(data, n, work / "home-off", cache=False)
    print(f"{'cache off (decode + embed)':<28} {off['first_step']:>7.2f} s")
    print(f"{'cold cache (first run)':<28} {cold['first_step']:>7.2f} s")
    print(f"{'warm cache (second run)':<28} {warm['first_step']:>7.2f} s")
    print(f"speed-up, warm vs off: {off['first_step'] / warm['first_step']:.1f}x", flush=True)

    n = ddp_size
    print(f"\n3. torchrun on CPU, gloo, 1 epoch on {n} images (whole job, cold cache)")
    walls = {p: run_ddp(data, n, p, work) for p in (1, 2)}
    for procs, wall in walls.items():
        print(f"{procs} process(es): {wall:6.1f} s  {n * 0.8 / wall:7.1f} train images/s")
    print(f"2 vs 1: {walls[1] / walls[2]:.2f}x")


if __name__ == "__main__":
    main()
