"""A real uvicorn server on 127.0.0.1, port 0, in a thread: what the serving tests talk to."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from PIL import Image

from core.serving.app import create_app
from core.serving.limits import ServeOptions
from core.serving.runtime import ModelRuntime, load_runtime
from core.serving.server import bind_socket


class ThreadServer:
    """uvicorn serving `app` in a daemon thread; `url` once started; `stop()` drains."""

    def __init__(self, app, timeout: float = 60.0) -> None:
        self.app = app
        self.sock = bind_socket("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, lifespan="on", timeout_keep_alive=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def start_server(runtime: ModelRuntime, **options) -> ThreadServer:
    return ThreadServer(create_app(runtime, ServeOptions(**options)))


def runtime_for(model_path: Path, runtime: str = "torch") -> ModelRuntime:
    return load_runtime(model_path, "cpu", runtime)


def image_bytes(
    colour: tuple[int, int, int] = (200, 40, 40),
    size: tuple[int, int] = (80, 96),
    fmt: str = "JPEG",
    seed: int = 0,
) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(0, 25, (size[1], size[0], 3)) + colour, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 0, 255)).save(buffer, format="GIF")
    return buffer.getvalue()


def pixel_bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (400 M by default)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 8)  # a few rows; the rest is missing
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )
