"""A damaged image cache is repaired, never trained on and never a crash.

Shards are checked against their CRC-32 the first time a process maps them; a damaged
one (flipped bytes, zeros, NaN or huge floats in embeddings) is dropped with one warning
line and rebuilt. A damaged SQLite index (garbage header, damaged pages, slots that
point past a shard) is detected (`PRAGMA quick_check`), rebuilt, and the run carries on.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data import cache_integrity
from core.data import decode as image_decode
from core.data.cache import ImageCache
from core.data.cache_files import cache_root
from core.data.cached import cached_embeddings, load_split_images
from tests.core.test_image_cache import SIZE, expected, read_all, write_images

N = 6


@pytest.fixture
def warnings_logged(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.WARNING, logger="marquee.cache")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "marquee.cache"]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every image the cache decodes."""
    seen: list[str] = []
    real = image_decode.load_rgb

    def counting(path: Path, size: int) -> np.ndarray:
        seen.append(str(path))
        return real(path, size)

    monkeypatch.setattr(image_decode, "load_rgb", counting)
    return seen


def _next_run() -> None:
    """What a new process would see: nothing checked yet."""
    cache_integrity.forget_checks()


def _shard(family_prefix: str = "rgb") -> Path:
    (shard,) = (cache_root() / "shards").glob(f"{family_prefix}*.rec")
    return shard


