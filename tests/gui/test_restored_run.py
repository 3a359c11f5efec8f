"""The last run after a restart looks and acts as it did live: its parent's epochs before
its own, Open in Predict for its saved model; and a new training starts on clean plots."""

from __future__ import annotations

import math

import pytest
from runs_helpers import unshown_window, write_run

from core.runs import RunStore


def _restarted_window(qtbot):
    window = unshown_window(qtbot)
    with qtbot.waitSignal(window.train_page.saved_run.shown, timeout=30_000):
        window.show()
    return window


@pytest.mark.slow
def test_a_restored_continued_run_draws_its_parents_epochs_and_opens_in_predict(
    qtbot, marquee_home, model_file
):
    store = RunStore()
    first = write_run(store, model=model_file, epochs=5, started="2026-04-11T10:00:00+00:00")
    more = write_run(store, model=model_file, epochs=3, previous_epochs=5, parent=first.id)
    window = _restarted_window(qtbot)
    page = window.train_page
    assert page.plots.epoch_x == [float(e) for e in range(1, 9)]  # 1-5, then 6-8
    assert page.plots.map[:5] == [e.map for e in first.history]
    qtbot.waitUntil(lambda: page.plots.built, timeout=30_000)  # drawn once the library loads
    assert page.plots.curve_lengths()["smooth"] == 8  # the training loss, per epoch
    assert page.progress_card.bar.format() == f"Last run: {more.status}"  # not "not started"
    assert more.id in page.progress_card.detail.text()
    button = page.results.predict_button
    assert button.isEnabled()
    with qtbot.waitSignal(window.predict_page.model_loaded, timeout=60_000):
        button.click()
    assert window.predict_page.model_path == store.folder(more.id) / "model.safetensors"
    assert window.pages.currentIndex() == 2
    window.close()


@pytest.mark.slow
def test_a_restored_run_whose_model_is_gone_cannot_be_opened(qtbot, marquee_home, model_file):
    store = RunStore()
    run = write_run(store, model=model_file, epochs=2)
    (store.folder(run.id) / "model.safetensors").unlink()  # the record still names it
    window = _restarted_window(qtbot)
    assert run.id in window.train_page.results.result_label.text()
    assert not window.train_page.results.predict_button.isEnabled()
    window.close()


def test_a_pruned_parent_ends_the_drawn_lineage(tmp_path):
    from gui.train.continuing import earlier_epochs

    store = RunStore(tmp_path / "runs")
    first = write_run(store, epochs=2, started="2026-04-10T10:00:00+00:00")
    second = write_run(store, epochs=2, previous_epochs=2, parent=first.id)
    third = write_run(store, epochs=1, previous_epochs=4, parent=second.id)
    assert [e.epoch for e in earlier_epochs(store, third)] == [1, 2, 3, 4]
    store.remove([first.id])
    assert [e.epoch for e in earlier_epochs(store, third)] == [3, 4]


def test_new_plots_start_from_empty_axes(qtbot):
    from gui.widgets.plot_panel import TrainingPlotsWidget

    plots = TrainingPlotsWidget()
    qtbot.addWidget(plots)
    plots.build()
    qtbot.waitUntil(lambda: plots.built, timeout=30_000)  # the plots library loads in a thread
    for epoch in (6, 7, 8):  # a continued run's own epochs, with a narrow loss range
        plots.add_epoch(epoch, 0.22 + epoch / 1000, 0.95, 0.9)
    plots.refresh()
    plots.loss_plot.getPlotItem().getViewBox().updateAutoRange()
    assert plots.loss_plot.viewRange()[0][0] > 5
    plots.reset()  # a new training starts
    assert set(plots.curve_lengths().values()) == {0}
    for plot in (plots.loss_plot, plots.metrics_plot):
        (x0, x1), (y0, y1) = plot.viewRange()
        assert -0.1 < x0 < 0.1 and 0.9 < x1 < 1.1 and y0 > -0.1 and y1 < 1.1


def test_train_more_after_a_restored_run_smooths_on_from_its_last_loss(qtbot):
    from gui.widgets.plot_panel import TrainingPlotsWidget

    plots = TrainingPlotsWidget()
    qtbot.addWidget(plots)
    for epoch, loss in enumerate((0.6, 0.3, 0.2, 0.15, 0.14), start=1):
        plots.add_epoch_train_loss(epoch, loss)
    plots.continue_run(previous_epochs=5, steps_per_epoch=10)
    plots.add_step(1, 0.14)  # the continued run's first step, as low as the last epoch's
    assert plots.step_smooth[-1] == pytest.approx(0.14)
    fresh = TrainingPlotsWidget()
    qtbot.addWidget(fresh)
    fresh.add_step(1, 0.5)  # a new run: the first smoothed point is its own loss
    assert fresh.step_smooth == [pytest.approx(0.5)]


@pytest.mark.slow
def test_a_cancelled_training_draws_the_current_run_again(qtbot, marquee_home, model_file):
    from gui.train.page import TrainPage

    store = RunStore()
    run = write_run(store, model=model_file, epochs=3)
    window = _restarted_window(qtbot)
    page: TrainPage = window.train_page
    page.results.result_label.setText("Training…")
    page.plots.reset()  # a training started and was cancelled before its first step
    page.results.set_model(None, None)
    with qtbot.waitSignal(page.saved_run.shown, timeout=30_000):
        page._on_worker_cancelled()
    assert page.plots.epoch_x == [1.0, 2.0, 3.0]
    assert run.id in page.results.result_label.text()
    assert page.results.predict_button.isEnabled()
    window.close()


def test_a_restored_run_draws_a_diverged_epoch_as_a_gap(qtbot, tmp_path):
    from dataclasses import replace

    from gui.train.continuing import show_run
    from gui.widgets.label_table import LabelMetricsTable
    from gui.widgets.plot_panel import TrainingPlotsWidget

    run = write_run(RunStore(tmp_path / "runs"), epochs=3)
    diverged = replace(run.history[1], train_loss=None, val_loss=None, map=None, f1_macro=None)
    plots, table = TrainingPlotsWidget(), LabelMetricsTable()
    qtbot.addWidget(plots)
    qtbot.addWidget(table)
    show_run(replace(run, history=(run.history[0], diverged, run.history[2])), plots, table)
    assert plots.curve_lengths()["val"] == 3
    assert plots.val_loss[0] == run.history[0].val_loss and math.isnan(plots.val_loss[1])


@pytest.mark.slow
def test_a_restored_run_saves_a_copy_and_opens_its_evaluation(
    qtbot, marquee_home, model_file, tiny_dataset, tmp_path
):
    store = RunStore()
    run = write_run(store, model=model_file, epochs=2)
    window = _restarted_window(qtbot)
    results = window.train_page.results
    assert results.result is None  # nothing in memory: the card acts on the run's file
    assert results.save_button.isEnabled() and results.evaluate_button.isEnabled()
    assert window.train_page.can_save()  # File > Save model (Ctrl+S) too

    copy = tmp_path / "kept"
    with qtbot.waitSignal(results.status_message, timeout=30_000) as said:
        results.save_model(copy)
    saved = tmp_path / "kept.safetensors"
    assert said.args == [f"Model saved to {saved}"]
    assert saved.read_bytes() == (store.folder(run.id) / "model.safetensors").read_bytes()

    with qtbot.waitSignal(results.saved_evaluator.opened, timeout=60_000) as opened:
        assert results.open_evaluation(tiny_dataset) is None  # it opens once loaded
    dialog = opened.args[0]
    assert run.id in dialog.windowTitle()
    dialog.close()
    window.close()
