"""How the Serve panel runs `marquee serve` as a child process, and on which port."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit


def with_port(args: list[str], port: int) -> list[str]:
    """`args` with the value after --port set to `port` (0: any free port)."""
    if not port or "--port" not in args:
        return list(args)
    at = args.index("--port") + 1
    return [*args[:at], str(port), *args[at + 1 :]]


def port_of(ready: dict) -> int:
    """The port in a server's "ready" line (0: none given)."""
    try:
        return int(ready.get("port") or urlsplit(str(ready["url"])).port or 0)
    except (TypeError, ValueError):
        return 0


def serve_command(model: Path, port: int = 0, extra: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """The program and arguments that run this app's `serve` subcommand."""
    args = ["serve", str(model), "--host", "127.0.0.1", "--port", str(port), *extra]
    if not getattr(sys, "frozen", False):
        return sys.executable, ["-m", "gui", *args]
    exe = Path(sys.executable)
    console_twin = exe.with_name("marquee-cli.exe")  # a windowed .exe has no stdout to read
    if sys.platform == "win32" and console_twin.is_file():
        return str(console_twin), args
    return str(exe), args
