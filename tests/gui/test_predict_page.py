from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import drop_files
from PySide6.QtCore import Qt

pytestmark = pytest.mark.slow


@pytest.fixture
def predict_page(window, qtbot, model_file):
    page = window.predict_page
    window.show_page(2)
    with qtbot.waitSignal(page.model_loaded, timeout=60_000):
        page.load_model(model_file)
    return page


def _drop_and_wait(page, qtbot, paths):
    drop_files(page.drop_area, paths)
    qtbot.waitUntil(lambda: page.predictions.done_count() == len(paths), timeout=60_000)


def test_dropping_images_makes_cards(predict_page, qtbot, sample_dataset):
    paths = sample_dataset.val.paths[:3]
    _drop_and_wait(predict_page, qtbot, paths)
    cards = predict_page.flow.cards()
    assert [c.path for c in cards] == list(paths)
    assert all(c.bars.has_result() for c in cards)
    assert predict_page.stack.currentWidget() is predict_page.tabs
    assert predict_page.table.results.rowCount() == 3


def test_dropping_a_folder_finds_its_images(predict_page, qtbot, tmp_path, sample_dataset):
    import shutil

    for p in sample_dataset.val.paths[:2]:
        shutil.copy(p, tmp_path / p.name)
    drop_files(predict_page.drop_area, [tmp_path])
    qtbot.waitUntil(lambda: predict_page.predictions.done_count() == 2, timeout=60_000)


def test_slider_changes_predicted_labels(predict_page, qtbot, sample_dataset):
    _drop_and_wait(predict_page, qtbot, sample_dataset.val.paths[:1])
    card = predict_page.flow.cards()[0]
    probs = predict_page.predictions.probabilities(0)
    # The most likely label the slider can put a threshold on either side of (1..99 %).
    movable = [i for i in range(len(probs)) if 0.01 <= probs[i] < 0.99]
    assert movable, f"no probability the slider can straddle: {probs}"
    top = max(movable, key=lambda i: probs[i])
    below = math.floor(probs[top] * 100)
    predict_page.threshold_controls.slider.setValue(below)
    assert predict_page.threshold_controls.spin.value() == pytest.approx(below / 100)
    assert predict_page.label_names()[top] in card.bars.predicted()
    predict_page.threshold_controls.slider.setValue(below + 1)  # just above the probability
    assert predict_page.label_names()[top] not in card.bars.predicted()
    predict_page.threshold_controls.slider.setValue(1)
    at_one = card.bars.predicted()
    predict_page.threshold_controls.slider.setValue(99)
    at_99 = card.bars.predicted()
    assert len(at_one) >= len(at_99) and at_one != at_99
    assert predict_page.table.predicted_column()[0] == (", ".join(at_99) or "—")


def test_tuned_thresholds_toggle(predict_page, qtbot, sample_dataset):
    _drop_and_wait(predict_page, qtbot, sample_dataset.val.paths[:1])
    card = predict_page.flow.cards()[0]
    predict_page.threshold_controls.tuned.setChecked(True)
    assert not predict_page.threshold_controls.slider.isEnabled()
    assert list(card.bars.thresholds) == list(predict_page.predictor.thresholds)
    assert predict_page.predictions.mode == "tuned"


def test_export_csv_has_rows_and_columns(
    predict_page, qtbot, sample_dataset, tmp_path, monkeypatch
):
    import threading

    from core.inference.predictions import PredictionSet

    paths = sample_dataset.val.paths[:4]
    _drop_and_wait(predict_page, qtbot, paths)
    predict_page.threshold_controls.spin.setValue(0.3)
    out = tmp_path / "out.csv"
    writers, write_csv = [], PredictionSet.write_csv

    def recorded(self, path):  # which thread writes (the UI thread must not)
        writers.append(threading.current_thread())
        return write_csv(self, path)

    monkeypatch.setattr(PredictionSet, "write_csv", recorded)
    messages: list[str] = []
    predict_page.status_message.connect(messages.append)
    predict_page.export_csv(out)
    qtbot.waitUntil(lambda: f"Exported 4 rows to {out}" in messages, timeout=30_000)
    assert writers and threading.main_thread() not in writers
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    names = predict_page.label_names()
    assert rows[0] == ["file", *names, "predicted", "error"]
    assert [r[0] for r in rows[1:]] == [str(p) for p in paths]
    for row in rows[1:]:
        probs = [float(v) for v in row[1 : 1 + len(names)]]
        assert all(0.0 <= p <= 1.0 for p in probs)
        expected = [n for n, p in zip(names, probs, strict=True) if p >= 0.3]
        assert row[-2].split("|") == expected or (row[-2] == "" and not expected)
        assert row[-1] == ""


