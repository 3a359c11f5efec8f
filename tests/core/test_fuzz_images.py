"""Images that are not what their names say: only JPEG, PNG and WebP are ever parsed.

An EPS, a PDF or a TIFF named `.jpg` is refused with one line wherever Marquee opens
images (predict, the data-set check, the server), and Pillow's PostScript plugin (the one
that starts Ghostscript) is never even asked. The pixel limit is read from the header,
without touching the warning filters (not thread-safe in decode threads), and a truncated
image is an error, never a prediction on grey pixels.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from core.base.errors import ImageDecodeError, ImageTooLarge, UnsupportedImage
from core.data.decode import decode_images, load_rgb, read_rgb
from core.data.image_check import check_image, check_images
from tests.core.test_fuzz_inputs import assert_user_error, run_cli, tiny_image

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nnewpath 0 0 moveto showpage\n%%EOF\n"


def _tiff(path: Path) -> None:
    Image.new("RGB", (16, 16), (10, 200, 10)).save(path, format="TIFF")


def _pdf(path: Path) -> None:
    Image.new("RGB", (16, 16), (10, 10, 200)).save(path, format="PDF")


IMPOSTORS: dict[str, tuple[Callable[[Path], None], str]] = {
    "eps": (lambda p: p.write_bytes(EPS), "PostScript"),
    "pdf": (_pdf, "PDF"),
    "tiff": (_tiff, "TIFF"),
}


@pytest.fixture
def no_postscript(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every call into Pillow's EPS plugin (its load runs Ghostscript)."""
    calls: list[str] = []

    def record(*_args: object, **_kwargs: object) -> None:
        calls.append("EpsImagePlugin")
        raise OSError("the EPS plugin was asked")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", record)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", record)
    return calls


def _impostor(tmp_path: Path, case: str) -> tuple[Path, str]:
    make, what = IMPOSTORS[case]
    path = tmp_path / "poster.jpg"
    make(path)
    return path, what


@pytest.mark.parametrize("case", list(IMPOSTORS))
def test_an_impostor_named_jpg_is_refused_by_every_reader(
    tmp_path: Path, no_postscript: list[str], case: str
) -> None:
    path, what = _impostor(tmp_path, case)
    for read in (lambda: load_rgb(path, 32), lambda: read_rgb(path)):
        with pytest.raises(UnsupportedImage, match=what):
            read()
    with pytest.raises(UnsupportedImage):
        decode_images([path], 32)
    assert what in (check_image(path) or "")
    assert no_postscript == []


@pytest.mark.parametrize("case", list(IMPOSTORS))
def test_predict_refuses_an_impostor_in_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model_path: Path,
    no_postscript: list[str],
    case: str,
) -> None:
    path, what = _impostor(tmp_path, case)
    code, _, err = run_cli(capsys, "predict", model_path, path, "--quiet")
    assert_user_error(code, err)
    assert what in err and "poster.jpg" in err
    assert no_postscript == []


def test_the_server_refuses_an_eps_upload_unparsed(no_postscript: list[str]) -> None:
    from core.serving.errors import ApiError
    from core.serving.images import decode_upload

    with pytest.raises(ApiError) as caught:
        decode_upload(EPS, 32, 10_000_000)
    assert caught.value.status == 415 and "PostScript" in caught.value.message
    assert no_postscript == []


# ------------------------------------------------------------------ pixel limit, truncation
def _png_header(width: int, height: int) -> bytes:
    """A PNG with only a header that claims width x height pixels."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_the_pixel_limit_never_touches_the_warning_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1.2 times Pillow's limit: Pillow itself only warns. The check must come from the header.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(10_000, 10_750))

    class NoFilters:
        """What the decode modules see as `warnings`: catch_warnings() fails the test."""

        def __getattr__(self, name: str) -> object:
            if name == "catch_warnings":
                raise AssertionError("catch_warnings() is not thread-safe in decode threads")
            return getattr(warnings, name)

    modules = ("decode", "image_open", "image_check")
    for module in [*(f"core.data.{m}" for m in modules), "core.serving.images"]:
        monkeypatch.setattr(f"{module}.warnings", NoFilters(), raising=False)
    with pytest.raises(ImageTooLarge, match="safety limit"):
        load_rgb(bomb, 32)
    with pytest.raises(ImageTooLarge):
        decode_images([bomb], 32)
    assert "decompression bomb" in check_images([bomb])[bomb]


def _jpeg_without_data(width: int = 6000, height: int = 6000) -> bytes:
    """A real JPEG header (tables, frame, scan) claiming width x height, then no scan data."""
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="JPEG")
    data = buffer.getvalue()
    sof = data.index(b"\xff\xc0")
    data = data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]
    sos = data.index(b"\xff\xda")
    return data[: sos + 2 + struct.unpack(">H", data[sos + 2 : sos + 4])[0]]


@pytest.mark.parametrize("ending", [b"", b"\xff\xd9", b"\x00" * 64 + b"\xff\xd9"])
def test_a_jpeg_header_without_image_data_is_never_decoded_to_grey(
    tmp_path: Path, ending: bytes
) -> None:
    from core.serving.errors import ApiError
    from core.serving.images import decode_upload

    path = tmp_path / "empty-scan.jpg"
    path.write_bytes(_jpeg_without_data() + ending)
    with pytest.raises(ImageDecodeError):
        load_rgb(path, 64)
    assert check_image(path) is not None
    with pytest.raises(ApiError) as caught:
        decode_upload(path.read_bytes(), 64, 100_000_000)
    assert caught.value.status == 422


def test_good_images_still_decode(tmp_path: Path) -> None:
    for suffix in (".jpg", ".png", ".webp"):
        path = tiny_image(tmp_path / f"good{suffix}")
        assert load_rgb(path, 8).shape == (8, 8, 3)
        assert check_image(path) is None
        assert read_rgb(path).size == (16, 16)
    # The smallest honest JPEGs: flat, quality 1, optimised tables, progressive or not.
    for progressive in (False, True):
        path = tmp_path / f"flat-{progressive}.jpg"
        flat = Image.new("RGB", (1024, 768), (128, 128, 128))
        flat.save(path, quality=1, optimize=True, progressive=progressive)
        assert load_rgb(path, 8).shape == (8, 8, 3)
