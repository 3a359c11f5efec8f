"""core.data.cache: hits, invalidation, torn writes, two processes at once, eviction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.data import cache as image_cache
from core.data import decode as image_decode
from core.data.cache import ImageCache
from core.data.cached import cached_embeddings
from core.data.decode import load_rgb

ROOT = Path(__file__).resolve().parents[2]
SIZE = 32


def write_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"img{i:03d}.png"
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def expected(paths: list[Path]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(load_rgb(p, SIZE)).permute(2, 0, 1) for p in paths])


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every image the cache decodes."""
    seen: list[str] = []

    def counting(path, size):
        seen.append(str(path))
        return load_rgb(path, size)

    monkeypatch.setattr(image_decode, "load_rgb", counting)
    return seen


def read_all(paths: list[Path], **kwargs) -> torch.Tensor:
    cache = ImageCache(**kwargs)
    try:
        return cache.images(paths, SIZE)[torch.arange(len(paths))]
    finally:
        cache.close()


def test_images_are_decoded_once_and_read_back_exactly(tmp_path, decodes) -> None:
    paths = write_images(tmp_path / "a", 12)
    first = read_all(paths)
    assert len(decodes) == 12
    assert torch.equal(first, expected(paths))
    decodes.clear()
    again = read_all(paths)  # a new instance: as after an app restart
    assert decodes == []
    assert torch.equal(again, first)
    reader = ImageCache().images(paths, SIZE)
    assert torch.equal(reader[torch.tensor([3, 0, 3])], first[[3, 0, 3]])
    assert len(reader) == 12


def test_a_changed_file_is_decoded_again_and_a_touched_one_is_not(tmp_path, decodes) -> None:
    paths = write_images(tmp_path / "a", 6)
    read_all(paths)
    decodes.clear()
    Image.fromarray(np.full((40, 48, 3), 200, dtype=np.uint8)).save(paths[2])
    stat = paths[4].stat()
    os.utime(paths[4], ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    images = read_all(paths)
    assert decodes == [str(paths[2])]  # [4] was hashed again, found unchanged
    assert torch.equal(images, expected(paths))
    assert int(images[2].float().mean()) == 200


def test_an_other_image_size_is_its_own_record(tmp_path, decodes) -> None:
    paths = write_images(tmp_path / "a", 3)
    read_all(paths)
    cache = ImageCache()
    assert cache.images(paths, 40)[torch.arange(3)].shape == (3, 3, 40, 40)
    assert len(decodes) == 6


def test_an_interrupted_write_is_never_read(tmp_path, decodes, monkeypatch) -> None:
    paths = write_images(tmp_path / "a", 8)
    real_add = image_cache._ShardWriter.add

    def dying_add(self, digest, array):
        if self.count == 5:
            raise KeyboardInterrupt  # the process dies with half a shard written
        real_add(self, digest, array)

    monkeypatch.setattr(image_cache._ShardWriter, "add", dying_add)
    with pytest.raises(KeyboardInterrupt):
        read_all(paths)
    monkeypatch.setattr(image_cache._ShardWriter, "add", real_add)
    cache = ImageCache()
    assert cache.info().records == 0
    assert not list(cache.shard_dir.iterdir())
    assert torch.equal(read_all(paths), expected(paths))


def test_a_truncated_or_damaged_shard_is_rebuilt(tmp_path, decodes) -> None:
    paths = write_images(tmp_path / "a", 6)
    read_all(paths)
    cache = ImageCache()
    (shard,) = list(cache.shard_dir.glob("*.rec"))
    with shard.open("r+b") as handle:  # a torn shard on a file system without atomic rename
        handle.truncate(shard.stat().st_size // 2)
    decodes.clear()
    assert torch.equal(read_all(paths), expected(paths))
    assert len(decodes) == 6
    (shard,) = list(cache.shard_dir.glob("*.rec"))
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF  # same length, one bad byte: only the checksum can tell
    shard.write_bytes(bytes(data))
    assert cache.verify() == [shard.name]
    assert torch.equal(read_all(paths), expected(paths))
    assert cache.verify() == []


def _child(code: str, home: Path, **env: str) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "MARQUEE_HOME": str(home), **env}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=environment)


