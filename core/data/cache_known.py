"""Which files the image cache has decoded before and that are unchanged since: checking a
data set need not decode them again (a second run of a large set reads no image twice).

Implementation detail of ``core.data.cache`` (it reads that index, read-only).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from core.base.errors import ImageDecodeError
from core.data.cache_files import cache_enabled, cache_root, file_stamp

_CHUNK = 500  # parameters per IN (...) query
_DECODED = (
    "SELECT path, mtime_ns, nbytes FROM files WHERE path IN ({marks}) AND EXISTS "
    "(SELECT 1 FROM records WHERE records.digest = files.digest AND records.family LIKE 'rgb%')"
)


def decoded_before(paths: Iterable[Path]) -> set[Path]:
    """The files among `paths` that the cache fully decoded (at any size) and whose mtime
    and size still match; empty when the cache is off, missing or busy."""
    index = cache_root() / "index.sqlite"
    if not cache_enabled() or not index.is_file():
        return set()
    names = {os.path.abspath(p): Path(p) for p in paths}
    try:
        rows = _decoded_rows(index, list(names))
    except sqlite3.Error:  # locked, damaged or an older layout: decode-check them all
        return set()
    known = set()
    for path, mtime_ns, nbytes in rows:
        try:
            if file_stamp(path) == (mtime_ns, nbytes):
                known.add(names[path])
        except ImageDecodeError:  # gone since: the check reports it
            continue
    return known


def _decoded_rows(index: Path, keys: list[str]) -> list[tuple]:
    db = sqlite3.connect(f"{index.as_uri()}?mode=ro", uri=True, timeout=2)
    try:
        rows: list[tuple] = []
        for start in range(0, len(keys), _CHUNK):
            part = keys[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            rows += db.execute(_DECODED.format(marks=marks), part).fetchall()
        return rows
    finally:
        db.close()
