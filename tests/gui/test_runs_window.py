"""The Runs page in the window, and one current model: Open in Predict, Train more from a
picked run, a finished training loaded on the Predict page, the last run after a restart."""

from __future__ import annotations

import dataclasses

import pytest
from gui_helpers import TINY
from runs_helpers import remember_last_open, unshown_window, write_run

from core.modelfile.checkpoint import read_meta
from core.runs import RunStore
from gui.train.continuing import short_name

pytestmark = pytest.mark.slow


def show_runs(window, qtbot) -> None:
    with qtbot.waitSignal(window.runs_page.listed, timeout=20_000):
        window.show_page(3)


def test_open_in_predict_loads_the_picked_run(window, qtbot, model_file):
    store = RunStore()
    old = write_run(store, model=model_file)
    write_run(store, model=model_file)
    show_runs(window, qtbot)
    window.runs_page.select_runs([old.id])
    assert window.runs_page.predict_button.isEnabled()
    with qtbot.waitSignal(window.predict_page.model_loaded, timeout=60_000):
        window.runs_page.predict_button.click()
    assert window.pages.currentWidget() is window.predict_page
    assert window.predict_page.model_path == store.folder(old.id) / "model.safetensors"
    assert short_name(old.id) in window.train_page.results.more_button.text()


def test_evaluate_opens_the_picked_runs_model_on_the_data_loaded_now(
    window, qtbot, model_file, tiny_dataset
):
    store = RunStore()
    picked = write_run(store, model=model_file, epochs=2)
    window.data_page.set_dataset(tiny_dataset)
    show_runs(window, qtbot)
    window.runs_page.select_runs([picked.id])
    with qtbot.waitSignal(window.runs_page.evaluator.opened, timeout=60_000) as opened:
        window.runs_page.evaluate_selected()
    dialog = opened.args[0]
    assert picked.id in dialog.windowTitle()
    qtbot.waitUntil(lambda: dialog.scores is not None, timeout=120_000)  # it scored the posters
    dialog.thresholds[:] = 0.42
    with qtbot.waitSignal(window.runs_page.status_message, timeout=30_000) as said:
        dialog.apply_button.click()  # "Use these thresholds"
    model = store.folder(picked.id) / "model.safetensors"
    assert said.args == [f"Thresholds saved in {model}"]
    assert read_meta(model).thresholds == pytest.approx([0.42] * len(tiny_dataset.label_names))


def test_train_more_from_a_picked_run_continues_it(window, qtbot, model_file, tiny_dataset):
    store = RunStore()
    picked = write_run(store, model=model_file, epochs=2)
    write_run(store, model=model_file, started="2026-04-13T09:00:00+00:00")  # the newest
    window.data_page.set_dataset(tiny_dataset)
    show_runs(window, qtbot)
    window.runs_page.select_runs([picked.id])
    page = window.train_page
    with qtbot.waitSignal(page.saved_run.shown, timeout=20_000):
        window.runs_page.more_button.click()  # the picked run's curves are drawn first
    assert window.pages.currentWidget() is page
    assert short_name(picked.id) in page.results.more_button.text()
    assert page.plots.epoch_x == [1.0, 2.0]
    with qtbot.waitSignal(page.training_running, timeout=180_000, check_params_cb=lambda r: not r):
        assert page.train_more(epochs=1) is not None
    new = store.load("latest")
    assert new.id != picked.id and new.parent == picked.id and new.status == "finished"
    assert [e.epoch for e in new.history] == [3]  # counted on from the parent's epochs
    assert page.plots.epoch_x == [1.0, 2.0, 3.0]  # the curve carries on, no jump back


def test_a_finished_training_becomes_the_current_model(window, qtbot, tiny_dataset):
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    page.form.set_config(dataclasses.replace(TINY, epochs=1))
    runs = window.runs_page.model
    live_rows: list[bool] = []  # the Runs page's top row as rows come and go
    runs.rowsInserted.connect(lambda *_: live_rows.append(runs.row(0).live))
    with qtbot.waitSignal(window.predict_page.model_loaded, timeout=180_000):
        page.start_training()
    assert live_rows and live_rows[0]  # the running training was listed on top, live
    qtbot.waitUntil(lambda: not any(r.live for r in runs.rows()), timeout=20_000)
    run = RunStore().load("latest")
    model = RunStore().folder(run.id) / "model.safetensors"
    assert window.predict_page.model_path == model
    assert window.predict_page.predictor.label_names == tiny_dataset.label_names
    caption = page.results.more_button.text()
    assert caption.startswith(f"Train more from {short_name(run.id)} (mAP ")


def test_the_train_page_shows_the_last_run_after_a_restart(qtbot, marquee_home, model_file):
    from gui.main_window import MainWindow

    store = RunStore()
    write_run(store, model=model_file, epochs=2, started="2026-04-11T10:00:00+00:00")
    last = write_run(store, model=model_file, epochs=3)
    window = MainWindow(restore_data=False)
    window.confirm_close = lambda: True
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.train_page.saved_run.shown, timeout=30_000):
        window.show()
    page = window.train_page
    assert page.plots.epoch_x == [1.0, 2.0, 3.0]
    assert page.table.rowCount() == 3 and "(tuned)" in page.table.item(0, 6).text()
    assert last.id in page.results.result_label.text()
    assert short_name(last.id) in page.results.more_button.text()
    window.close()


def test_deleted_runs_are_gone_after_closing(window, qtbot):
    store = RunStore()
    run = write_run(store)
    show_runs(window, qtbot)
    window.runs_page.select_runs([run.id])
    with qtbot.waitSignal(window.runs_page.listed, timeout=20_000):
        window.runs_page.delete_button.click()
    assert (store.root / ".trash" / run.id).is_dir()
    window.close()
    assert not (store.root / ".trash").exists() and store.list() == []


def test_after_a_restart_train_more_continues_the_model_last_open(qtbot, marquee_home, model_file):
    store = RunStore()
    current = write_run(store, model=model_file, epochs=2, started="2026-04-11T10:00:00+00:00")
    write_run(store, model=model_file, epochs=3)  # newer, but not the model last open
    remember_last_open(store, current)
    window = unshown_window(qtbot)
    with qtbot.waitSignal(window.train_page.saved_run.shown, timeout=30_000):
        window.show()
    assert window.train_page.plots.epoch_x == [1.0, 2.0]
    assert short_name(current.id) in window.train_page.results.more_button.text()
    window.close()
