from __future__ import annotations

import csv
import math

import pytest
from gui_helpers import drop_files

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
    qtbot.waitUntil(lambda: len(page.results) == len(paths), timeout=60_000)


def test_dropping_images_makes_cards(predict_page, qtbot, sample_dataset):
    paths = sample_dataset.val.paths[:3]
    _drop_and_wait(predict_page, qtbot, paths)
    cards = predict_page.flow.cards()
    assert [c.path for c in cards] == list(paths)
    assert all(c.bars.has_result() for c in cards)
    assert predict_page.stack.currentWidget() is predict_page.tabs
    assert predict_page.table.rowCount() == 3


def test_dropping_a_folder_finds_its_images(predict_page, qtbot, tmp_path, sample_dataset):
    import shutil

    for p in sample_dataset.val.paths[:2]:
        shutil.copy(p, tmp_path / p.name)
    drop_files(predict_page.drop_area, [tmp_path])
    qtbot.waitUntil(lambda: len(predict_page.results) == 2, timeout=60_000)


def test_slider_changes_predicted_labels(predict_page, qtbot, sample_dataset):
    _drop_and_wait(predict_page, qtbot, sample_dataset.val.paths[:1])
    card = predict_page.flow.cards()[0]
    probs, _ = predict_page.results[card.path]
    top = max(range(len(probs)), key=lambda i: probs[i])
    below = max(1, math.floor(probs[top] * 100))
    predict_page.slider.setValue(below)
    assert predict_page.spin.value() == pytest.approx(below / 100)
    assert predict_page.label_names()[top] in card.bars.predicted()
    predict_page.slider.setValue(99)
    predict_page.slider.setValue(min(99, math.floor(probs[top] * 100) + 1))
    if probs[top] * 100 != math.floor(probs[top] * 100):
        assert predict_page.label_names()[top] not in card.bars.predicted()
    predict_page.slider.setValue(1)
    at_one = card.bars.predicted()
    predict_page.slider.setValue(99)
    at_99 = card.bars.predicted()
    assert len(at_one) >= len(at_99) and at_one != at_99
    assert predict_page.table.predicted_column()[0] == (", ".join(at_99) or "—")


def test_tuned_thresholds_toggle(predict_page, qtbot, sample_dataset):
    _drop_and_wait(predict_page, qtbot, sample_dataset.val.paths[:1])
    card = predict_page.flow.cards()[0]
    predict_page.tuned.setChecked(True)
    assert not predict_page.slider.isEnabled()
    assert list(card.bars._thresholds) == list(predict_page.predictor.thresholds)


def test_export_csv_has_rows_and_columns(predict_page, qtbot, sample_dataset, tmp_path):
    paths = sample_dataset.val.paths[:4]
    _drop_and_wait(predict_page, qtbot, paths)
    predict_page.spin.setValue(0.3)
    out = tmp_path / "out.csv"
    assert predict_page.export_csv(out) == 4
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    names = predict_page.label_names()
    assert rows[0] == ["file", *names, "predicted"]
    assert [r[0] for r in rows[1:]] == [str(p) for p in paths]
    for row in rows[1:]:
        probs = [float(v) for v in row[1 : 1 + len(names)]]
        assert all(0.0 <= p <= 1.0 for p in probs)
        expected = [n for n, p in zip(names, probs, strict=True) if p >= 0.3]
        assert row[-1].split(";") == expected or (row[-1] == "" and not expected)


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
    monkeypatch.setattr("gui.predict_page.show_error", lambda *a, **k: shown.append(a[1]))
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"definitely not a model")
    window.predict_page.load_model(bad)
    # The first load imports torch in the worker: allow for a slow, busy machine.
    qtbot.waitUntil(lambda: bool(shown), timeout=120_000)
    assert "Could not open the model" in shown[0] and "broken.safetensors" in shown[0]
    assert window.predict_page.predictor is None