def test_non_image_drop_is_refused(predict_page, qtbot, tmp_path):
    note = tmp_path / "notes.txt"
    note.write_text("not a poster")
    event = drop_files(predict_page.drop_area, [note])
    assert not event.isAccepted()
    assert "Not an image" in predict_page.window().statusBar().currentMessage()
    assert predict_page.flow.cards() == []
    assert predict_page.stack.currentIndex() == 0


def test_bad_model_file_gives_a_clear_message(window, qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("gui.predict.page.show_error", lambda *a, **k: shown.append(a[1]))
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"definitely not a model")
    window.predict_page.load_model(bad)
    # The first load imports torch in the worker: allow for a slow, busy machine.
    qtbot.waitUntil(lambda: bool(shown), timeout=120_000)
    assert "Could not open the model" in shown[0] and "broken.safetensors" in shown[0]
    assert window.predict_page.predictor is None


def _shifted_model(model_file, out):
    """Model B: model A's weights with a shifted head and other label names."""
    import torch

    from core.modelfile.checkpoint import load_model, save_model

    model, meta = load_model(model_file)
    with torch.no_grad():
        model.head[1].weight.mul_(-1.0)  # B's probabilities differ from A's on every image
    meta.label_names = [f"B-{name}" for name in meta.label_names]
    return save_model(out, model, meta)


def test_loading_a_model_mid_run_never_shows_the_old_models_results(
    predict_page, qtbot, sample_dataset, model_file, tmp_path
):
    import time

    import numpy as np

    from core.inference.predictor import Predictor

    paths = list(sample_dataset.val.paths[:48])
    old = predict_page.predictor
    slow_run = old.pipeline.run

    def slow(arrays):  # keep model A's run in flight long enough to switch models under it
        time.sleep(0.3)
        return slow_run(arrays)

    old.pipeline.run = slow
    drop_files(predict_page.drop_area, paths)
    qtbot.waitUntil(lambda: predict_page.predictions.done_count() >= 1, timeout=60_000)
    assert predict_page.predictions.done_count() < len(paths)  # A is still predicting
    task_a, a_over = predict_page.tasks.current, []
    task_a.finished.connect(lambda: a_over.append(True), Qt.ConnectionType.QueuedConnection)
    model_b = _shifted_model(model_file, tmp_path / "b.safetensors")
    with qtbot.waitSignal(predict_page.model_loaded, timeout=60_000):
        predict_page.load_model(model_b)
    qtbot.waitUntil(lambda: predict_page.predictions.done_count() == len(paths), timeout=60_000)
    # A's queued signals arrive in order, `finished` last: once it is here, every late
    # batch of model A has reached the page (and must have been dropped).
    qtbot.waitUntil(lambda: bool(a_over), timeout=60_000)
    expected = np.stack([p.probabilities for p in Predictor.from_file(model_b).predict(paths)])
    shown = np.stack([predict_page.predictions.probabilities(r) for r in range(len(paths))])
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    assert all(name.startswith("B-") for name in predict_page.label_names())
    assert all(card.bars._names == predict_page.label_names() for card in predict_page.cards)


def test_the_table_grows_by_inserting_rows_not_by_rebuilding(predict_page, qtbot, sample_dataset):
    paths = list(sample_dataset.val.paths[:40])
    model = predict_page.table.results
    resets, inserted = [], []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    _drop_and_wait(predict_page, qtbot, paths)
    assert resets == []
    assert inserted == [(0, len(paths) - 1)]
    expected = [
        ", ".join(labels) or "—" for labels in predict_page.predictions.all_predicted_labels()
    ]
    assert predict_page.table.predicted_column() == expected


def test_save_and_export_are_disabled_until_there_is_something(window, qtbot, model_file):
    assert not window.save_action.isEnabled()  # Ctrl+S with no trained model
    assert not window.export_action.isEnabled()
    page = window.predict_page
    assert not page.export_button.isEnabled()
    with qtbot.waitSignal(page.model_loaded, timeout=60_000):
        page.load_model(model_file)
    assert not window.export_action.isEnabled()  # a model, but nothing predicted yet


