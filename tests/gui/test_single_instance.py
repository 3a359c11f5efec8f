"""One running app: a later `marquee FILE...` hands its files to the open window and exits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from gui.single_instance import (
    ACK,
    FileOpenFilter,
    InstanceServer,
    decode,
    encode,
    send_to_running,
    server_name,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(qtbot):
    instance = InstanceServer(name=f"marquee-test-{uuid.uuid4().hex[:12]}")
    assert instance.listen()
    yield instance
    instance.close()


def _posters(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        path = folder / f"poster{i}.png"
        Image.new("RGB", (12, 18), (40 * i, 90, 200)).save(path)
        paths.append(path)
    return paths


def test_messages_round_trip_as_absolute_paths(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert decode(encode([Path("a.png"), tmp_path / "m.safetensors"])) == [
        tmp_path / "a.png",
        tmp_path / "m.safetensors",
    ]
    for junk in (b"", b"not json\n", b'{"paths": "a.png"}\n', b'{"paths": [1]}\n', b"[]\n"):
        assert decode(junk) is None, junk


def test_the_name_depends_on_the_settings_folder(marquee_home, monkeypatch, tmp_path) -> None:
    first = server_name()
    monkeypatch.setenv("MARQUEE_HOME", str(tmp_path / "other-home"))
    assert server_name() != first


def test_with_nobody_listening_the_launch_runs_itself(qtbot) -> None:
    assert not send_to_running([Path("x.png")], name=f"marquee-none-{uuid.uuid4().hex[:12]}")


def test_a_second_process_hands_its_files_over_and_exits_0(qtbot, tmp_path, marquee_home):
    server = InstanceServer()  # the real name for this MARQUEE_HOME, as the child computes it
    assert server.listen()
    posters = _posters(tmp_path, 2)
    env = {**os.environ, "MARQUEE_HOME": str(marquee_home), "QT_QPA_PLATFORM": "offscreen"}
    with qtbot.waitSignal(server.paths_received, timeout=60_000) as received:
        child = subprocess.Popen(
            [sys.executable, "-m", "gui", *map(str, posters)], cwd=ROOT, env=env
        )
    try:
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
        server.close()
    assert received.args == [posters]


def test_a_live_instance_keeps_its_name(server, qtbot) -> None:
    assert not InstanceServer(name=server.name).listen()
    client = QLocalSocket()  # non-blocking: the server answers from this thread's event loop
    client.connectToServer(server.name)
    with qtbot.waitSignal(server.paths_received) as received:
        client.write(encode([]))
    qtbot.waitUntil(client.canReadLine)
    assert bytes(client.readLine().data()) == ACK
    assert received.args == [[]]


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes leave no stale file")
def test_a_crashed_instances_socket_file_is_taken_over(qtbot, tmp_path) -> None:
    name = f"marquee-stale-{uuid.uuid4().hex[:12]}"
    probe = QLocalServer()
    assert probe.listen(name)
    path = probe.fullServerName()
    probe.close()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)  # bound, never listening: what a killed process leaves behind
    stale.close()
    server = InstanceServer(name=name)
    try:
        assert server.listen()
    finally:
        server.close()


def test_a_malformed_message_is_dropped(server, qtbot) -> None:
    client = QLocalSocket()
    client.connectToServer(server.name)
    assert client.waitForConnected(2_000)
    with qtbot.assertNotEmitted(server.paths_received, wait=300):
        client.write(b"hello\n")
        client.flush()
        qtbot.waitUntil(lambda: client.state() == QLocalSocket.LocalSocketState.UnconnectedState)


def test_finders_open_events_become_paths(qtbot, tmp_path) -> None:
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    file_open = FileOpenFilter()
    app.installEventFilter(file_open)
    model = tmp_path / "genres.safetensors"
    try:
        with qtbot.waitSignal(file_open.paths_received) as received:
            QApplication.sendEvent(app, QFileOpenEvent(str(model)))
    finally:
        app.removeEventFilter(file_open)
    assert received.args == [[model]]


def test_the_window_opens_a_model_and_adds_posters_on_predict(window, qtbot, tmp_path):
    calls: list[tuple[str, object]] = []
    page = window.predict_page
    page.load_model = lambda path, result=None: calls.append(("model", path))
    page.add_inputs = lambda paths: calls.append(("images", paths))
    posters = _posters(tmp_path, 2)
    model = tmp_path / "genres.safetensors"
    window.show_page(0)
    window.open_paths([posters[0], model, posters[1]])
    assert window.pages.currentWidget() is page
    assert calls == [("model", model), ("images", posters)]
    calls.clear()
    window.open_paths([])  # a bare `marquee` while open: only brings the window forward
    assert calls == []
