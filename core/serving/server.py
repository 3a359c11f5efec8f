"""`marquee serve`: bind, print one JSON "ready" line, serve until Ctrl+C / SIGTERM, drain.

uvicorn gets the app object (not an import string) and an explicit log configuration, so a
PyInstaller bundle works, including a windowed one without stdout.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import uvicorn

from core.base.errors import UsageError
from core.serving.exposure import check_exposure
from core.serving.guards import guarded_protocol
from core.serving.limits import ServeOptions

log = logging.getLogger("marquee.serve")


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind now, so a busy port is a clear error and --port 0 knows its port before the line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if sys.platform != "win32":  # on Windows this would let two servers share a port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise UsageError(
                f"Port {port} on {host} is already in use.",
                "Choose another with --port, or --port 0 for any free port.",
            ) from exc
        raise UsageError(f"Cannot listen on {host}:{port} ({exc.strerror or exc}).") from exc
    sock.set_inheritable(True)
    return sock


def log_config() -> dict[str, Any]:
    """uvicorn's logging: stderr when there is one, else a file in the log folder."""
    if sys.stderr is not None:
        handler: dict[str, Any] = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    else:
        from core.base.paths import log_dir

        handler = {"class": "logging.FileHandler", "filename": str(log_dir() / "serve.log")}
    handler["formatter"] = "plain"
    # Marquee's own lines join uvicorn's only where nothing else logs them: inside the app
    # the root logger already writes the log file, and taking "marquee" from it would
    # silence the app's log for the rest of the session.
    names: tuple[str, ...] = ("uvicorn", "uvicorn.error")
    if not logging.getLogger().handlers:
        names += ("marquee",)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"default": handler},
        "loggers": {
            name: {"handlers": ["default"], "level": "INFO", "propagate": False} for name in names
        },
    }


def uvicorn_config(app: Any, timeout_s: float = 30.0) -> uvicorn.Config:
    """The app object itself (not an import string) and an explicit log configuration."""
    return uvicorn.Config(
        app,
        log_config=log_config(),
        access_log=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=max(5, int(timeout_s) + 5),
        # Explicit choices: a frozen bundle carries exactly these (packaging/bundle_info.py).
        http="auto",
        loop="asyncio",
        lifespan="on",
        ws="none",
    )


class _Server(uvicorn.Server):
    """uvicorn.Server that announces readiness and exits 0 after a signal-driven drain."""

    def __init__(
        self, config: uvicorn.Config, on_ready: Callable[[], None], options: ServeOptions
    ) -> None:
        super().__init__(config)
        self._on_ready, self._options = on_ready, options
        self.stopped_by: list[int] = []

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if not self.config.loaded:
            self.config.load()
        self.config.http_protocol_class = guarded_protocol(
            self.config.http_protocol_class,
            self._options.header_timeout_s,
            self._options.max_connections,
        )
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._on_ready()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after its graceful shutdown, which would turn a clean
        # Ctrl+C into exit 130 and SIGTERM into a kill; we drained, so we exit 0 instead.
        with super().capture_signals():
            yield
            self.stopped_by = list(self._captured_signals)
            self._captured_signals.clear()


def ready_line(url: str, **extra: Any) -> str:
    return json.dumps({"event": "ready", "url": url, **extra})


def _stdout() -> TextIO | None:
    if sys.stdout is not None:
        return sys.stdout
    with contextlib.suppress(OSError, ValueError):  # a windowed build started with a pipe
        return open(1, "w", encoding="utf-8", closefd=False)
    return None


def _announcer(
    url: str, host: str, port: int, model: str, loaded: Any, options: Any
) -> Callable[[], None]:
    """Prints the one JSON "ready" line (and logs it) once the server accepts requests."""

    def announce() -> None:
        line = ready_line(
            url,
            host=host,
            port=port,
            pid=os.getpid(),
            model=model,
            runtime=loaded.name,
            device=loaded.device_name,
            max_batch=options.max_batch,
            max_wait_ms=options.max_wait_ms,
            auth=bool(options.token),
            docs=f"{url}/docs",
        )
        stream = _stdout()
        if stream is not None:
            print(line, file=stream, flush=True)
        log.info("ready: %s", url)

    return announce


def serve(
    model: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str = "auto",
    runtime: str = "auto",
    no_auth: bool = False,
    **settings: Any,
) -> int:
    """Load the model, bind, serve until a signal; returns the exit code (0 after a drain).

    `settings` are `ServeOptions` fields (max_batch, token, ...); None keeps the default for
    the device the model runs on.
    """
    from core.serving.app import create_app
    from core.serving.limits import default_options
    from core.serving.runtime import load_runtime

    warning = check_exposure(host, settings.get("token"), no_auth)
    if warning and sys.stderr is not None:
        print(f"marquee: warning: {warning}", file=sys.stderr)
    sock = bind_socket(host, port)  # first: a busy port fails before the slow model load
    try:
        loaded = load_runtime(model, device, runtime)
        options = default_options(loaded.device, **settings)
    except BaseException:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}"
    config = uvicorn_config(create_app(loaded, options), options.timeout_s)

    announce = _announcer(url, host, bound_port, str(model), loaded, options)
    server = _Server(config, announce, options)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        return 1  # the lifespan failed (the log says why)
    drained = " after a signal; in-flight requests were answered" if server.stopped_by else ""
    log.info("stopped%s", drained)
    return 0
