"""The app's experiment tracking settings: a TensorBoard folder and an MLflow URI kept in the
preferences, set from the Train page's Tracking… dialog, used by every training there."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest
from gui_helpers import TINY

from core.runs import RunStore
from core.training.events import StepEnded, TrainingStarted
from gui.settings import Preferences
from gui.train.tracking import TrackingDialog, tracking_in
from gui.workers import Tracking


@pytest.fixture(autouse=True)
def no_mlflow_from_the_environment(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def _set_in_dialog(page, qtbot, board: str, uri: str) -> None:
    page.results.tracking_button.click()
    (dialog,) = [d for d in page.results.findChildren(TrackingDialog) if d.isVisible()]
    dialog.tensorboard_edit.setText(board)
    dialog.mlflow_edit.setText(uri)
    with qtbot.waitSignal(dialog.finished, timeout=5_000):
        dialog.accept()


def test_the_dialog_keeps_both_settings_in_the_preferences(window, qtbot, tmp_path, monkeypatch):
    page = window.train_page
    assert tracking_in(Preferences()) is None  # off until set
    _set_in_dialog(page, qtbot, str(tmp_path / "tb"), " http://127.0.0.1:5000 ")
    assert Preferences().tracking() == (str(tmp_path / "tb"), "http://127.0.0.1:5000")
    assert tracking_in(Preferences()) == Tracking(str(tmp_path / "tb"), "http://127.0.0.1:5000")
    dialog = page.results.tracking_dialog()  # opened again: what was saved
    assert dialog.tensorboard_edit.text() == str(tmp_path / "tb")
    assert dialog.mlflow_edit.text() == "http://127.0.0.1:5000"
    dialog.reject()

    _set_in_dialog(page, qtbot, "", "")
    assert tracking_in(Preferences()) is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///runs.db")
    assert tracking_in(Preferences()) == Tracking(None, "sqlite:///runs.db")
    dialog = page.results.tracking_dialog()
    assert "MLFLOW_TRACKING_URI" in dialog.mlflow_edit.placeholderText()
    assert "sqlite:///runs.db" in dialog.mlflow_edit.placeholderText()
    dialog.reject()


def _train(window, qtbot, tiny_dataset):
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    page.form.set_config(dataclasses.replace(TINY, epochs=2))
    worker = page.start_training()
    assert worker is not None
    with qtbot.waitSignal(worker.finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: not page.is_training(), timeout=10_000)
    return page


@pytest.mark.slow
def test_a_training_in_the_app_writes_tensorboard_events(window, qtbot, tiny_dataset, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = tmp_path / "tb"
    _set_in_dialog(window.train_page, qtbot, str(board), "")
    page = _train(window, qtbot, tiny_dataset)
    assert page.result is not None and page.run_dir is not None
    (run_folder,) = [p for p in board.iterdir() if p.is_dir()]
    assert run_folder.name == Path(page.run_dir).name  # one subfolder per run, named by its id
    events = EventAccumulator(str(run_folder))
    events.Reload()
    assert "epoch/map" in events.Tags()["scalars"]
    maps = events.Scalars("epoch/map")
    assert [m.step for m in maps] == [1, 2] and all(0 <= m.value <= 1 for m in maps)

    _wait_for_predict(window, qtbot)
    worker = page.train_more(1)  # Train more is logged too, its epochs after the first run's
    with qtbot.waitSignal(worker.finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: not page.is_training() and page.result is not None, timeout=10_000)
    _wait_for_predict(window, qtbot)
    (more_folder,) = [p for p in board.iterdir() if p.is_dir() and p != run_folder]
    events = EventAccumulator(str(more_folder))
    events.Reload()
    assert [m.step for m in events.Scalars("epoch/map")] == [3]


def _wait_for_predict(window, qtbot) -> None:
    """A finished training's model opens in Predict (its graph may be exported then): wait
    for it, so no export is still running when the test ends."""
    saved = window.train_page.results.model_file()
    assert saved is not None
    qtbot.waitUntil(lambda: window.predict_page.model_path == saved, timeout=60_000)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_an_unreachable_mlflow_server_shows_one_error_and_trains_nothing(
    window, qtbot, tiny_dataset, monkeypatch
):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # refused at once, not retried
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr("gui.train.page.show_error", lambda _p, m, d="": errors.append((m, d)))
    events: list[object] = []
    window.train_page.training_event.connect(events.append)
    uri = f"http://127.0.0.1:{_closed_port()}"
    _set_in_dialog(window.train_page, qtbot, "", uri)

    page = _train(window, qtbot, tiny_dataset)
    assert len(errors) == 1
    message, details = errors[0]
    assert message.startswith(f"Training failed: MLflow at {uri}")  # the core's one line
    assert "\n" not in message and details == ""  # one line, no traceback
    assert not any(isinstance(e, TrainingStarted | StepEnded) for e in events)
    assert RunStore().list() == []  # no run was recorded
    assert page.result is None and page.progress_card.bar.format() == "Failed"
    assert page.start_button.isEnabled()
