"""The "Serve this model" window: runs `marquee serve` as a child process and shows how to call it.

The child is the same executable's `serve` subcommand (QProcess), on loopback and a free
port. Its one JSON "ready" line gives the URL; /readyz and /metrics are polled from a
worker thread (urllib), so the UI thread never waits on the network. Closing this window
or the app stops the child.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.serve.command import port_of, serve_command, with_port
from gui.theme import set_muted
from gui.widgets.cards import CardWidget

POLL_MS = 1000
READY_TIMEOUT_S = 180  # loading torch and the model on a slow machine
CLOSE_WAIT_MS = 15_000  # closing the window or the app: how long a drain may hold it up
PREDICT_ENDPOINTS = ("/v1/predict", "/v1/predict/batch", "/predict")
_SAMPLE = re.compile(r"^(marquee_\w+)\{([^}]*)\}\s+([0-9.eE+-]+|NaN)$")


def parse_metrics(text: str) -> tuple[int, float | None]:
    """(prediction requests answered, their mean latency in ms) from Prometheus text."""
    requests, latency_sum, latency_count = 0.0, 0.0, 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match:
            continue
        name, labels, value = match.groups()
        endpoint = re.search(r'endpoint="([^"]*)"', labels)
        if endpoint is None or endpoint.group(1) not in PREDICT_ENDPOINTS:
            continue
        if name == "marquee_requests_total":
            requests += float(value)
        elif name == "marquee_request_latency_seconds_sum":
            latency_sum += float(value)
        elif name == "marquee_request_latency_seconds_count":
            latency_count += float(value)
    mean = latency_sum / latency_count * 1000 if latency_count else None
    return int(requests), mean


def curl_example(url: str) -> str:
    return (
        f"curl -X POST {url}/v1/predict \\\n"
        '  -H "Content-Type: image/jpeg" \\\n'
        "  --data-binary @poster.jpg"
    )


def python_example(url: str) -> str:
    return (
        "import requests\n\n"
        'with open("poster.jpg", "rb") as f:\n'
        f'    r = requests.post("{url}/v1/predict", files={{"file": f}})\n'
        'print(r.json()["predicted"], r.json()["probabilities"])'
    )


class _Fetcher(QObject):
    """GETs URLs in one worker thread; answers arrive as a signal in the UI thread."""

    fetched = Signal(str, int, str)  # path, status (0: no answer), body

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="serve-panel")
        self._busy = False

    def get(self, base: str, path: str) -> None:
        if self._busy:
            return  # the previous poll is still out; skip this tick
        self._busy = True
        self._pool.submit(self._get, base, path)

    def _get(self, base: str, path: str) -> None:
        try:
            with urllib.request.urlopen(base + path, timeout=3) as response:
                status, body = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, ""
        except (OSError, ValueError):
            status, body = 0, ""
        self._busy = False
        self.fetched.emit(path, status, body)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ServePanel(QDialog):
    """Starts, shows and stops a local server for one model file."""

    state_changed = Signal(str)  # "starting", "ready", "stopped", "failed"

    def __init__(
        self,
        model_path: Path,
        parent: QWidget | None = None,
        port: int = 0,
        command: tuple[str, list[str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.model_path = Path(model_path)
        self.url = ""
        self.state = "stopped"
        self._command = command or serve_command(self.model_path, port)
        self.port = port  # once a server was ready: its port, kept by "Start again"
        self._stdout, self._stderr = "", ""
        self._stopping = self._killed = False
        self._elapsed_polls = 0
        self.setWindowTitle("Serve model")
        self.setMinimumWidth(620)
        self._build()
        self._fetcher = _Fetcher(self)
        self._fetcher.fetched.connect(self._on_fetcher_fetched)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._on_process_stdout)
        self.process.readyReadStandardError.connect(self._on_process_stderr)
        self.process.finished.connect(self._on_process_finished)
        self.process.errorOccurred.connect(self._on_process_error)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 16)
        layout.setSpacing(12)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setObjectName("cardTitle")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        layout.addWidget(self._build_address_card())
        layout.addWidget(self._build_examples_card(), 1)
        buttons = QHBoxLayout()
        note = QLabel("The server runs while this window is open (this computer only).")
        set_muted(note)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("danger")
        self.stop_button.clicked.connect(lambda: self.stop(wait=False))
        self.start_button = QPushButton("Start again")
        self.start_button.clicked.connect(self.start)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(note, 1)
        for button in (self.start_button, self.stop_button, close):
            buttons.addWidget(button)
        layout.addLayout(buttons)

    def _build_address_card(self) -> CardWidget:
        card = CardWidget("Endpoint")
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        self.url_edit = QLineEdit()
        self.url_edit.setReadOnly(True)
        self.url_edit.setPlaceholderText("starting…")
        copy_url = self._copy_button(lambda: self.url_edit.text())
        self.requests_label = QLabel("0")
        self.requests_label.setObjectName("statValue")
        self.latency_label = QLabel("–")
        self.latency_label.setObjectName("statValue")
        requests_caption, latency_caption = QLabel("requests"), QLabel("mean latency")
        set_muted(requests_caption)
        set_muted(latency_caption)
        grid.addWidget(QLabel("URL"), 0, 0)
        grid.addWidget(self.url_edit, 0, 1, 1, 3)
        grid.addWidget(copy_url, 0, 4)
        grid.addWidget(self.requests_label, 1, 1)
        grid.addWidget(self.latency_label, 1, 3)
        grid.addWidget(requests_caption, 2, 1)
        grid.addWidget(latency_caption, 2, 3)
        grid.setColumnStretch(2, 1)
        card.body.addLayout(grid)
        return card

    def _build_examples_card(self) -> CardWidget:
        card = CardWidget("Try it")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.curl_text, self.python_text = QPlainTextEdit(), QPlainTextEdit()
        for title, edit, lines in (("curl", self.curl_text, 3), ("Python", self.python_text, 5)):
            edit.setReadOnly(True)
            edit.setFont(mono)
            edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            edit.setFixedHeight(edit.fontMetrics().lineSpacing() * lines + 16)
            row = QHBoxLayout()
            caption = QLabel(title)
            set_muted(caption)
            row.addWidget(caption)
            row.addStretch(1)
            row.addWidget(self._copy_button(edit.toPlainText))
            card.body.addLayout(row)
            card.body.addWidget(edit)
        docs = QLabel()
        docs.setOpenExternalLinks(True)
        self.docs_label = docs
        card.body.addWidget(docs)
        return card

    def _copy_button(self, text) -> QPushButton:
        button = QPushButton("Copy")
        button.setToolTip("Copy to the clipboard")
        button.clicked.connect(lambda: QGuiApplication.clipboard().setText(text()))
        return button

    # ------------------------------------------------------------------ the child process
    def start(self) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            return
        self.url, self._stdout, self._stderr = "", "", ""
        self._stopping = self._killed = False
        self._elapsed_polls = 0
        self.url_edit.clear()
        self.requests_label.setText("0")
        self.latency_label.setText("–")
        for edit in (self.curl_text, self.python_text):
            edit.clear()
        self.docs_label.clear()
        self._set_state("starting", "Starting the server (loading the model)…")
        program, args = self._command
        self.process.start(program, with_port(args, self.port))
        self._timer.start()

    def stop(self, wait: bool = True) -> None:
        """Ask the server to answer the requests in flight and exit (SIGTERM).

        The Stop button (`wait=False`) returns at once: the panel follows the process's own
        exit (`finished`), however long the drain takes, and meanwhile the button offers
        "Force stop". Closing the window or the app waits up to CLOSE_WAIT_MS, then kills,
        so no child outlives the app. A kill is always reported.
        """
        self._timer.stop()
        if not self.running:
            return
        if not self._stopping:
            self._stopping = True
            self._set_state("stopping", "Stopping the server (answering requests in flight)…")
            self.process.terminate()
            if sys.platform == "win32":  # a console child never sees terminate() there
                self._kill()
        elif not wait:  # Stop pressed again while it drains: the user forces it
            self._kill()
        if wait and not self.process.waitForFinished(CLOSE_WAIT_MS):
            self._kill()

    def _kill(self) -> None:
        if self.running:
            self._killed = True
            self.process.kill()
            self.process.waitForFinished(2000)

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def _on_process_stdout(self) -> None:
        self._stdout += bytes(self.process.readAllStandardOutput().data()).decode(
            "utf-8", "replace"
        )
        while "\n" in self._stdout and not self.url:
            line, self._stdout = self._stdout.split("\n", 1)
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("event") == "ready":
                self.url = str(doc["url"])
                self.port = port_of(doc) or self.port  # a copied URL works after a restart
                self._set_state("starting", f"Listening on {self.url}; warming up…")
                self._fetcher.get(self.url, "/readyz")

    def _on_process_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        self._stderr = (self._stderr + text)[-4000:]

    def _on_process_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        self._timer.stop()
        if self._killed:
            message = "The server did not stop by itself and was killed; requests in flight "
            self._set_state("stopped", message + "got no answer.")
        elif self._stopping:
            self._set_state("stopped", "The server is stopped.")
        else:
            self._set_state("failed", self._failure_message(code))

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._timer.stop()
            self._set_state(
                "failed", f"The server could not be started ({self.process.errorString()})."
            )

    def _failure_message(self, code: int) -> str:
        lines = [ln for ln in self._stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("marquee: error:")]
        if any("already in use" in ln for ln in lines):
            return "That port is already in use by another program. Close it, or use a free port."
        if errors:
            return (
                "The server could not start: " + errors[-1].removeprefix("marquee: error:").strip()
            )
        last = f" Last message: {lines[-1][:300]}" if lines else ""
        return f"The server stopped unexpectedly (exit code {code}).{last}"

    # ------------------------------------------------------------------ polling
    def _on_timer_timeout(self) -> None:
        self._elapsed_polls += 1
        if not self.url:
            if self._elapsed_polls * POLL_MS / 1000 > READY_TIMEOUT_S:
                self._set_state("failed", "The server did not start in time.")
                self.stop()
            return
        self._fetcher.get(self.url, "/readyz" if self.state != "ready" else "/metrics")

    def _on_fetcher_fetched(self, path: str, status: int, body: str) -> None:
        if not self.running or not self.url:
            return
        if path == "/readyz" and status == 200 and self.state != "ready":
            self._show_ready()
        elif path == "/metrics" and status == 200:
            requests, latency = parse_metrics(body)
            self.requests_label.setText(f"{requests:,}")
            self.latency_label.setText("–" if latency is None else f"{latency:.0f} ms")

    def _show_ready(self) -> None:
        self.url_edit.setText(self.url)
        self.curl_text.setPlainText(curl_example(self.url))
        self.python_text.setPlainText(python_example(self.url))
        self.docs_label.setText(
            f'Every endpoint, with a form to try it: <a href="{self.url}/docs">{self.url}/docs</a>'
        )
        self._set_state("ready", f"Serving {self.model_path.name} at {self.url}")
        self._fetcher.get(self.url, "/metrics")

    def _set_state(self, state: str, message: str) -> None:
        self.state = state
        self.status_label.setText(message)
        self.status_label.setProperty("failed", state == "failed")
        self.status_label.setStyleSheet("color: #d64545;" if state == "failed" else "")
        self.stop_button.setEnabled(state in ("starting", "ready", "stopping"))
        self.stop_button.setText("Force stop" if state == "stopping" else "Stop")
        self.start_button.setVisible(state in ("stopped", "failed"))
        self.state_changed.emit(state)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

    def done(self, result: int) -> None:  # Esc and the window's close button end here too
        self.stop()
        super().done(result)
