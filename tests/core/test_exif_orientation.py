"""Photos stored sideways with an EXIF Orientation tag decode, predict and explain upright."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from core.data.decode import load_rgb
from core.data.image_open import read_rgb
from tests.core.conftest import LABELS, draw_poster

# What a camera stores for each orientation: the upright picture turned the other way
# (the tag says how to turn it back).
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _upright() -> Image.Image:
    """A tall poster (a quarter turn changes its shape) with label bands on its left half
    only (a mirror changes it too)."""
    pixels = np.asarray(draw_poster((LABELS[0], LABELS[2]), np.random.default_rng(7))).copy()
    pixels[:, pixels.shape[1] // 2 :] = 30
    return Image.fromarray(pixels).resize((64, 96), Image.Resampling.NEAREST)


def _stored_as(upright: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    turn = STORED[orientation]
    pixels = upright if turn is None else upright.transpose(turn)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    buffer = io.BytesIO()
    options = {"quality": 100} if fmt == "JPEG" else {}
    pixels.save(buffer, format=fmt, exif=exif.tobytes(), **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The 8 orientations, lossless (PNG with an EXIF block) so that a correct decode gives
    exactly the upright pixels and any difference in the scores is the orientation's."""
    folder = tmp_path_factory.mktemp("phone-photos")
    upright = _upright()
    found = {}
    for orientation in STORED:
        found[orientation] = folder / f"orientation-{orientation}.png"
        found[orientation].write_bytes(_stored_as(upright, orientation, "PNG"))
    return found


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_every_orientation_decodes_as_the_upright_picture(fmt: str) -> None:
    upright = load_rgb(io.BytesIO(_stored_as(_upright(), 1, fmt)).getvalue(), 64)
    for orientation in STORED:
        data = _stored_as(_upright(), orientation, fmt)
        turned = load_rgb(data, 64).astype(int)
        assert np.abs(turned - upright).mean() < 4, f"orientation {orientation} ({fmt})"
        if orientation != 1:  # the stored pixels really are turned: the check can fail
            with Image.open(io.BytesIO(data)) as raw:
                sideways = np.asarray(raw.convert("RGB").resize((64, 64))).astype(int)
            assert np.abs(sideways - upright).mean() > 20


def test_full_size_reading_is_upright() -> None:
    for orientation in STORED:
        picture = read_rgb(_stored_as(_upright(), orientation))
        assert picture.size == (64, 96), f"orientation {orientation}"


def test_each_orientation_predicts_as_its_upright_copy(
    model_path: Path, photos: dict[int, Path]
) -> None:
    from core.inference.predictor import Predictor

    predictor = Predictor.from_file(model_path, device="cpu")
    results = predictor.predict(list(photos.values()))
    probabilities = np.stack([r.probabilities for r in results])
    upright = probabilities[0]
    assert np.abs(probabilities - upright).max() < 1e-4
    with Image.open(photos[6]) as raw:  # the raw sideways pixels score differently
        sideways_pixels = Image.fromarray(np.asarray(raw.convert("RGB")))  # no EXIF
    sideways = predictor.predict([sideways_pixels])[0].probabilities
    assert np.abs(sideways - upright).max() > 1e-3


def test_served_upload_is_turned_upright(model_path: Path, photos: dict[int, Path]) -> None:
    from core.serving.images import decode_upload

    upright = decode_upload(photos[1].read_bytes(), 64, 10**7).astype(int)
    for orientation, path in photos.items():
        served = decode_upload(path.read_bytes(), 64, 10**7).astype(int)
        assert np.array_equal(served, upright), f"orientation {orientation}"


def test_grad_cam_draws_the_photo_upright(model_path: Path, photos: dict[int, Path]) -> None:
    from core.inference.explain import Explainer

    explainer = Explainer.from_file(model_path)
    upright = explainer.explain_top(photos[1])
    for orientation, path in photos.items():
        explanation = explainer.explain_top(path)
        assert explanation.heatmap.shape == (96, 64), f"orientation {orientation}"
        assert explanation.label == upright.label
        assert abs(explanation.probability - upright.probability) < 1e-4
        assert np.abs(explanation.heatmap - upright.heatmap).max() < 1e-3
