"""Memory at scale: reading the image cache keeps none of it resident for long.

A mapped shard's pages that were read count in the process's resident memory; the CRC
check on first use reads every shard whole, so without handing those pages back a run held
the whole cache in RAM (about 77 KB per image at 160 px). Measured from /proc/self/smaps:
the resident part of the shard mappings once the reader is ready, and after reading all
records as one tensor.
"""

from __future__ import annotations

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
