"""Inference against the hardware's limit, in one run, on real-size posters (600 x 900 JPEG).

  (a) the limit: a bare onnxruntime InferenceSession.run on pre-decoded batches
  (b) Marquee's pipeline, model only (the same pre-decoded batches through pipeline.run)
  (c) end to end: `marquee predict FOLDER --json` (decode, model, output), images/s
  (d) the same with `--runtime torch` forced
  (e) a first frozen training run's embedding phase: ONNX Runtime vs torch forced
      (MARQUEE_EMBED_RUNTIME=torch), each with an empty image cache

    python bench/bench_inference.py [--posters 300] [--size 128] [--train 400]

The model is a default-recipe (CPU: two-stage features, flip TTA) Lite0 trained for one
epoch on the sample posters. Prints a table of rates and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 32
ROUNDS = 3


def make_posters(folder: Path, count: int) -> list[Path]:
    """Smooth, poster-like 600 x 900 JPEGs (noise would make JPEG decoding unrealistically slow)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    ys, xs = np.mgrid[0:900, 0:600]
    paths = []
    for i in range(count):
        a, b, c = rng.uniform(0.005, 0.03, 3)
        pixels = np.stack(
            [
                127 + 120 * np.sin(a * xs + i),
                127 + 120 * np.cos(b * ys),
                127 + 120 * np.sin(c * (xs + ys)),
            ],
            axis=-1,
        ).astype(np.uint8)
        path = folder / f"poster_{i:04d}.jpg"
        Image.fromarray(pixels).save(path, quality=88)
        paths.append(path)
    return paths


def train_model(out: Path, size: int, n_train: int, seed: int = 0) -> Path:
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data
    from core.modelfile.checkpoint import save_model
    from core.training.loop import fit
    from core.training.recipes import recipe_config

    data = load_dataset(ensure_sample_data())
    data = replace(data, train=data.train.subset(np.arange(min(n_train, len(data.train)))))
    result = fit(recipe_config("cpu", epochs=1, image_size=size, seed=seed), data)
    return save_model(out, result.model, result.meta)


def rate(seconds: float, count: int) -> float:
    return count / max(seconds, 1e-9)


def model_only(model: Path, posters: list[Path]) -> tuple[float, float]:
    """(a) bare session.run and (b) pipeline.run on the same pre-decoded batches, img/s."""
    from core.base.paths import cache_dir
    from core.base.runtime import prediction_threads
    from core.inference.onnx_cache import file_graph_key
    from core.inference.pipeline import InferencePipeline
    from core.model.onnx_runtime import session_for

    pipeline = InferencePipeline.from_file(model, device="cpu")
    key = file_graph_key(model, pipeline.meta, pipeline.tta)  # the graph (c0) exported
    session = session_for(cache_dir() / "onnx" / f"{key}.onnx", prediction_threads())
    arrays = [pipeline.decode(p) for p in posters]
    batches = [np.stack(arrays[i : i + BATCH]) for i in range(0, len(arrays), BATCH)]
    session.run(None, {"images": batches[0]})  # warm both
    pipeline.run(list(batches[0]))
    bare_s, pipeline_s = [], []  # interleaved rounds, best of each: a busy CPU's swings cancel
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for batch in batches:
            session.run(None, {"images": batch})
        bare_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(0, len(arrays), BATCH):
            pipeline.run(arrays[i : i + BATCH])
        pipeline_s.append(time.perf_counter() - started)
    return rate(min(bare_s), len(arrays)), rate(min(pipeline_s), len(arrays))


def end_to_end(model: Path, folder: Path, count: int, runtime: str, env: dict) -> float:
    """(c) / (d): the whole `marquee predict FOLDER --json` command, images/s."""
    command = [sys.executable, "-m", "gui", "predict", str(model), str(folder), "--json"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--runtime", runtime], env=env, capture_output=True, text=True, timeout=3600
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"marquee predict failed: {done.stderr[-2000:]}")
    assert len(json.loads(done.stdout)["predictions"]) == count
    return rate(seconds, count)


def first_run(size: int, n_train: int, runtime: str, machine_seen: bool) -> tuple[float, float]:
    """(e)/(f): seconds of the embed phase of a first frozen run on the sample set (empty
    image and embedding caches) and of the whole run. `machine_seen`: Marquee has trained
    before on this machine (a run on other images first), so the backbone's embedding
    graph is in the cache; else a brand-new home, which exports it too."""
    code = f"""
import sys, time, tempfile, os
sys.path.insert(0, {str(ROOT)!r})
os.environ["MARQUEE_HOME"] = tempfile.mkdtemp()
from dataclasses import replace
import numpy as np
from core.data.datasets import load_dataset
from core.data.samples import ensure_sample_data
from core.training.loop import fit
from core.training.recipes import recipe_config
data = load_dataset(ensure_sample_data())
config = recipe_config("cpu", epochs=1, image_size={size})
if {machine_seen!r}:  # other images: nothing of the measured run's is cached but the graph
    other = load_dataset(ensure_sample_data(variant="hard"))
    small = dict(train=other.train.subset(np.arange(32)), val=other.val.subset(np.arange(16)))
    fit(config, replace(other, **small))
data = replace(data, train=data.train.subset(np.arange({n_train})))
marks = {{}}
def on_event(e):
    if getattr(e, "stage", "") == "embed":
        marks.setdefault("first", time.perf_counter()); marks["last"] = time.perf_counter()
started = time.perf_counter()
fit(config, data, on_event)
print(marks["last"] - marks["first"], time.perf_counter() - started)
"""
    env = {**os.environ, "MARQUEE_EMBED_RUNTIME": runtime}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    embed, whole = done.stdout.strip().splitlines()[-1].split()
    return float(embed), float(whole)


