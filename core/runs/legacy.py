"""Run folders written before run records existed (`<time>-<backbone>/` with the model,
config.json and metrics.json) get a record once, so earlier trainings list too."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path

from core.runs.files import folder_bytes, write_durable
from core.runs.record import EpochRecord, RunRecord

log = logging.getLogger(__name__)

RECORD_NAME = "record.json"


def is_legacy_folder(folder: Path) -> bool:
    """A finished run of the old layout: model and metrics, and no record yet. (A new run
    that is still being created has neither a model nor metrics.json.)"""
    return (
        not (folder / RECORD_NAME).exists()
        and (folder / "model.safetensors").is_file()
        and (folder / "metrics.json").is_file()
    )


def adopt(folder: Path) -> bool:
    """Write the record of an old-layout run folder; False (logged) when it cannot be read."""
    try:
        record = legacy_record(folder)
        write_durable(folder / RECORD_NAME, record.to_json())
    except Exception as exc:
        log.warning("could not read the earlier run %s: %s", folder, exc)
        return False
    return True


def legacy_record(folder: Path) -> RunRecord:
    from core.modelfile.checkpoint import read_meta

    meta = read_meta(folder / "model.safetensors")
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    started = datetime.strptime(folder.name[:15], "%Y%m%d-%H%M%S").astimezone()
    history = tuple(
        EpochRecord(
            epoch=int(e["epoch"]),
            train_loss=e.get("train_loss"),
            val_loss=e.get("val_loss"),
            map=(e.get("metrics") or {}).get("map"),
            f1_micro=(e.get("metrics") or {}).get("f1_micro"),
            f1_macro=(e.get("metrics") or {}).get("f1_macro"),
            seconds=float(e.get("seconds") or 0.0),
        )
        for e in metrics.get("epochs", [])
    )
    ended = datetime.fromtimestamp(os.stat(folder / "model.safetensors").st_mtime).astimezone()
    return RunRecord(
        id=folder.name,
        started=started.isoformat(timespec="milliseconds"),
        ended=ended.isoformat(timespec="milliseconds"),
        status="finished",
        wall_s=max(0.0, (ended - started).total_seconds()),
        marquee_version=meta.app_version,
        origin="earlier",
        settings=dict(meta.config),
        labels=tuple(meta.label_names),
        history=history,
        metrics=dict(meta.metrics),
        per_label=tuple(meta.per_label),
        thresholds=tuple(meta.thresholds),
        model_file="model.safetensors",
        disk_bytes=folder_bytes(folder),
    )
