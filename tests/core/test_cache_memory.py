"""Memory at scale: reading the image cache keeps none of it resident for long.

A mapped shard's pages that were read count in the process's resident memory; the CRC
check on first use reads every shard whole, so without handing those pages back a run held
the whole cache in RAM (about 77 KB per image at 160 px). Measured from /proc/self/smaps:
the resident part of the shard mappings once the reader is ready, while reading batches,
and after reading all records as one tensor; and with tracemalloc, what reading all
records allocates beside the result.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data import cache_integrity
from core.data.cache import ImageCache
from tests.core.test_image_cache import SIZE, write_images

SMAPS = Path("/proc/self/smaps")
pytestmark = pytest.mark.skipif(not SMAPS.exists(), reason="needs Linux's /proc/self/smaps")


def _resident_kb(folder: Path) -> int:
    """Resident kB of this process's mappings of files under `folder`."""
    total, inside = 0, False
    for line in SMAPS.read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
            inside = len(fields) >= 6 and fields[5].startswith(str(folder))
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


def test_checking_the_shards_leaves_none_of_them_resident(tmp_path: Path) -> None:
    paths = write_images(tmp_path / "images", 120)
    cache = ImageCache()
    try:
        cache.images(paths, SIZE)  # decodes and writes the shard
        cache_integrity.forget_checks()  # as a new process: the CRC check reads it all
        reader = cache.images(paths, SIZE)
        shards = cache.shard_dir
        size_kb = sum(p.stat().st_size for p in shards.glob("*.rec")) // 1024
        assert size_kb >= 300
        assert _resident_kb(shards) < size_kb // 10
        assert torch.equal(reader[np.arange(3)], cache.images(paths[:3], SIZE)[np.arange(3)])
    finally:
        cache.close()


def test_reading_every_record_at_once_keeps_one_copy(tmp_path: Path) -> None:
    paths = write_images(tmp_path / "images", 120)
    cache = ImageCache()
    try:
        reader = cache.images(paths, SIZE)
        everything = reader.all()
        assert everything.shape == (120, 3, SIZE, SIZE)
        assert _resident_kb(cache.shard_dir) < everything.numel() // 1024 // 10
    finally:
        cache.close()


def _filled(cache: ImageCache, family: str, shape: tuple[int, ...], dtype: type, count: int):
    """A reader over `count` records of `shape` written straight into one shard."""
    digests = [f"record-{i:05d}" for i in range(count)]
    value = np.random.default_rng(0).integers(0, 255, shape).astype(dtype)
    with cache.shard_writer(family, shape, dtype) as writer:
        for digest in digests:
            writer.add(digest, value)
    reader = cache.records(digests, family)
    assert reader is not None
    return reader


def test_reading_batches_keeps_a_few_megabytes_of_the_shards_resident(tmp_path: Path) -> None:
    cache = ImageCache()
    try:  # 40 MB of 160 px images, read in batches of 64 as an epoch reads them
        reader = _filled(cache, "rgb-test", (3, 160, 160), np.uint8, 520)
        highest = 0
        for start in range(0, len(reader), 64):
            reader[np.arange(start, min(start + 64, len(reader)))]
            highest = max(highest, _resident_kb(cache.shard_dir))
        # handed back every 16 MB read, plus the batch that crossed the mark
        assert highest < 24 * 1024
    finally:
        cache.close()


def test_reading_every_record_at_once_allocates_no_chunk_beside_it(tmp_path: Path) -> None:
    cache = ImageCache()
    try:  # 33 MB of embeddings (1,392 floats each, as the CPU recipe's)
        reader = _filled(cache, "emb-test", (1392,), np.float32, 6000)
        tracemalloc.start()
        try:
            everything = reader.all()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert everything.shape == (6000, 1392)
        assert torch.equal(everything[-1], reader[[0]][0])
        beside = peak - everything.numel() * 4  # what was allocated besides the result
        assert beside < everything.numel() * 4 // 4
    finally:
        cache.close()
