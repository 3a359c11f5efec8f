"""A local stand-in for the Hugging Face hub's file routes, for download tests.

`HubServer` answers HEAD and GET `/{repo}/resolve/{revision}/{filename}` on 127.0.0.1 the
way huggingface_hub's `file_download` reads them: `X-Repo-Commit`, `ETag`, and for LFS
files `X-Linked-Etag` (the sha256) and `X-Linked-Size`; GET honours `Range: bytes=N-` with
a 206 and `Content-Range`. A file can be served with a connection dropped after some bytes
(`drop_after`, once) or with corrupted bytes under the real checksum (`corrupt`). Point
`HF_ENDPOINT` at `url` and huggingface_hub's real download code runs against it.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_ROUTE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


@dataclass
class HostedFile:
    body: bytes
    drop_after: int | None = None  # close the connection after this many bytes (first GET)
    corrupt: bool = False  # serve flipped bytes; the headers keep the real sha256
    slow: threading.Event | None = None  # when set, GET waits for it before the second MiB

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass
class HubServer:
    url: str = ""
    files: dict[tuple[str, str], HostedFile] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, range

    def host(self, repo: str, filename: str, body: bytes, **options: object) -> HostedFile:
        hosted = HostedFile(body, **options)  # type: ignore[arg-type]
        self.files[(repo, filename)] = hosted
        return hosted

    def gets(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[0] == "GET"]


def _handler(state: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def _answer(self, send_body: bool) -> None:
            state.requests.append((self.command, self.path, self.headers.get("Range")))
            match = _ROUTE.match(self.path)
            hosted = state.files.get((match["repo"], match["file"])) if match else None
            if hosted is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = _range_start(self.headers.get("Range"))
            self.send_response(206 if start else 200)
            self._file_headers(hosted, start)
            self.end_headers()
            if send_body:  # a client that cancels resets the connection, as on a real server
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._body(hosted, start)

        def _file_headers(self, hosted: HostedFile, start: int) -> None:
            size = len(hosted.body)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha1(hosted.body).hexdigest()}"')
            self.send_header("X-Linked-Etag", f'"{hosted.sha256}"')
            self.send_header("X-Linked-Size", str(size))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(size - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")

        def _body(self, hosted: HostedFile, start: int) -> None:
            body = hosted.body
            if hosted.corrupt:
                body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
            body = body[start:]
            if hosted.drop_after is not None:
                cut, hosted.drop_after = hosted.drop_after, None
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            if hosted.slow is not None:
                self.wfile.write(body[: 1 << 20])
                self.wfile.flush()
                hosted.slow.wait(timeout=30)
                body = body[1 << 20 :]
            self.wfile.write(body)

    return Handler


def _range_start(header: str | None) -> int:
    match = re.fullmatch(r"bytes=(\d+)-", header or "")
    return int(match.group(1)) if match else 0


@contextmanager
def hub_server() -> Iterator[HubServer]:
    """A running server on a free port of 127.0.0.1; stopped on exit."""
    state = HubServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def timm_weights(name: str, seed: int = 0) -> bytes:
    """A safetensors file of random weights for timm's `name` (with its classifier)."""
    import timm
    import torch
    from safetensors.torch import save

    torch.manual_seed(seed)
    state = timm.create_model(name, pretrained=False).state_dict()
    return save({k: v.contiguous() for k, v in state.items()})
