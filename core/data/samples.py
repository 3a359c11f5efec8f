"""The bundled sample data set: deterministic synthetic movie posters.

Each genre has its own palette and motifs (Action: fiery bursts and streaks; Romance: pink
hearts and soft circles; Crime: dark scenes, police tape and silhouettes; Thriller: cold
blues, eyes, spirals, shards and a vignette; Adventure: mountains, sun and a green horizon).
A poster takes its background from one of its 1-3 genres and motifs from all of them, plus
a title bar, neutral distractor shapes and noise, so the task is learnable by a frozen
ImageNet backbone yet not trivial. The layout matches the real movie-posters data set:
`<root>/{train,val}/metadata.csv` and `<root>/{train,val}/<Id>.jpg`.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.base.files import remove_stale_temps
from core.base.paths import cache_dir
from core.data import poster_art as art
from core.data.poster_art import Draw, Rng

GENRES = ("Action", "Romance", "Crime", "Thriller", "Adventure")
SAMPLE_DIR_NAME = "sample-posters-v1"
COMPLETE_MARKER = ".complete"

_SPLIT_CODES = {"train": 1, "val": 2}
_STALE_TEMP_SECONDS = 3600

# How likely two genres share a poster (symmetric weights, used to pick the 2nd/3rd genre).
_AFFINITY = np.array(
    [
        # Action Romance Crime Thriller Adventure
        [0.0, 0.6, 1.2, 1.2, 4.0],  # Action
        [0.6, 0.0, 0.4, 0.5, 1.0],  # Romance
        [1.2, 0.4, 0.0, 4.0, 0.4],  # Crime
        [1.2, 0.5, 4.0, 0.0, 0.7],  # Thriller
        [4.0, 1.0, 0.4, 0.7, 0.0],  # Adventure
    ]
)
# Romance pairs least, so it leads a little more often to keep its share healthy.
_FIRST_GENRE_P = np.array([0.18, 0.28, 0.18, 0.18, 0.18])
_N_GENRES_P = np.array([0.4, 0.42, 0.18])  # posters with 1, 2, 3 genres


# ----------------------------------------------------------------------------- public API


SAMPLE_VARIANTS = ("normal", "hard", "print")


def ensure_sample_data(root: Path | None = None, variant: str = "normal") -> Path:
    """Return the sample data folder (seed layout), generating it on first use.

    `variant` is "normal" (the easy posters), "hard" (core.data.samples_hard: the development
    benchmark with clutter, label noise and a style shift between train and val) or "print"
    (core.data.samples_print: the hard set's training posters, validated on photographed
    prints of hatched motifs: a different shift).
    Generation goes to a temporary sibling folder that is renamed into place once
    complete, so an interrupted run never leaves a half-written data set behind.
    """
    if variant not in SAMPLE_VARIANTS:
        raise ValueError(f"unknown sample variant {variant!r}; use one of {SAMPLE_VARIANTS}")
    if variant == "hard":
        from core.data.samples_hard import HARD_DIR_NAME, generate_hard_data

        generate, default_name = generate_hard_data, HARD_DIR_NAME
    elif variant == "print":
        from core.data.samples_print import PRINT_DIR_NAME, generate_print_data

        generate, default_name = generate_print_data, PRINT_DIR_NAME
    else:
        generate, default_name = generate_sample_data, SAMPLE_DIR_NAME
    root = Path(root) if root is not None else cache_dir() / default_name
    if (root / COMPLETE_MARKER).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(root.parent, f".{glob.escape(root.name)}.tmp-*", _STALE_TEMP_SECONDS)
    temp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        generate(temp)
        (temp / COMPLETE_MARKER).write_text(f"sample posters v1 {variant}\n", encoding="utf-8")
        if root.exists():
            shutil.rmtree(root)  # an incomplete copy from elsewhere: no marker
        os.replace(temp, root)
    except OSError:
        # Another process may have finished first; its copy is as good as ours.
        if not (root / COMPLETE_MARKER).is_file():
            raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return root


def generate_sample_data(
    root: Path, n_train: int = 400, n_val: int = 120, seed: int = 1234
) -> Path:
    """Write `n_train` + `n_val` posters and their metadata.csv files under `root`."""
    return art.write_sample_set(
        root, {"train": n_train, "val": n_val}, (seed, _SPLIT_CODES), "sample", GENRES, _draw
    )


def _draw(split: str, rng: Rng) -> art.Poster:
    labels = sample_labels(rng)
    return render_poster(labels, rng), labels


def sample_labels(rng: Rng) -> tuple[str, ...]:
    """Draw 1-3 genres with realistic co-occurrence, in GENRES order."""
    count = int(rng.choice(3, p=_N_GENRES_P)) + 1
    chosen = [int(rng.choice(len(GENRES), p=_FIRST_GENRE_P))]
    while len(chosen) < count:
        weights = _AFFINITY[chosen].sum(axis=0)
        weights[chosen] = 0.0
        chosen.append(int(rng.choice(len(GENRES), p=weights / weights.sum())))
    return tuple(GENRES[i] for i in sorted(chosen))


def render_poster(labels: Sequence[str], rng: Rng) -> Image.Image:
    """Draw one RGB poster for the given genres."""
    background = labels[int(rng.integers(len(labels)))]
    pixels = art.BACKGROUNDS[background](rng)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    painters: list[Callable[[Draw, Rng], None]] = []
    for genre in labels:
        motifs = art.MOTIFS[genre]
        for _ in range(1 + int(rng.random() < 0.6)):
            painters.append(motifs[int(rng.integers(len(motifs)))])
    painters += [art.distractor] * int(rng.integers(2, 5))
    for i in rng.permutation(len(painters)):
        painters[i](draw, rng)
    art.title_bar(draw, rng)
    vignette = "Thriller" in labels or rng.random() < 0.15
    return Image.fromarray(art.finish(np.asarray(image), rng, vignette))


# ----------------------------------------------------------------------------- helpers
