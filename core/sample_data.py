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

import csv
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.paths import cache_dir

GENRES = ("Action", "Romance", "Crime", "Thriller", "Adventure")
SAMPLE_DIR_NAME = "sample-posters-v1"
COMPLETE_MARKER = ".complete"
POSTER_SIZE = 128
JPEG_QUALITY = 90

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

Colour = tuple[int, int, int]
Draw = ImageDraw.ImageDraw
Rng = np.random.Generator


# ----------------------------------------------------------------------------- public API


SAMPLE_VARIANTS = ("normal", "hard")


def ensure_sample_data(root: Path | None = None, variant: str = "normal") -> Path:
    """Return the sample data folder (seed layout), generating it on first use.

    `variant` is "normal" (the easy posters) or "hard" (core.sample_hard: the development
    benchmark with clutter, label noise and a style shift between train and val).
    Generation goes to a temporary sibling folder that is renamed into place once
    complete, so an interrupted run never leaves a half-written data set behind.
    """
    if variant not in SAMPLE_VARIANTS:
        raise ValueError(f"unknown sample variant {variant!r}; use one of {SAMPLE_VARIANTS}")
    if variant == "hard":
        from core.sample_hard import HARD_DIR_NAME, generate_hard_data

        generate, default_name = generate_hard_data, HARD_DIR_NAME
    else:
        generate, default_name = generate_sample_data, SAMPLE_DIR_NAME
    root = Path(root) if root is not None else cache_dir() / default_name
    if (root / COMPLETE_MARKER).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(root)
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
    root = Path(root)
    for split, count in (("train", n_train), ("val", n_val)):
        split_dir = root / split
        split_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for index in range(count):
            rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
            labels = sample_labels(rng)
            poster_id = f"sample_{index + 1:04d}"
            render_poster(labels, rng).save(split_dir / f"{poster_id}.jpg", quality=JPEG_QUALITY)
            rows.append((poster_id, labels))
        _write_metadata(split_dir / "metadata.csv", rows)
    return root


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
    pixels = _BACKGROUNDS[background](rng)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    painters: list[Callable[[Draw, Rng], None]] = []
    for genre in labels:
        motifs = _MOTIFS[genre]
        for _ in range(1 + int(rng.random() < 0.6)):
            painters.append(motifs[int(rng.integers(len(motifs)))])
    painters += [_distractor] * int(rng.integers(2, 5))
    for i in rng.permutation(len(painters)):
        painters[i](draw, rng)
    _title_bar(draw, rng)
    vignette = "Thriller" in labels or rng.random() < 0.15
    return Image.fromarray(_finish(np.asarray(image), rng, vignette))


# ----------------------------------------------------------------------------- helpers


def _write_metadata(path: Path, rows: list[tuple[str, tuple[str, ...]]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "Genre", *GENRES])
        for poster_id, labels in rows:
            flags = [int(g in labels) for g in GENRES]
            writer.writerow([poster_id, str(list(labels)), *flags])


def _remove_stale_temps(root: Path) -> None:
    # Temp folders of interrupted runs; recent ones may belong to a live process.
    now = time.time()
    for temp in root.parent.glob(f".{root.name}.tmp-*"):
        try:
            if now - temp.stat().st_mtime > _STALE_TEMP_SECONDS:
                shutil.rmtree(temp, ignore_errors=True)
        except OSError:
            pass


def _jitter(colour: Colour, rng: Rng, amount: int = 25) -> Colour:
    shifted = np.clip(np.asarray(colour) + rng.integers(-amount, amount + 1, 3), 0, 255)
    return (int(shifted[0]), int(shifted[1]), int(shifted[2]))


def _pick(colours: Sequence[Colour], rng: Rng, amount: int = 25) -> Colour:
    return _jitter(colours[int(rng.integers(len(colours)))], rng, amount)


def _point(rng: Rng, margin: int = 0) -> tuple[int, int]:
    low, high = margin, POSTER_SIZE - margin
    return int(rng.integers(low, high)), int(rng.integers(low, high))


