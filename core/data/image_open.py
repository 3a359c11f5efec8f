"""Opening image files safely: only JPEG, PNG and WebP, sized from the header, never truncated.

Every image Marquee reads is opened by `open_image` (decode, the data-set check, the
server, explanations): only those three Pillow plugins ever parse a file, whatever its
name (so never Ghostscript, PDF or TIFF code on a stranger's file); the pixel count is
checked from the header before any decoding, without touching the warning filters; and a
JPEG without the data its header promises is refused instead of decoding to grey.
No torch here: the data-set check imports it.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from PIL import (
    ExifTags,
    Image,
    ImageFile,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from core.base.errors import ImageDecodeError, ImageTooLarge, UnsupportedImage
from core.data.image_format import describe_format, sniff_format

__all__ = ["describe_format", "open_image", "sniff_format"]

# Bumped when the pixels a file decodes to change (2: EXIF orientation applied), so cached
# pixels and embeddings of the old kind are never read back as the new.
DECODE_REVISION = 2
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own default for Image.MAX_IMAGE_PIXELS
_SNIFF_BYTES = 16

# A truncated file must fail, never decode to grey pixels; nothing in Marquee sets this.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# The plugin that parses each format. Opening through it directly (Image.open with
# formats=[one] minus its pixel check) means no other plugin ever sees the bytes, and the
# pixel limit is ours, from the header: Pillow's own check warns through the warning
# filters, which no decode thread may touch (`catch_warnings()` is not thread-safe).
_PLUGINS: dict[str, Callable[[BinaryIO], ImageFile.ImageFile]] = {
    "JPEG": JpegImagePlugin.JpegImageFile,
    "PNG": PngImagePlugin.PngImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}
SUPPORTED_FORMATS = tuple(_PLUGINS)  # docs/datasets.md's .jpg/.jpeg/.png/.webp


def max_image_pixels() -> int:
    """The pixel limit every decode applies (Pillow's, unless switched off there)."""
    return Image.MAX_IMAGE_PIXELS or DEFAULT_MAX_PIXELS


@contextmanager
def open_image(source: str | Path | bytes, max_pixels: int | None = None) -> Iterator[Image.Image]:
    """Open a JPEG, PNG or WebP image, its size checked from the header; nothing decoded yet.

    Raises UnsupportedImage for any other format (whatever the file's suffix),
    ImageTooLarge for more than `max_pixels` pixels and ImageDecodeError otherwise.
    """
    name = "the image" if isinstance(source, bytes) else str(source)
    limit = max_pixels or max_image_pixels()
    try:
        with _binary(source) as handle:
            head = handle.read(_SNIFF_BYTES)
            fmt = sniff_format(head)
            if fmt is None:
                raise UnsupportedImage(
                    name, f"it is {describe_format(head)}; use JPEG, PNG or WebP"
                )
            handle.seek(0)
            with _PLUGINS[fmt](handle) as img:
                _check_pixels(name, img.size, limit)
                if fmt == "JPEG":
                    _check_jpeg_data(name, handle, img.size)
                yield img
    except ImageDecodeError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # SyntaxError: some malformed headers
        raise ImageDecodeError(name, str(exc) or type(exc).__name__) from exc


@contextmanager
def _binary(source: str | Path | bytes) -> Iterator[BinaryIO]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    else:
        with open(source, "rb") as handle:
            yield handle


def _check_pixels(name: str, size: tuple[int, int], limit: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageDecodeError(name, "the image has no pixels")
    if width * height > limit:
        raise ImageTooLarge(name, f"{width}x{height} pixels, over the {limit:,}-pixel safety limit")


# Markers that start a frame coded with Huffman tables (arithmetic coding is exempt below).
_HUFFMAN_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7}


def _check_jpeg_data(name: str, handle: BinaryIO, size: tuple[int, int]) -> None:
    """Refuse a JPEG whose compressed data is far too short for its claimed size.

    libjpeg pads a scan that ends early with grey and only warns, so such a file would
    "decode". Huffman coding spends at least one bit per 8x8 block in every scan; a file
    with less than half of that after its first scan header cannot hold the image.
    """
    frame, data_start = _jpeg_layout(handle)
    if frame not in _HUFFMAN_FRAMES or data_start is None:
        return  # arithmetic-coded, or no scan at all (Pillow's decoder refuses that itself)
    blocks = -(-size[0] // 8) * -(-size[1] // 8)
    available = handle.seek(0, io.SEEK_END)
    if (available - data_start) * 16 < blocks:
        raise ImageDecodeError(name, "the image data is missing or truncated")


def _jpeg_layout(handle: BinaryIO) -> tuple[int | None, int | None]:
    """(the frame marker, where the first scan's data starts) from the JPEG's segments."""
    handle.seek(2)
    frame = None
    while True:
        head = handle.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return frame, None
        marker, length = head[1], int.from_bytes(head[2:4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            frame = marker
        handle.seek(length - 2, io.SEEK_CUR)
        if marker == 0xDA:
            return frame, handle.tell()


def decoded(img: Image.Image, name: str) -> Image.Image:
    """`img` after a complete decode; a truncated or damaged file raises ImageDecodeError."""
    try:
        img.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageDecodeError(name, str(exc) or type(exc).__name__) from exc
    return img


def upright(img: Image.Image) -> Image.Image:
    """`img` turned the way its EXIF Orientation tag says it is shown (phones store photos
    sideways and set the tag); `img` itself when it has no such tag."""
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except (OSError, ValueError, SyntaxError, struct.error):
        return img  # a damaged EXIF block is ignored, as image viewers ignore it
    if orientation not in range(2, 9):
        return img
    return ImageOps.exif_transpose(img)


def read_rgb(source: str | Path | bytes) -> Image.Image:
    """The whole image, fully decoded and upright, as RGB (for explanations at full size)."""
    with open_image(source) as img:
        return upright(decoded(img, str(source))).convert("RGB")
