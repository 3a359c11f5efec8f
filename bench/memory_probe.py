"""Where a frozen run's memory goes, phase by phase: one `fit` as `bench_scale.py` runs it
(CPU recipe, 1 epoch, batch 64, synthetic JPEGs), sampled every 0.1 s.

    MARQUEE_HOME=/tmp/probe-home python bench/memory_probe.py --images 2000 [--size 160]

For each phase (decode, embed, then the training events) it prints the peak RSS
with its anonymous and file-backed parts and, at that moment, the resident MB of the
mappings that matter (the image cache's shards, the heap, other anonymous memory,
libraries); then every ONNX Runtime run that grew anonymous memory by more than 2 MB.
Run it on two sizes (say 2,000 and 6,000: a minute each) and compare: what grows with the
data set shows up in one column. Use a fresh MARQUEE_HOME for a cold cache, the same one
again for a warm cache. Asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

_STATUS_KEYS = ("VmRSS", "RssAnon", "RssFile")


def status_mb() -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of this process, in MB."""
    out = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in _STATUS_KEYS:
                out[key] = int(value.split()[0]) // 1024
    return out


def mapping_kind(name: str) -> str:
    if "/shards/" in name:
        return "shards"
    if name.startswith("/") and ".so" in name:
        return "libraries"
    if name.startswith("/"):
        return "other files"
    return {"": "anonymous", "[heap]": "heap"}.get(name, "other")


def resident_by_kind() -> dict[str, int]:
    """Resident MB per kind of mapping (from /proc/self/smaps), kinds over 4 MB."""
    totals: dict[str, int] = {}
    kind = "other"
    with open("/proc/self/smaps") as handle:
        for line in handle:
            fields = line.split()
            if fields and "-" in fields[0] and not fields[0].endswith(":"):
                kind = mapping_kind(fields[5] if len(fields) >= 6 else "")
            elif fields and fields[0] == "Rss:":
                totals[kind] = totals.get(kind, 0) + int(fields[1])
    return {k: v // 1024 for k, v in sorted(totals.items()) if v > 4096}


class Sampler:
    """Keeps the peak RSS of each phase, and the mappings at that peak."""

    def __init__(self) -> None:
        self.phase = "start"
        self.peaks: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        self.grew: list[str] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.sample()
            time.sleep(0.1)

    def sample(self) -> None:
        now, phase = status_mb(), self.phase
        if now["VmRSS"] > self.peaks.get(phase, ({"VmRSS": 0}, {}))[0]["VmRSS"]:
            self.peaks[phase] = (now, resident_by_kind())

    def on_event(self, event: Any) -> None:
        if type(event).__name__ != "PreparingData":  # the data phases are named on entry
            self.phase = type(event).__name__


def name_data_phases(sampler: Sampler) -> None:
    """Name the decode, embed and auto-tune phases from their start (their progress
    events come only after their first batch: the embed phase's first run builds the
    ONNX Runtime session)."""
    from core.training import loop

    for phase in ("decode", "embed", "auto_tune"):
        real = getattr(loop, f"_{phase}")

        def entered(run: Any, real: Any = real, phase: str = phase) -> None:
            sampler.phase = phase
            real(run)

        setattr(loop, f"_{phase}", entered)


def watch_onnx_runs(sampler: Sampler) -> None:
    """Note every embedding run on ONNX Runtime that grew anonymous memory by over 2 MB."""
    from core.training import embedding

    real = embedding.run_embedder

    def watched(session: Any, images: Any, rows: int | None = None) -> Any:
        before = status_mb()["RssAnon"]
        out = real(session, images, rows)
        grew = status_mb()["RssAnon"] - before
        if grew > 2:
            sampler.grew.append(f"{len(images)} images (run as {rows or len(images)}): +{grew} MB")
        return out

    embedding.run_embedder = watched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--work", type=Path, help="keep the images here (default: a temp dir)")
    args = parser.parse_args()
    import numpy as np
    from bench_scale import LABELS, make_images

    from core.data.datasets import Dataset, LabeledImages, ValidationReport
    from core.training.loop import fit
    from core.training.recipes import recipe_config

    data = (args.work or Path(tempfile.mkdtemp(prefix="marquee-probe-"))) / "images"
    make_images(data, args.images)
    n = args.images
    labels = np.load(data / "labels.npy")[:n]
    paths = [data / f"{i:06d}.jpg" for i in range(n)]
    cut = n * 4 // 5
    train = LabeledImages(paths[:cut], labels[:cut], LABELS)
    val = LabeledImages(paths[cut:], labels[cut:], LABELS)
    dataset = Dataset(train, val, None, LABELS, ValidationReport(), "probe")
    config = recipe_config("cpu", epochs=1, image_size=args.size, batch_size=64, num_threads=2)
    sampler = Sampler()
    name_data_phases(sampler)
    watch_onnx_runs(sampler)
    started = time.perf_counter()
    fit(config, dataset, sampler.on_event)
    sampler.phase = "after fit"
    sampler.sample()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{n} images, {args.size} px: {time.perf_counter() - started:.0f} s, peak {peak} MB")
    for phase, (now, kinds) in sampler.peaks.items():
        parts = " ".join(f"{k} {v}" for k, v in kinds.items())
        print(
            f"  {phase:<22} {now['VmRSS']:>6} MB (anon {now['RssAnon']}, file "
            f"{now['RssFile']}): {parts}"
        )
    print("ONNX Runtime runs that grew memory:", *sampler.grew, sep="\n  ")


if __name__ == "__main__":
    main()