def _flip(data: bytearray) -> None:
    for at in range(0, len(data), max(1, len(data) // 20)):  # 5% of the bytes
        data[at] ^= 0xA5


def _zeros(data: bytearray) -> None:
    data[:] = bytes(len(data))


@pytest.mark.parametrize("damage", [_flip, _zeros], ids=["flipped", "zero-filled"])
def test_a_damaged_image_shard_is_dropped_and_rebuilt(
    tmp_path: Path, decodes: list[str], warnings_logged, damage
) -> None:
    paths = write_images(tmp_path / "a", N)
    read_all(paths)
    shard = _shard()
    data = bytearray(shard.read_bytes())
    damage(data)
    shard.write_bytes(bytes(data))
    _next_run()
    decodes.clear()
    assert torch.equal(read_all(paths), expected(paths))
    assert len(decodes) == N  # decoded again, not read from the damaged shard
    assert len(warnings_logged()) == 1 and "damaged" in warnings_logged()[0]


def _embed(idx: torch.Tensor) -> torch.Tensor:
    return idx.float().unsqueeze(1).repeat(1, 4) * 0.5 + 1.0


def _floats(value: float) -> Callable[[bytearray], None]:
    def write(data: bytearray) -> None:
        data[: 4 * 4] = struct.pack("<4f", *[value] * 4)

    return write


@pytest.mark.parametrize(
    "damage", [_floats(float("nan")), _floats(3e38), _flip], ids=["nan", "3e38", "flipped"]
)
def test_a_damaged_embedding_shard_is_recomputed(tmp_path: Path, warnings_logged, damage) -> None:
    paths = write_images(tmp_path / "a", N)
    images = ImageCache().images(paths, SIZE)
    first = cached_embeddings(images, "emb-test", _embed, batch_size=4)
    shard = _shard("emb")
    data = bytearray(shard.read_bytes())
    damage(data)
    shard.write_bytes(bytes(data))
    _next_run()
    again = cached_embeddings(ImageCache().images(paths, SIZE), "emb-test", _embed, batch_size=4)
    assert torch.equal(again, first) and bool(torch.isfinite(again).all())
    assert len(warnings_logged()) == 1


def _garbage_header(index: Path) -> None:
    data = bytearray(index.read_bytes())
    data[:100] = b"\x5a" * 100
    index.write_bytes(bytes(data))


def _damaged_pages(index: Path) -> None:
    data = bytearray(index.read_bytes())
    page = 4096
    for start in range(page, len(data), page):  # every page but the header's
        data[start + 8 : start + page] = np.random.default_rng(start).bytes(page - 8)
    index.write_bytes(bytes(data))


def _index(root: Path) -> Path:
    """The index file, with everything in it (no write-ahead log beside it)."""
    db = sqlite3.connect(root / "index.sqlite")
    db.execute("PRAGMA journal_mode = DELETE")
    db.close()
    return root / "index.sqlite"


@pytest.mark.parametrize("damage", [_garbage_header, _damaged_pages], ids=["header", "pages"])
def test_a_damaged_index_is_rebuilt_and_the_run_carries_on(
    tmp_path: Path, decodes: list[str], warnings_logged, damage
) -> None:
    paths = write_images(tmp_path / "a", 40)
    read_all(paths)
    damage(_index(cache_root()))
    _next_run()
    decodes.clear()
    assert torch.equal(read_all(paths), expected(paths))
    assert len(decodes) == 40
    assert len(warnings_logged()) == 1 and "index" in warnings_logged()[0]


def test_slots_past_the_end_of_a_shard_are_rebuilt(
    tmp_path: Path, decodes: list[str], warnings_logged
) -> None:
    paths = write_images(tmp_path / "a", N)
    read_all(paths)
    db = sqlite3.connect(cache_root() / "index.sqlite")
    db.execute("UPDATE records SET slot = slot + 1000")  # shuffled record slots
    db.commit()
    db.close()
    decodes.clear()
    assert torch.equal(read_all(paths), expected(paths))
    assert len(decodes) == N and len(warnings_logged()) == 1


def test_shuffled_record_slots_are_never_trained_on(
    tmp_path: Path, decodes: list[str], warnings_logged
) -> None:
    paths = write_images(tmp_path / "a", N)
    read_all(paths)
    db = sqlite3.connect(cache_root() / "index.sqlite")
    rows = db.execute("SELECT digest, slot FROM records ORDER BY slot").fetchall()
    turned = [
        (slot, digest) for (digest, _), (_, slot) in zip(rows, rows[1:] + rows[:1], strict=True)
    ]
    db.executemany("UPDATE records SET slot = ? WHERE digest = ?", turned)  # valid, wrong
    db.commit()
    db.close()
    _next_run()
    decodes.clear()
    assert torch.equal(read_all(paths), expected(paths))
    assert len(decodes) == N and len(warnings_logged()) == 1
    _next_run()
    decodes.clear()
    assert torch.equal(read_all(paths), expected(paths)) and not decodes  # rebuilt for good


@pytest.mark.parametrize("action", ["info", "clear"])
@pytest.mark.parametrize("blocked", ["index.sqlite", "shards"])
def test_cache_commands_on_an_unusable_cache_folder_say_so_in_one_line(
    capsys: pytest.CaptureFixture[str], action: str, blocked: str
) -> None:
    from core.cli.main import main

    root = cache_root()
    root.mkdir(parents=True)
    if blocked == "index.sqlite":
        (root / blocked).mkdir()  # a folder where the index should be
    else:
        (root / blocked).write_text("not a folder")
    assert main(["cache", action]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("marquee: error: The image cache at") and "only a cache" in err
    assert len(err.splitlines()) == 1


def test_cache_info_on_a_damaged_index_warns_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli.main import main

    read_all(write_images(tmp_path / "a", 4))
    _garbage_header(_index(cache_root()))
    _next_run()
    assert main(["cache", "info", "--json"]) == 0
    captured = capsys.readouterr()
    assert '"records": 0' in captured.out
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("marquee: warning: the image cache index")


def test_falling_back_to_ram_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warnings_logged
) -> None:
    def unusable(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr("core.data.cached.ImageCache", unusable)
    paths = write_images(tmp_path / "a", 3)
    images = load_split_images(paths, SIZE)
    assert isinstance(images, torch.Tensor) and images.shape == (3, 3, SIZE, SIZE)
    assert any("decoding into memory" in line for line in warnings_logged())
