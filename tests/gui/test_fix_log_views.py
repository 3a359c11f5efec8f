"""The health view, the labelling view and the status bar share the data set's one fix log;
key presses are written once per burst, in a worker, never on the UI thread."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from health_helpers import FakePredictor, load_folder, make_planted, make_unlabelled
from PySide6.QtCore import Qt

from core.base.errors import Cancelled
from core.data.fixes import Decision, FixLog, _read, sidecar_path


@pytest.fixture(scope="module")
def posters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_planted(tmp_path_factory.mktemp("shared-log") / "posters")


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_unlabelled(tmp_path_factory.mktemp("shared-log-new") / "new", n=4)


@pytest.fixture
def saves(monkeypatch) -> list[threading.Thread]:
    """The thread of every FixLog.save."""
    threads: list[threading.Thread] = []
    real_save = FixLog.save

    def recorded(self: FixLog) -> None:
        threads.append(threading.current_thread())
        real_save(self)

    monkeypatch.setattr(FixLog, "save", recorded)
    return threads


def open_labelling(window, qtbot, posters: Path, unlabelled: Path):
    page = window.data_page
    dataset = load_folder(page, qtbot, posters)
    dialog = page.health.label_more(FakePredictor(dataset.label_names), folder=unlabelled)
    qtbot.waitUntil(lambda: dialog.current() is not None, timeout=30_000)
    dialog.activateWindow()
    return page, dialog


def test_key_presses_are_saved_once_in_a_worker(window, qtbot, posters, unlabelled, saves):
    page, dialog = open_labelling(window, qtbot, posters, unlabelled)
    for _ in range(3):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert len(dialog.log.decisions) == 3
    assert saves == []  # nothing written on the key presses themselves
    with qtbot.waitSignal(page.health.saver.saved, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: not page.health.saver.pending(), timeout=30_000)
    assert len(saves) == 1 and saves[0] is not threading.main_thread()
    on_disk = _read(sidecar_path(posters.resolve()))
    assert [d.kind for d in on_disk] == ["add", "add", "add"]


def test_closing_the_view_writes_what_is_not_saved_yet(window, qtbot, posters, unlabelled):
    _page, dialog = open_labelling(window, qtbot, posters, unlabelled)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    dialog.close()
    assert [d.kind for d in _read(sidecar_path(posters.resolve()))] == ["add"]


def test_the_views_and_the_status_bar_count_the_same_decisions(
    window, qtbot, posters, unlabelled, monkeypatch
):
    def no_check(state) -> None:  # the counts need no check's report
        raise Cancelled()

    monkeypatch.setattr("gui.health.dialog.doctor_task", lambda *a: no_check)
    page = window.data_page
    load_folder(page, qtbot, posters)
    health = page.health.open_health()
    # A decision that changes nothing that loads (keep a label as given) still is in force.
    health.decide(Decision("keep_label", "train/tt10000.jpg", label="Crime"))
    health.decide(Decision("drop", "train/stray.jpg", reason="stray"))
    labelling = page.health.label_more(FakePredictor(["Action", "Romance", "Crime"]), unlabelled)
    qtbot.waitUntil(lambda: labelling.current() is not None, timeout=30_000)
    assert labelling.log is health.log  # one log object for both views
    with qtbot.waitSignal(page.dataset_loaded, timeout=30_000):
        qtbot.keyClick(labelling, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Fixes applied" in window.statusBar().currentMessage(), timeout=10_000)
    health.refresh()
    health._set_tab_titles()
    in_dialog = int(re.match(r"(\d+) decision", health.decided.text()).group(1))
    in_status = int(re.search(r"(\d+) decision", window.statusBar().currentMessage()).group(1))
    assert in_dialog == in_status == 3
