"""Malformed requests never get a 5xx, never take the server down; shutdown drains cleanly."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.core.serving_helpers import (
    gif_bytes,
    image_bytes,
    pixel_bomb_png,
    runtime_for,
    start_server,
)

ROOT = Path(__file__).resolve().parents[2]
JPEG = {"Content-Type": "image/jpeg"}


def malformed_requests(n: int, seed: int = 0) -> list[dict]:
    """`n` bad requests (httpx.post kwargs + path), cycling through many kinds of bad."""
    rng = np.random.default_rng(seed)
    good = image_bytes(size=(64, 64))
    png = image_bytes(size=(64, 64), fmt="PNG")
    kinds = [
        lambda: {"content": b"", "headers": JPEG},
        lambda: {"content": rng.bytes(int(rng.integers(1, 5000))), "headers": JPEG},
        lambda: {"content": good[: int(rng.integers(1, len(good) - 10))], "headers": JPEG},
        lambda: {
            "content": png[: int(rng.integers(8, len(png) - 10))],
            "headers": {"Content-Type": "image/png"},
        },
        lambda: {"content": pixel_bomb_png(), "headers": {"Content-Type": "image/png"}},
        lambda: {"content": gif_bytes(), "headers": {"Content-Type": "image/gif"}},
        lambda: {"content": gif_bytes(), "headers": JPEG},
        lambda: {"json": {"image": "A" * 1_500_000}},  # huge base64 (over the cap once decoded)
        lambda: {"json": {"image": base64.b64encode(rng.bytes(300)).decode()}},
        lambda: {"json": {"image": 12}},
        lambda: {"json": ["not", "an", "object"]},
        lambda: {"content": b"[" * 100_000, "headers": {"Content-Type": "application/json"}},
        lambda: {"content": good, "headers": {"Content-Type": "text/plain"}},
        lambda: {"content": good, "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
        lambda: {"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data"}},
        lambda: {"files": {"other": ("a.jpg", good, "image/jpeg")}},
        lambda: {"files": {"file": ("a.jpg", good[:100], "image/jpeg")}},
        lambda: {"path": "/predict", "json": {"payload": {"inputs": {"data": "%%%"}}}},
        lambda: {"path": "/v1/predict/batch", "json": {"images": "nope"}},
        lambda: {"path": "/v1/predict/batch", "content": b"x", "headers": JPEG},
        lambda: {"path": "/v1/predict?threshold=nan", "content": good, "headers": JPEG},
        lambda: {"path": "/v1/predict?thresholds=,,,", "content": good, "headers": JPEG},
    ]
    return [kinds[i % len(kinds)]() for i in range(n)]


async def _send_all(url: str, requests: list[dict]) -> Counter:
    statuses: Counter = Counter()
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:

        async def send(kwargs: dict) -> None:
            kwargs = dict(kwargs)
            path = kwargs.pop("path", "/v1/predict")
            try:
                response = await c.post(path, **kwargs)
            except (httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError):
                statuses["closed"] += 1  # the server may close on a lying Content-Length
                return
            assert "Traceback" not in response.text
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"code", "message"}
            statuses[response.status_code] += 1

        await asyncio.gather(*(send(r) for r in requests))
    return statuses


def _slow_client(port: int, send_for: float) -> bytes:
    """Declares a 100 kB body, then trickles bytes; returns what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 100000\r\n\r\n\xff\xd8\xff"
        )
        end = time.monotonic() + send_for
        try:
            while time.monotonic() < end:
                sock.sendall(b"\x00")
                time.sleep(0.1)
        except OSError:
            pass  # the server gave up on us: that is the point
        return sock.recv(4096)


def _lying_length(port: int) -> bytes:
    """Declares a 1 GB body and sends a few bytes: refused from the header, at once."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 999999999\r\n\r\n\xff\xd8\xff"
        )
        return sock.recv(4096)


def test_fuzz_never_5xx_and_the_server_stays_healthy(model_path) -> None:
    srv = start_server(
        runtime_for(model_path), max_body_bytes=1_000_000, body_timeout_s=1.0, max_batch=8
    )
    try:
        port = int(srv.url.rsplit(":", 1)[1])
        statuses = asyncio.run(_send_all(srv.url, malformed_requests(230)))
        assert b" 413 " in _lying_length(port).split(b"\r\n", 1)[0]
        slow = [_slow_client(port, 2.0) for _ in range(2)]
        assert all(b" 408 " in answer.split(b"\r\n", 1)[0] for answer in slow), slow
        assert sum(statuses.values()) == 230
        assert not [s for s in statuses if isinstance(s, int) and s >= 500], statuses
        assert statuses.get(200, 0) == 0, statuses
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
            ok = c.post("/v1/predict", content=image_bytes(), headers=JPEG)
            assert ok.status_code == 200
            metrics = c.get("/metrics").text
        assert 'status="500"' not in metrics
    finally:
        srv.stop()


# ------------------------------------------------------------------ the CLI process
def _start_cli(model_path: Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gui", "serve", str(model_path), "--port", "0", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(proc.stderr.read())
    return proc, json.loads(line)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_then_drains_in_flight_requests_on_a_signal(model_path, sig) -> None:
    proc, ready = _start_cli(model_path, "--max-wait-ms", "200")
    try:
        assert ready["event"] == "ready" and ready["url"].startswith("http://127.0.0.1:")
        assert ready["port"] > 0

        async def in_flight() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=ready["url"], timeout=30) as c:
                tasks = [
                    asyncio.ensure_future(
                        c.post("/v1/predict", content=image_bytes(seed=i), headers=JPEG)
                    )
                    for i in range(4)
                ]
                await asyncio.sleep(0.1)  # the requests wait for their 200 ms batch window
                proc.send_signal(sig)
                return await asyncio.gather(*tasks)

        responses = asyncio.run(in_flight())
        assert [r.status_code for r in responses] == [200] * 4
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_refuses_an_exposed_host_without_a_token_and_a_busy_port(model_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "gui", "serve", str(model_path)]
    exposed = subprocess.run(
        [*cmd, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert exposed.returncode == 2 and "--token" in exposed.stderr and not exposed.stdout
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = subprocess.run(
            [*cmd, "--port", port], env=env, capture_output=True, text=True, timeout=120
        )
    assert busy.returncode == 2 and "already in use" in busy.stderr, busy.stderr
    assert "Traceback" not in busy.stderr
