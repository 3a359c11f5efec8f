"""Files around the image cache: source images' stamps and content hashes, temp shard owners.

Implementation detail of ``core.data.cache``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from core.base.errors import ImageDecodeError
from core.base.paths import cache_dir


def cache_root() -> Path:
    """Where the image cache lives (under the user cache folder, or MARQUEE_HOME)."""
    return cache_dir() / "images"


def cache_enabled() -> bool:
    """False when MARQUEE_NO_IMAGE_CACHE is set (decode into RAM as before)."""
    return not os.environ.get("MARQUEE_NO_IMAGE_CACHE")


DEFAULT_MAX_GB = 20.0


def default_max_bytes() -> int:
    """The cache's size cap: MARQUEE_CACHE_MAX_GB, 20 GB by default."""
    try:
        gb = float(os.environ.get("MARQUEE_CACHE_MAX_GB", DEFAULT_MAX_GB))
    except ValueError:
        gb = DEFAULT_MAX_GB
    return int(gb * 1024**3)


def file_stamp(path: str) -> tuple[int, int]:
    """(mtime in ns, size) of a source image; ImageDecodeError naming it if it is gone."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ImageDecodeError(path, exc.strerror or type(exc).__name__) from exc
    return st.st_mtime_ns, st.st_size


def content_hash(path: str) -> str:
    """A 128-bit BLAKE2b of the file's bytes: the cache's key for its content."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "blake2b").hexdigest()[:32]
    except OSError as exc:
        raise ImageDecodeError(path, exc.strerror or type(exc).__name__) from exc


def writer_dead(path: Path) -> bool:
    """A temporary shard's writer (pid in its name) is gone (POSIX; elsewhere: age only)."""
    try:
        pid = int(path.name.rsplit(".", 2)[-2])
    except (ValueError, IndexError):
        return True
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
