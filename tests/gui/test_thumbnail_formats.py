"""Thumbnails read only JPEG, PNG and WebP, judged by content like everything else.

Qt would pick any of its image plugins (TIFF, SVG, BMP...) for a file named `.jpg`; the
thumbnail loader must not, so a stranger's file meets the same three parsers everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gui.workers import load_thumbnail

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b'<rect width="64" height="64"/></svg>'
)


def _pillow(fmt: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        pixels = np.full((48, 64, 3), (200, 30, 30), np.uint8)
        Image.fromarray(pixels).save(path, format=fmt)

    return write


IMPOSTORS: dict[str, Callable[[Path], None]] = {
    "tiff": _pillow("TIFF"),
    "bmp": _pillow("BMP"),
    "gif": _pillow("GIF"),
    "svg": lambda path: path.write_bytes(SVG),
}


@pytest.mark.parametrize("case", list(IMPOSTORS))
def test_an_impostor_named_jpg_gets_no_thumbnail(qapp, tmp_path: Path, case: str) -> None:
    path = tmp_path / "poster.jpg"
    IMPOSTORS[case](path)
    assert load_thumbnail(path, 32).isNull()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_real_images_get_a_scaled_thumbnail(qapp, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "poster.img"  # the name says nothing; the content decides
    _pillow(fmt)(path)
    thumbnail = load_thumbnail(path, 32)
    assert not thumbnail.isNull()
    assert (thumbnail.width(), thumbnail.height()) == (32, 24)
