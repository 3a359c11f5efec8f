from __future__ import annotations

import contextlib
import io
import os
import stat
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.data import movie_posters as download
from core.data.movie_posters import Cancelled, DownloadError, ensure_movie_posters


@dataclass
class FakeServer:
    """Serves `files` (URL path -> body) on 127.0.0.1 and counts the requests."""

    base_url: str
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state: FakeServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a cancel
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state = FakeServer(base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def make_zip(entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buffer.getvalue()


POSTERS = {
    "movie_posters/train/metadata.csv": b"Id,Genre,Action\ntt1,['Action'],1\n",
    "movie_posters/train/tt1.jpg": b"\xff\xd8fake jpeg",
    "movie_posters/val/metadata.csv": b"Id,Genre,Action\ntt2,['Action'],1\n",
    "movie_posters/val/tt2.jpg": b"\xff\xd8another",
    "__MACOSX/movie_posters/._tt1.jpg": b"resource fork",
}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_downloads_and_extracts_the_single_top_folder(server: FakeServer, tmp_path: Path) -> None:
    server.files["/posters.zip"] = make_zip(POSTERS)
    calls: list[tuple[int, int | None]] = []
    dest = tmp_path / "datasets" / "movie_posters"

    root = ensure_movie_posters(
        dest, url=server.url("/posters.zip"), progress=lambda d, t: calls.append((d, t))
    )

    assert root == dest
    assert (root / "train" / "metadata.csv").read_bytes() == POSTERS[
        "movie_posters/train/metadata.csv"
    ]
    assert (root / "val" / "tt2.jpg").read_bytes() == b"\xff\xd8another"
    assert not (root / "__MACOSX").exists()
    size = len(server.files["/posters.zip"])
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == size
    assert all(total == size for _, total in calls)
    assert leftovers(dest.parent) == []


def test_archive_without_top_folder_is_used_as_is(server: FakeServer, tmp_path: Path) -> None:
    server.files["/flat.zip"] = make_zip({"train/a.jpg": b"a", "val/b.jpg": b"b"})
    root = ensure_movie_posters(tmp_path / "mp", url=server.url("/flat.zip"))
    assert (root / "train" / "a.jpg").read_bytes() == b"a"
    assert (root / "val" / "b.jpg").is_file()


def test_reuses_a_complete_copy_without_a_request(server: FakeServer, tmp_path: Path) -> None:
    server.files["/posters.zip"] = make_zip(POSTERS)
    dest = tmp_path / "mp"
    ensure_movie_posters(dest, url=server.url("/posters.zip"))
    assert len(server.requests) == 1
    assert ensure_movie_posters(dest, url=server.url("/posters.zip")) == dest
    assert len(server.requests) == 1


def test_replaces_an_incomplete_copy(server: FakeServer, tmp_path: Path) -> None:
    server.files["/posters.zip"] = make_zip(POSTERS)
    dest = tmp_path / "mp"
    (dest / "train").mkdir(parents=True)
    (dest / "train" / "half.jpg").write_bytes(b"")
    ensure_movie_posters(dest, url=server.url("/posters.zip"))
    assert not (dest / "train" / "half.jpg").exists()
    assert (dest / "train" / "tt1.jpg").is_file()


@pytest.mark.parametrize(
    "entries, symlinks",
    [
        ({"movie_posters/train/a.jpg": b"a", "../evil.txt": b"evil"}, None),
        ({"movie_posters/../../evil.txt": b"evil"}, None),
        ({"/tmp/evil.txt": b"evil"}, None),
        ({"movie_posters/train/a.jpg": b"a"}, {"movie_posters/link": "../../evil.txt"}),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink"],
)
def test_hostile_archive_is_refused(
    server: FakeServer,
    tmp_path: Path,
    entries: dict[str, bytes],
    symlinks: dict[str, str] | None,
) -> None:
    server.files["/evil.zip"] = make_zip(entries, symlinks)
    parent = tmp_path / "a" / "b"
    dest = parent / "mp"
    with pytest.raises(DownloadError) as excinfo:
        ensure_movie_posters(dest, url=server.url("/evil.zip"))
    bad_name = next(iter(symlinks or {}), None) or next(n for n in entries if "evil" in n)
    assert repr(bad_name) in str(excinfo.value)
    assert not dest.exists()
    assert leftovers(parent) == []
    assert not any(p.name == "evil.txt" for p in tmp_path.rglob("*"))


def test_zip_bomb_guard(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "MAX_UNCOMPRESSED_BYTES", 1000)
    server.files["/bomb.zip"] = make_zip({"train/zeros.bin": bytes(5000)})
    with pytest.raises(DownloadError, match="more than"):
        ensure_movie_posters(tmp_path / "mp", url=server.url("/bomb.zip"))
    assert list(tmp_path.iterdir()) == []


def test_non_zip_body_is_refused(server: FakeServer, tmp_path: Path) -> None:
    server.files["/page.zip"] = b"<html>Access denied</html>"
    with pytest.raises(DownloadError, match="not a zip archive"):
        ensure_movie_posters(tmp_path / "mp", url=server.url("/page.zip"))
    assert list(tmp_path.iterdir()) == []


def test_http_404_is_a_download_error(server: FakeServer, tmp_path: Path) -> None:
    url = server.url("/missing.zip")
    with pytest.raises(DownloadError) as excinfo:
        ensure_movie_posters(tmp_path / "mp", url=url)
    message = str(excinfo.value)
    assert "404" in message and url in message and "'Open folder'" in message
    assert list(tmp_path.iterdir()) == []


def test_cancel_removes_the_partial_file(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "CHUNK_BYTES", 4096)
    server.files["/big.zip"] = make_zip({"train/noise.bin": os.urandom(64 * 1024)})
    polls = 0

    def should_stop() -> bool:
        nonlocal polls
        polls += 1
        return polls > 3

    with pytest.raises(Cancelled):
        ensure_movie_posters(tmp_path / "mp", url=server.url("/big.zip"), should_stop=should_stop)
    assert polls == 4
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_gives_one_readable_message(tmp_path: Path) -> None:
    url = "http://127.0.0.1:1/x.zip"
    with pytest.raises(DownloadError) as excinfo:
        ensure_movie_posters(tmp_path / "mp", url=url, timeout=5)
    message = str(excinfo.value)
    assert message.startswith(f"Could not download the movie posters from {url}: ")
    assert "Check your internet connection" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_default_destination_is_under_the_data_dir(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARQUEE_HOME", str(tmp_path))
    server.files["/posters.zip"] = make_zip(POSTERS)
    root = ensure_movie_posters(url=server.url("/posters.zip"))
    assert root == tmp_path / "data" / "datasets" / "movie_posters"
    assert (root / "train" / "tt1.jpg").is_file()
