"""Scale benchmark: memory and time of `fit` as the data set grows, the image cache, DDP.

    python bench/bench_scale.py [--sizes 1000 5000 20000] [--cache-size 5000] [--ddp-size 2000]

Every measurement runs in a fresh process (peak RSS is that process's ru_maxrss):
1. fit, 1 epoch, frozen efficientnet_lite0, 64 px, on N synthetic JPEGs (cold cache):
   peak RSS, RSS growth from the smallest N, wall time, wall time per image;
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
data = Path(sys.argv[1]); n = int(sys.argv[2])
labels = np.load(data / "labels.npy")[:n]
paths = [data / f"{{i:06d}}.jpg" for i in range(n)]
names = {names!r}
cut = n * 4 // 5
ds = Dataset(LabeledImages(paths[:cut], labels[:cut], names),
             LabeledImages(paths[cut:], labels[cut:], names), None, names, ValidationReport(), "b")
config = TrainConfig(epochs=1, image_size=64, batch_size=64, strategy="freeze", num_threads=2)
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


def run_fit(data: Path, n: int, home: Path, cache: bool = True) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARQUEE_HOME": str(home)}
    env.pop("MARQUEE_NO_IMAGE_CACHE", None)
    if not cache:
        env["MARQUEE_NO_IMAGE_CACHE"] = "1"
    code = _CHILD.format(names=LABELS)
    out = subprocess.run(
        [sys.executable, "-c", code, str(data), str(n)],
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
            "core.cli.torchrun",
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
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--cache-size", type=int, default=5000)
    parser.add_argument("--ddp-size", type=int, default=2000)
    parser.add_argument("--work", type=Path, help="keep the images here (default: a temp dir)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="marquee-bench-scale-"))
    data = work / "images"
    t0 = time.perf_counter()
    make_images(data, max([*args.sizes, args.cache_size, args.ddp_size]))
    print(f"images ready in {time.perf_counter() - t0:.0f} s ({os.cpu_count()} cores)\n")

    print("1. fit, 1 epoch, frozen lite0, 64 px, cold cache")
    print(f"{'images':>8} {'wall s':>8} {'ms/img':>7} {'peak RSS MB':>12} {'growth MB':>10}")
    base = None
    for n in args.sizes:
        r = run_fit(data, n, work / f"home-{n}")
        peak = r["rss_kb"] / 1024
        base = peak if base is None else base
        print(
            f"{n:>8} {r['wall']:>8.1f} {1000 * r['wall'] / n:>7.2f} {peak:>12.0f} "
            f"{peak - base:>10.0f}",
            flush=True,
        )

    n = args.cache_size
    print(f"\n2. time to the first training step, second run on {n} images")
    home = work / "home-cache"
    cold = run_fit(data, n, home)
    warm = run_fit(data, n, home)
    off = run_fit(data, n, work / "home-off", cache=False)
    print(f"{'cache off (decode + embed)':<28} {off['first_step']:>7.2f} s")
    print(f"{'cold cache (first run)':<28} {cold['first_step']:>7.2f} s")
    print(f"{'warm cache (second run)':<28} {warm['first_step']:>7.2f} s")
    print(f"speed-up, warm vs off: {off['first_step'] / warm['first_step']:.1f}x", flush=True)

    n = args.ddp_size
    print(f"\n3. torchrun on CPU, gloo, 1 epoch on {n} images (whole job, cold cache)")
    walls = {p: run_ddp(data, n, p, work) for p in (1, 2)}
    for procs, wall in walls.items():
        print(f"{procs} process(es): {wall:6.1f} s  {n * 0.8 / wall:7.1f} train images/s")
    print(f"2 vs 1: {walls[1] / walls[2]:.2f}x")


if __name__ == "__main__":
    main()
