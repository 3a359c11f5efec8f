"""A copy of a seed-layout data set with planted problems, to measure `doctor` against.

`plant_problems` flips one label in a seeded fraction of the training rows and copies
some validation images into train, resized and re-encoded as JPEG (leaks). What was
planted is returned, so precision and recall can be counted.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class Planted:
    """What `plant_problems` changed: (train file, label) flips and (val, train) copies."""

    root: Path
    flips: set[tuple[str, str]] = field(default_factory=set)  # ("train/x.jpg", label)
    leaks: set[frozenset[str]] = field(default_factory=set)  # {"val/a.jpg", "train/b.jpg"}


def plant_problems(
    source: Path,
    target: Path,
    flip_fraction: float = 0.08,
    copies: int = 20,
    seed: int = 0,
    scale: float = 0.8,
    quality: int = 80,
    crop: float = 0.0,
) -> Planted:
    """Copy the seed-layout data set `source` to `target` and plant problems in the copy.

    Each copy is resized by `scale`, re-encoded at JPEG `quality`, and (when `crop` > 0)
    first trimmed by a random 0 to `crop` of its size at each edge.
    """
    shutil.copytree(source, target)
    rng = np.random.default_rng(seed)
    planted = Planted(target)
    header, rows = _read(target / "train" / "metadata.csv")
    labels = [c for c in header if c not in ("Id", "Genre")]
    for i in rng.choice(len(rows), round(flip_fraction * len(rows)), replace=False):
        label = labels[int(rng.integers(len(labels)))]
        rows[i][label] = "0" if rows[i][label] == "1" else "1"
        planted.flips.add((f"train/{rows[i]['Id']}.jpg", label))
    _, val_rows = _read(target / "val" / "metadata.csv")
    for k, i in enumerate(rng.choice(len(val_rows), copies, replace=False)):
        row = dict(val_rows[i])
        new_id = f"copy_{k:03d}_{row['Id']}"
        trims = tuple(rng.uniform(0, crop, 4)) if crop else (0.0,) * 4
        _resized_copy(
            target / "val" / f"{row['Id']}.jpg",
            target / "train" / f"{new_id}.jpg",
            scale,
            quality,
            trims,
        )
        planted.leaks.add(frozenset({f"val/{row['Id']}.jpg", f"train/{new_id}.jpg"}))
        rows.append({**row, "Id": new_id})
    _write(target / "train" / "metadata.csv", header, rows)
    return planted


def _resized_copy(
    source: Path, target: Path, scale: float, quality: int, trims: tuple[float, ...]
) -> None:
    """`source` less `trims` (left, top, right, bottom: fractions of its size), resized."""
    with Image.open(source) as image:
        w, h = image.size
        left, top, right, bottom = trims
        box = (round(left * w), round(top * h), w - round(right * w), h - round(bottom * h))
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        cut = image.convert("RGB").crop(box)
        cut.resize(size, Image.Resampling.BICUBIC).save(target, quality=quality)


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
