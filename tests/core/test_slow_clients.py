"""`marquee serve` against slow and greedy clients: a connection whose request headers do
not arrive in time is closed, and connections beyond the cap are closed on arrival."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from core.serving.limits import ServeOptions
from core.serving.server import _Server, bind_socket, uvicorn_config


async def _hello(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def server_port(request: pytest.FixtureRequest) -> Iterator[int]:
    options = ServeOptions(**request.param)
    started = threading.Event()
    server = _Server(uvicorn_config(_hello), started.set, options)
    sock = bind_socket("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert started.wait(30)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(30)
    sock.close()


def _connect(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=20)
    return client


def _closed_by_server(client: socket.socket) -> bool:
    """Whether the server closes the connection (the read ends) before the 20 s timeout."""
    try:
        return client.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def _get(port: int) -> bytes:
    with _connect(port) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return client.recv(1024)


@pytest.mark.parametrize("server_port", [{"header_timeout_s": 0.5}], indirect=True)
def test_headers_sent_a_byte_at_a_time_are_cut_off(server_port: int) -> None:
    slow = _connect(server_port)
    slow.sendall(b"GET / HTTP/1.1\r\nHo")  # ... and nothing more
    assert _closed_by_server(slow)
    slow.close()
    assert _get(server_port).startswith(b"HTTP/1.1 200")  # others are still served


@pytest.mark.parametrize(
    "server_port", [{"header_timeout_s": 30.0, "max_connections": 3}], indirect=True
)
def test_connections_beyond_the_cap_are_closed_on_arrival(server_port: int) -> None:
    held = [_connect(server_port) for _ in range(3)]
    for client in held:
        client.sendall(b"GET / HTTP/1.1\r\n")
    extra = _connect(server_port)
    assert _closed_by_server(extra)
    extra.close()
    held.pop().close()
    for client in held:
        client.sendall(b"Host: x\r\nConnection: close\r\n\r\n")  # the held ones finish
        assert client.recv(1024).startswith(b"HTTP/1.1 200")
        client.close()
