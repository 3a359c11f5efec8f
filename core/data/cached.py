"""What training reads through the image cache: decoded splits and frozen-backbone embeddings.

Both fall back to RAM when the cache is switched off or cannot be opened, so a read-only
home folder slows a run down but never stops it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from core.base.digest import weights_digest
from core.data.cache import SHARD_BYTES, ImageCache
from core.data.cache_files import cache_enabled
from core.data.cache_integrity import log
from core.data.cache_shards import CachedRecords
from core.data.decode import Progress
from core.data.image_open import DECODE_REVISION


def load_split_images(
    paths: Sequence[Path],
    size: int,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> CachedRecords | torch.Tensor:
    """A split's images at `size`: a memory-mapped reader from the cache, or (cache off or
    not writable) one in-RAM tensor as before. Both answer `images[idx]` with a uint8 batch."""
    if cache_enabled():
        try:
            cache = ImageCache()
        except (OSError, sqlite3.Error) as exc:
            log.warning("the image cache cannot be used (%s); decoding into memory instead", exc)
            cache = None
        if cache is not None:
            try:
                return cache.images(paths, size, progress=progress, should_stop=should_stop)
            finally:
                cache.close()
    from core.data.decode import decoded_cache

    return decoded_cache.get(paths, size, progress=progress, should_stop=should_stop)


def embedding_family(backbone: torch.nn.Module, *details: object) -> str:
    """Names the embeddings of this exact backbone (its weights' digest) under `details`
    (image size, normalisation, device, precision): change any and the family changes."""
    identity = (
        type(backbone).__name__,
        torch.__version__,
        DECODE_REVISION,
        *details,
        weights_digest(backbone),
    )
    return f"emb-{hashlib.blake2b(repr(identity).encode(), digest_size=12).hexdigest()}"


def cached_embeddings(
    images: CachedRecords | torch.Tensor,
    family: str,
    embed: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Embeddings of every image, on the CPU: read from the cache where it has them; the rest
    computed with `embed(indices)` in batches and stored for the next run."""
    if not isinstance(images, CachedRecords) or not cache_enabled():
        return _embed_all(torch.arange(len(images)), embed, batch_size, progress)
    cache = ImageCache()
    try:
        for _attempt in range(2):  # a damaged shard is dropped by `records`: fill it again
            todo = cache.missing(images.digests, family)
            unique = list({images.digests[i]: i for i in reversed(todo)}.values())[::-1]
            if unique:
                computed = _embed_all(torch.tensor(unique), embed, batch_size, progress)
                _store(cache, family, [images.digests[i] for i in unique], computed)
                del computed  # read back below: never two copies of every embedding at once
            reader = cache.records(images.digests, family)
            if reader is not None:
                return reader.all()
    finally:
        cache.close()
    return _embed_all(torch.arange(len(images)), embed, batch_size, progress)  # evicted meanwhile


def _embed_all(
    indices: torch.Tensor,
    embed: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int,
    progress: Progress | None,
) -> torch.Tensor:
    """Embeddings of `indices`, written into one tensor as they come (no list of chunks
    and a concatenated copy: at 20,000 images that doubled the peak)."""
    out: torch.Tensor | None = None
    done = 0
    for idx in indices.split(batch_size):
        part = embed(idx).float().cpu()
        if out is None:
            out = torch.empty((len(indices), *part.shape[1:]), dtype=part.dtype)
        out[done : done + len(idx)] = part
        done += len(idx)
        if progress is not None:
            progress(done, len(indices))
    return out if out is not None else torch.empty((0,))


def _store(cache: ImageCache, family: str, digests: list[str], values: torch.Tensor) -> None:
    shape = tuple(values.shape[1:])
    per_shard = max(1, SHARD_BYTES // max(1, values[0].numel() * 4))
    array = values.numpy()
    for start in range(0, len(digests), per_shard):
        with cache.shard_writer(family, shape, np.float32) as writer:
            for k in range(start, min(start + per_shard, len(digests))):
                writer.add(digests[k], array[k])
