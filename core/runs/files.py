"""Durable small writes for run folders: temp file, fsync, os.replace, fsync the folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from core.base.files import replacing


def write_durable(path: Path, text: str, what: str = "") -> None:
    """Write UTF-8 `text` so that a kill or a crash leaves the old file or the new one."""
    with replacing(path, what) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    sync_folder(path.parent)


def sync_file(path: Path) -> None:
    """Flush a file already written (the model) to the disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def sync_folder(folder: Path) -> None:
    """Make renames inside `folder` durable (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` (0 when it is gone)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def remove_folder(folder: Path) -> int:
    """Remove a run folder; returns the bytes it held. It is first renamed aside, so a
    kill half-way through never leaves a half-removed run that still lists."""
    size = folder_bytes(folder)
    aside = folder.with_name(f".removing-{folder.name}")
    try:
        os.replace(folder, aside)
    except OSError:
        aside = folder
    shutil.rmtree(aside, ignore_errors=True)
    return size
