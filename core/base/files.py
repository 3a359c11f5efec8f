"""Writing files so that a crash, a full disk or a kill never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.base.errors import OutputError, shorten


@contextmanager
def replacing(path: Path, what: str = "", suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file beside `path`, renamed over it when the block succeeds.

    On any failure the temporary file is removed and `path` is left as it was; OS errors
    (a folder in the way, no permission, a full disk) become one OutputError naming `path`.
    `what` describes the file for that message ("the model", "the ONNX file"...).
    """
    target = f"{what} to {shorten(str(path), 300)}" if what else shorten(str(path), 300)
    if path.is_dir():
        raise OutputError(f"Cannot write {target}: it is a folder; give a file name.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name[:50]}.", suffix=suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {_reason(exc)}.") from exc
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {_reason(exc)}.") from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str, what: str = "") -> None:
    """Write UTF-8 text atomically (see `replacing`)."""
    with replacing(path, what) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
