"""The runs folder: every finished (or stopped) training is kept with its config and metrics."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from core.checkpoint import save_model
from core.engine import TrainResult
from core.paths import runs_dir


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
    (folder / "config.json").write_text(json.dumps(result.meta.config, indent=2))
    history = [asdict(e) for e in result.history]
    summary = {"final": result.meta.metrics, "per_label": result.meta.per_label, "epochs": history}
    (folder / "metrics.json").write_text(json.dumps(summary, indent=2, default=str))
    return folder
