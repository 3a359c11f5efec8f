"""A CLI training recorded as a run: the progress printer, the run writer, the trackers
(--tensorboard, --mlflow) all fed the same training events; retention afterwards."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.cli.output import say
from core.cli.progress import TrainProgress
from core.data.datasets import Dataset
from core.runs import RetentionPolicy, RunWriter, fan_out
from core.runs.trackers import TrackerSet

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
        "images_dir": str(Path(images_dir).resolve()) if images_dir else None,
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
    # Before a run folder exists: a missing extra or a wrong URI is one line, no run.
    trackers = TrackerSet(getattr(args, "tensorboard", None), getattr(args, "mlflow", None))
    writer = RunWriter.start(
        config, dataset, origin=origin, parent=parent, load_options=load_options(args)
    )
    say(args, f"run {writer.id}")
    trackers.bind(writer.id)
    progress = TrainProgress(args)
    sink = fan_out(progress, writer.on_event, *trackers.sinks())
    try:
        with writer.recording():
            result = train(sink)
    except BaseException:
        trackers.close(writer.record, writer.folder)
        raise
    finally:
        progress.close()
    writer.finish(result, retention_override(args))
    for problem in trackers.close(writer.record, writer.folder):
        print(f"marquee: warning: {problem}", file=sys.stderr)
    if writer.retention is not None and writer.retention.ids:
        say(args, f"run retention: {writer.retention.describe()}")
    return Recorded(result, writer)
