"""A CLI training recorded as a run: the progress printer, the run writer, the trackers
(--tensorboard, --mlflow) all fed the same training events; retention afterwards."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.cli.output import say
from core.cli.progress import TrainProgress
from core.data.datasets import Dataset
from core.runs import RetentionPolicy, RunWriter, fan_out
from core.runs.trackers import open_trackers, require_tracker

Train = Callable[[Callable[[Any], None]], Any]  # gets the event sink, returns a TrainResult


@dataclass
class Recorded:
    result: Any  # core.training.loop.TrainResult
    writer: RunWriter


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    """How --data was read, so `marquee runs rerun` reads it the same way."""
    images_dir = getattr(args, "images_dir", None)
    return {
        "format": getattr(args, "format", "auto"),
        "label_column": getattr(args, "label_column", None),
        "delimiter": getattr(args, "delimiter", None),
        "images_dir": str(images_dir) if images_dir else None,
    }


def retention_override(args: argparse.Namespace) -> RetentionPolicy | None:
    """--keep-runs N for this training (0: keep every run); None: the saved setting."""
    keep = getattr(args, "keep_runs", None)
    if keep is None:
        return None
    return RetentionPolicy(enabled=False) if keep == 0 else RetentionPolicy(keep_last=keep)


def train_and_record(
    args: argparse.Namespace,
    config: Any,
    dataset: Dataset,
    train: Train,
    *,
    origin: str = "cli",
    parent: str | None = None,
) -> Recorded:
    """Run `train` recorded as a run (finished, stopped or failed) and tracked."""
    tensorboard, mlflow = getattr(args, "tensorboard", None), getattr(args, "mlflow", None)
    for extra, wanted in (("tensorboard", tensorboard), ("mlflow", mlflow)):
        if wanted is not None:
            require_tracker(extra)  # before a run folder exists
    writer = RunWriter.start(
        config, dataset, origin=origin, parent=parent, load_options=load_options(args)
    )
    say(args, f"run {writer.id}")
    trackers = open_trackers(tensorboard, mlflow, writer.id)
    progress = TrainProgress(args)
    sink = fan_out(progress, writer.on_event, *(t.on_event for t in trackers))
    try:
        with writer.recording():
            result = train(sink)
    except BaseException:
        for tracker in trackers:
            tracker.close(writer.record, writer.folder)
        raise
    finally:
        progress.close()
    record = writer.finish(result, retention_override(args))
    for tracker in trackers:
        tracker.close(record, writer.folder)
    if writer.retention is not None and writer.retention.ids:
        say(args, f"run retention: {writer.retention.describe()}")
    return Recorded(result, writer)
