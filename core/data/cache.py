"""A persistent, memory-mapped cache of decoded images (and frozen-backbone embeddings).

Each image is decoded once per (file content, image size) into fixed-size records in
shard files under ``cache_dir()/images``; an SQLite index maps a file (path, mtime, size)
to a content hash and a (content hash, family) to a record (shard, slot). A *family* is
one record layout: ``rgb64`` holds 3x64x64 uint8 images, ``emb-<hash>`` float32
embeddings of one backbone. Training reads batches straight from the map, so resident
memory stays flat however large the data set.

Safety:
- a file whose mtime or size changed is hashed again; new content is decoded again;
- shards are written to a temporary file, fsynced, then renamed, and only then entered
  in the index (one SQLite transaction), so a run killed mid-write leaves a stray
  temporary file, never a half-written shard that is read; a shard whose length is wrong
  is dropped and decoded again, as is one whose CRC-32 fails when first mapped in a
  process; a damaged index is rebuilt (see ``core.data.cache_integrity``);
- several processes share the cache: SQLite locks the index, shards are immutable and
  uniquely named, and a shard evicted under a reader is re-decoded by it;
- a size cap (``MARQUEE_CACHE_MAX_GB``, default 20) evicts least recently used shards.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.base.errors import Cancelled, ImageDecodeError
from core.base.runtime import decode_threads
from core.data.cache_files import (
    cache_root,
    content_hash,
    default_max_bytes,
    file_stamp,
    writer_dead,
)
from core.data.cache_integrity import connect_index, misplaced, out_of_range, shard_intact
from core.data.cache_shards import CachedRecords, _crc_file, _open_shard, _ShardWriter
from core.data.decode import Progress, decoded_chunks, readable
from core.data.image_open import DECODE_REVISION

SHARD_BYTES = 64 * 1024 * 1024  # target size of one shard file
_SQL_CHUNK = 500  # parameters per IN (...) query
_STALE_TEMP_S = 24 * 3600  # temporary shards older than this belong to dead writers
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, mtime_ns INTEGER, nbytes INTEGER,
                                  digest TEXT);
CREATE TABLE IF NOT EXISTS shards (name TEXT PRIMARY KEY, family TEXT, dtype TEXT, shape TEXT,
                                   count INTEGER, nbytes INTEGER, crc INTEGER, last_used REAL);
CREATE TABLE IF NOT EXISTS records (digest TEXT, family TEXT, shard TEXT, slot INTEGER,
                                    PRIMARY KEY (digest, family));
CREATE INDEX IF NOT EXISTS records_by_shard ON records (shard);
CREATE TABLE IF NOT EXISTS slots (shard TEXT PRIMARY KEY, digests TEXT);
"""


@dataclass(frozen=True)
class CacheInfo:
    folder: Path
    shards: int
    records: int
    files: int
    nbytes: int
    max_bytes: int
    families: dict[str, int]  # family -> bytes


def pixel_family(size: int) -> str:
    """The family of decoded size x size images, as this version of the decoder makes them."""
    return f"rgb{size}-r{DECODE_REVISION}"


