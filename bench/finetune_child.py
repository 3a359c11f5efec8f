"""One bench_finetune.py variant in a fresh process: `python finetune_child.py JSON`.

`core` comes from PYTHONPATH: this checkout, or another tree of the project (a `git
worktree` of main: the "main" variant) so both run in the same bench run. Prints one line,
RESULT {wall_s, cpu_s, map, f1_micro} of fit() (imports and data loading excluded).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

import numpy as np

from core.base.runtime import configure_threading

configure_threading()  # as every entry point does, before torch loads (OpenMP reads it once)

from core.base.config import TrainConfig  # noqa: E402
from core.data.datasets import load_dataset  # noqa: E402
from core.data.samples import ensure_sample_data  # noqa: E402
from core.training.loop import fit  # noqa: E402


def main() -> None:
    spec = json.loads(sys.argv[1])
    data = load_dataset(ensure_sample_data(variant=spec["set"]))
    if spec["train"] and spec["train"] < len(data.train):
        data = replace(data, train=data.train.subset(np.arange(spec["train"])))
    config = TrainConfig(
        strategy="no_freeze",
        epochs=spec["epochs"],
        image_size=spec["image_size"],
        batch_size=spec["batch_size"],
        num_threads=spec["threads"],
        device="cpu",
        seed=spec["seed"],
    )
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fit(config, data)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    metrics = result.meta.metrics
    row = {"wall_s": wall, "cpu_s": cpu, "map": metrics["map"], "f1_micro": metrics["f1_micro"]}
    print("RESULT " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