def draft_mode_shift(model: Path, other_seed: Path, posters: list[Path]) -> tuple[float, float]:
    """(g): max |p(draft decode) - p(full decode)| and max |p(seed 0) - p(seed 1)|."""
    from core.inference.pipeline import InferencePipeline

    pipeline = InferencePipeline.from_file(model, device="cpu")
    other = InferencePipeline.from_file(other_seed, device="cpu")
    size = pipeline.meta.image_size
    drafted = [pipeline.decode(p) for p in posters]
    full = [np.asarray(_full_decode(p, size)) for p in posters]
    draft_probs, full_probs = pipeline.run(drafted), pipeline.run(full)
    seed_noise = np.abs(draft_probs - other.run(drafted)).max()
    return float(np.abs(draft_probs - full_probs).max()), float(seed_noise)


def _full_decode(path: Path, size: int) -> Image.Image:
    with Image.open(path) as img:  # no draft(): every pixel decoded, then resized
        return img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=int, default=300)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--train", type=int, default=400, help="training images for (e)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="marquee-bench-inference-"))
    env = {**os.environ, "MARQUEE_HOME": str(work / "home"), "PYTHONPATH": str(ROOT)}
    os.environ["MARQUEE_HOME"] = env["MARQUEE_HOME"]
    posters = make_posters(work / "posters", args.posters)
    model = train_model(work / "model.safetensors", args.size, 80)
    cold = end_to_end(model, work / "posters", args.posters, "auto", env)  # exports the graph
    bare, pipeline = model_only(model, posters)
    onnx_e2e = end_to_end(model, work / "posters", args.posters, "auto", env)
    torch_e2e = end_to_end(model, work / "posters", args.posters, "torch", env)
    embed_onnx, whole_onnx = first_run(args.size, args.train, "auto", machine_seen=True)
    embed_torch, whole_torch = first_run(args.size, args.train, "torch", machine_seen=True)
    _, new_machine_onnx = first_run(args.size, args.train, "auto", machine_seen=False)
    other = train_model(work / "model-seed1.safetensors", args.size, 80, seed=1)
    draft_shift, seed_noise = draft_mode_shift(model, other, posters[:64])
    load = os.getloadavg()[0]
    print(f"\n{args.posters} posters of 600x900, model at {args.size} px, load {load:.1f}")
    print("| measure | result |\n|---|---|")
    print(f"| (a) bare InferenceSession.run, pre-decoded | {bare:.1f} img/s |")
    print(f"| (b) pipeline, model only | {pipeline:.1f} img/s ({pipeline / bare:.2f} x (a)) |")
    print(f"| (c) `marquee predict FOLDER` (auto: ONNX, graph cached) | {onnx_e2e:.1f} img/s |")
    print(f"| (c0) the same, first run (exports the graph) | {cold:.1f} img/s |")
    ratio, cold_ratio = onnx_e2e / torch_e2e, cold / torch_e2e
    print(
        f"| (d) the same, `--runtime torch` | {torch_e2e:.1f} img/s "
        f"((c) = {ratio:.2f} x (d), (c0) = {cold_ratio:.2f} x (d)) |"
    )
    print(f"| (e) embed phase, {args.train} + 120 images, ONNX | {embed_onnx:.1f} s |")
    print(
        f"| (e) the same on torch | {embed_torch:.1f} s ({embed_torch / embed_onnx:.2f} x slower) |"
    )
    print(
        f"| (f) whole first frozen run: ONNX embed / torch embed | {whole_onnx:.1f} s / "
        f"{whole_torch:.1f} s ({whole_torch / whole_onnx:.2f} x) |"
    )
    print(
        f"| (f0) the same on a brand-new machine (exports the embedding graph too), ONNX | "
        f"{new_machine_onnx:.1f} s ({whole_torch / new_machine_onnx:.2f} x) |"
    )
    print(
        f"| (g) draft-mode decode vs full decode, max abs diff in p | {draft_shift:.4f} "
        f"(another seed moves p by up to {seed_noise:.4f}) |"
    )


if __name__ == "__main__":
    main()
