"""Damage checks of the image cache: its SQLite index once per process, each shard once mapped.

The cache is disposable, so damage is never an error: a damaged index is deleted with its
shards (they cannot be found without it) and built again; a shard whose CRC-32, length or
slots (which content each holds) do not match its index entries is dropped and decoded
again. Each costs one warning
line on the `marquee.cache` logger. Implementation detail of ``core.data.cache``.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import sqlite3
import threading
import zlib
from pathlib import Path

log = logging.getLogger("marquee.cache")

_lock = threading.Lock()
_checked_indexes: set[Path] = set()  # indexes found intact by this process
_intact_shards: set[str] = set()  # shard names whose CRC this process has checked


def connect_index(path: Path, schema: str) -> sqlite3.Connection:
    """The cache's index, checked (`PRAGMA quick_check`) the first time in this process.

    A file that is not a database or fails the check is deleted, with every shard beside
    it, and a fresh index is created.
    """
    try:
        return _connect(path, schema)
    except sqlite3.OperationalError:
        raise  # locked or unreachable: not damage, the caller falls back to RAM
    except sqlite3.DatabaseError as exc:  # "file is not a database", "disk image is malformed"
        log.warning("the image cache index %s is damaged (%s); rebuilding the cache", path, exc)
    _delete_cache(path)
    return _connect(path, schema)


def _connect(path: Path, schema: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout = 60000")
        with contextlib.suppress(sqlite3.OperationalError):  # e.g. WAL on a network drive
            db.execute("PRAGMA journal_mode = WAL")
        if path not in _checked_indexes:
            verdict = db.execute("PRAGMA quick_check").fetchall()
            if verdict != [("ok",)]:
                raise sqlite3.DatabaseError(f"quick_check: {verdict[0][0]}"[:200])
        db.executescript(schema)  # idempotent; SQLite serialises concurrent creators
    except BaseException:
        db.close()
        raise
    with _lock:
        _checked_indexes.add(path)
    return db


def _delete_cache(index: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            index.with_name(index.name + suffix).unlink()
    for shard in (index.parent / "shards").glob("*.rec"):
        with contextlib.suppress(OSError):
            shard.unlink()


def shard_intact(name: str, data: memoryview | bytes, crc: int | None) -> bool:
    """Whether a mapped shard's bytes match the CRC-32 its index entry records.

    Checked once per shard and process (shards never change once written); a mismatch
    logs one warning line.
    """
    if name in _intact_shards:
        return True
    actual = zlib.crc32(data) if crc is not None else None
    release_pages(data)  # the check read the whole shard: none of it need stay resident
    if actual != crc:
        log.warning("the image cache shard %s is damaged (CRC mismatch); rebuilding it", name)
        return False
    with _lock:
        _intact_shards.add(name)
    return True


def release_pages(data: object) -> None:
    """Hand a mapped shard's resident pages back to the OS (they stay in the page cache).

    Pages of a file mapping that were read count in the process's resident memory until
    then, so a check that reads every shard would hold the whole cache in RSS."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            data.madvise(mmap.MADV_DONTNEED)


def forget_checks() -> None:
    """Check everything again on next use (tests; after `clear`)."""
    with _lock:
        _checked_indexes.clear()
        _intact_shards.clear()


def out_of_range(found: dict[str, tuple[str, int]], counts: dict[str, int]) -> list[str]:
    """Shards that index entries point past (a damaged index): dropped and rebuilt."""
    bad = sorted({s for s, slot in found.values() if s in counts and not 0 <= slot < counts[s]})
    for name in bad:
        log.warning("the image cache index points past shard %s; rebuilding it", name)
    return bad


def misplaced(
    found: dict[str, tuple[str, int]], listed: dict[str, str], shards: set[str]
) -> list[str]:
    """Shards (of `shards`) whose slots do not hold the contents the index says they hold
    (index entries shuffled, or a shard with no list of its slots): dropped and rebuilt."""
    slots = {name: text.split(",") for name, text in listed.items()}
    bad = set(shards) - set(slots)
    for digest, (shard, slot) in found.items():
        held = slots.get(shard, [])
        if shard in shards and (slot >= len(held) or held[slot] != digest):
            bad.add(shard)
    for name in sorted(bad):
        log.warning("the image cache index does not match shard %s's records; rebuilding it", name)
    return sorted(bad)
