"""The Train page downloads a backbone's weights before training: a progress bar in MB with
the rate and time left, and the Stop button as "Cancel download", which cancels (the partial
file is kept for a resume). Against a local hub (tests/hub_server.py); the dialog of
downloaded models lists and removes them."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
from gui_helpers import TINY

from core.model import downloaded
from core.model.downloads import DownloadProgress
from tests.hub_server import hub_server, timm_weights

NAME = "mobilenetv3_large_100"
REPO = "timm/mobilenetv3_large_100.ra_in1k"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    with hub_server() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_download_progress_and_cancel_on_the_train_page(window, qtbot, tiny_dataset, hub):
    release = threading.Event()  # the server sends 1 MiB, then waits for this
    hub.host(REPO, "model.safetensors", timm_weights(NAME), slow=release)
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    events: list[object] = []
    page.training_event.connect(events.append)
    config = dataclasses.replace(TINY, backbone=NAME, pretrained=True)
    try:
        worker = page._start_worker(config, page.dataset)
        qtbot.waitUntil(
            lambda: any(isinstance(e, DownloadProgress) and e.done_bytes for e in events),
            timeout=60_000,
        )
        assert page.progress_card.bar.format() == "Downloading %v / %m MB"
        assert "MB/s" in page.progress_card.detail.text()
        assert page.stop_button.text() == "Cancel download" and page.stop_button.isEnabled()
        page.stop_button.click()
        release.set()
        with qtbot.waitSignal(worker.finished, timeout=60_000):
            pass
    finally:
        release.set()
    qtbot.waitUntil(lambda: not page.is_training(), timeout=10_000)
    assert page.result is None and page.progress_card.bar.format() == "Cancelled"
    assert page.stop_button.text() == "Stop"
    [entry] = downloaded.list_downloaded()
    assert entry.backbone == NAME and entry.partial_bytes > 0 and not entry.complete


def test_downloaded_models_dialog_lists_and_removes(qtbot, hub):
    from core.model.downloads import fetch_weights
    from gui.train.downloads import DownloadedModelsDialog

    body = timm_weights(NAME)
    hub.host(REPO, "model.safetensors", body)
    fetch_weights(NAME)
    dialog = DownloadedModelsDialog()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=30_000)
    assert dialog.table.item(0, 0).text() == NAME
    assert dialog.table.item(0, 1).text() == "downloaded"
    dialog.table.selectRow(0)
    assert dialog.remove_button.isEnabled()
    dialog.remove_button.click()
    qtbot.waitUntil(lambda: dialog.status.text() == "Nothing is downloaded.", timeout=30_000)
    assert downloaded.list_downloaded() == []
    dialog.close()