def test_export_becomes_possible_after_a_prediction(predict_page, qtbot, sample_dataset):
    window = predict_page.window()
    _drop_and_wait(predict_page, qtbot, sample_dataset.val.paths[:1])
    assert window.export_action.isEnabled() and predict_page.export_button.isEnabled()
    predict_page.clear()
    assert not window.export_action.isEnabled()


def test_per_label_thresholds_update_every_card_and_the_table(predict_page, qtbot, sample_dataset):
    _drop_and_wait(predict_page, qtbot, sample_dataset.val.paths[:3])
    page, names = predict_page, predict_page.label_names()
    page.threshold_controls.per_label_button.click()
    assert page.threshold_controls.threshold_panel.isVisible()
    page.threshold_controls.spin.setValue(0.99)  # global: almost nothing predicted
    np.testing.assert_allclose(
        page.threshold_controls.threshold_panel.values(), [0.99] * len(names)
    )
    page.threshold_controls.threshold_panel._spins[0].setValue(
        0.0
    )  # the first label: always predicted
    assert (
        page.predictions.mode == "custom"
        and page.threshold_controls.mode_label.text() == "custom per label"
    )
    assert page.predictions.thresholds[0] == 0.0 and page.predictions.thresholds[1] == 0.99
    assert all(names[0] in card.bars.predicted() for card in page.cards)
    assert all(cell.startswith(names[0]) for cell in page.table.predicted_column())
    page.threshold_controls.threshold_panel.reset_button.click()
    assert page.predictions.mode == "tuned" and page.threshold_controls.tuned.isChecked()
    np.testing.assert_allclose(
        page.threshold_controls.threshold_panel.values(), page.predictor.thresholds, atol=0.005
    )


def test_clicking_a_bar_explains_that_label_and_arrows_step_through_labels(
    predict_page, qtbot, sample_dataset
):
    from PySide6.QtCore import QPoint

    from gui.predict.explain import ExplanationDialog
    from gui.widgets.probability_bars import ROW

    _drop_and_wait(predict_page, qtbot, sample_dataset.val.paths[:1])
    bars = predict_page.cards[0].bars
    opened = []
    real = predict_page.explain
    predict_page.explain = lambda *a: opened.append(real(*a)) or opened[-1]
    bars.label_clicked.disconnect()
    bars.label_clicked.connect(lambda i: predict_page.explain(predict_page.cards[0].path, i))
    top = int(np.argmax(predict_page.predictions.probabilities(0)))  # a map worth drawing
    qtbot.mouseClick(bars, Qt.MouseButton.LeftButton, pos=QPoint(40, top * ROW + ROW // 2))
    dialog = opened[0]
    assert isinstance(dialog, ExplanationDialog) and dialog.index == top
    qtbot.waitUntil(lambda: top in dialog.maps, timeout=60_000)
    names = predict_page.label_names()
    assert dialog.title.text().startswith(names[top])
    heat = dialog.maps[top].heat
    assert heat.width() == dialog.maps[top].poster.width() and heat.hasAlphaChannel()
    dialog.opacity.setValue(0)
    plain = dialog.composed()
    dialog.opacity.setValue(100)
    assert dialog.composed() != plain  # the map is drawn over the poster
    dialog.next_button.click()
    after = (top + 1) % len(names)
    qtbot.waitUntil(lambda: after in dialog.maps, timeout=60_000)
    assert dialog.index == after and dialog.title.text().startswith(names[after])
    dialog.close()


def test_saved_thresholds_land_in_the_model_file_and_leave_the_weights(
    window, qtbot, model_file, tmp_path
):
    import shutil

    from core.modelfile.checkpoint import read_meta, weights_digest

    model = shutil.copy(model_file, tmp_path / "editable.safetensors")
    before = weights_digest(model)
    page = window.predict_page
    with qtbot.waitSignal(page.model_loaded, timeout=60_000):
        page.load_model(Path(model))
    page.threshold_controls.per_label_button.click()
    page.threshold_controls.threshold_panel._spins[0].setValue(0.12)
    assert page.threshold_controls.threshold_panel.save_button.isEnabled()
    worker = page.threshold_controls.save_thresholds()
    qtbot.waitUntil(lambda: read_meta(model).thresholds[0] == pytest.approx(0.12), timeout=30_000)
    qtbot.waitUntil(lambda: worker.isFinished(), timeout=30_000)
    assert weights_digest(model) == before
    assert read_meta(model).tuned_thresholds is not None  # Reset to tuned still possible
