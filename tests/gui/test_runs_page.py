"""The Runs page on its own: listing, comparing, filtering, the live row, delete and undo."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from runs_helpers import write_run

from core.runs import RunStore
from core.training.events import EpochEnded, TrainingStarted
from gui.runs.compare import run_colour
from gui.runs.page import RunsPage
from gui.runs.table import STAR_COLUMN, SWATCH_COLUMN, SWATCH_ROLE
from gui.runs.tasks import display_names
from gui.settings import Preferences
from gui.train.continuing import short_name
from gui.workers import FunctionWorker


@pytest.fixture
def store(marquee_home) -> RunStore:
    return RunStore(marquee_home / "runs")


@pytest.fixture
def page(qtbot, store):
    page = RunsPage(Preferences(), root=store.root)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    yield page
    page.workers.stop_all(timeout_ms=10_000)


def listed(qtbot, page: RunsPage) -> int:
    with qtbot.waitSignal(page.listed, timeout=20_000) as blocker:
        page.refresh()
    return blocker.args[0]


def test_lists_the_runs_the_store_wrote(qtbot, page, store):
    first = write_run(store, aps=(0.5, 0.5, 0.5))
    second = write_run(store, backbone="resnet18", started="2026-04-13T09:00:00+00:00")
    assert listed(qtbot, page) == 2
    model = page.model
    ids = [
        page.model.row(page.proxy.mapToSource(page.proxy.index(r, 0)).row()).run_id
        for r in range(2)
    ]
    assert ids == [second.id, first.id]  # newest first
    texts = [model.data(model.index(0, c)) for c in range(model.columnCount())]
    assert "resnet18" in texts and "64px" in texts and "0.600" in texts
    assert "2 runs" in page.subtitle.text()


def test_two_selected_runs_overlay_curves_and_per_label_deltas(qtbot, page, store):
    base = write_run(store, lr=0.01, aps=(0.5, 0.6, 0.7))
    other = write_run(store, lr=0.001, aps=(0.6, 0.5, 0.9), previous_epochs=3, parent=base.id)
    listed(qtbot, page)
    with qtbot.waitSignal(page.compared, timeout=20_000):
        page.select_runs([base.id, other.id])
    curves = page.compare.curves
    qtbot.waitUntil(lambda: curves.built and page.compare.deltas.built, timeout=30_000)
    names = display_names([base.id, other.id])
    for key in ("val_loss", "map", "f1"):
        assert curves.curve_count(key) == 2
        assert curves.curve_names(key) == names
    xs = curves.plots["map"].getPlotItem().listDataItems()[1].getData()[0]
    assert list(xs) == [4.0, 5.0, 6.0]  # a continued run goes on from its parent's epochs
    deltas = page.compare.deltas.bar_values()
    assert not page.compare.deltas.isHidden() and list(deltas) == [names[1]]
    assert deltas[names[1]] == pytest.approx([0.1, -0.1, 0.2])  # Action, Comedy, Drama
    swatches = {
        page.model.row(r).run_id: page.model.data(page.model.index(r, SWATCH_COLUMN), SWATCH_ROLE)
        for r in range(page.model.rowCount())
    }
    assert swatches[base.id] == run_colour(0) and swatches[other.id] == run_colour(1)
    text = page.compare.differences.toPlainText()
    assert "lr: 0.01 → 0.001" in text and "Same data." in text
    assert f"{names[1]} continued {names[0]} (from its epoch 3)" in text


def test_one_selected_run_draws_its_own_curves_and_facts(qtbot, page, store):
    base = write_run(store, aps=(0.5, 0.6, 0.7))
    picked = write_run(store, previous_epochs=3, parent=base.id)
    listed(qtbot, page)
    with qtbot.waitSignal(page.compared, timeout=20_000):
        page.select_runs([picked.id])
    curves = page.compare.curves
    for key in ("val_loss", "map", "f1"):
        assert curves.curve_count(key) == 1
    assert page.compare.deltas.isHidden()  # nothing to hold its per-label AP against
    text = page.compare.differences.toPlainText()
    assert f"continued {short_name(base.id)} (from its epoch 3)" in text
    assert "Ctrl+click another run" in page.compare.hint.text()


def test_data_differences_are_listed(qtbot, page, store):
    base = write_run(store, images={"a.jpg": "x", "b.jpg": "y"})
    other = write_run(store, images={"a.jpg": "z", "c.jpg": "y", "d.jpg": "y"})
    listed(qtbot, page)
    with qtbot.waitSignal(page.compared, timeout=20_000):
        page.select_runs([base.id, other.id])
    text = page.compare.differences.toPlainText()
    assert "2 images added, 1 removed, 1 relabelled" in text


def test_filter_keeps_matching_rows(qtbot, page, store):
    write_run(store)
    write_run(store, backbone="resnet18")
    listed(qtbot, page)
    page.filter_edit.setText("resnet")
    assert page.proxy.rowCount() == 1
    page.filter_edit.setText("")
    assert page.proxy.rowCount() == 2


def test_star_shows_in_the_table(qtbot, page, store):
    run = write_run(store)
    listed(qtbot, page)
    page.select_runs([run.id])
    with qtbot.waitSignal(page.listed, timeout=20_000):
        page.star_selected()
    assert page.model.data(page.model.index(0, STAR_COLUMN)) == "★"
    assert store.load(run.id).starred


def test_delete_then_undo_then_close_deletes_for_good(qtbot, page, store):
    keep, gone = write_run(store), write_run(store)
    listed(qtbot, page)
    page.select_runs([gone.id])
    with qtbot.waitSignal(page.listed, timeout=20_000) as blocker:
        page.delete_selected()
    assert blocker.args[0] == 1 and [s.id for s in store.list()] == [keep.id]
    assert page.undo_button.isEnabled()
    with qtbot.waitSignal(page.listed, timeout=20_000) as blocker:
        page.undo_delete()
    assert blocker.args[0] == 2 and {s.id for s in store.list()} == {keep.id, gone.id}
    assert not page.undo_button.isEnabled()
    page.select_runs([gone.id])
    with qtbot.waitSignal(page.listed, timeout=20_000):
        page.delete_selected()
    assert page.empty_trash() == 1
    assert not store.folder(gone.id).exists() and not (store.root / ".trash").exists()


def test_the_running_training_is_a_live_row_on_top(qtbot, page, store):
    write_run(store)
    listed(qtbot, page)
    config = {"backbone": "efficientnet_lite0", "strategy": "freeze", "epochs": 3, "image_size": 64}
    page.on_training_event(TrainingStarted(config, ("a",), 10, 4, "cpu", "CPU", 2, 6))
    page.on_training_event(EpochEnded(1, 3, 0.9, 0.8, {"map": 0.7, "f1_macro": 0.5}, (), True, 1.0))
    page.table.sortByColumn(7, Qt.SortOrder.AscendingOrder)  # mAP: the stored run has less
    top = page.proxy.index(0, 5)
    assert top.data() == "1/3" and page.proxy.index(0, 7).data() == "0.700"
    page.table.sortByColumn(7, Qt.SortOrder.DescendingOrder)
    assert page.proxy.index(0, 5).data() == "1/3"
    with qtbot.waitSignal(page.listed, timeout=20_000):
        page.on_training_running(False)
    assert page.proxy.rowCount() == 1


def test_a_thousand_runs_list_through_the_worker(qtbot, page, store):
    from dataclasses import replace

    template = write_run(store)
    for n in range(999):  # the store's own format, written quickly (no fsync per record)
        run_id = f"20250101-{n // 60:04d}{n % 60:02d}-{n:04x}"
        folder = store.root / run_id
        folder.mkdir()
        (folder / "record.json").write_text(replace(template, id=run_id).to_json())
    with qtbot.waitSignal(page.listed, timeout=60_000) as blocker:
        worker = page.refresh()
        assert isinstance(worker, FunctionWorker)  # listing runs on a thread of its own
    assert blocker.args[0] == 1000 and page.proxy.rowCount() == 1000


def test_export_copies_the_model(qtbot, page, store, tmp_path):
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"weights")
    run = write_run(store, model=model)
    out = tmp_path / "out" / "copy"
    out.parent.mkdir()
    with qtbot.waitSignal(page.status_message, timeout=20_000) as blocker:
        page.export(store.folder(run.id) / "model.safetensors", out)
    assert out.with_suffix(".safetensors").read_bytes() == b"weights"
    assert "exported" in blocker.args[0]


def test_evaluation_targets_follow_the_model_label_order(tiny_dataset):
    from core.base.errors import DataError
    from gui.train.saved_evaluation import targets_in_model_order

    names = list(tiny_dataset.val.label_names)
    reordered = targets_in_model_order(tiny_dataset, names[::-1])
    assert (reordered == np.asarray(tiny_dataset.val.labels)[:, ::-1]).all()
    with pytest.raises(DataError, match="no label Nonesuch"):
        targets_in_model_order(tiny_dataset, [*names, "Nonesuch"])
