"""Predicting and training on a busy computer: today's thread settings against core.base.runtime's.

Old settings: torch's defaults (active OpenMP waiting, one thread per core; the CLI trains
with os.cpu_count() threads). New: core.base.runtime.configure_threading() before torch loads
(spin briefly, then sleep) and thread counts from core.base.runtime (usable cores less the
competing load). Each figure comes from a fresh subprocess, so the environment is in place
before torch loads.

    python bench/bench_busy_cpu.py                 # idle, then under --load: the table
    python bench/bench_busy_cpu.py --survey        # which competing loads cause the collapse

Measured: one poster's predict latency at 224 px (median, p95 of up to 20 calls),
frozen-backbone embedding throughput (img/s) and `no_freeze` training steps/s (training.fit).
Every measurement and every load stops by itself after a few seconds. No timing asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.base.runtime import WAIT_VARIABLES, configure_threading  # noqa: E402  (torch-free)

BACKBONE, SIZE, LABELS = "efficientnet_lite0", 224, 25
LOADS = {
    "spin": "a Python busy loop (one core), nice 0",
    "spin-nice15": "a Python busy loop (one core), nice 15",
    "corrupt-images": "decoding truncated and huge images in 2 threads, nice 15",
    "torch-restart": "starting and stopping torch in a loop, nice 15",
}


# --------------------------------------------------------------------------- the loads
def run_load(kind: str, seconds: float) -> None:
    """A competing load that stops by itself after `seconds`."""
    end = time.monotonic() + seconds
    if kind != "spin":
        os.nice(15)
    if kind in ("spin", "spin-nice15"):
        while time.monotonic() < end:
            sum(range(10_000))
    elif kind == "corrupt-images":
        decode_bad_images(end)
    elif kind == "torch-restart":
        while time.monotonic() < end:
            subprocess.run([sys.executable, "-c", "import torch; torch.ones(8) @ torch.ones(8)"])


def decode_bad_images(end: float) -> None:
    import io
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    huge, jpeg = io.BytesIO(), io.BytesIO()
    Image.effect_noise((6000, 6000), 64).convert("RGB").save(huge, "PNG", compress_level=1)
    Image.effect_noise((2000, 3000), 64).convert("RGB").save(jpeg, "JPEG")
    blobs = [huge.getvalue(), jpeg.getvalue()[: len(jpeg.getvalue()) // 2]]  # huge, truncated

    def decode(blob: bytes) -> None:
        with contextlib.suppress(OSError):  # the truncated one fails: that is the point
            Image.open(io.BytesIO(blob)).convert("RGB").resize((224, 224))

    with ThreadPoolExecutor(2) as pool:
        while time.monotonic() < end:
            list(pool.map(decode, blobs))


# --------------------------------------------------------------------------- measurements
def child(measure: str, settings: str, budget_s: float) -> dict:
    """One measurement in this (fresh) process; `new` configures before torch loads."""
    if settings == "new":
        configure_threading()
    import torch

    from core.base import runtime

    torch.manual_seed(0)
    if measure == "train":
        old_threads = os.cpu_count() or 1  # what `marquee train` used
        threads = runtime.training_threads(keep_ui_core=False) if settings == "new" else old_threads
        result = measure_training(threads, budget_s)
    else:
        threads = runtime.prediction_threads() if settings == "new" else torch.get_num_threads()
        torch.set_num_threads(threads)
        result = (measure_predict if measure == "predict" else measure_embed)(budget_s)
    return {**result, "threads": threads, "load": round(os.getloadavg()[0], 2)}


def sample_paths(n: int) -> list[Path]:
    from core.data.samples import ensure_sample_data

    return sorted(ensure_sample_data().rglob("*.jpg"))[:n]


def measure_predict(budget_s: float) -> dict:
    import numpy as np

    from core.inference.predictor import Predictor
    from core.model.backbones import IMAGENET_MEAN, IMAGENET_STD
    from core.model.classifier import create_model
    from core.modelfile.checkpoint import ModelMeta

    names = [f"label{i}" for i in range(LABELS)]
    meta = ModelMeta(BACKBONE, SIZE, names, [0.5] * LABELS, IMAGENET_MEAN, IMAGENET_STD)
    predictor = Predictor.for_model(create_model(BACKBONE, LABELS, pretrained=False), meta, "cpu")
    poster = sample_paths(1)
    for _ in range(3):
        predictor.predict(poster)
    times: list[float] = []
    end = time.perf_counter() + budget_s
    while len(times) < 20 and time.perf_counter() < end:
        start = time.perf_counter()
        predictor.predict(poster)
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95))}


def measure_embed(budget_s: float, batch: int = 16) -> dict:
    import torch

    from core.data.decode import decode_images
    from core.model.backbones import IMAGENET_MEAN, IMAGENET_STD
    from core.model.classifier import create_model
    from core.model.preprocess import normalize

    backbone = create_model(BACKBONE, LABELS, pretrained=False).backbone.eval()
    images = normalize(decode_images(sample_paths(batch), SIZE), IMAGENET_MEAN, IMAGENET_STD)
    with torch.inference_mode():
        backbone(images[:4])  # warm-up
        done, start = 0, time.perf_counter()
        while done < 4 * batch and time.perf_counter() < start + budget_s:
            backbone(images)
            done += batch
        return {"img_per_s": done / (time.perf_counter() - start)}


def measure_training(threads: int, budget_s: float, batch: int = 8, steps: int = 8) -> dict:
    import numpy as np

    from core.base.config import TrainConfig
    from core.data.datasets import Dataset, ValidationReport, load_dataset
    from core.data.samples import ensure_sample_data
    from core.training import loop as engine
    from core.training.events import StepEnded

    data = load_dataset(ensure_sample_data())
    train = data.train.subset(np.arange(steps * batch) % len(data.train))
    val = data.val.subset(np.arange(batch) % len(data.val))
    small = Dataset(train, val, None, data.label_names, ValidationReport(), "bench")
    config = TrainConfig(
        backbone=BACKBONE,
        pretrained=False,
        strategy="no_freeze",
        epochs=1,
        batch_size=batch,
        image_size=SIZE,
        augment=False,
        device="cpu",
        num_threads=threads,
        log_every=1,  # a StepEnded (its time stamp) per step
    )
    stamps: list[float] = []
    deadline: list[float] = []

    def on_event(event: object) -> None:
        if isinstance(event, StepEnded):
            stamps.append(time.perf_counter())
            if not deadline:  # the budget starts after the first (warm-up) step
                deadline.append(stamps[0] + budget_s)

    engine.fit(
        config, small, on_event, lambda: bool(deadline) and time.perf_counter() > deadline[0]
    )
    steps_s = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return {"steps_per_s": steps_s, "steps": len(stamps)}


# --------------------------------------------------------------------------- the driver
def spawn(measure: str, settings: str, budget_s: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}  # torch defaults
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, __file__, "--child", measure, settings, "--budget", str(budget_s)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=budget_s + 180)
    if done.returncode != 0:
        raise RuntimeError(f"{measure}/{settings} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def with_load(kind: str | None, seconds: float) -> subprocess.Popen | None:
    if kind is None:
        return None
    cmd = [sys.executable, __file__, "--load-child", kind, "--budget", str(seconds)]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)})
    time.sleep(3)  # let it get going (the image load builds its images first)
    return proc


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        proc.terminate()
        proc.wait()


def survey(budget_s: float) -> None:
    print("Which competing loads make single-poster predict latency collapse (median ms, p95)")
    print(f"{'load':<16} {'old: default wait':>20} {'new: short wait':>20}  loadavg")
    for kind in (None, *LOADS):
        load = with_load(kind, 4 * budget_s + 120)
        try:
            old, new = (spawn("predict", s, budget_s) for s in ("old", "new"))
        finally:
            stop(load)
        cells = [f"{r['median_ms']:8.1f} ({r['p95_ms']:7.1f})" for r in (old, new)]
        print(f"{kind or 'none':<16} {cells[0]:>20} {cells[1]:>20}  {old['load']:.2f}")
    print("\n" + "\n".join(f"  {k}: {v}" for k, v in LOADS.items()))


def table(load_kind: str, budget_s: float) -> None:
    rows = {}
    for condition, kind in (("idle", None), ("busy", load_kind)):
        load = with_load(kind, 6 * (budget_s + 60))
        try:
            for measure in ("predict", "embed", "train"):
                for settings in ("old", "new"):
                    rows[condition, measure, settings] = spawn(measure, settings, budget_s)
        finally:
            stop(load)
    print(f"competing load: {LOADS[load_kind]}; {BACKBONE}, {SIZE} px, CPU\n")
    header = f"{'':<26} {'old':>9} {'new':>9} {'new/old':>8}   threads old/new, loadavg"
    for condition in ("idle", "busy"):
        print(f"{condition}\n  {header}")
        for measure, key, label in (
            ("predict", "median_ms", "predict median ms"),
            ("predict", "p95_ms", "predict p95 ms"),
            ("embed", "img_per_s", "embedding img/s"),
            ("train", "steps_per_s", "no_freeze train steps/s"),
        ):
            old, new = rows[condition, measure, "old"], rows[condition, measure, "new"]
            print(
                f"  {label:<26} {old[key]:>9.2f} {new[key]:>9.2f} {new[key] / old[key]:>8.2f}"
                f"   {old['threads']}/{new['threads']}, {old['load']:.1f}/{new['load']:.1f}"
            )
    print("\nbusy / idle (targets: latency <= 2x, throughput >= 0.45)")
    for measure, key in (
        ("predict", "median_ms"),
        ("embed", "img_per_s"),
        ("train", "steps_per_s"),
    ):
        for settings in ("old", "new"):
            busy, idle = rows["busy", measure, settings][key], rows["idle", measure, settings][key]
            print(f"  {measure:<8} {key:<12} {settings}: {busy / idle:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", default="spin", choices=list(LOADS))
    parser.add_argument("--survey", action="store_true", help="try every load on predict")
    parser.add_argument("--budget", type=float, default=12.0, help="seconds per measurement")
    parser.add_argument("--child", nargs=2, metavar=("MEASURE", "SETTINGS"), help=argparse.SUPPRESS)
    parser.add_argument("--load-child", choices=list(LOADS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.budget)))
    elif args.load_child:
        run_load(args.load_child, args.budget)
    elif args.survey:
        survey(args.budget)
    else:
        table(args.load, args.budget)


if __name__ == "__main__":
    main()
