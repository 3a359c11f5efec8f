"""Shared by the data-health GUI tests: a tiny data set with planted problems, a stand-in
model for the labelling view, and loading a folder through the Data page."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from core.health.doctor import DoctorOptions
from core.inference.predictions import Prediction

TINY_CHECK = DoctorOptions(image_size=64, folds=3)


LABELS = ("Action", "Romance", "Crime")
BANDS = {"Action": (220, 30, 30), "Romance": (30, 200, 60), "Crime": (40, 60, 220)}
POOL = (("Action",), ("Romance",), ("Crime",), ("Action", "Romance"), ("Romance", "Crime"))


def _write_split(folder: Path, n: int, seed: int, extra: dict[str, Image.Image]) -> None:
    """Grey, noisy posters with a coloured band per label, and a seed-layout metadata.csv."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        labels = POOL[i % len(POOL)]
        pixels = rng.integers(90, 140, size=(64, 64, 3)).astype(np.uint8)
        x, y = rng.integers(0, 48, size=2)  # a motif, so that no two posters look alike
        pixels[y : y + 16, x : x + 16] = rng.integers(0, 255, size=3)
        for k, label in enumerate(LABELS):
            if label in labels:
                pixels[k * 21 : (k + 1) * 21] = BANDS[label]
        ident = f"tt{seed}{i:04d}"
        Image.fromarray(pixels).save(folder / f"{ident}.jpg", quality=95)
        if seed == 1 and i % 5 == 0:  # planted: a flipped label on every fifth training row
            labels = tuple(sorted(set(labels) ^ {"Crime"}))
        rows.append((ident, labels))
    for ident, image in extra.items():
        image.save(folder / f"{ident}.jpg", quality=95)
        rows.append((ident, ("Action",)))
    with (folder / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Genre", *LABELS])
        for ident, labels in rows:
            writer.writerow([ident, str(list(labels)), *(int(n in labels) for n in LABELS)])


def make_planted(root: Path) -> Path:
    """30 training posters (every fifth with Crime flipped) and 12 validation posters, plus
    a checkerboard stray and an exact copy of a validation poster in train (a leak)."""
    _write_split(root / "val", 12, seed=2, extra={})
    leak = Image.open(root / "val" / "tt20000.jpg").copy()
    stray = Image.new("RGB", (64, 64), "white")
    stray.paste((0, 0, 0), (0, 0, 32, 32))
    stray.paste((0, 0, 0), (32, 32, 64, 64))
    _write_split(root / "train", 30, seed=1, extra={"stray": stray, "copy": leak})
    shutil.copy(root / "val" / "tt20000.jpg", root / "train" / "copy.jpg")  # the same bytes
    return root


def load_folder(page, qtbot, folder: Path):
    """Load `folder` on the Data page and wait for it; returns the data set as trained on."""
    with qtbot.waitSignal(page.dataset_loaded, timeout=60_000) as blocker:
        page.load_source("folder", str(folder))
    return blocker.args[0]


def labels_of(dataset, file: str) -> set[str]:
    """The labels `file` (relative to the data set's folder) has in `dataset`, every split."""
    for part in (dataset.train, dataset.val):
        for path, row in zip(part.paths, part.labels, strict=True):
            if Path(path).as_posix().endswith(file):
                return {n for n, v in zip(part.label_names, row, strict=True) if v > 0.5}
    raise KeyError(file)


def has_file(dataset, name: str) -> bool:
    return any(Path(p).name == name for part in (dataset.train, dataset.val) for p in part.paths)


class FakePredictor:
    """What core.health.suggest needs of a Predictor: label names, tuned thresholds, and
    `predict`. Each image's probabilities come from its file name's position."""

    def __init__(self, label_names: list[str]) -> None:
        self.label_names = list(label_names)
        self.thresholds = np.full(len(label_names), 0.5)

    def predict(self, images, batch_size=32, progress=None, should_stop=None, **_):
        results = []
        for i, path in enumerate(images):
            probs = np.full(len(self.label_names), 0.1)
            probs[0] = 0.9  # the first label is suggested (pre-ticked)
            probs[1] = 0.45 + 0.02 * i  # the second sits near its threshold: unsure
            results.append(Prediction(str(path), probs))
            if progress is not None:
                progress(i + 1, len(images))
        return results


def make_unlabelled(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for i in range(n):
        pixels = rng.integers(0, 255, size=(24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"new{i}.jpg")
    return folder
