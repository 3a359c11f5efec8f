"""Uploaded bytes -> a validated RGB array, or an `ApiError` that names what is wrong.

The format is sniffed from the magic bytes (only JPEG, PNG and WebP are accepted, so no
other Pillow parser ever sees a client's bytes); `open_image` checks the pixel count from
the header BEFORE decoding; JPEGs decode in draft mode at about the model's size; a
truncated image is refused, never predicted on grey pixels.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from core.base.errors import ImageDecodeError, ImageTooLarge
from core.data.decode import load_rgb
from core.data.image_open import describe_format, open_image
from core.data.image_open import sniff_format as _sniff
from core.serving.errors import ApiError


def sniff_format(data: bytes) -> str:
    """'JPEG', 'PNG' or 'WEBP' from the first bytes; ApiError 415 for anything else."""
    fmt = _sniff(data[:16])
    if fmt is not None:
        return fmt
    if not data:
        raise ApiError(400, "empty_body", "The request has no image (the body is empty).")
    what = describe_format(data[:16])
    raise ApiError(415, "unsupported_media_type", f"The upload is {what}; send JPEG, PNG or WebP.")


def decode_upload(data: bytes, size: int, max_pixels: int) -> np.ndarray:
    """Validate and decode one uploaded image to a size x size x 3 uint8 array."""
    fmt = sniff_format(data)
    try:
        with open_image(data, max_pixels) as img:
            img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
            img.load()  # the whole image: a truncated upload is refused, not predicted on
            return load_rgb(img, size)
    except ImageTooLarge as exc:
        message = f"The image is {exc.reason}; send a smaller image."
        raise ApiError(413, "too_many_pixels", message) from None
    except ImageDecodeError as exc:
        message = f"The {fmt} image cannot be decoded ({exc.reason})."
        raise ApiError(422, "undecodable_image", message) from None
    except (OSError, ValueError) as exc:  # resizing a malformed image
        reason = str(exc) or type(exc).__name__
        message = f"The {fmt} image cannot be decoded ({reason})."
        raise ApiError(422, "undecodable_image", message) from None


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
