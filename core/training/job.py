"""Cluster jobs: a self-contained folder that `torchrun` trains from on any machine.

``export_job(folder, config, dataset)`` writes ``job.json`` (the training config),
``manifest.csv`` (every image relative to the data root, its split and labels) and a
``README.md`` with the exact torchrun lines; ``load_job`` reads them back. Each process of

    torchrun --standalone --nproc-per-node 2 -m core.distributed JOB_DIR

runs ``core.training.loop.fit`` inside a ``DistributedContext`` (core.training.distributed);
rank 0 writes the model and the run folder. A ``STOP`` file in the job folder ends the
training early and keeps the best model so far; SIGINT / SIGTERM cancel it (exit 130).
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core import __version__
from core.base.config import TrainConfig
from core.base.errors import DataError, OutputError
from core.base.files import write_text
from core.data.datasets import Dataset, LabeledImages, ValidationReport

JOB_FORMAT = 1
JOB_FILES = ("job.json", "manifest.csv", "README.md")
STOP_FILE = "STOP"


# ------------------------------------------------------------------ the job folder
def export_job(folder: str | Path, config: TrainConfig, dataset: Dataset) -> Path:
    """Write a torchrun job for `dataset` and `config` into `folder` (new or a former job)."""
    folder = Path(folder).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; choose a new folder for the cluster job.")
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
        write_text(folder / "manifest.csv", _manifest(splits, dataset.label_names, root))
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
        write_text(folder / "job.json", json.dumps(job, indent=2))
        write_text(folder / "README.md", job_readme(folder, job))
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
named `{STOP_FILE}` in this folder; to cancel without keeping anything, send SIGINT or
SIGTERM to torchrun (every process exits with 130). A stop before the first training step
keeps nothing either. `--init-from` models must be readable on every machine. The model and the
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