def _gradient(top: Colour, bottom: Colour) -> np.ndarray:
    t = np.linspace(0.0, 1.0, POSTER_SIZE)[:, None, None]
    column = (1 - t) * np.asarray(top) + t * np.asarray(bottom)
    return np.broadcast_to(column, (POSTER_SIZE, POSTER_SIZE, 3)).astype(np.uint8)


def _gradient_bg(tops: Sequence[Colour], bottoms: Sequence[Colour]) -> Callable[[Rng], np.ndarray]:
    def paint(rng: Rng) -> np.ndarray:
        return _gradient(_pick(tops, rng), _pick(bottoms, rng))

    return paint


def _adventure_bg(rng: Rng) -> np.ndarray:
    pixels = _gradient(_pick([(150, 195, 225)], rng), _pick([(215, 220, 190)], rng)).copy()
    horizon = int(rng.integers(70, 105))
    pixels[horizon:] = _gradient(_pick([(90, 140, 60)], rng), _pick([(70, 90, 40)], rng))[
        : POSTER_SIZE - horizon
    ]
    return pixels


@lru_cache(maxsize=1)
def _vignette_mask() -> np.ndarray:
    axis = np.linspace(-1.0, 1.0, POSTER_SIZE)
    radius = np.sqrt(axis[:, None] ** 2 + axis[None, :] ** 2) / math.sqrt(2)
    return (1.0 - 0.75 * radius**2)[:, :, None]


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default()


def _finish(pixels: np.ndarray, rng: Rng, vignette: bool) -> np.ndarray:
    """Vignette, brightness/contrast jitter and sensor-like noise."""
    out = pixels.astype(np.float32)
    if vignette:
        out *= _vignette_mask()
    gain = rng.uniform(0.85, 1.15)
    out = (out - 128.0) * rng.uniform(0.85, 1.1) + 128.0 * gain
    out += rng.normal(0.0, rng.uniform(4.0, 12.0), out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- motifs


def _burst(draw: Draw, rng: Rng) -> None:
    cx, cy = _point(rng, 10)
    outer = rng.uniform(18, 40)
    spikes = int(rng.integers(9, 16))
    start = rng.uniform(0, math.tau)
    points = []
    for k in range(spikes * 2):
        radius = outer if k % 2 == 0 else outer * rng.uniform(0.35, 0.55)
        angle = start + k * math.pi / spikes
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=_pick([(255, 120, 20), (235, 60, 20)], rng))
    core = outer * 0.3
    draw.ellipse((cx - core, cy - core, cx + core, cy + core), fill=_pick([(255, 225, 80)], rng))


def _streaks(draw: Draw, rng: Rng) -> None:
    x, y = _point(rng)
    length = rng.uniform(30, 80)
    angle = rng.choice([-1, 1]) * rng.uniform(0.5, 1.0)
    dx, dy = length * math.cos(angle), length * math.sin(angle)
    colour = _pick([(255, 150, 30), (250, 210, 60), (230, 50, 20)], rng)
    for k in range(int(rng.integers(2, 5))):
        off = k * rng.uniform(5, 9)
        width = int(rng.integers(2, 5))
        draw.line((x + off, y - off, x + off + dx, y - off + dy), fill=colour, width=width)


def _heart(draw: Draw, rng: Rng) -> None:
    cx, cy = _point(rng, 12)
    r = rng.uniform(6, 18)
    colour = _pick([(230, 40, 90), (245, 110, 150), (200, 20, 60)], rng)
    draw.ellipse((cx - 2 * r, cy - r, cx, cy + r), fill=colour)
    draw.ellipse((cx, cy - r, cx + 2 * r, cy + r), fill=colour)
    draw.polygon(
        [(cx - 1.95 * r, cy + 0.3 * r), (cx + 1.95 * r, cy + 0.3 * r), (cx, cy + 2.3 * r)],
        fill=colour,
    )


def _soft_circles(draw: Draw, rng: Rng) -> None:
    for _ in range(int(rng.integers(2, 5))):
        cx, cy = _point(rng)
        r = rng.uniform(5, 16)
        colour = _pick([(255, 200, 220), (250, 170, 200), (235, 190, 235)], rng, 15)
        draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r), outline=colour, width=int(rng.integers(2, 4))
        )


