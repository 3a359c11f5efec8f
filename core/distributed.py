"""Training past one machine: cluster jobs run by `torchrun` with DistributedDataParallel.

``export_job(folder, config, dataset)`` writes a self-contained job: ``job.json`` (the
training config), ``manifest.csv`` (every image relative to the data root, its split and
labels) and a ``README.md`` with the exact torchrun lines. Each process of

    torchrun --standalone --nproc-per-node 2 -m core.distributed JOB_DIR

runs the same engine (``core.engine``) on its own disjoint shard of the training images,
read through its machine's image cache; DDP averages the gradients (gloo on CPU, nccl on
CUDA), so the global batch is the config's batch size. Rank 0 alone embeds and evaluates
the validation images, reports events, tunes thresholds and writes the model file and the
run folder. A stop on rank 0 (a ``STOP`` file in the job folder, SIGINT or SIGTERM) is
broadcast at the next step, and every rank stops there; the best model so far is kept.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core import __version__
from core.config import TrainConfig
from core.datasets import Dataset, LabeledImages, ValidationReport
from core.errors import DataError, OutputError

JOB_FORMAT = 1
JOB_FILES = ("job.json", "manifest.csv", "README.md")
STOP_FILE = "STOP"


# ------------------------------------------------------------------ the job folder
def export_job(folder: str | Path, config: TrainConfig, dataset: Dataset) -> Path:
    """Write a torchrun job for `dataset` and `config` into `folder` (new or a former job)."""
    folder = Path(folder).expanduser().absolute()
    if folder.exists() and any(p.name not in (*JOB_FILES, "runs") for p in folder.iterdir()):
        raise OutputError(f"{folder} is not empty; choose a new folder for the cluster job.")
    config.validate()
    splits = {"train": dataset.train, "val": dataset.val}
    paths = [Path(p).absolute() for part in splits.values() for p in part.paths]
    root = Path(os.path.commonpath(paths)) if paths else folder
    if len(paths) == 1 or root in paths:
        root = root.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "manifest.csv", _manifest(splits, dataset.label_names, root))
        job = {
            "format": JOB_FORMAT,
            "marquee_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": dataset.source,
            "data_root": str(root),
            "label_names": list(dataset.label_names),
            "counts": {name: len(part) for name, part in splits.items()},
            "config": config.to_dict(),
        }
        _write(folder / "job.json", json.dumps(job, indent=2))
        _write(folder / "README.md", job_readme(folder, job))
    except OSError as exc:
        raise OutputError(f"Could not write the cluster job to {folder}: {exc}") from exc
    return folder


def _manifest(splits: dict[str, LabeledImages], names: list[str], root: Path) -> str:
    lines = [",".join(_csv_cell(c) for c in ("split", "path", *names))]
    for split, part in splits.items():
        for path, row in zip(part.paths, part.labels, strict=True):
            relative = Path(path).absolute().relative_to(root).as_posix()
            cells = (split, relative, *(str(int(v)) for v in row))
            lines.append(",".join(_csv_cell(c) for c in cells))
    return "\n".join(lines) + "\n"


def _csv_cell(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text


def _write(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def job_readme(folder: Path, job: dict) -> str:
    cfg, counts = job["config"], job["counts"]
    run = f"-m core.distributed {folder}"
    return f"""# Marquee cluster job

{counts["train"]} training and {counts["val"]} validation images, labels
{", ".join(job["label_names"])}; backbone {cfg["backbone"]} ({cfg["strategy"]}), {cfg["epochs"]}
epochs, global batch {cfg["batch_size"]} (split evenly over the processes), {cfg["image_size"]} px.

Files: `job.json` (the training config), `manifest.csv` (split, image path relative to the
data root, one 0/1 column per label), this README. The data root is
`{job["data_root"]}`; where the images live elsewhere, add `--data-root DIR`. Every machine
needs Marquee installed (or its source on `PYTHONPATH`) and the images.

## One machine, several GPUs (or CPU processes)

    torchrun --standalone --nnodes 1 --nproc-per-node gpu {run}

`--nproc-per-node gpu` starts one process per GPU (nccl). On a CPU-only machine give a
number and add `--device cpu` (gloo), e.g.:

    torchrun --standalone --nnodes 1 --nproc-per-node 2 {run} --device cpu

## Several machines

Run the same line on every node (here 2 nodes with 8 GPUs each); HOST is the first node:

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d \\
        --rdzv-endpoint HOST:29500 --rdzv-id marquee-job {run}

With SLURM: `srun --nodes 2 --ntasks-per-node 1 torchrun --nnodes 2 --nproc-per-node 8
--rdzv-backend c10d --rdzv-endpoint $(scontrol show hostnames | head -n1):29500
--rdzv-id $SLURM_JOB_ID {run}`.

