"""The trackers fed from training events: a real `mlflow server` on 127.0.0.1 gets the
params, a per-epoch metric history and the artifacts; a missing extra is one line."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from core.runs import RunRecord
from core.runs.trackers import (
    FIRST_CONTACT,
    MlflowTracker,
    TrackerError,
    require_tracker,
    tracked,
)
from core.training.events import EpochEnded, LabelMetrics, TrainingStarted

SERVER_START_S = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path: Path):
    """`mlflow server` on 127.0.0.1 (a file store, proxied artifacts); its URI. It runs in
    its own process group, so stopping it stops every process it started."""
    port = _free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", str(tmp_path / "mlruns"),
        "--artifacts-destination", str(tmp_path / "artifacts"),
    ]  # fmt: skip
    # No background job runners (not needed here); the file store skips database set-up.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
           "MLFLOW_ALLOW_FILE_STORE": "true"}  # fmt: skip
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(server, uri)
        yield uri
    finally:
        _stop_group(server)


def _stop_group(server: subprocess.Popen) -> None:
    """SIGTERM the server's process group (uvicorn is its child), SIGKILL if it lingers."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    except ProcessLookupError:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # what the parent left behind


def _wait_until_up(server: subprocess.Popen, uri: str) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited: {server.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # the server is still starting: poll again (bounded)
    pytest.fail("mlflow server did not start in time")


def _events() -> list:
    labels = (LabelMetrics("Action", 0.8, 1.0, 1.0, 1.0, 4),)
    started = TrainingStarted({"lr": 0.01, "backbone": "efficientnet_lite0"}, ("Action",),
                              8, 4, "cpu", "CPU", 1, 2)  # fmt: skip
    epochs = [
        EpochEnded(n, 2, 0.5 / n, 0.4 / n, {"map": 0.5 + n / 10}, labels, True, 0.1) for n in (1, 2)
    ]
    return [started, *epochs]


@pytest.mark.slow
def test_a_real_mlflow_server_gets_params_history_and_artifacts(mlflow_server, tmp_path):
    from mlflow.tracking import MlflowClient

    tracker = MlflowTracker(mlflow_server)
    tracker.bind("20261206-010000-abcd")
    (sink,) = tracked([tracker])
    for event in _events():
        sink(event)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "metrics.json").write_text("{}")
    record = RunRecord(
        id="20261206-010000-abcd", started="2026-12-06T01:00:00+00:00", status="finished",
        settings={"lr": 0.01}, metrics={"map": 0.7}, model_file="model.safetensors",
    )  # fmt: skip
    tracker.close(record, folder)

    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(tracker.run_id)
    assert run.info.run_name == "20261206-010000-abcd" and run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.01", "backbone": "efficientnet_lite0"}
    history = client.get_metric_history(tracker.run_id, "map")
    assert [(m.step, round(m.value, 3)) for m in history] == [(1, 0.6), (2, 0.7)]
    assert {a.path for a in client.list_artifacts(tracker.run_id)} == {
        "model.safetensors", "metrics.json"
    }  # fmt: skip


def test_an_unreachable_tracker_or_a_missing_extra_is_one_line(monkeypatch) -> None:
    with pytest.raises(TrackerError, match=r"MLflow at http://127\.0\.0\.1:9"):
        MlflowTracker("http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(Exception, match=r"pip install marquee\[mlflow\]"):
        require_tracker("mlflow")


def test_a_server_that_drops_connections_is_tried_once_before_training() -> None:
    """MLflow alone retries 7 times with back-off (minutes); the first contact is one try."""
    attempts: list[int] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)  # bounds the accept loop if the client stops early

        def drop_connections() -> None:
            with contextlib.suppress(OSError):
                for _ in range(10):  # at most MLflow's default attempts, and then some
                    conn, _ = server.accept()
                    attempts.append(1)
                    conn.close()

        dropper = threading.Thread(target=drop_connections, daemon=True)
        dropper.start()
        with pytest.raises(TrackerError, match="MLflow at http://127"):
            MlflowTracker(f"http://127.0.0.1:{server.getsockname()[1]}")
    assert len(attempts) == 1
    assert not set(FIRST_CONTACT) & set(os.environ)  # later requests keep MLflow's retries
