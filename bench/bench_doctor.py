"""`doctor` on 10,000 images with a warm embedding cache (target: under 60 s on the CPU).

The images are synthetic 96 x 96 posters (blocks of colour, labels from the colours,
noise so no two files are the same), written once into a seed-layout folder. Warming
the embedding cache with the real backbone would take minutes on two cores, so the
warm-up pass swaps the backbone's ONNX call for a cheap stand-in (a fixed random
projection of each image's 8 x 8 thumbnail, width 1,392 like the two-stage Lite0
features) and stores those embeddings in the cache under the real backbone's family.
The timed pass is the real `marquee doctor` code path: decoded images and embeddings
come from the cache (as after a training or an earlier check), then k-fold heads, the
kNN vote, duplicates and strays run in full.

    python bench/bench_doctor.py [--images 10000] [--folds 5] [--keep DIR]

Prints the seconds per stage and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LABELS = ("Action", "Romance", "Crime", "Thriller", "Adventure")
COLOURS = np.array([[220, 40, 30], [240, 120, 180], [40, 40, 60], [30, 60, 160], [40, 160, 60]])


def write_posters(root: Path, n: int, seed: int = 0) -> None:
    """`n` posters, 80% in train and 20% in val, each with 1-2 labels painted as blocks."""
    rng = np.random.default_rng(seed)
    n_val = n // 5
    for split, count in (("train", n - n_val), ("val", n_val)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "metadata.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Id", "Genre", *LABELS])
            for i in range(count):
                chosen = rng.choice(5, size=int(rng.integers(1, 3)), replace=False)
                pixels = rng.integers(60, 200, (6, 6, 3)).astype(np.uint8)
                for j in chosen:
                    pixels[rng.integers(6), :] = COLOURS[j]
                big = np.kron(pixels, np.ones((16, 16, 1), dtype=np.uint8))
                big = np.clip(big + rng.normal(0, 6, big.shape), 0, 255).astype(np.uint8)
                ident = f"{split}_{i:05d}"
                Image.fromarray(big).save(folder / f"{ident}.jpg", quality=90)
                names = [LABELS[j] for j in sorted(chosen)]
                writer.writerow([ident, str(names), *(int(j in chosen) for j in range(5))])


def warm_cache(root: Path) -> float:
    """Fill the decoded-image and embedding caches (stand-in embeddings, see above)."""
    import torch

    from core.data.datasets import load_dataset
    from core.health import embeddings
    from core.training import embedding

    projection = torch.randn(3 * 8 * 8, 1392, generator=torch.Generator().manual_seed(0))

    def stand_in(_session, images, _rows=None):
        thumbs = torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 8)
        return torch.relu(thumbs.flatten(1) @ projection / 8)

    started = time.perf_counter()
    real = embedding.run_embedder
    embedding.run_embedder = stand_in
    try:
        embeddings.embed_dataset(load_dataset(root), embeddings.doctor_config())
    finally:
        embedding.run_embedder = real
    return time.perf_counter() - started


def timed_doctor(root: Path, folds: int) -> tuple[float, dict, dict]:
    from core.data.datasets import load_dataset
    from core.health.doctor import DoctorOptions, run_doctor

    stages: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if last[1]:
            stages[last[1]] = stages.get(last[1], 0.0) + now - last[0]
        last[:] = [now, stage]

    started = time.perf_counter()
    dataset = load_dataset(root)
    stages["load (check every image)"] = time.perf_counter() - started
    last[0] = time.perf_counter()
    report = run_doctor(dataset, DoctorOptions(folds=folds), progress)
    stages[last[1]] = stages.get(last[1], 0.0) + time.perf_counter() - last[0]
    total = time.perf_counter() - started
    stages["the rest (cache reads before the first fold ends, the report)"] = total - sum(
        stages.values()
    )
    return total, stages, report.summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="reuse/keep the posters and cache here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-doctor-"))
    os.environ.setdefault("MARQUEE_HOME", str(work / "home"))
    root = work / "posters"
    if not (root / "val" / "metadata.csv").is_file():
        started = time.perf_counter()
        write_posters(root, args.images)
        print(f"wrote {args.images} posters in {time.perf_counter() - started:.0f} s")
    print(f"warm-up (decode + stand-in embeddings): {warm_cache(root):.0f} s")
    seconds, stages, summary = timed_doctor(root, args.folds)
    for stage, value in stages.items():
        print(f"  {stage}: {value:.1f} s")
    print(
        f"doctor on {summary['images']} images, warm cache: {seconds:.1f} s "
        f"(load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)"
    )
    print({k: summary[k] for k in ("label_issues", "duplicates", "leaks", "outliers")})


if __name__ == "__main__":
    main()
