"""The real movie-posters data set: download once, extract safely, reuse.

The zip is streamed to a temporary file next to the destination, checked, extracted into
a temporary folder (refusing entries that would land outside it) and renamed into place,
so the destination either holds a complete copy or does not exist.
"""

from __future__ import annotations

import glob
import http.client
import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from core import __version__
from core.base.errors import Cancelled, DownloadError, shorten
from core.base.files import remove_stale_temps
from core.base.paths import data_dir

MOVIE_POSTERS_URL = "https://pl-flash-data.s3.amazonaws.com/movie_posters.zip"
# The genres the seed task trains on (Flash's movie-posters example); the CSVs hold more.
MOVIE_POSTER_LABELS = ("Action", "Romance", "Crime", "Thriller", "Adventure")
COMPLETE_MARKER = ".complete"
MAX_UNCOMPRESSED_BYTES = 5 * 1024**3  # zip-bomb guard; the real archive is far smaller
CHUNK_BYTES = 256 * 1024
_STALE_TEMP_SECONDS = 24 * 3600
MAX_ENTRY_CHARS = 1024  # the real archive's longest name is under 60 characters
MAX_ENTRY_DEPTH = 16
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}

Progress = Callable[[int, int | None], None]
ShouldStop = Callable[[], bool]


def ensure_movie_posters(
    dest: Path | None = None,
    *,
    url: str | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    timeout: float = 30,
) -> Path:
    """Return the folder holding `train/` and `val/`, downloading it on first use.

    `progress(done_bytes, total_bytes_or_None)` is called as data arrives;
    `should_stop()` is polled between chunks and raises Cancelled when true.
    `url` defaults to MOVIE_POSTERS_URL.
    """
    url = url or MOVIE_POSTERS_URL
    dest = Path(dest) if dest is not None else data_dir() / "datasets" / "movie_posters"
    if (dest / COMPLETE_MARKER).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(dest.parent, f".{glob.escape(dest.name)}-*", _STALE_TEMP_SECONDS)
    stop = should_stop or (lambda: False)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}-", suffix=".zip.part", dir=dest.parent)
    archive = Path(name)
    staging: Path | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            _download(url, out, progress, stop, timeout)
        _check_stop(stop)
        if not zipfile.is_zipfile(archive):
            raise DownloadError(
                f"The file downloaded from {url} is not a zip archive. The address may be "
                "wrong or the server may have sent an error page."
            )
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-extract-", dir=dest.parent))
        _safe_extract(archive, staging, stop)
        _install(_data_root(staging), dest)
    finally:
        archive.unlink(missing_ok=True)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def _check_stop(stop: ShouldStop) -> None:
    if stop():
        raise Cancelled("Download cancelled.")


def _download(
    url: str, out: BinaryIO, progress: Progress | None, stop: ShouldStop, timeout: float
) -> None:
    """Stream `url` into the binary file `out`, reporting progress and polling `stop`."""
    request = urllib.request.Request(url, headers={"User-Agent": f"Marquee/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = _content_length(response)
            done = 0
            if progress:
                progress(done, total)
            while True:
                _check_stop(stop)
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                _write(out, chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise _network_error(url, f"the server answered HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _network_error(url, str(exc.reason)) from exc
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, truncated bodies
        raise _network_error(url, str(exc) or type(exc).__name__) from exc
    if total is not None and done < total:
        raise _network_error(url, f"the download stopped after {done} of {total} bytes")


def _write(out: BinaryIO, chunk: bytes) -> None:
    # A full disk is not a network problem; keep it out of the handler around urlopen.
    try:
        out.write(chunk)
    except OSError as exc:
        raise DownloadError(f"Could not save the movie posters download: {exc}") from exc


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _network_error(url: str, reason: str) -> DownloadError:
    return DownloadError(
        f"Could not download the movie posters from {url}: {reason}. Check your internet "
        "connection, or download the zip yourself and open the extracted folder with "
        "'Open folder'."
    )


def _safe_extract(archive: Path, target: Path, stop: ShouldStop) -> None:
    """Extract `archive` into `target`, refusing entries that could escape it."""
    try:
        with zipfile.ZipFile(archive) as zf:
            _check_members(zf.infolist(), target)
            for info in zf.infolist():
                _check_stop(stop)
                _extract_member(zf, info, target)
    # Damage shows up as any of these, from zipfile, zlib, bz2 or lzma.
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise _damaged(str(exc) or type(exc).__name__) from exc
    except OSError as exc:  # a full disk, no permission: not the archive's fault
        raise DownloadError(f"Could not extract the movie posters archive: {exc}") from exc


def _damaged(detail: str) -> DownloadError:
    return DownloadError(
        f"The movie posters download is damaged ({shorten(detail, 200)}); nothing was kept. "
        "Run the command again to download it afresh; if it stays damaged, download the zip "
        "yourself and open the extracted folder with 'Open folder'."
    )


def _check_members(members: list[zipfile.ZipInfo], target: Path) -> None:
    total = 0
    for info in members:
        _check_member(info, target)
        total += info.file_size
        if total > MAX_UNCOMPRESSED_BYTES:
            raise DownloadError(
                "The movie posters archive would unpack to more than "
                f"{MAX_UNCOMPRESSED_BYTES / 1024**3:g} GB; refusing to extract it."
            )


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    path = target / info.filename
    if info.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK_BYTES)


def _check_member(info: zipfile.ZipInfo, target: Path) -> None:
    name = info.filename
    _check_damage(info)
    windows = PureWindowsPath(name)
    parts = PurePosixPath(name.replace("\\", "/")).parts
    unsafe = (
        name.startswith(("/", "\\"))
        or bool(windows.drive)
        or ".." in parts
        or stat.S_ISLNK(info.external_attr >> 16)
        or not (target / name).resolve().is_relative_to(target.resolve())
    )
    if unsafe:
        raise DownloadError(
            f"Refusing to extract {name!r} from the movie posters archive: it is a link or "
            "would be written outside the data folder."
        )


def _check_damage(info: zipfile.ZipInfo) -> None:
    """Entries the real archive never has: raise the 'damaged' error before extracting."""
    name = info.filename
    if not name.strip("/"):
        raise _damaged("an entry has no name")
    if len(name) > MAX_ENTRY_CHARS or name.count("/") > MAX_ENTRY_DEPTH:
        raise _damaged(f"an entry's name is {len(name):,} characters, {name.count('/')} deep")
    if info.flag_bits & 0x1:
        raise _damaged(f"{name!r} is encrypted")
    if info.compress_type not in _METHODS:
        raise _damaged(f"{name!r} uses unknown compression method {info.compress_type}")


def _data_root(staging: Path) -> Path:
    """The archive's single top folder if it has one (ignoring macOS metadata), else itself."""
    entries = [p for p in staging.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return staging


def _install(root: Path, dest: Path) -> None:
    (root / COMPLETE_MARKER).write_text("movie posters\n", encoding="utf-8")
    if dest.exists():
        shutil.rmtree(dest)  # an incomplete copy: it has no marker
    os.replace(root, dest)
