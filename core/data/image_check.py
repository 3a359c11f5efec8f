"""Finding image files and proving they decode (through `open_image`), in threads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path

from core.base.errors import ImageDecodeError, ImageTooLarge, UnsupportedImage
from core.base.runtime import decode_threads
from core.data.image_open import open_image
from core.data.types import IMAGE_SUFFIXES, Cancelled

_PROGRESS_STEPS = 200  # at most this many progress calls per check


def resolve_image(name: str, folders: Sequence[Path]) -> Path | None:
    """The file for an image id: ``name`` itself if it has a suffix, else name + an image suffix."""
    suffixes = [s for suf in IMAGE_SUFFIXES for s in (suf, suf.upper())]
    for folder in folders:
        base = folder / name
        try:
            if base.suffix and base.is_file():
                return base
            for suffix in suffixes:
                candidate = base.with_name(base.name + suffix)
                if candidate.is_file():
                    return candidate
        except (OSError, ValueError):  # a name the OS refuses (too long, NUL): no such file
            continue
    return None


def is_image_file(path: Path) -> bool:
    return (
        path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not path.name.startswith(".")
    )


def check_image(path: Path) -> str | None:
    """None if the file fully decodes, else why not (a phrase that follows the file name)."""
    try:
        with open_image(path) as img:
            img.load()  # a full decode: header-only checks miss truncated files
    except ImageTooLarge as exc:
        return f"is too large to open safely, a possible decompression bomb ({exc.reason})"
    except UnsupportedImage as exc:
        return f"is not an image Marquee reads ({exc.reason})"
    except ImageDecodeError as exc:
        return f"cannot be decoded ({exc.reason})"
    except Exception as exc:  # malformed files raise all sorts; the report must not crash
        return f"cannot be decoded ({type(exc).__name__}: {exc})"
    return None


def check_images(
    paths: Iterable[Path],
    *,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    workers: int | None = None,
) -> dict[Path, str]:
    """Decode every file in threads; return {path: reason} for those that fail.

    Raises Cancelled as soon as should_stop() returns True.
    """
    unique = list(dict.fromkeys(paths))
    total = len(unique)
    step = max(1, total // _PROGRESS_STEPS)
    failures: dict[Path, str] = {}
    _poll(should_stop)
    if progress:
        progress(0, total)
    with ThreadPoolExecutor(max_workers=workers or _default_workers()) as pool:
        futures = {pool.submit(check_image, path): path for path in unique}
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                _collect(future, futures[future], failures)
                _poll(should_stop)
                if progress and (done % step == 0 or done == total):
                    progress(done, total)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return failures


def _collect(future: Future, path: Path, failures: dict[Path, str]) -> None:
    reason = future.result()
    if reason is not None:
        failures[path] = reason


def _poll(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled()


def _default_workers() -> int:
    # Decoding releases the GIL, so threads scale; the UI thread mostly waits on signals.
    return decode_threads()
