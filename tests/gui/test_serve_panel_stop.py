"""The Serve panel's Stop: asks, follows the child's own exit, and says when it had to kill.

Stand-in children (plain Python, no model) play a server that drains slowly and one that
ignores the request to stop; the panel must wait for the first however long it takes and
report the forced end of the second.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from gui.serve import panel as serve_panel
from gui.serve.panel import ServePanel

_CHILD = """
    import json, signal, sys, time
    def on_term(*_):
        {on_term}
    signal.signal(signal.SIGTERM, on_term)
    print(json.dumps({{"event": "ready", "url": "http://127.0.0.1:9"}}), flush=True)
    while True:
        time.sleep(0.05)
"""
SLOW_DRAIN = "time.sleep(1.5); sys.exit(0)"  # answers its last requests, then exits 0
DEAF = "pass"  # never stops by itself

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _panel(qtbot, tmp_path: Path, on_term: str) -> ServePanel:
    code = textwrap.dedent(_CHILD.format(on_term=on_term))
    panel = ServePanel(tmp_path / "m.safetensors", command=(sys.executable, ["-c", code]))
    qtbot.addWidget(panel)
    panel.start()
    qtbot.waitUntil(lambda: bool(panel.url), timeout=60_000)  # its SIGTERM handler is set
    return panel


def test_stop_waits_for_the_server_to_finish_however_long_it_drains(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fixed stop timeout shorter than the drain must not matter (it used to kill at 8 s).
    monkeypatch.setattr(serve_panel, "STOP_TIMEOUT_MS", 200, raising=False)
    panel = _panel(qtbot, tmp_path, SLOW_DRAIN)
    panel.stop_button.click()
    assert panel.state == "stopping" and panel.running
    qtbot.waitUntil(lambda: panel.state == "stopped", timeout=60_000)
    assert panel.process.exitCode() == 0
    assert panel.status_label.text() == "The server is stopped."


def test_a_server_that_ignores_stop_is_killed_on_request_and_the_user_told(
    qtbot, tmp_path: Path
) -> None:
    panel = _panel(qtbot, tmp_path, DEAF)
    panel.stop_button.click()
    assert panel.state == "stopping"
    assert panel.stop_button.isEnabled() and panel.stop_button.text() == "Force stop"
    panel.stop_button.click()
    qtbot.waitUntil(lambda: panel.state == "stopped", timeout=30_000)
    assert not panel.running
    assert "killed" in panel.status_label.text()
    assert panel.stop_button.text() == "Stop"


def test_closing_the_panel_kills_a_deaf_server_and_says_so(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_panel, "CLOSE_WAIT_MS", 300)
    panel = _panel(qtbot, tmp_path, DEAF)
    panel.close()
    assert not panel.running
    qtbot.waitUntil(lambda: panel.state == "stopped", timeout=30_000)
    assert "killed" in panel.status_label.text()
