"""A synthetic movie-posters folder in the seed's layout, with more genres than the seed uses.

train/ and val/ each hold metadata.csv (Id, a free-text Genre column, 20 genre columns of
0/1) and one tiny <Id>.jpg per row. Shared by the core and GUI tests (tests/ is on
sys.path through tests/conftest.py).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

GENRES = (
    "Action", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary",
    "Drama", "Family", "Fantasy", "History", "Horror", "Music", "Mystery", "Romance",
    "Sci-Fi", "Sport", "Thriller", "War", "Western",
)  # fmt: skip
SEED_FIVE = ["Action", "Romance", "Crime", "Thriller", "Adventure"]

# Rows cycle through these. Some carry none of the seed's five (Drama, Comedy, Horror only);
# val never has Thriller, and Western appears nowhere.
TRAIN_ROWS = (
    ("Action",), ("Romance", "Drama"), ("Crime", "Thriller"), ("Adventure", "Action"),
    ("Drama",), ("Comedy", "Romance"), ("Thriller", "Horror"), ("Horror",),
)  # fmt: skip
VAL_ROWS = (("Action",), ("Romance",), ("Crime", "Drama"), ("Adventure",), ("Comedy",))


def write_seed_split(folder: Path, rows: tuple[tuple[str, ...], ...], n: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with (folder / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Genre", *GENRES])
        for i in range(n):
            genres = rows[i % len(rows)]
            ident = f"tt{seed}{i:05d}"
            pixels = rng.integers(0, 255, size=(24, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{ident}.jpg", quality=90)
            writer.writerow([ident, ", ".join(genres), *(int(g in genres) for g in GENRES)])


def make_seed_folder(root: Path, n_train: int = 16, n_val: int = 10) -> Path:
    write_seed_split(root / "train", TRAIN_ROWS, n_train, seed=1)
    write_seed_split(root / "val", VAL_ROWS, n_val, seed=2)
    return root