def _police_tape(draw: Draw, rng: Rng) -> None:
    y0, y1 = rng.uniform(0, POSTER_SIZE, 2)
    x0, x1 = -10.0, POSTER_SIZE + 10.0
    width = int(rng.integers(9, 15))
    draw.line((x0, y0, x1, y1), fill=_pick([(245, 210, 20)], rng, 15), width=width)
    steps = 14
    for k in range(0, steps, 2):  # black stripes across the yellow band
        t0, t1 = k / steps, (k + 0.6) / steps
        p0 = (x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0)
        p1 = (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)
        draw.line((*p0, *p1), fill=(15, 15, 15), width=max(2, width - 6))


def _silhouette(draw: Draw, rng: Rng) -> None:
    cx, base = int(rng.integers(15, POSTER_SIZE - 15)), int(rng.integers(70, POSTER_SIZE + 10))
    h = rng.uniform(35, 70)
    head = h * 0.13
    top = base - h
    fill = _pick([(12, 12, 14)], rng, 8)
    rim = _pick([(200, 175, 60), (150, 150, 150)], rng, 15)
    draw.ellipse((cx - head, top, cx + head, top + 2 * head), fill=fill, outline=rim, width=1)
    draw.polygon(
        [
            (cx - head * 0.9, top + 2 * head),
            (cx + head * 0.9, top + 2 * head),
            (cx + h * 0.3, base),
            (cx - h * 0.3, base),
        ],
        fill=fill,
        outline=rim,
    )
    draw.polygon(
        [
            (cx - h * 0.2, top + 2 * head),
            (cx + h * 0.2, top + 2 * head),
            (cx + h * 0.05, top + 2.8 * head),
            (cx - h * 0.05, top + 2.8 * head),
        ],
        fill=fill,
    )  # hat brim / collar


def _eye(draw: Draw, rng: Rng) -> None:
    cx, cy = _point(rng, 20)
    w, h = rng.uniform(18, 45), rng.uniform(8, 20)
    draw.ellipse((cx - w, cy - h, cx + w, cy + h), fill=_pick([(220, 230, 245)], rng, 15))
    iris = h * 0.9
    draw.ellipse(
        (cx - iris, cy - iris, cx + iris, cy + iris),
        fill=_pick([(40, 120, 200), (20, 170, 190)], rng),
    )
    pupil = iris * 0.45
    draw.ellipse((cx - pupil, cy - pupil, cx + pupil, cy + pupil), fill=(5, 5, 10))


def _spiral(draw: Draw, rng: Rng) -> None:
    cx, cy = _point(rng, 20)
    size = rng.uniform(15, 40)
    turns = rng.uniform(2.5, 4.0)
    angles = np.linspace(0, turns * math.tau, 90)
    radius = size * angles / angles[-1]
    points = [
        (cx + r * math.cos(a), cy + r * math.sin(a)) for r, a in zip(radius, angles, strict=True)
    ]
    draw.line(points, fill=_pick([(130, 210, 240), (220, 235, 255)], rng, 15), width=2)


def _shards(draw: Draw, rng: Rng) -> None:
    for _ in range(int(rng.integers(3, 7))):
        x, y = _point(rng)
        length, spread = rng.uniform(20, 50), rng.uniform(3, 8)
        angle = rng.uniform(0, math.tau)
        tip = (x + length * math.cos(angle), y + length * math.sin(angle))
        nx, ny = -math.sin(angle) * spread, math.cos(angle) * spread
        colour = _pick([(170, 220, 240), (110, 160, 220), (230, 240, 255)], rng, 15)
        draw.polygon([(x + nx, y + ny), (x - nx, y - ny), tip], fill=colour)


