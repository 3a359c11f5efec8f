"""The Serve panel: a real `marquee serve` child process, started, used, counted and stopped."""

from __future__ import annotations

import io
import socket
import sys
import urllib.request

import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication

from gui.serve.panel import ServePanel, parse_metrics, serve_command

pytestmark = pytest.mark.slow
READY_MS = 150_000


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 160), (200, 40, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _post(url: str) -> int:
    request = urllib.request.Request(
        url + "/v1/predict", data=_jpeg(), headers={"Content-Type": "image/jpeg"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


def test_panel_starts_serves_counts_and_stops(qtbot, model_file) -> None:
    panel = ServePanel(model_file)
    qtbot.addWidget(panel)
    panel.show()
    panel.start()
    qtbot.waitUntil(lambda: panel.state == "ready", timeout=READY_MS)
    url = panel.url_edit.text()
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
    assert url in panel.curl_text.toPlainText() and url in panel.python_text.toPlainText()
    assert _post(url) == 200
    qtbot.waitUntil(lambda: panel.requests_label.text() == "1", timeout=15_000)
    assert panel.latency_label.text().endswith("ms")
    panel.stop_button.click()  # returns at once; the child drains and exits
    qtbot.waitUntil(lambda: panel.state == "stopped", timeout=15_000)
    assert not panel.running
    assert panel.process.exitCode() == 0  # SIGTERM: drained, clean exit


def test_quitting_the_app_stops_the_child(qtbot, model_file) -> None:
    panel = ServePanel(model_file)
    qtbot.addWidget(panel)
    panel.start()
    qtbot.waitUntil(lambda: bool(panel.url), timeout=READY_MS)
    QApplication.instance().aboutToQuit.emit()
    assert not panel.running


def test_a_busy_port_is_a_plain_message(qtbot, model_file) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        panel = ServePanel(model_file, port=taken.getsockname()[1])
        qtbot.addWidget(panel)
        panel.start()
        qtbot.waitUntil(lambda: panel.state == "failed", timeout=READY_MS)
    assert "already in use" in panel.status_label.text()
    assert "Traceback" not in panel.status_label.text()
    assert panel.start_button.isVisible() or not panel.isVisible()


def test_a_crashed_child_is_a_plain_message(qtbot, tmp_path) -> None:
    crash = (sys.executable, ["-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"])
    panel = ServePanel(tmp_path / "m.safetensors", command=crash)
    qtbot.addWidget(panel)
    panel.start()
    qtbot.waitUntil(lambda: panel.state == "failed", timeout=30_000)
    text = panel.status_label.text()
    assert "stopped unexpectedly" in text and "exit code 3" in text and "boom" in text


def test_predict_page_button_opens_the_panel(window, qtbot, model_file, monkeypatch) -> None:
    page = window.predict_page
    messages = []
    page.status_message.connect(messages.append)
    page.serve_button.click()
    assert messages and page.serve_panel is None  # no panel was opened
    monkeypatch.setattr(ServePanel, "start", lambda self: None)  # no child process here
    page.model_path = model_file
    page.serve_button.click()
    assert page.serve_panel.model_path == model_file and page.serve_panel.isVisible()
    page.serve_panel.close()


def test_serve_command_and_metrics_parsing(tmp_path) -> None:
    program, args = serve_command(tmp_path / "m.safetensors", 0)
    assert program == sys.executable and args[:3] == ["-m", "gui", "serve"]
    assert args[args.index("--host") + 1] == "127.0.0.1" and args[args.index("--port") + 1] == "0"
    text = "\n".join(
        [
            "# HELP marquee_requests_total x",
            'marquee_requests_total{endpoint="/v1/predict",status="200"} 3.0',
            'marquee_requests_total{endpoint="/v1/predict",status="415"} 1.0',
            'marquee_requests_total{endpoint="/healthz",status="200"} 9.0',
            'marquee_request_latency_seconds_sum{endpoint="/v1/predict"} 0.2',
            'marquee_request_latency_seconds_count{endpoint="/v1/predict"} 4.0',
        ]
    )
    assert parse_metrics(text) == (4, pytest.approx(50.0))
    assert parse_metrics("") == (0, None)
