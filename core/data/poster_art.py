"""Drawing posters: palettes, backgrounds, genre motifs and finishing touches.

Shared by the normal sample set (core.data.samples) and the hard one
(core.data.samples_hard); every function draws with the caller's seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.data.seed_layout import write_metadata

Colour = tuple[int, int, int]
Draw = ImageDraw.ImageDraw
Rng = np.random.Generator

POSTER_SIZE = 128
JPEG_QUALITY = 90


def jitter(colour: Colour, rng: Rng, amount: int = 25) -> Colour:
    shifted = np.clip(np.asarray(colour) + rng.integers(-amount, amount + 1, 3), 0, 255)
    return (int(shifted[0]), int(shifted[1]), int(shifted[2]))


def pick(colours: Sequence[Colour], rng: Rng, amount: int = 25) -> Colour:
    return jitter(colours[int(rng.integers(len(colours)))], rng, amount)


def point(rng: Rng, margin: int = 0) -> tuple[int, int]:
    low, high = margin, POSTER_SIZE - margin
    return int(rng.integers(low, high)), int(rng.integers(low, high))


def gradient(top: Colour, bottom: Colour) -> np.ndarray:
    t = np.linspace(0.0, 1.0, POSTER_SIZE)[:, None, None]
    column = (1 - t) * np.asarray(top) + t * np.asarray(bottom)
    return np.broadcast_to(column, (POSTER_SIZE, POSTER_SIZE, 3)).astype(np.uint8)


def gradient_bg(tops: Sequence[Colour], bottoms: Sequence[Colour]) -> Callable[[Rng], np.ndarray]:
    def paint(rng: Rng) -> np.ndarray:
        return gradient(pick(tops, rng), pick(bottoms, rng))

    return paint


def adventure_bg(rng: Rng) -> np.ndarray:
    pixels = gradient(pick([(150, 195, 225)], rng), pick([(215, 220, 190)], rng)).copy()
    horizon = int(rng.integers(70, 105))
    pixels[horizon:] = gradient(pick([(90, 140, 60)], rng), pick([(70, 90, 40)], rng))[
        : POSTER_SIZE - horizon
    ]
    return pixels


@lru_cache(maxsize=1)
def vignette_mask() -> np.ndarray:
    axis = np.linspace(-1.0, 1.0, POSTER_SIZE)
    radius = np.sqrt(axis[:, None] ** 2 + axis[None, :] ** 2) / math.sqrt(2)
    return (1.0 - 0.75 * radius**2)[:, :, None]


@lru_cache(maxsize=1)
def font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default()


def finish(pixels: np.ndarray, rng: Rng, vignette: bool) -> np.ndarray:
    """Vignette, brightness/contrast jitter and sensor-like noise."""
    out = pixels.astype(np.float32)
    if vignette:
        out *= vignette_mask()
    gain = rng.uniform(0.85, 1.15)
    out = (out - 128.0) * rng.uniform(0.85, 1.1) + 128.0 * gain
    out += rng.normal(0.0, rng.uniform(4.0, 12.0), out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- motifs


def burst(draw: Draw, rng: Rng) -> None:
    cx, cy = point(rng, 10)
    outer = rng.uniform(18, 40)
    spikes = int(rng.integers(9, 16))
    start = rng.uniform(0, math.tau)
    points = []
    for k in range(spikes * 2):
        radius = outer if k % 2 == 0 else outer * rng.uniform(0.35, 0.55)
        angle = start + k * math.pi / spikes
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=pick([(255, 120, 20), (235, 60, 20)], rng))
    core = outer * 0.3
    draw.ellipse((cx - core, cy - core, cx + core, cy + core), fill=pick([(255, 225, 80)], rng))


def streaks(draw: Draw, rng: Rng) -> None:
    x, y = point(rng)
    length = rng.uniform(30, 80)
    angle = rng.choice([-1, 1]) * rng.uniform(0.5, 1.0)
    dx, dy = length * math.cos(angle), length * math.sin(angle)
    colour = pick([(255, 150, 30), (250, 210, 60), (230, 50, 20)], rng)
    for k in range(int(rng.integers(2, 5))):
        off = k * rng.uniform(5, 9)
        width = int(rng.integers(2, 5))
        draw.line((x + off, y - off, x + off + dx, y - off + dy), fill=colour, width=width)


def heart(draw: Draw, rng: Rng) -> None:
    cx, cy = point(rng, 12)
    r = rng.uniform(6, 18)
    colour = pick([(230, 40, 90), (245, 110, 150), (200, 20, 60)], rng)
    draw.ellipse((cx - 2 * r, cy - r, cx, cy + r), fill=colour)
    draw.ellipse((cx, cy - r, cx + 2 * r, cy + r), fill=colour)
    draw.polygon(
        [(cx - 1.95 * r, cy + 0.3 * r), (cx + 1.95 * r, cy + 0.3 * r), (cx, cy + 2.3 * r)],
        fill=colour,
    )


def soft_circles(draw: Draw, rng: Rng) -> None:
    for _ in range(int(rng.integers(2, 5))):
        cx, cy = point(rng)
        r = rng.uniform(5, 16)
        colour = pick([(255, 200, 220), (250, 170, 200), (235, 190, 235)], rng, 15)
        draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r), outline=colour, width=int(rng.integers(2, 4))
        )


def police_tape(draw: Draw, rng: Rng) -> None:
    y0, y1 = rng.uniform(0, POSTER_SIZE, 2)
    x0, x1 = -10.0, POSTER_SIZE + 10.0
    width = int(rng.integers(9, 15))
    draw.line((x0, y0, x1, y1), fill=pick([(245, 210, 20)], rng, 15), width=width)
    steps = 14
    for k in range(0, steps, 2):  # black stripes across the yellow band
        t0, t1 = k / steps, (k + 0.6) / steps
        p0 = (x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0)
        p1 = (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1)
        draw.line((*p0, *p1), fill=(15, 15, 15), width=max(2, width - 6))


def silhouette(draw: Draw, rng: Rng) -> None:
    cx, base = int(rng.integers(15, POSTER_SIZE - 15)), int(rng.integers(70, POSTER_SIZE + 10))
    h = rng.uniform(35, 70)
    head = h * 0.13
    top = base - h
    fill = pick([(12, 12, 14)], rng, 8)
    rim = pick([(200, 175, 60), (150, 150, 150)], rng, 15)
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


def eye(draw: Draw, rng: Rng) -> None:
    cx, cy = point(rng, 20)
    w, h = rng.uniform(18, 45), rng.uniform(8, 20)
    draw.ellipse((cx - w, cy - h, cx + w, cy + h), fill=pick([(220, 230, 245)], rng, 15))
    iris = h * 0.9
    draw.ellipse(
        (cx - iris, cy - iris, cx + iris, cy + iris),
        fill=pick([(40, 120, 200), (20, 170, 190)], rng),
    )
    pupil = iris * 0.45
    draw.ellipse((cx - pupil, cy - pupil, cx + pupil, cy + pupil), fill=(5, 5, 10))


def spiral(draw: Draw, rng: Rng) -> None:
    cx, cy = point(rng, 20)
    size = rng.uniform(15, 40)
    turns = rng.uniform(2.5, 4.0)
    angles = np.linspace(0, turns * math.tau, 90)
    radius = size * angles / angles[-1]
    points = [
        (cx + r * math.cos(a), cy + r * math.sin(a)) for r, a in zip(radius, angles, strict=True)
    ]
    draw.line(points, fill=pick([(130, 210, 240), (220, 235, 255)], rng, 15), width=2)


def shards(draw: Draw, rng: Rng) -> None:
    for _ in range(int(rng.integers(3, 7))):
        x, y = point(rng)
        length, spread = rng.uniform(20, 50), rng.uniform(3, 8)
        angle = rng.uniform(0, math.tau)
        tip = (x + length * math.cos(angle), y + length * math.sin(angle))
        nx, ny = -math.sin(angle) * spread, math.cos(angle) * spread
        colour = pick([(170, 220, 240), (110, 160, 220), (230, 240, 255)], rng, 15)
        draw.polygon([(x + nx, y + ny), (x - nx, y - ny), tip], fill=colour)


def mountains(draw: Draw, rng: Rng) -> None:
    base = rng.uniform(80, 125)
    for _ in range(int(rng.integers(1, 4))):
        cx, half = rng.uniform(0, POSTER_SIZE), rng.uniform(22, 48)
        height = half * rng.uniform(0.9, 1.6)
        colour = pick([(120, 85, 50), (100, 95, 80), (140, 100, 60)], rng, 20)
        peak = (cx, base - height)
        draw.polygon([(cx - half, base), (cx + half, base), peak], fill=colour)
        cap = 0.3
        draw.polygon(
            [
                (cx - half * cap, base - height * (1 - cap)),
                (cx + half * cap, base - height * (1 - cap)),
                peak,
            ],
            fill=pick([(245, 245, 250)], rng, 10),
        )


def sun(draw: Draw, rng: Rng) -> None:
    cx, cy = int(rng.integers(10, POSTER_SIZE - 10)), int(rng.integers(8, 55))
    r = rng.uniform(7, 16)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=pick([(255, 230, 90), (255, 200, 60)], rng))


def hills(draw: Draw, rng: Rng) -> None:
    top = rng.uniform(75, 110)
    cx = rng.uniform(0, POSTER_SIZE)
    half = rng.uniform(50, 110)
    draw.ellipse(
        (cx - half, top, cx + half, top + 2 * (POSTER_SIZE - top) + 20),
        fill=pick([(80, 150, 60), (60, 120, 45), (110, 90, 50)], rng),
    )
    draw.line((0, top + 12, POSTER_SIZE, top + 12), fill=pick([(70, 120, 50)], rng), width=2)


_NEUTRALS: tuple[Colour, ...] = ((128, 128, 128), (200, 195, 185), (70, 70, 75), (235, 235, 230))


def distractor(draw: Draw, rng: Rng) -> None:
    kind = int(rng.integers(4))
    colour = pick(_NEUTRALS, rng, 15)
    x, y = point(rng)
    s = rng.uniform(5, 22)
    if kind == 0:
        draw.rectangle((x - s, y - s * rng.uniform(0.3, 1.0), x + s, y + s), fill=colour)
    elif kind == 1:
        draw.ellipse((x - s, y - s, x + s, y + s), outline=colour, width=int(rng.integers(1, 4)))
    elif kind == 2:
        draw.polygon([(x - s, y + s), (x + s, y + s), (x, y - s)], fill=colour)
    else:
        x1, y1 = point(rng)
        draw.line((x, y, x1, y1), fill=colour, width=int(rng.integers(1, 4)))


def title_bar(draw: Draw, rng: Rng) -> None:
    height = int(rng.integers(12, 20))
    top = (
        int(rng.integers(0, 8))
        if rng.random() < 0.5
        else POSTER_SIZE - height - int(rng.integers(0, 8))
    )
    dark = rng.random() < 0.5
    bar = jitter((25, 25, 28) if dark else (230, 228, 220), rng, 15)
    draw.rectangle((0, top, POSTER_SIZE, top + height), fill=bar)
    letters = "".join(chr(65 + int(c)) for c in rng.integers(0, 26, int(rng.integers(4, 11))))
    ink = (235, 235, 235) if dark else (20, 20, 20)
    draw.text((int(rng.integers(3, 20)), top + 1), letters, fill=ink, font=font())


BACKGROUNDS: dict[str, Callable[[Rng], np.ndarray]] = {
    "Action": gradient_bg([(215, 90, 25), (200, 50, 20)], [(110, 25, 10), (70, 20, 15)]),
    "Romance": gradient_bg([(245, 180, 200), (250, 200, 215)], [(210, 120, 165), (190, 140, 200)]),
    "Crime": gradient_bg([(38, 36, 40), (30, 30, 30)], [(10, 10, 12), (18, 16, 12)]),
    "Thriller": gradient_bg([(20, 35, 85), (25, 50, 90)], [(5, 10, 35), (10, 15, 45)]),
    "Adventure": adventure_bg,
}

MOTIFS: dict[str, tuple[Callable[[Draw, Rng], None], ...]] = {
    "Action": (burst, streaks),
    "Romance": (heart, soft_circles),
    "Crime": (police_tape, silhouette),
    "Thriller": (eye, spiral, shards),
    "Adventure": (mountains, sun, hills),
}


# ----------------------------------------------------------------------------- writing a set
Poster = tuple[Image.Image, tuple[str, ...]]  # the picture and its given labels
DrawPoster = Callable[[str, np.random.Generator], Poster]  # (split, rng) -> poster


def write_sample_set(
    root: Path,
    counts: Mapping[str, int],
    seeds: tuple[int, Mapping[str, int]],
    prefix: str,
    label_names: Sequence[str],
    draw: DrawPoster,
) -> Path:
    """A generated set in the seed layout: per split, `<prefix>_NNNN.jpg` and metadata.csv.

    `seeds` is (the set's seed, a code per split): every poster draws from its own
    generator seeded by (seed, split code, index), so any one poster can be regenerated
    and no poster depends on another."""
    root = Path(root)
    seed, split_codes = seeds
    for split, count in counts.items():
        split_dir = root / split
        split_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for index in range(count):
            image, labels = draw(split, np.random.default_rng([seed, split_codes[split], index]))
            poster_id = f"{prefix}_{index + 1:04d}"
            image.save(split_dir / f"{poster_id}.jpg", quality=JPEG_QUALITY)
            rows.append((poster_id, labels))
        write_metadata(split_dir / "metadata.csv", rows, label_names)
    return root
