"""The training running in the app as a table row, kept up to date from its events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from core.training.events import EpochEnded, TrainingStarted
from gui.runs.table import RunRow


def dataset_name(source: str) -> str:
    """A data set's short name from its description ("/x/posters (folder)" -> "posters")."""
    path = source.rsplit(" (", 1)[0].strip()
    return Path(path).name or path


def live_row(row: RunRow | None, event: object, dataset: str) -> RunRow | None:
    """The live row after `event` (a new one when a training starts; else unchanged)."""
    if isinstance(event, TrainingStarted):
        config = event.config
        return RunRow(
            run_id="",
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            dataset=dataset,
            backbone=str(config.get("backbone", "")),
            strategy=str(config.get("strategy", "")),
            epochs=event.previous_epochs,
            image_size=int(config.get("image_size") or 0),
            map=None,
            f1=None,
            seconds=None,
            disk_bytes=None,
            status="running",
            has_model=False,
            origin="app",
            epochs_total=event.previous_epochs + int(config.get("epochs") or 0),
        )
    if isinstance(event, EpochEnded) and row is not None:
        return replace(
            row,
            epochs=(row.epochs_total or event.epochs) - event.epochs + event.epoch,
            map=event.metrics.get("map"),
            f1=event.metrics.get("f1_macro"),
            seconds=(row.seconds or 0.0) + event.seconds,
        )
    return row
