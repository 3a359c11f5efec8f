"""Pretrained weights from the Hugging Face hub, with progress, cancel, resume and a checksum.

huggingface_hub does the HTTP (its `http_get` resumes a dropped connection with a Range
request) and owns the cache layout; this module adds what a desktop app needs around it:
- progress as `DownloadProgress` events (bytes, rate, ETA), and Cancel: the progress
  callback raises `Cancelled`;
- resume after an interruption (Cancel, a crash, a lost network): the partial file is kept
  as `blobs/<etag>.incomplete` in the hub cache and continued with a Range request;
- a checksum: the hub's etag of an LFS file is its sha256 (a plain git file: the git blob
  sha1); a corrupt file is removed and refused with one line;
- one clear line when the hub cannot be reached.
The finished blob is moved into place and `hf_hub_download` links it into the cache as if it
had fetched it, so timm (and the `huggingface-cli`) see an ordinary cached file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.base.errors import BackboneUnavailable, Cancelled
from core.model.hub_cache import cache_dir, endpoint, hub_source

log = logging.getLogger("marquee.downloads")
CHUNK_BYTES = 1 << 20  # progress (and a Cancel) every MiB, not every 10 MiB
EMIT_EVERY_S = 0.1


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes of one weights file downloaded so far (`total_bytes` None when unknown)."""

    backbone: str
    filename: str
    done_bytes: int
    total_bytes: int | None
    bytes_per_s: float
    eta_s: float | None

    def line(self) -> str:
        """'downloading X: 12.0 / 88.0 MB, 4.1 MB/s, 19 s left'"""
        total = f" / {self.total_bytes / 1e6:.1f}" if self.total_bytes else ""
        eta = f", {self.eta_s:.0f} s left" if self.eta_s is not None else ""
        rate = f"{self.bytes_per_s / 1e6:.1f} MB/s"
        return f"downloading {self.backbone}: {self.done_bytes / 1e6:.1f}{total} MB, {rate}{eta}"


ProgressSink = Callable[[DownloadProgress], None]
StopFlag = Callable[[], bool]


class CorruptDownload(BackboneUnavailable):
    """The downloaded bytes do not match the hub's checksum; the file was removed."""


class HubUnreachable(BackboneUnavailable):
    """The hub (or HF_ENDPOINT) cannot be reached and the weights are not cached."""


def cached_weights(name: str) -> Path | None:
    """The weights file of `name` in the hub cache, or None (nothing is downloaded)."""
    from huggingface_hub import try_to_load_from_cache

    repo, revision, filenames = hub_source(name)
    for filename in filenames:
        found = try_to_load_from_cache(repo, filename, cache_dir=cache_dir(), revision=revision)
        if isinstance(found, str):
            return Path(found)
    return None


def fetch_weights(
    name: str, on_progress: ProgressSink | None = None, should_stop: StopFlag | None = None
) -> Path:
    """The local path of `name`'s pretrained weights, downloading them first if needed.

    Raises HubUnreachable (offline), CorruptDownload (checksum), BackboneUnavailable (the
    hub refuses), Cancelled (should_stop said so; the partial file is kept for a resume).
    """
    cached = cached_weights(name)
    if cached is not None:
        return cached
    repo, revision, filenames = hub_source(name)
    filename, meta = _metadata(name, repo, revision, filenames)
    blobs = Path(cache_dir()) / _repo_folder(repo) / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    # One writer per partial file (two processes, or the app and the CLI); the hub's own
    # lock folder, under a name the hub does not use.
    locks = Path(cache_dir()) / ".locks" / _repo_folder(repo)
    locks.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(locks / f"{meta.etag}.marquee.lock")):
        blob = blobs / meta.etag
        if not blob.exists():
            partial = blobs / f"{meta.etag}.incomplete"
            meter = _Meter(name, filename, on_progress, should_stop)
            _download(meta, partial, meter)
            _verify(name, partial, meta.etag)
            os.replace(partial, blob)
    return _link_into_cache(name, repo, revision, filename)