def _mountains(draw: Draw, rng: Rng) -> None:
    base = rng.uniform(80, 125)
    for _ in range(int(rng.integers(1, 4))):
        cx, half = rng.uniform(0, POSTER_SIZE), rng.uniform(22, 48)
        height = half * rng.uniform(0.9, 1.6)
        colour = _pick([(120, 85, 50), (100, 95, 80), (140, 100, 60)], rng, 20)
        peak = (cx, base - height)
        draw.polygon([(cx - half, base), (cx + half, base), peak], fill=colour)
        cap = 0.3
        draw.polygon(
            [
                (cx - half * cap, base - height * (1 - cap)),
                (cx + half * cap, base - height * (1 - cap)),
                peak,
            ],
            fill=_pick([(245, 245, 250)], rng, 10),
        )


def _sun(draw: Draw, rng: Rng) -> None:
    cx, cy = int(rng.integers(10, POSTER_SIZE - 10)), int(rng.integers(8, 55))
    r = rng.uniform(7, 16)
    draw.ellipse(
        (cx - r, cy - r, cx + r, cy + r), fill=_pick([(255, 230, 90), (255, 200, 60)], rng)
    )


def _hills(draw: Draw, rng: Rng) -> None:
    top = rng.uniform(75, 110)
    cx = rng.uniform(0, POSTER_SIZE)
    half = rng.uniform(50, 110)
    draw.ellipse(
        (cx - half, top, cx + half, top + 2 * (POSTER_SIZE - top) + 20),
        fill=_pick([(80, 150, 60), (60, 120, 45), (110, 90, 50)], rng),
    )
    draw.line((0, top + 12, POSTER_SIZE, top + 12), fill=_pick([(70, 120, 50)], rng), width=2)


_NEUTRALS: tuple[Colour, ...] = ((128, 128, 128), (200, 195, 185), (70, 70, 75), (235, 235, 230))


def _distractor(draw: Draw, rng: Rng) -> None:
    kind = int(rng.integers(4))
    colour = _pick(_NEUTRALS, rng, 15)
    x, y = _point(rng)
    s = rng.uniform(5, 22)
    if kind == 0:
        draw.rectangle((x - s, y - s * rng.uniform(0.3, 1.0), x + s, y + s), fill=colour)
    elif kind == 1:
        draw.ellipse((x - s, y - s, x + s, y + s), outline=colour, width=int(rng.integers(1, 4)))
    elif kind == 2:
        draw.polygon([(x - s, y + s), (x + s, y + s), (x, y - s)], fill=colour)
    else:
        x1, y1 = _point(rng)
        draw.line((x, y, x1, y1), fill=colour, width=int(rng.integers(1, 4)))


def _title_bar(draw: Draw, rng: Rng) -> None:
    height = int(rng.integers(12, 20))
    top = (
        int(rng.integers(0, 8))
        if rng.random() < 0.5
        else POSTER_SIZE - height - int(rng.integers(0, 8))
    )
    dark = rng.random() < 0.5
    bar = _jitter((25, 25, 28) if dark else (230, 228, 220), rng, 15)
    draw.rectangle((0, top, POSTER_SIZE, top + height), fill=bar)
    letters = "".join(chr(65 + int(c)) for c in rng.integers(0, 26, int(rng.integers(4, 11))))
    ink = (235, 235, 235) if dark else (20, 20, 20)
    draw.text((int(rng.integers(3, 20)), top + 1), letters, fill=ink, font=_font())


_BACKGROUNDS: dict[str, Callable[[Rng], np.ndarray]] = {
    "Action": _gradient_bg([(215, 90, 25), (200, 50, 20)], [(110, 25, 10), (70, 20, 15)]),
    "Romance": _gradient_bg([(245, 180, 200), (250, 200, 215)], [(210, 120, 165), (190, 140, 200)]),
    "Crime": _gradient_bg([(38, 36, 40), (30, 30, 30)], [(10, 10, 12), (18, 16, 12)]),
    "Thriller": _gradient_bg([(20, 35, 85), (25, 50, 90)], [(5, 10, 35), (10, 15, 45)]),
    "Adventure": _adventure_bg,
}

_MOTIFS: dict[str, tuple[Callable[[Draw, Rng], None], ...]] = {
    "Action": (_burst, _streaks),
    "Romance": (_heart, _soft_circles),
    "Crime": (_police_tape, _silhouette),
    "Thriller": (_eye, _spiral, _shards),
    "Adventure": (_mountains, _sun, _hills),
}