## While it runs, and after

Rank 0 prints the progress. To stop early and keep the best model so far, create a file
named `{STOP_FILE}` in this folder (or send SIGINT/SIGTERM to torchrun). The model and the
run folder (config, metrics, which images each rank trained on) are written to
`{folder / "runs"}` (or `--out DIR`); open the `model.safetensors` in the Marquee app or
use `marquee predict`. Each process decodes its own shard of the images once into the
image cache of its machine; later runs skip decoding.
"""


def load_job(
    folder: str | Path, data_root: str | Path | None = None
) -> tuple[TrainConfig, Dataset]:
    """The config and data set of an exported job (images under `data_root` if given)."""
    folder = Path(folder)
    try:
        job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
        rows = list(csv.reader((folder / "manifest.csv").open(encoding="utf-8", newline="")))
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder} is not a readable Marquee cluster job ({exc}).") from exc
    if job.get("format") != JOB_FORMAT:
        raise DataError(f"{folder}: unknown job format {job.get('format')!r}; update Marquee.")
    root = Path(data_root) if data_root is not None else Path(job["data_root"])
    names = rows[0][2:]
    parts: dict[str, tuple[list[Path], list[list[float]]]] = {"train": ([], []), "val": ([], [])}
    for row in rows[1:]:
        paths, labels = parts[row[0]]
        paths.append(root / row[1])
        labels.append([float(v) for v in row[2:]])
    splits = {
        split: LabeledImages(paths, np.asarray(labels, np.float32).reshape(-1, len(names)), names)
        for split, (paths, labels) in parts.items()
    }
    dataset = Dataset(
        splits["train"], splits["val"], None, names, ValidationReport(), f"{folder} (job)"
    )
    return TrainConfig.from_dict(job["config"]), dataset


def shard_indices(n: int, rank: int, world: int, seed: int) -> np.ndarray:
    """Rank's disjoint share of n items: equal sizes (n // world), seeded and interleaved."""
    order = np.random.default_rng(seed).permutation(n)
    per = n // world
    return np.sort(order[: per * world][rank::world])


# ------------------------------------------------------------------ the torchrun entry
def main(argv: list[str] | None = None) -> int:
    """`torchrun ... -m core.distributed JOB_DIR`: one process of a distributed training."""
    parser = argparse.ArgumentParser(prog="python -m core.distributed")
    parser.add_argument("job", type=Path, help="folder written by --export-job")
    parser.add_argument("--data-root", type=Path, help="where the manifest's images live")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    parser.add_argument("--epochs", type=int, help="override the job's epochs")
    parser.add_argument("--out", type=Path, help="folder for the run (default JOB/runs)")
    args = parser.parse_args(argv)
    from core.console import EXIT_CANCELLED, EXIT_USER_ERROR
    from core.errors import Cancelled, MarqueeError
    from core.runtime import configure_threading

    configure_threading()  # before this worker imports torch (OpenMP reads it at load)

    try:
        return _run(args)
    except Cancelled:
        print("marquee: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except MarqueeError as exc:
        print(f"marquee: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


def _run(args: argparse.Namespace) -> int:
    import torch
    import torch.distributed as dist

    from core.distributed_engine import fit_distributed

    config, dataset = load_job(args.job, args.data_root)
    if args.device:
        config = replace(config, device=args.device)
    if args.epochs:
        config = replace(config, epochs=args.epochs)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    cuda = config.device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    if config.num_threads is None:
        config = replace(config, num_threads=max(1, (os.cpu_count() or 1) // local_world))
    stop = _StopRequest(args.job / STOP_FILE)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    try:
        outcome = fit_distributed(config, dataset, rank, world, stop, cuda)
        if rank == 0:
            _save(args, outcome)
    finally:
        if world > 1:
            dist.destroy_process_group()
    return 0


class _StopRequest:
    """Rank 0's stop flag: a STOP file in the job folder, or SIGINT / SIGTERM."""

    def __init__(self, stop_file: Path) -> None:
        self.stop_file = stop_file
        self.signalled = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, *_: object) -> None:
        self.signalled = True

    def __call__(self) -> bool:
        return self.signalled or self.stop_file.exists()


def _save(args: argparse.Namespace, outcome) -> None:
    from core.runs import save_run

    result = outcome.result
    folder = save_run(result, root=args.out or args.job / "runs")
    info = {
        "world_size": outcome.world,
        "backend": outcome.backend,
        "global_batch_size": outcome.global_batch,
        "train_images_per_rank": [len(s) for s in outcome.shards],
        "shards": outcome.shards,
    }
    (folder / "distributed.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    print(f"model saved to {folder / 'model.safetensors'}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
