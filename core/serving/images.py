"""Uploaded bytes -> a validated RGB array, or an `ApiError` that names what is wrong.

The format is sniffed from the magic bytes (only JPEG, PNG and WebP are accepted, so no
other Pillow parser ever sees a client's bytes), the pixel count is read from the header
and checked BEFORE decoding, and JPEGs decode in draft mode at about the model's size.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

import numpy as np
from PIL import Image

from core.data.decode import load_rgb
from core.serving.errors import ApiError

_ALLOWED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_OTHER_FORMATS = {
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"\x00\x00\x01\x00": "ICO",
    b"%PDF": "PDF",
    b"8BPS": "PSD",
}


def sniff_format(data: bytes) -> str:
    """'JPEG', 'PNG' or 'WEBP' from the first bytes; ApiError 415 for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if not data:
        raise ApiError(400, "empty_body", "The request has no image (the body is empty).")
    other = next((name for magic, name in _OTHER_FORMATS.items() if data.startswith(magic)), None)
    what = f"a {other} image" if other else "not a JPEG, PNG or WebP image"
    raise ApiError(415, "unsupported_media_type", f"The upload is {what}; send JPEG, PNG or WebP.")


def decode_upload(data: bytes, size: int, max_pixels: int) -> np.ndarray:
    """Validate and decode one uploaded image to a size x size x 3 uint8 array."""
    fmt = sniff_format(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as img:
                width, height = img.size
                if width < 1 or height < 1:
                    raise ApiError(422, "undecodable_image", "The image has no pixels.")
                if width * height > max_pixels:
                    raise ApiError(
                        413,
                        "too_many_pixels",
                        f"The image is {width}x{height} pixels, over this server's limit of "
                        f"{max_pixels:,} pixels; send a smaller image.",
                    )
                img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
                return load_rgb(img, size)
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        message = f"The image is too large to decode ({exc})."
        raise ApiError(413, "too_many_pixels", message) from None
    except Exception as exc:  # malformed files raise all sorts (OSError, ValueError, ...)
        reason = str(exc) or type(exc).__name__
        raise ApiError(
            422, "undecodable_image", f"The {fmt} image cannot be decoded ({reason})."
        ) from None


def decode_base64(text: object, max_bytes: int, what: str = "image") -> bytes:
    """Base64 (optionally a data: URL) -> bytes; ApiError 400 for anything else."""
    if not isinstance(text, str) or not text:
        raise ApiError(400, "bad_request", f"'{what}' must be a non-empty base64 string.")
    if text.startswith("data:") and "," in text[:200]:
        text = text.split(",", 1)[1]
    text = "".join(text.split())  # clients that wrap lines at 76 characters
    if len(text) * 3 // 4 > max_bytes:
        raise ApiError(413, "payload_too_large", f"The decoded '{what}' is over the size limit.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "bad_base64", f"'{what}' is not valid base64 ({exc}).") from None
