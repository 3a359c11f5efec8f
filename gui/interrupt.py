"""Ctrl+C (or SIGTERM) in the terminal a window was opened from closes the window, as its
close button would.

Qt's event loop runs no Python, so Python's own SIGINT handling would wait for the next
Python callback (an event filter, say) and raise KeyboardInterrupt inside it: a traceback,
and the app goes on. Here the signal's handler only asks the window to close, and
`signal.set_wakeup_fd` with a socket notifier wakes the loop so that handler runs at once.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from types import FrameType

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QWidget

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class InterruptCloses(QObject):
    """While installed, SIGINT and SIGTERM close `window` (from the event loop)."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in SIGNALS}
        window.destroyed.connect(self.uninstall)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        QTimer.singleShot(0, self._window.close)  # not inside whatever Python was running

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._reader.recv(512):
                pass

    def uninstall(self) -> None:
        """Give the signals back to whoever had them."""
        if not self._previous:
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        signal.set_wakeup_fd(self._previous_fd)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()
