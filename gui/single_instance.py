"""One Marquee window per user: a later launch hands its files to the running one and exits.

The first instance listens on a local socket (a Unix socket, a named pipe on Windows) named
after the user and Marquee's settings folder. `marquee FILE...` connects, sends the absolute
paths as one JSON line and waits for "ok"; with no answer it starts a window of its own.
Starting a second 4 GB process just to show one poster is what this avoids. macOS keeps one
instance per app itself and delivers "Open with" files as QFileOpenEvents instead of argv:
`FileOpenFilter` turns those into the same signal.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from core.base.paths import config_dir

CONNECT_TIMEOUT_MS = 500  # a live server accepts at once; a stale socket refuses at once
REPLY_TIMEOUT_MS = 5_000  # the running window may be busy painting
ACK = b"ok\n"
MAX_MESSAGE_BYTES = 4_000_000  # tens of thousands of paths; more is not a launch


def server_name() -> str:
    """Per user and per settings folder, so a test's MARQUEE_HOME never reaches a real window."""
    key = f"{getpass.getuser()}\0{config_dir()}"
    return "marquee-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def encode(paths: list[Path]) -> bytes:
    # Absolute: the running window has its own working directory.
    return json.dumps({"paths": [str(Path(p).absolute()) for p in paths]}).encode() + b"\n"


def decode(message: bytes) -> list[Path] | None:
    """The paths of one message; None when it is not a Marquee launch's message."""
    try:
        paths = json.loads(message)["paths"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return None
    return [Path(p) for p in paths]


def _read_line(socket: QLocalSocket, timeout_ms: int) -> bytes:
    while not socket.canReadLine():
        if not socket.waitForReadyRead(timeout_ms):
            return b""
    return bytes(socket.readLine().data())


def send_to_running(paths: list[Path], name: str | None = None) -> bool:
    """Hand `paths` to a running Marquee (empty: just raise its window); False if none answers."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(encode(paths))
    socket.waitForBytesWritten(REPLY_TIMEOUT_MS)
    acked = _read_line(socket, REPLY_TIMEOUT_MS) == ACK
    socket.disconnectFromServer()
    return acked


def _answers(name: str) -> bool:
    socket = QLocalSocket()
    socket.connectToServer(name)
    alive = socket.waitForConnected(CONNECT_TIMEOUT_MS)
    socket.abort()
    return alive


class InstanceServer(QObject):
    """Listens for later launches; `paths_received` carries each one's files (maybe none)."""

    paths_received = Signal(list)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        # Only this user may connect (the socket file is made private on Unix).
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_server_new_connection)

    def listen(self) -> bool:
        """Start listening; False when another live instance already holds the name."""
        # Asked first: with UserAccessOption, Qt renames its socket file over an existing one,
        # so listen() alone would quietly take the name from a live instance.
        if _answers(self.name):
            return False
        if self._server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)  # a crashed instance's socket file
        return self._server.listen(self.name)

    def close(self) -> None:
        self._server.close()

    def _on_server_new_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            # No lambda holding the socket: Qt deletes it, and a Python closure would outlive it.
            socket.readyRead.connect(self._on_socket_ready_read)
            socket.disconnected.connect(socket.deleteLater)

    def _on_socket_ready_read(self) -> None:
        socket = self.sender()
        if not isinstance(socket, QLocalSocket):
            return
        if not socket.canReadLine():
            if socket.bytesAvailable() > MAX_MESSAGE_BYTES:
                socket.abort()
            return
        paths = decode(bytes(socket.readLine().data()))
        if paths is None:
            socket.abort()
            return
        socket.write(ACK)
        socket.flush()
        self.paths_received.emit(paths)


class FileOpenFilter(QObject):
    """On the QApplication: Finder's "Open with" (QFileOpenEvent) as `paths_received`."""

    paths_received = Signal(list)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            self.paths_received.emit([Path(event.file())])
            return True
        return False
