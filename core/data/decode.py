"""Image decoding: one image to a square uint8 array, many in threads, and an in-RAM fallback.

Files are opened by `core.data.image_open.open_image` (only JPEG, PNG and WebP, sized
from the header, never truncated); this module re-exports it with `read_rgb`.
Images are decoded once, resized to a square `size` (JPEGs in draft mode near that size)
and then read from the on-disk image cache (core.data.cache); `DecodedImageCache` keeps
decoded sets in RAM only where that cache is switched off or not writable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from core.base.errors import Cancelled
from core.base.runtime import decode_threads
from core.data.image_open import decoded, open_image, read_rgb, upright

if TYPE_CHECKING:  # torch loads only where tensors are made: prediction on ONNX needs none
    import torch

__all__ = [
    "DecodedImageCache",
    "ImageSource",
    "Progress",
    "decode_images",
    "load_rgb",
    "open_image",
    "read_rgb",
]

ImageSource = str | Path | Image.Image
Progress = Callable[[int, int], None]


def load_rgb(source: ImageSource, size: int) -> np.ndarray:
    """Decode (or take) one image, turn it upright (its EXIF orientation) and resize it to
    size x size RGB, as a HWC uint8 array."""
    if isinstance(source, Image.Image):
        return _resize(upright(source), size)
    with open_image(source) as img:
        img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when large
        return _resize(upright(decoded(img, str(source))), size)


def _resize(img: Image.Image, size: int) -> np.ndarray:
    img = img.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.array(img, dtype=np.uint8)  # a writable copy: torch.from_numpy needs one


def decode_images(
    sources: Sequence[ImageSource],
    size: int,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """Decode images in parallel threads (PIL releases the GIL) into an NCHW uint8 tensor."""
    import torch

    out = torch.empty((len(sources), 3, size, size), dtype=torch.uint8)
    with ThreadPoolExecutor(max_workers=decode_threads()) as pool:
        chunk = 64
        for start in range(0, len(sources), chunk):
            if should_stop is not None and should_stop():
                raise Cancelled("Stopped while decoding images.")
            part = sources[start : start + chunk]
            for offset, array in enumerate(pool.map(lambda s: load_rgb(s, size), part)):
                out[start + offset] = torch.from_numpy(array).permute(2, 0, 1)
            if progress is not None:
                progress(min(start + chunk, len(sources)), len(sources))
    return out


class DecodedImageCache:
    """Keeps the last few decoded sets (first in, first out), so re-training skips decoding."""

    def __init__(self, max_entries: int = 2) -> None:
        self._entries: dict[tuple, torch.Tensor] = {}
        self._max_entries = max_entries

    def get(self, paths: Sequence[Path], size: int, **kwargs) -> torch.Tensor:
        key = (tuple(str(p) for p in paths), size, tuple(_mtimes(paths)))
        if key not in self._entries:
            while len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = decode_images(list(paths), size, **kwargs)
        return self._entries[key]

    def clear(self) -> None:
        self._entries.clear()


def _mtimes(paths: Sequence[Path]) -> list[int]:
    return [os.stat(p).st_mtime_ns if os.path.exists(p) else 0 for p in paths]


decoded_cache = DecodedImageCache()
