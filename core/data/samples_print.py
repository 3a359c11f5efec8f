"""The "print" sample set: the hard set's training posters, validated on photographed prints.

A second development benchmark with a different shift from `--sample hard`, so that no
recipe is tuned to one generator. Training posters are drawn exactly as the hard set's
(ten concepts, clutter, occluders, the same label noise; another seed). Validation posters
keep the training palettes but draw every motif smaller and as a hatched engraving (ink
lines instead of flat fills), and the whole poster is then "printed and photographed":
ink on paper (lifted blacks, a paper tint and grain), a perspective tilt on a table,
uneven light, a little defocus and a low-quality JPEG. Deterministic (seeded) and
generated locally, in the layout of the other sample sets.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from core.data import poster_art as art
from core.data.samples_hard import (
    CONCEPTS,
    SIZE,
    Rng,
    noisy_labels,
    render_hard_poster,
    sample_concepts,
)

PRINT_DIR_NAME = "sample-posters-print-v1"
_SPLIT_CODES = {"train": 21, "val": 22}
VAL_MOTIF_SCALE = (0.35, 0.55)  # training motifs span 0.45-0.7 of the poster


def generate_print_data(root: Path, n_train: int = 400, n_val: int = 200, seed: int = 8642) -> Path:
    """Write `n_train` + `n_val` posters (validation: photographed prints) under `root`."""
    return art.write_sample_set(
        root, {"train": n_train, "val": n_val}, (seed, _SPLIT_CODES), "print", CONCEPTS, _draw
    )


def _draw(split: str, rng: Rng) -> art.Poster:
    drawn = sample_concepts(rng)
    labels = noisy_labels(drawn, rng) if split == "train" else drawn
    image = render_print_poster(drawn, rng) if split == "val" else _train_poster(drawn, rng)
    return image, labels


def render_print_poster(concepts: tuple[str, ...], rng: Rng) -> Image.Image:
    """A validation poster: hatched, smaller motifs on a training-style poster, photographed."""
    poster = render_hard_poster(concepts, rng, style="train", restyle=hatch, scale=VAL_MOTIF_SCALE)
    return photograph(poster, rng)


def _train_poster(concepts: tuple[str, ...], rng: Rng) -> Image.Image:
    return render_hard_poster(concepts, rng, style="train")


def hatch(layer: Image.Image, rng: Rng) -> Image.Image:
    """An RGBA motif redrawn as an engraving: darkened ink in parallel lines, plus its edge."""
    rgba = np.asarray(layer, dtype=np.float32)
    h, w = rgba.shape[:2]
    period = int(rng.integers(3, 6))
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = (xs * np.cos(angle) + ys * np.sin(angle)) % period
    lines = (phase < max(1.0, period / 2)).astype(np.float32)
    solid = Image.fromarray(np.uint8(rgba[..., 3] > 127) * 255)
    edge = np.asarray(solid, np.float32) - np.asarray(solid.filter(ImageFilter.MinFilter(3)))
    alpha = np.clip(rgba[..., 3] * lines + np.clip(edge, 0, 255), 0, 255)
    ink = rgba[..., :3] * rng.uniform(0.65, 0.9)  # printed ink is darker than the fill
    return Image.fromarray(np.uint8(np.dstack([ink, alpha])), "RGBA")


def photograph(poster: Image.Image, rng: Rng) -> Image.Image:
    """The poster printed on paper and photographed: ink, grain, tilt, light, blur, JPEG."""
    pixels = _on_paper(np.asarray(poster, dtype=np.float32), rng)
    image = _tilted(Image.fromarray(pixels), rng)
    pixels = _lit(np.asarray(image, dtype=np.float32), rng)
    image = Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.1)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(25, 45)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _on_paper(pixels: np.ndarray, rng: Rng) -> np.ndarray:
    """Ink on paper: less contrast, no true black, a warm paper tint and fine grain."""
    paper = np.asarray(art.jitter((236, 228, 210), rng, 12), np.float32)
    out = paper * (0.18 + 0.82 * pixels / 255.0)
    out += rng.normal(0.0, 6.0, pixels.shape[:2])[..., None]  # paper grain, every channel
    return np.clip(out, 0, 255).astype(np.uint8)


def _tilted(image: Image.Image, rng: Rng) -> Image.Image:
    """A perspective view of the print lying on a darker table."""
    inset = rng.uniform(0.02, 0.12, 8) * SIZE  # how far each corner moves in
    corners = [
        (inset[0], inset[1]),
        (SIZE - inset[2], inset[3]),
        (SIZE - inset[4], SIZE - inset[5]),
        (inset[6], SIZE - inset[7]),
    ]
    source: list[tuple[float, float]] = [(0, 0), (SIZE, 0), (SIZE, SIZE), (0, SIZE)]
    coefficients = _perspective(corners, source)
    table = Image.new("RGB", image.size, art.jitter((70, 60, 52), rng, 20))
    mask = Image.new("L", image.size, 255).transform(
        image.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
    )
    warped = image.transform(
        image.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
    )
    table.paste(warped, (0, 0), mask)
    return table


def _perspective(
    target: list[tuple[float, float]], source: list[tuple[float, float]]
) -> tuple[float, ...]:
    """PIL's 8 coefficients mapping output pixels (`target` corners) to input (`source`)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    solution = np.linalg.solve(np.asarray(rows, np.float64), np.asarray(rhs, np.float64))
    return tuple(float(c) for c in solution)


def _lit(pixels: np.ndarray, rng: Rng) -> np.ndarray:
    """Uneven light: a gain that falls off linearly in a random direction, a colour cast."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE - 0.5
    ramp = xs * np.cos(angle) + ys * np.sin(angle)
    gain = rng.uniform(0.85, 1.05) + rng.uniform(0.2, 0.45) * ramp
    cast = np.asarray(rng.uniform(0.92, 1.06, 3), np.float32)
    return np.clip(pixels * gain[..., None] * cast, 0, 255).astype(np.uint8)
