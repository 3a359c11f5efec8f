"""Writing files so that a crash, a full disk or a kill never leaves half a file behind."""

from __future__ import annotations

import glob
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.base.errors import OutputError, shorten

STALE_TEMP_SECONDS = 3600  # younger leftovers may belong to a write still in progress


@contextmanager
def replacing(path: Path, what: str = "", suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file beside `path`, renamed over it when the block succeeds.

    On any failure the temporary file is removed and `path` is left as it was; OS errors
    (a folder in the way, no permission, a full disk) become one OutputError naming `path`.
    `what` describes the file for that message ("the model", "the ONNX file"...).
    A device or a FIFO (`/dev/stdout`, a named pipe) is written straight to, never renamed
    over. Temporary files that killed writes left beside `path` are removed first.
    """
    target = f"{what} to {shorten(str(path), 300)}" if what else shorten(str(path), 300)
    if path.is_dir():
        raise OutputError(f"Cannot write {target}: it is a folder; give a file name.")
    if is_stream(path):
        with _writing(target):
            yield path
        return
    prefix = f".{path.name[:50]}."
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path.parent, f"{glob.escape(prefix)}*{glob.escape(suffix)}")
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {_reason(exc)}.") from exc
    tmp = Path(name)
    try:
        with _writing(target):
            yield tmp
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _writing(target: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {_reason(exc)}.") from exc


def is_stream(path: Path) -> bool:
    """True for a character device or a FIFO: a target to write into, not to replace."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def remove_stale_temps(
    folder: Path, pattern: str, older_than: float = STALE_TEMP_SECONDS
) -> list[Path]:
    """Remove what killed writes left in `folder` (files or folders matching `pattern`).

    Only entries untouched for `older_than` seconds go: a younger one may belong to a
    process still writing. Returns what was removed; errors leave an entry in place.
    """
    removed = []
    now = time.time()
    for temp in folder.glob(pattern):
        try:
            if now - temp.lstat().st_mtime <= older_than:
                continue
            if temp.is_dir() and not temp.is_symlink():
                shutil.rmtree(temp)
            else:
                temp.unlink()
        except OSError:
            continue  # gone already, or not ours to remove
        removed.append(temp)
    return removed


def write_text(path: Path, text: str, what: str = "") -> None:
    """Write UTF-8 text atomically (see `replacing`)."""
    with replacing(path, what) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
