"""The runs folder: every finished (or stopped) training is kept with its config and metrics."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from core.base.files import write_text
from core.base.paths import runs_dir
from core.modelfile.checkpoint import save_model
from core.training.loop import TrainResult


def save_run(result: TrainResult, root: str | Path | None = None) -> Path:
    """Keep a finished (or stopped) run: model, config and metrics in a new folder."""
    base = Path(root) if root is not None else runs_dir()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = base / f"{stamp}-{result.meta.backbone}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = base / f"{stamp}-{result.meta.backbone}-{suffix}"
    folder.mkdir(parents=True)
    save_model(folder / "model.safetensors", result.model, result.meta)
    write_text(folder / "config.json", json.dumps(result.meta.config, indent=2))
    history = [asdict(e) for e in result.history]
    summary = {"final": result.meta.metrics, "per_label": result.meta.per_label, "epochs": history}
    write_text(folder / "metrics.json", json.dumps(summary, indent=2, default=str))
    return folder
