"""Each backbone as users choose it: size, default image size, measured CPU speed, whether
its weights are here (installed or downloaded), and a one-line explanation.

The speeds come from `backbone_speeds.json` next to this module, written by
bench/bench_backbones.py on a named machine and date (rerun it to measure yours).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.model.backbones import STYLE_NOTE, BackboneInfo, list_backbones

SPEEDS_FILE = Path(__file__).with_name("backbone_speeds.json")


@dataclass(frozen=True)
class BackboneEntry:
    info: BackboneInfo
    weights: str  # "offline", "downloaded", "partial download", "needs download", "not installed"
    downloaded_bytes: int
    embed_images_per_s: float | None
    finetune_images_per_s: float | None

    def line(self) -> str:
        return explain(self.info)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.info.name,
            "title": self.info.title,
            "offline": self.weights == "offline",
            "weights": self.weights,
            "downloaded_bytes": self.downloaded_bytes,
            "params_millions": self.info.params_m,
            "default_image_size": self.info.default_image_size,
            "best_for_unusual_styles": STYLE_NOTE in self.info.notes,
            "grad_cam": "token map" if self.info.fixed_size else "feature map",
            "cpu_embed_images_per_s": self.embed_images_per_s,
            "cpu_finetune_images_per_s": self.finetune_images_per_s,
            "cpu_measured": measured_speeds().get("measured"),
            "notes": self.info.notes,
        }


@lru_cache(maxsize=1)
def measured_speeds() -> dict[str, Any]:
    """{"measured": {...date, machine...}, "backbones": {name: {...}}}; empty when absent."""
    try:
        return json.loads(SPEEDS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def explain(info: BackboneInfo) -> str:
    """One line for a chooser: size, measured CPU speed, what it is best for (no torch)."""
    parts = [f"{info.params_m:.0f}M params"]
    speed = measured_speeds().get("backbones", {}).get(info.name, {})
    threads = (measured_speeds().get("measured") or {}).get("threads") or 1
    if speed.get("embed_images_per_s"):
        where = "one CPU core" if threads == 1 else f"{threads} CPU threads"
        parts.append(f"{speed['embed_images_per_s']:.0f} images/s frozen on {where}")
    parts.append(info.notes)
    return "; ".join(parts)


def catalog() -> list[BackboneEntry]:
    """Every backbone with where its weights stand and its measured CPU speed."""
    from core.model.downloaded import list_downloaded

    downloaded = {d.backbone: d for d in list_downloaded()}
    speeds = measured_speeds().get("backbones", {})
    entries = []
    for info in list_backbones():
        found = downloaded.get(info.name)
        speed = speeds.get(info.name, {})
        entries.append(
            BackboneEntry(
                info,
                _weights_state(info, found),
                (found.nbytes + found.partial_bytes) if found else 0,
                speed.get("embed_images_per_s"),
                speed.get("finetune_images_per_s"),
            )
        )
    return entries


def _weights_state(info: BackboneInfo, found: Any) -> str:
    if info.bundled_weights:
        return "offline" if info.offline else "not installed"
    if found is None:
        return "needs download"
    return "downloaded" if found.complete else "partial download"
