"""Image decoding, the decoded-image cache, normalisation and batch augmentation.

Images are decoded once, resized to a square `size`, and kept as one uint8 tensor, so an
epoch never touches JPEG decoding; normalisation and augmentation run on whole batches
on the training device.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.errors import Cancelled, ImageDecodeError

ImageSource = str | Path | Image.Image
Progress = Callable[[int, int], None]


def load_rgb(source: ImageSource, size: int) -> np.ndarray:
    """Decode (or take) one image and resize it to size x size RGB, as a HWC uint8 array."""
    if isinstance(source, Image.Image):
        return _resize(source, size)
    try:
        # Pillow only warns (on stderr) between one and two times its pixel limit; such
        # an image is refused here as it is when a data set is checked.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when large
                return _resize(img, size)
    except (
        OSError,
        ValueError,
        SyntaxError,  # some Pillow plugins raise it for malformed headers
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ImageDecodeError(str(source), str(exc) or type(exc).__name__) from exc


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
    out = torch.empty((len(sources), 3, size, size), dtype=torch.uint8)
    workers = min(8, (os.cpu_count() or 2) + 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
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


def normalize(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 NCHW -> float, scaled to [0, 1] then standardised per channel."""
    x = batch.float().div_(255.0)
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return x.sub_(m).div_(s)


def augment(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image horizontal flips, small random shifts/zooms and brightness/contrast jitter.

    Works on a float batch on any device; cheap next to a backbone forward pass.
    """
    n = batch.shape[0]
    dev = batch.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    flip = rand(n) < 0.5
    batch = torch.where(flip.view(n, 1, 1, 1), batch.flip(-1), batch)
    scale = 1.0 - 0.2 * rand(n)  # zoom in by up to 20%
    shift = (rand(n, 2) - 0.5) * 2 * (1 - scale).unsqueeze(1)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = torch.nn.functional.affine_grid(theta, list(batch.shape), align_corners=False)
    batch = torch.nn.functional.grid_sample(
        batch, grid, align_corners=False, padding_mode="reflection"
    )
    brightness = (rand(n) - 0.5).mul(0.4).view(n, 1, 1, 1)
    contrast = (1 + (rand(n) - 0.5) * 0.4).view(n, 1, 1, 1)
    mean = batch.mean(dim=(1, 2, 3), keepdim=True)
    return (batch - mean) * contrast + mean + brightness