def _metadata(name: str, repo: str, revision: str | None, filenames: list[str]) -> Any:
    """The first of `filenames` the hub has: its name and metadata (etag, size, location)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError

    for filename in filenames:
        url = hf_hub_url(repo, filename, revision=revision, endpoint=endpoint())
        try:
            return filename, get_hf_file_metadata(url, timeout=10)
        except EntryNotFoundError:
            continue
        except _network_errors() as exc:
            raise _failure(name, exc) from exc
    raise BackboneUnavailable(f"The hub has no weights file for '{name}' in {repo}.")


def _download(meta: Any, partial: Path, meter: _Meter) -> None:
    """Append to `partial` from where it stops (hub's http_get sends the Range header)."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import http_get

    done = partial.stat().st_size if partial.exists() else 0
    if meta.size is not None and done > meta.size:  # not this file's beginning: start over
        partial.unlink()
        done = 0
    constants.DOWNLOAD_CHUNK_SIZE = min(constants.DOWNLOAD_CHUNK_SIZE, CHUNK_BYTES)
    meter.start(done, meta.size)
    try:
        with partial.open("ab") as out:
            http_get(
                meta.location,
                out,
                resume_size=done,
                expected_size=meta.size,
                tqdm_class=meter.tqdm_class(),
            )
    except Cancelled:
        raise
    except _network_errors() as exc:
        raise _failure(meter.name, exc) from exc
    meter.finish()


def _verify(name: str, path: Path, etag: str) -> None:
    """sha256 for LFS files (64 hex digits), the git blob sha1 for plain ones (40)."""
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        digest, kind = hashlib.sha256(), "sha256"
    elif re.fullmatch(r"[0-9a-f]{40}", etag):
        digest, kind = hashlib.sha1(f"blob {path.stat().st_size}\0".encode()), "git sha1"
    else:
        log.warning("%s: the hub gave no checksum (etag %r); not verified", name, etag)
        return
    with path.open("rb") as source:
        while chunk := source.read(1 << 22):
            digest.update(chunk)
    if digest.hexdigest() != etag:
        path.unlink(missing_ok=True)
        raise CorruptDownload(
            f"The weights downloaded for '{name}' are corrupt ({kind} {digest.hexdigest()[:12]}… "
            f"is not the hub's {etag[:12]}…); the file was removed. Download again; if it "
            "happens again, check the network or proxy."
        )


def _link_into_cache(name: str, repo: str, revision: str | None, filename: str) -> Path:
    """hf_hub_download finds the blob in place and only writes the snapshot link and ref."""
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(
            repo, filename, revision=revision, cache_dir=cache_dir(), endpoint=endpoint()
        )
    except _network_errors() as exc:
        raise _failure(name, exc) from exc
    return Path(path)


def _repo_folder(repo: str) -> str:
    from huggingface_hub.file_download import repo_folder_name

    return repo_folder_name(repo_id=repo, repo_type="model")


def _network_errors() -> tuple[type[BaseException], ...]:
    """What a failed request raises: OSError (hub errors too) and the HTTP client's errors."""
    errors: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError, AttributeError):
            errors.append(__import__(module).HTTPError)
    return tuple(errors)


def _failure(name: str, exc: BaseException) -> BackboneUnavailable:
    detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    status = getattr(getattr(exc, "response", None), "status_code", None)
    kind = HubUnreachable if status is None else BackboneUnavailable
    where = endpoint().removeprefix("https://").removeprefix("http://")
    return kind(
        f"Cannot download the weights of '{name}' from {where} ({detail}). Connect to the "
        "internet and try again (a partial download resumes), pick 'efficientnet_lite0' "
        "(weights included), train from scratch with --no-pretrained, or pass a state dict "
        "with --weights FILE."
    )


class _Meter:
    """Bytes, rate and ETA of one download; checks the stop flag at every chunk."""

    def __init__(
        self, name: str, filename: str, sink: ProgressSink | None, stop: StopFlag | None
    ) -> None:
        self.name, self.filename, self.sink, self.stop = name, filename, sink, stop
        self.done = self.resumed = 0
        self.total: int | None = None
        self.started = self.last_emit = 0.0
        self.last_done = 0

    def start(self, done: int, total: int | None) -> None:
        self.done = self.resumed = done
        self.total = total
        self.started = time.perf_counter()
        self.last_emit = 0.0
        self.last_done = done
        self._emit(force=True)

    def advance(self, n: int) -> None:
        self.done += n
        if self.stop is not None and self.stop():
            raise Cancelled(
                f"Download of '{self.name}' cancelled at {self.done / 1e6:.1f} MB; "
                "it resumes from there next time."
            )
        self._emit(force=False)

    def finish(self) -> None:
        self._emit(force=True)

    def _emit(self, force: bool) -> None:
        now = time.perf_counter()
        first_bytes = self.done > self.resumed and self.last_done == self.resumed
        if self.sink is None or (
            not force and not first_bytes and now - self.last_emit < EMIT_EVERY_S
        ):
            return
        self.last_done = self.done
        self.last_emit = now
        elapsed = max(now - self.started, 1e-6)
        rate = (self.done - self.resumed) / elapsed
        left = None if not self.total or rate <= 0 else (self.total - self.done) / rate
        self.sink(DownloadProgress(self.name, self.filename, self.done, self.total, rate, left))

    def tqdm_class(self) -> type:
        """A silent tqdm that hub's http_get updates with each chunk it writes."""
        from tqdm import tqdm

        meter = self

        class _Bar(tqdm):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs.pop("name", None)  # hub's logging name, not tqdm's
                super().__init__(*args, **{**kwargs, "disable": True})

            def update(self, n: float | None = 1) -> bool | None:
                meter.advance(int(n or 0))
                return None

        return _Bar
