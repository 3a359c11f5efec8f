"""The labelling view: ranked posters one at a time, number keys tick labels, Enter adds the
poster to training (an `add` decision), the arrow skips, Ctrl+Z undoes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from gui_helpers import TINY
from health_helpers import FakePredictor, has_file, labels_of, load_folder, make_planted
from health_helpers import make_unlabelled as make_new
from PySide6.QtCore import Qt

from core.data.fixes import FixLog
from core.training.events import TrainingStarted


@pytest.fixture(scope="module")
def posters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_planted(tmp_path_factory.mktemp("labelling") / "posters")


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_new(tmp_path_factory.mktemp("labelling-new") / "new")


def open_labelling(window, qtbot, posters: Path, unlabelled: Path):
    page = window.data_page
    dataset = load_folder(page, qtbot, posters)
    dialog = page.health.label_more(FakePredictor(dataset.label_names), folder=unlabelled)
    qtbot.waitUntil(lambda: dialog.current() is not None, timeout=30_000)
    dialog.activateWindow()
    return page, dialog


def test_keys_tick_labels_and_enter_adds_the_poster_to_training(window, qtbot, posters, unlabelled):
    page, dialog = open_labelling(window, qtbot, posters, unlabelled)
    first = dialog.current()
    names = dialog.label_names
    assert first.score >= dialog.items[-1].score  # the most unsure first
    assert dialog.ticked() == (names[0],)  # the model's suggestion, pre-ticked
    qtbot.keyClick(dialog, Qt.Key.Key_1)  # off
    qtbot.keyClick(dialog, Qt.Key.Key_3)  # on
    assert dialog.ticked() == (names[2],)
    with qtbot.waitSignal(page.dataset_loaded, timeout=30_000) as blocker:
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    [decision] = FixLog.for_dataset(posters).decisions
    file = str(Path(first.file).resolve())
    assert (decision.kind, decision.other, decision.split) == ("add", file, "train")
    assert decision.labels == (names[2],)
    copy = Path(decision.file)  # kept in the data set's managed folder, not by its path
    assert copy.read_bytes() == Path(file).read_bytes() and copy != Path(file)
    assert dialog.current() is dialog.items[1] and dialog.isVisible()  # the next poster
    reloaded = blocker.args[0]
    assert copy in reloaded.train.paths and window.train_page.dataset is reloaded
    assert labels_of(reloaded, copy.name) == {names[2]}


def test_the_arrow_skips_and_ctrl_z_takes_the_poster_back(window, qtbot, posters, unlabelled):
    page, dialog = open_labelling(window, qtbot, posters, unlabelled)
    first = dialog.current()
    with qtbot.waitSignal(page.dataset_loaded, timeout=30_000):
        qtbot.keyClick(dialog, Qt.Key.Key_Enter)
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.index == 2 and len(dialog.log.decisions) == 1
    with qtbot.waitSignal(page.dataset_loaded, timeout=30_000) as blocker:
        qtbot.keyClick(dialog, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dialog.log.decisions == [] and dialog.current() is first
    assert not has_file(blocker.args[0], Path(first.file).name)


def test_the_predict_page_opens_it_and_without_a_data_set_it_says_so(
    window, qtbot, posters, unlabelled, monkeypatch
):
    shown = []
    monkeypatch.setattr("gui.health.actions.show_error", lambda *a, **k: shown.append(a[1]))
    predict = window.predict_page
    assert not predict.label_more_button.isEnabled()  # no model yet
    predict.predictor = FakePredictor(["Action", "Romance", "Crime"])
    predict.label_more_requested.emit()
    assert "No data set is loaded" in shown[0]
    assert window.data_page.health.labelling_dialog is None

    monkeypatch.setattr(
        "gui.health.actions.QFileDialog.getExistingDirectory", lambda *a, **k: str(unlabelled)
    )
    load_folder(window.data_page, qtbot, posters)
    predict.label_more_requested.emit()
    dialog = window.data_page.health.labelling_dialog
    qtbot.waitUntil(lambda: dialog.current() is not None, timeout=30_000)
    assert len(dialog.items) == 3


@pytest.mark.slow
def test_train_more_trains_on_the_posters_added_in_the_labelling_view(
    window, qtbot, tmp_path, unlabelled
):
    posters = make_planted(tmp_path / "posters")
    train = window.train_page
    started: list[TrainingStarted] = []
    train.training_event.connect(lambda e: isinstance(e, TrainingStarted) and started.append(e))
    load_folder(window.data_page, qtbot, posters)
    train.form.set_config(dataclasses.replace(TINY, epochs=1))
    with qtbot.waitSignal(train.start_training().finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: train.result is not None and not train.is_training(), timeout=10_000)

    page, dialog = open_labelling(window, qtbot, posters, unlabelled)
    with qtbot.waitSignal(page.dataset_loaded, timeout=30_000):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    dialog.close()
    with qtbot.waitSignal(train.train_more(1).finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: train.result is not None and not train.is_training(), timeout=10_000)
    first, more = started
    assert more.n_train == first.n_train + 1  # the added poster is trained on
    assert len(train.result.meta.lineage) == 2
