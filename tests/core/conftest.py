"""Shared fixtures for the core tests: a tiny learnable data set and one trained model.

Everything here is session-scoped and small (64 px images, a few dozen of them), so the
expensive parts (building the backbone, training) happen once for the whole test run.
"""

from __future__ import annotations

import csv
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

LABELS = ("Action", "Romance", "Crime")
# Each label paints one band of the poster in its own colour, so the task is learnable.
_BANDS = {"Action": (0, (220, 30, 30)), "Romance": (1, (30, 200, 60)), "Crime": (2, (40, 60, 220))}
IMAGE_PX = 64
N_TRAIN = 24
N_VAL = 12


def draw_poster(labels: tuple[str, ...], rng: np.random.Generator) -> Image.Image:
    """A grey, noisy square with a coloured horizontal band per label."""
    pixels = rng.integers(90, 140, size=(IMAGE_PX, IMAGE_PX, 3)).astype(np.uint8)
    band = IMAGE_PX // 3
    for label in labels:
        row, colour = _BANDS[label]
        pixels[row * band : (row + 1) * band] = colour
    return Image.fromarray(pixels)


def label_sets(n: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """1-2 labels per image; every label appears with and without the others."""
    singles = [(name,) for name in LABELS]
    pairs = [(LABELS[0], LABELS[1]), (LABELS[1], LABELS[2]), (LABELS[0], LABELS[2])]
    pool = singles + pairs
    return [
        pool[i % len(pool)] if i < len(pool) else pool[rng.integers(len(pool))] for i in range(n)
    ]


def write_split(folder: Path, n: int, seed: int) -> list[str]:
    """Write `n` posters and a seed-layout metadata.csv (Id, Genre, one 0/1 column per label)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = []
    with (folder / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Genre", *LABELS])
        for i, labels in enumerate(label_sets(n, rng)):
            ident = f"tt{seed:02d}{i:04d}"
            draw_poster(labels, rng).save(folder / f"{ident}.jpg", quality=95)
            writer.writerow([ident, str(list(labels)), *(int(name in labels) for name in LABELS)])
            ids.append(ident)
    return ids


def make_dataset_dir(root: Path, n_train: int = N_TRAIN, n_val: int = N_VAL) -> Path:
    write_split(root / "train", n_train, seed=1)
    write_split(root / "val", n_val, seed=2)
    return root


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seed-layout data set: train/ and val/, each with metadata.csv and <Id>.jpg files."""
    return make_dataset_dir(tmp_path_factory.mktemp("tiny-posters"))


@pytest.fixture(scope="session")
def dataset(data_dir: Path):
    from core.data.datasets import load_dataset

    return load_dataset(data_dir)


@dataclass
class TrainedModel:
    path: Path
    result: object  # core.training.loop.TrainResult


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, dataset) -> TrainedModel:
    """One tiny model, trained once (frozen Lite0, 64 px, 2 epochs) and saved."""
    from core.base.config import TrainConfig
    from core.modelfile.checkpoint import save_model
    from core.training.loop import fit

    config = TrainConfig(epochs=2, image_size=64, batch_size=8, strategy="freeze", lr=1e-2)
    result = fit(config, dataset)
    path = save_model(
        tmp_path_factory.mktemp("model") / "tiny.safetensors", result.model, result.meta
    )
    return TrainedModel(path, result)


@pytest.fixture(scope="session")
def model_path(trained: TrainedModel) -> Path:
    return trained.path


class _Hostile:
    """Unpickling this creates `marker`: proof that a loader ran attacker-chosen code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _hostile_pickle(marker: Path) -> bytes:
    return pickle.dumps({"state_dict": _Hostile(marker)})


def _hostile_torch_file(path: Path, marker: Path) -> Path:
    import torch

    torch.save({"state_dict": _Hostile(marker)}, path)
    return path


@pytest.fixture
def hostile_pickle():
    """hostile_pickle(marker) -> raw pickle bytes that create `marker` when unpickled."""
    return _hostile_pickle


@pytest.fixture
def hostile_torch_file():
    """hostile_torch_file(path, marker): a torch.save zip whose unpickling creates `marker`."""
    return _hostile_torch_file


@pytest.fixture
def make_data_dir():
    """make_data_dir(root, n_train, n_val) writes a fresh tiny seed-layout data set."""
    return make_dataset_dir
