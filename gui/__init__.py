"""Marquee's desktop app: a PySide6 window over `core` (which never imports Qt)."""

from __future__ import annotations

import sys
from types import TracebackType


def _quiet_interrupt(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """Ctrl+C before `main` takes over (while the app's modules import): one line, no
    traceback. Installed first thing, as `marquee` imports `gui.app`."""
    if issubclass(kind, KeyboardInterrupt):
        print("marquee: cancelled", file=sys.stderr)
        return
    sys.__excepthook__(kind, value, tb)


if sys.excepthook is sys.__excepthook__:  # leave a host's own hook (an IDE, a test runner)
    sys.excepthook = _quiet_interrupt