_SLOW_WRITER = """
    import time
    from pathlib import Path
    from core.data import cache as image_cache
    from core.data import decode as image_decode
    real = image_decode.load_rgb
    def slow(path, size):
        time.sleep(0.05)
        return real(path, size)
    image_decode.load_rgb = slow
    paths = sorted(Path({folder!r}).glob("*.png"))
    image_cache.ImageCache().images(paths, {size})
    print("done", flush=True)
"""


def test_kill_9_mid_write_is_detected_and_rebuilt(tmp_path, marquee_home) -> None:
    paths = write_images(tmp_path / "a", 60)
    child = _child(_SLOW_WRITER.format(folder=str(tmp_path / "a"), size=SIZE), marquee_home)
    shard_dir = marquee_home / "cache" / "images" / "shards"
    deadline = time.monotonic() + 60
    while not list(shard_dir.glob("*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(shard_dir.glob("*.tmp")), "the writer never started"
    child.send_signal(signal.SIGKILL)
    child.wait()
    cache = ImageCache()  # sweeps the dead writer's temporary file
    assert not list(shard_dir.glob("*.tmp"))
    assert cache.info().records == 0
    assert torch.equal(read_all(paths), expected(paths))


def test_two_processes_filling_one_cache_at_once(tmp_path, marquee_home) -> None:
    paths = write_images(tmp_path / "a", 40)
    code = _SLOW_WRITER.format(folder=str(tmp_path / "a"), size=SIZE).replace("0.05", "0.002")
    children = [_child(code, marquee_home) for _ in range(2)]
    assert [c.wait(timeout=120) for c in children] == [0, 0]
    cache = ImageCache()
    assert cache.verify() == []
    assert cache.info().records == 40  # a record per content, whoever wrote it first
    assert torch.equal(read_all(paths), expected(paths))


def test_the_size_cap_evicts_the_least_recently_used(tmp_path, decodes) -> None:
    record = 3 * SIZE * SIZE
    old, new = write_images(tmp_path / "old", 10, 1), write_images(tmp_path / "new", 10, 2)
    cap = 15 * record  # room for one of the two sets
    read_all(old, max_bytes=cap)
    read_all(new, max_bytes=cap)
    info = ImageCache(max_bytes=cap).info()
    assert info.nbytes <= cap and info.records == 10
    decodes.clear()
    read_all(new, max_bytes=cap)
    assert decodes == []  # the recent set stayed
    assert torch.equal(read_all(old, max_bytes=cap), expected(old))
    assert sorted(decodes) == sorted(map(str, old))  # the old one was evicted


def test_clear_and_info(tmp_path) -> None:
    paths = write_images(tmp_path / "a", 5)
    read_all(paths)
    cache = ImageCache()
    info = cache.info()
    assert (info.records, info.files, info.nbytes) == (5, 5, 5 * 3 * SIZE * SIZE)
    assert cache.clear() == info.nbytes
    assert cache.info().records == 0 and not list(cache.shard_dir.iterdir())


def test_embeddings_are_computed_once(tmp_path) -> None:
    paths = write_images(tmp_path / "a", 7)
    calls: list[int] = []

    def embed(idx: torch.Tensor) -> torch.Tensor:
        calls.append(len(idx))
        return idx.float().unsqueeze(1).repeat(1, 4) * 0.5

    images = ImageCache().images(paths, SIZE)
    first = cached_embeddings(images, "emb-test", embed, batch_size=3)
    assert sum(calls) == 7
    calls.clear()
    second = cached_embeddings(ImageCache().images(paths, SIZE), "emb-test", embed, batch_size=3)
    assert calls == [] and torch.equal(first, second)
    assert torch.equal(second[:, 0], torch.arange(7).float() * 0.5)


def test_the_cli_reports_and_clears_the_cache(tmp_path, capsys) -> None:
    from core.cli.main import main

    read_all(write_images(tmp_path / "a", 4))
    assert main(["cache", "info", "--json"]) == 0
    assert '"records": 4' in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert ImageCache().info().records == 0
