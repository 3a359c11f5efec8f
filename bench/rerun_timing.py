"""Part (c) of bench_train.py: a second frozen `marquee train` (caches warm) against the time
to import torch and timm, and the first `marquee predict` of the model it saved against the
second, each pair timed in the same run by fresh processes (wall clock and CPU seconds).

The data set is --rerun-images sample posters (80% train, 20% val), generated once into
the cache folder. The frozen run: `--strategy freeze --epochs 3 --image-size 128`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_TORCH_TIMM = ["-c", "import torch, timm"]
Timing = tuple[float, float]  # wall seconds, CPU seconds (the child's user + system)


def timed(args: list[str], env: dict[str, str]) -> tuple[Timing, str]:
    """Wall and CPU seconds of a fresh interpreter running `args`, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{args[:3]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (wall, cpu), done.stdout


def rerun_data(n_images: int) -> Path:
    """`n_images` sample posters with their metadata.csv files, generated on first use."""
    from core.base.paths import cache_dir
    from core.data.samples import generate_sample_data

    root = cache_dir() / f"bench-rerun-{n_images}"
    if not (root / "train").is_dir():
        n_val = n_images // 5
        generate_sample_data(root, n_train=n_images - n_val, n_val=n_val)
    return root


def _median(timings: list[Timing]) -> Timing:
    return statistics.median(t[0] for t in timings), statistics.median(t[1] for t in timings)


def run(n_images: int, repeats: int) -> None:
    data = rerun_data(n_images)
    with tempfile.TemporaryDirectory(prefix="marquee-bench-") as home:
        env = {**os.environ, "MARQUEE_HOME": home, "PYTHONPATH": str(ROOT)}
        # Bytecode as an installed app has it, even where PYTHONDONTWRITEBYTECODE is set.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(home) / "pycache")
        train = ["-m", "gui", "train", "--data", str(data), "--strategy", "freeze"]
        train += ["--epochs", "3", "--image-size", "128", "--json", "--quiet"]
        first, out = timed(train, env)  # decode, embed, export: fills every cache
        model = json.loads(out)["model"]
        reruns, imports = [], []
        for _ in range(repeats):  # interleaved, so a busy moment hits both alike
            imports.append(timed(IMPORT_TORCH_TIMM, env)[0])
            reruns.append(timed(train, env)[0])
        poster = next((data / "val").rglob("*.jpg"))
        predict = ["-m", "gui", "predict", model, str(poster), "--json"]
        predicts = [timed(predict, env)[0] for _ in range(1 + repeats)]
    _report(n_images, first, _median(reruns), _median(imports), predicts)


def _report(n: int, first: Timing, rerun: Timing, imports: Timing, predicts: list[Timing]) -> None:
    print(f"(c) `marquee train --strategy freeze --epochs 3 --image-size 128`, {n} posters")
    print(f"    {'':<44} {'wall s':>7} {'CPU s':>7}")
    rows = (
        ("first run (decode, embed, export)", first),
        ("second run (caches warm), median", rerun),
        ("python -c 'import torch, timm', median", imports),
    )
    for name, (wall, cpu) in rows:
        print(f"    {name:<44} {wall:>7.2f} {cpu:>7.2f}")
    print(
        f"    second run / import: {rerun[0] / imports[0]:.2f}x wall, "
        f"{rerun[1] / imports[1]:.2f}x CPU (target <= 1.25x)"
    )
    later = _median(predicts[1:])
    print("    `marquee predict MODEL POSTER` of the model that run saved:")
    print(f"    {'first predict':<44} {predicts[0][0]:>7.2f} {predicts[0][1]:>7.2f}")
    print(f"    {'later predicts, median':<44} {later[0]:>7.2f} {later[1]:>7.2f}")
    print(
        f"    first / later: {predicts[0][0] / later[0]:.2f}x wall, "
        f"{predicts[0][1] / later[1]:.2f}x CPU (target <= 1.3x)\n"
    )