class ImageCache:
    """The on-disk cache; cheap to create (one SQLite connection per instance)."""

    def __init__(self, root: Path | None = None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else cache_root()
        self.shard_dir = self.root / "shards"
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        self._db = connect_index(self.root / "index.sqlite", _SCHEMA)
        self.sweep()

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so two processes never deadlock."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _select(self, sql: str, keys: Sequence[str], *params: object) -> list[tuple]:
        """Rows for `keys` in chunks: `params`, then one chunk of keys, fill sql's {marks}."""
        rows: list[tuple] = []
        for start in range(0, len(keys), _SQL_CHUNK):
            part = list(keys[start : start + _SQL_CHUNK])
            marks = ",".join("?" * len(part))
            rows += self._db.execute(sql.format(marks=marks), [*params, *part]).fetchall()
        return rows

    # ------------------------------------------------------------------ images
    def images(
        self,
        paths: Sequence[str | Path],
        size: int,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> CachedRecords:
        """The images decoded at `size` (decoding only what the cache lacks), as a reader."""
        family = pixel_family(size)
        absolute = [os.path.abspath(p) for p in paths]
        digests = self._digests(absolute, should_stop)
        for _attempt in range(3):
            found = self._locate(digests, family)
            missing = [i for i, d in enumerate(digests) if d not in found]
            if missing:
                self._decode(absolute, digests, missing, size, progress, should_stop)
                found = self._locate(digests, family)
            reader = self._reader(digests, found, family, (3, size, size), np.uint8)
            if reader is not None:
                return reader
        raise ImageDecodeError(str(self.root), "the image cache keeps changing under this run")

    def _digests(self, paths: list[str], should_stop: Callable[[], bool] | None) -> list[str]:
        """Content hash per path: from the index when mtime and size match, else by reading."""
        known = {
            row[0]: row[1:]
            for row in self._select(
                "SELECT path, mtime_ns, nbytes, digest FROM files WHERE path IN ({marks})", paths
            )
        }
        stats = [file_stamp(p) for p in paths]
        digests: list[str | None] = [
            entry[2] if (entry := known.get(p)) and tuple(entry[:2]) == st else None
            for p, st in zip(paths, stats, strict=True)
        ]
        todo = [i for i, d in enumerate(digests) if d is None]
        with ThreadPoolExecutor(max_workers=decode_threads()) as pool:
            for start in range(0, len(todo), 256):
                _poll(should_stop)
                part = todo[start : start + 256]
                hashed = pool.map(lambda i: content_hash(paths[i]), part)
                for i, digest in zip(part, hashed, strict=True):
                    digests[i] = digest
        if todo:
            rows = [(paths[i], *stats[i], digests[i]) for i in todo]
            with self._write() as db:
                db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", rows)
        return [d for d in digests if d is not None]

    def _locate(self, digests: Sequence[str], family: str) -> dict[str, tuple[str, int]]:
        sql = "SELECT digest, shard, slot FROM records WHERE family = ? AND digest IN ({marks})"
        rows = self._select(sql, list(dict.fromkeys(digests)), family)
        return {digest: (shard, slot) for digest, shard, slot in rows}

    def _decode(
        self,
        paths: list[str],
        digests: list[str],
        missing: list[int],
        size: int,
        progress: Progress | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        """Decode the missing images (once per content) in threads, one shard at a time."""
        first: dict[str, int] = {}
        for i in missing:
            first.setdefault(digests[i], i)
        todo = list(first.values())
        record = 3 * size * size
        per_shard = max(1, SHARD_BYTES // record)
        total, done = len(todo), 0
        if progress is not None:
            progress(0, total)
        for start in range(0, total, per_shard):
            part = todo[start : start + per_shard]
            with self.shard_writer(pixel_family(size), (3, size, size), np.uint8) as writer:
                for decoded in decoded_chunks([paths[i] for i in part], size, should_stop):
                    arrays = readable(decoded)
                    for i, array in zip(todo[done : done + len(arrays)], arrays, strict=True):
                        writer.add(digests[i], array.transpose(2, 0, 1))
                    done += len(arrays)
                    if progress is not None:
                        progress(done, total)

    # ------------------------------------------------------------------ records
    @contextlib.contextmanager
    def shard_writer(
        self, family: str, shape: tuple[int, ...], dtype: np.dtype | type
    ) -> Iterator[_ShardWriter]:
        """Write one shard: records go to a temporary file that becomes the shard (renamed,
        then indexed) only when the block ends without an exception."""
        writer = _ShardWriter(self.shard_dir, family, shape, np.dtype(dtype))
        try:
            yield writer
            writer.finish()
        except BaseException:
            writer.discard()
            raise
        if writer.count:
            self._commit(writer)
            self.evict(keep={writer.name})

    def _commit(self, writer: _ShardWriter) -> None:
        shape = "x".join(map(str, writer.shape))
        with self._write() as db:
            db.execute(
                "INSERT INTO shards VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    writer.name,
                    writer.family,
                    writer.dtype.str,
                    shape,
                    writer.count,
                    writer.nbytes,
                    writer.crc,
                    time.time(),
                ),
            )
            db.executemany(
                "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?)",
                [(d, writer.family, writer.name, slot) for slot, d in enumerate(writer.digests)],
            )
            # what each slot holds, so a record is checked against its slot before use
            db.execute("INSERT INTO slots VALUES (?, ?)", (writer.name, ",".join(writer.digests)))

    def records(self, digests: Sequence[str], family: str) -> CachedRecords | None:
        """A reader over the records of `family` for these contents, or None if any is missing."""
        found = self._locate(digests, family)
        if any(d not in found for d in digests):
            return None
        row = self._db.execute(
            "SELECT dtype, shape FROM shards WHERE family = ? LIMIT 1", (family,)
        ).fetchone()
        if row is None:
            return None
        shape = tuple(int(x) for x in row[1].split("x"))
        return self._reader(list(digests), found, family, shape, np.dtype(row[0]))

    def missing(self, digests: Sequence[str], family: str) -> list[int]:
        found = self._locate(digests, family)
        return [i for i, d in enumerate(digests) if d not in found]

    def _reader(
        self,
        digests: Sequence[str],
        found: dict[str, tuple[str, int]],
        family: str,
        shape: tuple[int, ...],
        dtype: np.dtype | type,
    ) -> CachedRecords | None:
        """Open the shards behind `found`; None (after dropping them) if one is damaged."""
        names = sorted({found[d][0] for d in digests if d in found})
        maps, bad = {}, []
        record = int(np.prod(shape)) * np.dtype(dtype).itemsize
        entries = {
            name: (count, crc)
            for name, count, crc in self._select(
                "SELECT name, count, crc FROM shards WHERE name IN ({marks})", names
            )
        }
        for name in names:
            count, crc = entries.get(name, (None, None))
            view = _open_shard(self.shard_dir / name, count, record, shape, np.dtype(dtype))
            if view is None or not shard_intact(name, view[0], crc):
                bad.append(name)
            else:
                maps[name] = view
        bad += out_of_range(found, {name: entries[name][0] for name in maps})
        listed = self._select("SELECT shard, digests FROM slots WHERE shard IN ({marks})", names)
        bad += misplaced(found, dict(listed), set(maps) - set(bad))
        if bad:
            self._drop_shards(bad)
            return None
        if any(d not in found for d in digests):
            return None
        self._touch(names)
        order = {name: k for k, name in enumerate(names)}
        shard_of = np.array([order[found[d][0]] for d in digests], dtype=np.int32)
        slot_of = np.array([found[d][1] for d in digests], dtype=np.int64)
        return CachedRecords([maps[n] for n in names], shard_of, slot_of, list(digests), shape)

    def _touch(self, names: list[str]) -> None:
        now = time.time()
        with self._write() as db:
            db.executemany(
                "UPDATE shards SET last_used = ? WHERE name = ?", [(now, n) for n in names]
            )

    # ------------------------------------------------------------------ housekeeping
    def info(self) -> CacheInfo:
        families = dict(
            self._db.execute("SELECT family, SUM(nbytes) FROM shards GROUP BY family").fetchall()
        )
        shards, nbytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(nbytes), 0) FROM shards"
        ).fetchone()
        records = self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        files = self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        return CacheInfo(self.root, shards, records, files, nbytes, self.max_bytes, families)

    def evict(self, keep: AbstractSet[str] = frozenset(), max_bytes: int | None = None) -> int:
        """Drop least recently used shards (except `keep`) until under the cap; bytes freed."""
        cap = self.max_bytes if max_bytes is None else max_bytes
        total = self._db.execute("SELECT COALESCE(SUM(nbytes), 0) FROM shards").fetchone()[0]
        if total <= cap:
            return 0
        victims, freed = [], 0
        for name, nbytes in self._db.execute("SELECT name, nbytes FROM shards ORDER BY last_used"):
            if total - freed <= cap:
                break
            if name not in keep:
                victims.append(name)
                freed += nbytes
        self._drop_shards(victims)
        return freed

    def _drop_shards(self, names: list[str]) -> None:
        with self._write() as db:
            for table, column in (("records", "shard"), ("slots", "shard"), ("shards", "name")):
                db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(n,) for n in names])
        for name in names:  # a reader elsewhere keeps its map (POSIX); Windows: swept later
            with contextlib.suppress(OSError):
                (self.shard_dir / name).unlink()

    def clear(self) -> int:
        """Remove every shard and index entry; returns the bytes freed."""
        freed = self.info().nbytes
        with self._write() as db:
            for table in ("records", "slots", "shards", "files"):
                db.execute(f"DELETE FROM {table}")
        for path in self.shard_dir.iterdir():
            with contextlib.suppress(OSError):
                path.unlink()
        return freed

    def sweep(self) -> int:
        """Delete stray files: temporaries of dead writers, shards the index does not know."""
        known = {row[0] for row in self._db.execute("SELECT name FROM shards")}
        removed, now = 0, time.time()
        for path in self.shard_dir.iterdir():
            try:
                age = now - path.stat().st_mtime
            except OSError:
                continue
            stray_temp = path.suffix == ".tmp" and (age > _STALE_TEMP_S or writer_dead(path))
            unindexed = path.suffix == ".rec" and path.name not in known and age > 600
            if stray_temp or unindexed:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
        return removed

    def verify(self) -> list[str]:
        """Check every shard's length and CRC-32; drop (and return) the damaged ones."""
        bad = []
        for name, count, nbytes, crc in self._db.execute(
            "SELECT name, count, nbytes, crc FROM shards"
        ).fetchall():
            path = self.shard_dir / name
            try:
                ok = path.stat().st_size == nbytes and _crc_file(path) == crc and count > 0
            except OSError:
                ok = False
            if not ok:
                bad.append(name)
        self._drop_shards(bad)
        return bad


# ------------------------------------------------------------------ helpers
def _poll(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("Stopped while decoding images.")


def clear_cache() -> int:
    """Empty the image cache (the app's *Clear cache*); returns the bytes freed."""
    cache = ImageCache()
    try:
        return cache.clear()
    finally:
        cache.close()
