"""Image decoding: one image to a square uint8 array, many in threads, and an in-RAM fallback.

Files are opened by `core.data.image_open.open_image` (only JPEG, PNG and WebP, sized
from the header, never truncated); this module re-exports it with `read_rgb`.
Images are decoded once, resized to a square `size` (JPEGs in draft mode near that size)
and then read from the on-disk image cache (core.data.cache); `DecodedImageCache` keeps
decoded sets in RAM only where that cache is switched off or not writable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from core.base.errors import Cancelled, ImageDecodeError
from core.base.runtime import decode_threads
from core.data.image_open import decoded, open_image, read_rgb, upright

if TYPE_CHECKING:  # torch loads only where tensors are made: prediction on ONNX needs none
    import torch

__all__ = [
    "DecodedImageCache",
    "ImageSource",
    "Progress",
    "decode_images",
    "decode_many",
    "decoded_chunks",
    "load_rgb",
    "open_image",
    "read_rgb",
    "readable",
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


def decoded_chunks(
    sources: Sequence[ImageSource],
    size: int,
    should_stop: Callable[[], bool] | None = None,
    chunk: int = 64,
) -> Iterator[list[np.ndarray | ImageDecodeError]]:
    """The one threaded decoder: `load_rgb` of every source in parallel threads (Pillow
    releases the GIL), `chunk` at a time and in order, an ImageDecodeError in place of
    each image that cannot be read. A stop raises `Cancelled` before the next chunk."""
    if len(sources) < 2:  # one image (a server request): no pool to start
        _check_stop(should_stop)
        yield [_decode_or_error(s, size) for s in sources]
        return
    with ThreadPoolExecutor(max_workers=min(decode_threads(), len(sources))) as pool:
        for start in range(0, len(sources), chunk):
            _check_stop(should_stop)
            part = sources[start : start + chunk]
            yield list(pool.map(lambda s: _decode_or_error(s, size), part))


def decode_many(sources: Sequence[ImageSource], size: int) -> list[np.ndarray | ImageDecodeError]:
    """Every source decoded (threads), an ImageDecodeError in place of each unreadable one."""
    return [item for part in decoded_chunks(sources, size) for item in part]


def readable(items: list[np.ndarray | ImageDecodeError]) -> list[np.ndarray]:
    """The decoded arrays; the first image that could not be read raises its error."""
    for item in items:
        if isinstance(item, ImageDecodeError):
            raise item
    return items  # type: ignore[return-value]  # no error left in it


def decode_images(
    sources: Sequence[ImageSource],
    size: int,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """Decode images in parallel threads into an NCHW uint8 tensor (ImageDecodeError for
    the first that cannot be read)."""
    import torch

    out = torch.empty((len(sources), 3, size, size), dtype=torch.uint8)
    done = 0
    for part in decoded_chunks(sources, size, should_stop):
        for array in readable(part):
            out[done] = torch.from_numpy(array).permute(2, 0, 1)
            done += 1
        if progress is not None:
            progress(done, len(sources))
    return out


def _decode_or_error(source: ImageSource, size: int) -> np.ndarray | ImageDecodeError:
    try:
        return load_rgb(source, size)
    except ImageDecodeError as exc:
        return exc


def _check_stop(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("Stopped while decoding images.")


class DecodedImageCache:
    """Keeps the last few decoded sets (first in, first out), so re-training skips decoding."""

    def __init__(self, max_entries: int = 2) -> None:
        self._entries: dict[tuple, torch.Tensor] = {}
        self._max_entries = max_entries

    def get(
        self,
        paths: Sequence[Path],
        size: int,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> torch.Tensor:
        key = (tuple(str(p) for p in paths), size, tuple(_mtimes(paths)))
        if key not in self._entries:
            while len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = decode_images(list(paths), size, progress, should_stop)
        return self._entries[key]

    def clear(self) -> None:
        self._entries.clear()


def _mtimes(paths: Sequence[Path]) -> list[int]:
    return [os.stat(p).st_mtime_ns if os.path.exists(p) else 0 for p in paths]


decoded_cache = DecodedImageCache()
