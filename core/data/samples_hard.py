"""The hard sample data set: a development benchmark that a linear probe does not solve.

Ten concepts (each one or two motifs), drawn small on cluttered backgrounds and partly
hidden by occluders; 1-3 concepts per poster. Training labels are noisy (some positives
dropped, some spurious labels added); validation labels are clean. Train and validation
differ in style: training posters draw motifs filled in their natural colours on warm
backgrounds; validation posters recolour motifs with other palettes (duotones) and draw
some of them as outlines on cold backgrounds, so memorising appearance does not carry
over. Deterministic and generated locally; same layout as the normal sample set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from core.data import poster_art as art

CONCEPTS = (
    "Action",
    "Romance",
    "Crime",
    "Thriller",
    "Adventure",
    "SciFi",
    "Horror",
    "Comedy",
    "Western",
    "Music",
)
HARD_DIR_NAME = "sample-posters-hard-v1"
SIZE = art.POSTER_SIZE
_SPLIT_CODES = {"train": 11, "val": 12}
_N_LABELS_P = np.array([0.45, 0.4, 0.15])
DROP_POSITIVE_P = 0.12  # training label noise: a drawn concept left unlabelled
SPURIOUS_P = 0.08  # training label noise: a label without its motif

Draw = ImageDraw.ImageDraw
Rng = np.random.Generator
Colour = tuple[int, int, int]
Restyle = Callable[[Image.Image, Rng], Image.Image]  # an RGBA motif layer, redrawn

# ----------------------------------------------------------------------------- public API


def generate_hard_data(root: Path, n_train: int = 400, n_val: int = 200, seed: int = 4321) -> Path:
    """Write `n_train` + `n_val` hard posters and their metadata.csv files under `root`."""
    return art.write_sample_set(
        root, {"train": n_train, "val": n_val}, (seed, _SPLIT_CODES), "hard", CONCEPTS, _draw
    )


def _draw(split: str, rng: Rng) -> art.Poster:
    drawn = sample_concepts(rng)
    labels = noisy_labels(drawn, rng) if split == "train" else drawn
    return render_hard_poster(drawn, rng, style=split), labels


def sample_concepts(rng: Rng) -> tuple[str, ...]:
    count = int(rng.choice(3, p=_N_LABELS_P)) + 1
    chosen = rng.choice(len(CONCEPTS), size=count, replace=False)
    return tuple(CONCEPTS[i] for i in sorted(chosen))


def render_hard_poster(
    concepts: Sequence[str],
    rng: Rng,
    style: str = "train",
    restyle: Restyle | None = None,
    scale: tuple[float, float] = (0.45, 0.7),
) -> Image.Image:
    """One poster: background, clutter, small styled motifs, occluders, title bar, noise.

    `style` "train" draws warm backgrounds and motifs in their own colours; any other style
    cold backgrounds and motifs through `restyle` (default: the validation duotones and
    outlines). `scale` is the range of a motif's size as a fraction of the poster.
    """
    image = Image.fromarray(_background(rng, style))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 8))):
        art.distractor(draw, rng)
    for _ in range(int(rng.integers(1, 3))):
        _decoy(draw, rng, style)
    if restyle is None and style != "train":
        restyle = _restyle
    for concept in concepts:
        motifs = MOTIFS[concept]
        for _ in range(1 + int(rng.random() < 0.35)):
            _paste_motif(image, motifs[int(rng.integers(len(motifs)))], rng, restyle, scale)
    _occlude(draw, rng, style)
    art.title_bar(draw, rng)
    return Image.fromarray(art.finish(np.asarray(image), rng, rng.random() < 0.3))


# ----------------------------------------------------------------------------- composition


def noisy_labels(labels: tuple[str, ...], rng: Rng) -> tuple[str, ...]:
    kept = [c for c in labels if rng.random() >= DROP_POSITIVE_P]
    if rng.random() < SPURIOUS_P:
        others = [c for c in CONCEPTS if c not in labels]
        kept.append(others[int(rng.integers(len(others)))])
    return tuple(c for c in CONCEPTS if c in kept)


_TRAIN_BG = ((190, 150, 110), (160, 120, 90), (210, 190, 150), (140, 110, 100), (120, 130, 110))
_VAL_BG = ((40, 60, 90), (30, 40, 60), (70, 80, 110), (50, 70, 70), (90, 90, 120))


def _background(rng: Rng, style: str) -> np.ndarray:
    palette = _TRAIN_BG if style == "train" else _VAL_BG
    pixels = art.gradient(art.pick(palette, rng, 30), art.pick(palette, rng, 30)).astype(np.float32)
    # Low-frequency blotches: texture that is not a concept.
    blotch = rng.normal(0, 1, (8, 8, 3)).astype(np.float32)
    big = np.asarray(
        Image.fromarray(np.uint8(np.clip(128 + 40 * blotch, 0, 255))).resize(
            (SIZE, SIZE), Image.Resampling.BICUBIC
        ),
        dtype=np.float32,
    )
    return np.clip(pixels + (big - 128) * 0.6, 0, 255).astype(np.uint8)


def _paste_motif(
    image: Image.Image,
    motif: Callable[[Draw, Rng], None],
    rng: Rng,
    restyle: Restyle | None,
    scale_range: tuple[float, float],
) -> None:
    layer = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    motif(ImageDraw.Draw(layer), rng)
    box = layer.getchannel("A").getbbox()
    if box is None:
        return
    layer = layer.crop(box)
    scale = rng.uniform(*scale_range) * SIZE / max(layer.size)
    w, h = (max(6, round(d * scale)) for d in layer.size)
    layer = layer.resize((w, h), Image.Resampling.BILINEAR)
    if restyle is not None:
        layer = restyle(layer, rng)
    x = int(rng.integers(-w // 6, SIZE - w + w // 6))
    y = int(rng.integers(-h // 6, SIZE - h + h // 6))
    image.paste(layer, (x, y), layer)


_VAL_DUOTONES: tuple[tuple[Colour, Colour], ...] = (
    ((20, 240, 200), (250, 250, 120)),  # teal -> pale yellow
    ((200, 60, 255), (120, 255, 255)),  # violet -> cyan
    ((240, 240, 240), (150, 150, 160)),  # white -> grey
    ((90, 255, 90), (30, 120, 255)),  # green -> blue
)


def _restyle(layer: Image.Image, rng: Rng) -> Image.Image:
    """Validation style: a duotone from another palette, and outlines a quarter of the time."""
    rgba = np.asarray(layer, dtype=np.float32)
    alpha = rgba[..., 3:]
    lum = (rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None] / 255
    dark, light = _VAL_DUOTONES[int(rng.integers(len(_VAL_DUOTONES)))]
    rgb = (1 - lum) * np.asarray(dark, np.float32) + lum * np.asarray(light, np.float32)
    if rng.random() < 0.25:
        mask = Image.fromarray(np.uint8(alpha[..., 0] > 127) * 255)
        inner = mask.filter(ImageFilter.MinFilter(3))
        edge = np.asarray(mask, np.float32) - np.asarray(inner, np.float32)
        alpha = np.clip(edge, 0, 255)[..., None]
    return Image.fromarray(np.uint8(np.concatenate([rgb, alpha], axis=-1)), "RGBA")


def _decoy(draw: Draw, rng: Rng, style: str) -> None:
    """A colourful shape that belongs to no concept."""
    palette = _TRAIN_BG if style == "train" else _VAL_BG
    r, g, b = art.pick(palette, rng)
    colour = art.jitter((255 - r, 255 - g, 255 - b), rng, 60)
    points = [art.point(rng) for _ in range(int(rng.integers(3, 6)))]
    draw.polygon(points, fill=colour)


def _occlude(draw: Draw, rng: Rng, style: str) -> None:
    """Bars and blocks drawn over the motifs: partial occlusion."""
    palette = _TRAIN_BG if style == "train" else _VAL_BG
    for _ in range(int(rng.integers(1, 3))):
        x, y = art.point(rng)
        w, h = rng.uniform(6, 30), rng.uniform(6, 30)
        if rng.random() < 0.5:
            w, h = rng.uniform(50, 110), rng.uniform(3, 6)  # a long thin bar
        draw.rectangle((x - w / 2, y - h / 2, x + w / 2, y + h / 2), fill=art.pick(palette, rng))


# ----------------------------------------------------------------------------- new motifs


def _planet(draw: Draw, rng: Rng) -> None:
    cx, cy, r = 64, 64, rng.uniform(16, 24)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=art.pick([(120, 90, 200)], rng))
    draw.ellipse(
        (cx - 2 * r, cy - 0.45 * r, cx + 2 * r, cy + 0.45 * r),
        outline=art.pick([(230, 200, 140)], rng),
        width=3,
    )


def _rocket(draw: Draw, rng: Rng) -> None:
    cx, top, w, h = 64, 20, rng.uniform(10, 14), rng.uniform(50, 70)
    body = art.pick([(200, 205, 215)], rng, 15)
    draw.rectangle((cx - w / 2, top + w, cx + w / 2, top + h), fill=body)
    draw.polygon([(cx - w / 2, top + w), (cx + w / 2, top + w), (cx, top)], fill=(220, 40, 40))
    draw.polygon(
        [(cx - w / 2, top + h - 12), (cx - w * 1.3, top + h + 4), (cx - w / 2, top + h)],
        fill=(220, 40, 40),
    )
    draw.polygon(
        [(cx + w / 2, top + h - 12), (cx + w * 1.3, top + h + 4), (cx + w / 2, top + h)],
        fill=(220, 40, 40),
    )
    draw.ellipse((cx - 3, top + 18, cx + 3, top + 24), fill=(60, 140, 230))


def _ghost(draw: Draw, rng: Rng) -> None:
    cx, top, r = 64, 30, rng.uniform(16, 22)
    fill = art.pick([(235, 235, 240)], rng, 10)
    draw.ellipse((cx - r, top, cx + r, top + 2 * r), fill=fill)
    base = top + 3.2 * r
    draw.rectangle((cx - r, top + r, cx + r, base), fill=fill)
    for k in range(3):  # a wavy hem
        x0 = cx - r + k * 2 * r / 3
        draw.ellipse((x0, base - r / 3, x0 + 2 * r / 3, base + r / 3), fill=fill)
    for dx in (-r / 2.5, r / 2.5):
        draw.ellipse((cx + dx - 3, top + r - 4, cx + dx + 3, top + r + 5), fill=(10, 10, 10))


def _smiley(draw: Draw, rng: Rng) -> None:
    cx, cy, r = 64, 64, rng.uniform(18, 26)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=art.pick([(250, 215, 40)], rng))
    for dx in (-r / 2.6, r / 2.6):
        draw.ellipse((cx + dx - 3, cy - r / 3 - 4, cx + dx + 3, cy - r / 3 + 4), fill=(20, 20, 20))
    draw.arc(
        (cx - r * 0.6, cy - r * 0.5, cx + r * 0.6, cy + r * 0.6),
        20,
        160,
        fill=(20, 20, 20),
        width=3,
    )


def _cactus(draw: Draw, rng: Rng) -> None:
    cx, top, w, h = 64, 24, rng.uniform(9, 13), rng.uniform(55, 75)
    green = art.pick([(50, 140, 60), (70, 160, 70)], rng)
    draw.rounded_rectangle((cx - w / 2, top, cx + w / 2, top + h), radius=w / 2, fill=green)
    for side in (-1, 1):
        arm_y = top + h * rng.uniform(0.3, 0.5)
        x_out = cx + side * w * 1.6
        draw.rectangle((min(cx, x_out), arm_y, max(cx, x_out), arm_y + w * 0.7), fill=green)
        draw.rounded_rectangle(
            (x_out - w * 0.35, arm_y - h * 0.25, x_out + w * 0.35, arm_y + w * 0.7),
            radius=w * 0.35,
            fill=green,
        )


def _note(draw: Draw, rng: Rng) -> None:
    ink = art.pick([(30, 30, 40), (120, 40, 160)], rng, 15)
    for k, cx in enumerate((48, 80)):
        cy = 84 - 6 * k
        draw.ellipse((cx - 9, cy - 6, cx + 9, cy + 6), fill=ink)
        draw.line((cx + 8, cy, cx + 8, cy - 45), fill=ink, width=3)
    draw.polygon([(56, 39), (88, 33), (88, 41), (56, 47)], fill=ink)


def _star_badge(draw: Draw, rng: Rng) -> None:
    cx, cy, outer = 64, 64, rng.uniform(18, 26)
    points = []
    for k in range(10):
        radius = outer if k % 2 == 0 else outer * 0.45
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=art.pick([(200, 160, 60), (180, 140, 80)], rng))


MOTIFS: dict[str, tuple[Callable[[Draw, Rng], None], ...]] = {
    "Action": (art.burst, art.streaks),
    "Romance": (art.heart, art.soft_circles),
    "Crime": (art.silhouette,),
    "Thriller": (art.eye, art.spiral),
    "Adventure": (art.mountains, art.sun),
    "SciFi": (_planet, _rocket),
    "Horror": (_ghost,),
    "Comedy": (_smiley,),
    "Western": (_cactus, _star_badge),
    "Music": (_note,),
}
