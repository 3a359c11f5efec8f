from __future__ import annotations

import dataclasses

import pytest
from gui_helpers import TINY

from core.training.events import EpochEnded, StepEnded, TrainingStarted

pytestmark = pytest.mark.slow


@pytest.fixture
def events(window) -> list[object]:
    """Every engine event the Train page receives, in order."""
    seen: list[object] = []
    window.train_page.training_event.connect(seen.append)
    return seen


def test_tiny_training_fills_plots_and_table(window, qtbot, tiny_dataset, events):
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    page.form.set_config(TINY)
    with qtbot.waitSignal(page.training_running, timeout=10_000):
        worker = page.start_training()
    assert worker is not None and not page.start_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: page.result is not None, timeout=10_000)
    kinds = {type(e) for e in events}
    assert {TrainingStarted, StepEnded, EpochEnded} <= kinds
    qtbot.waitUntil(lambda: page.plots.built, timeout=30_000)  # the plots library's thread
    lengths = page.plots.curve_lengths()
    steps = sum(isinstance(e, StepEnded) for e in events)
    assert lengths["raw"] == lengths["smooth"] == steps > 0
    assert lengths["val"] == lengths["map"] == lengths["f1"] == 2
    assert page.table.rowCount() == len(tiny_dataset.label_names)
    assert page.run_dir is not None and (page.run_dir / "model.safetensors").is_file()
    assert page.results.save_button.isEnabled() and page.results.predict_button.isEnabled()
    assert page.progress_card.bar.format() == "Finished"


def test_stop_ends_a_run_early(window, qtbot, tiny_dataset, events):
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    worker = page._start_worker(dataclasses.replace(TINY, epochs=400), page.dataset)
    qtbot.waitUntil(lambda: any(isinstance(e, EpochEnded) for e in events), timeout=120_000)
    page.stop_training()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: page.result is not None, timeout=10_000)
    assert page.result.stopped_early
    assert len(page.result.history) < 400
    assert page.progress_card.bar.format() == "Stopped"
    assert page.start_button.isEnabled()


def test_open_in_predict_loads_the_model(window, qtbot, tiny_dataset):
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    page.form.set_config(dataclasses.replace(TINY, epochs=1))
    worker = page.start_training()
    with qtbot.waitSignal(worker.finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: page.result is not None, timeout=10_000)
    with qtbot.waitSignal(window.predict_page.model_loaded, timeout=60_000):
        page.results.predict_button.click()
    assert window.pages.currentWidget() is window.predict_page
    assert window.predict_page.predictor.label_names == tiny_dataset.label_names


def test_closing_during_training_asks_then_returns_at_once_and_the_run_is_kept(
    window, qtbot, tiny_dataset, events, monkeypatch
):
    import gc
    import threading

    from core.base.paths import runs_dir
    from gui import thread_keeper, workers

    slowing, in_step, gate = threading.Event(), threading.Event(), threading.Event()
    real_partial = workers.TaskState.partial

    def slowed(self, value):  # once `slowing`, the next training step hangs until `gate`
        if slowing.is_set() and isinstance(value, StepEnded):
            in_step.set()
            gate.wait(30)  # a bound, so a window that waits for the step fails, not hangs
        real_partial(self, value)

    monkeypatch.setattr(workers.TaskState, "partial", slowed)
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    worker = page._start_worker(dataclasses.replace(TINY, epochs=400), page.dataset)
    qtbot.waitUntil(lambda: any(isinstance(e, EpochEnded) for e in events), timeout=120_000)
    window.confirm_close = lambda: False
    assert not window.close()  # the user said No: keep training
    assert worker.isRunning()
    slowing.set()
    qtbot.waitUntil(in_step.is_set, timeout=60_000)
    window.confirm_close = lambda: True
    assert window.close()
    assert worker.isRunning() and not gate.is_set()  # closing did not wait for the step
    assert worker.isInterruptionRequested()  # it was asked to stop
    gc.collect()  # nothing may destroy the running thread now
    assert worker in thread_keeper.still_running()
    gate.set()
    qtbot.waitUntil(lambda: not thread_keeper.still_running(), timeout=60_000)
    saved = list(runs_dir().glob("*/model.safetensors"))  # the stopped run kept its model
    assert len(saved) == 1 and not list(runs_dir().glob("*/*.tmp*"))


def test_stop_before_the_first_step_is_a_cancellation_not_a_failure(
    window, qtbot, tiny_dataset, monkeypatch, events
):
    from core.data.decode import decoded_cache

    errors = []
    monkeypatch.setattr("gui.train.page.show_error", lambda *a, **k: errors.append(a[1]))
    decoded_cache.clear()  # so the stop lands while the images are being decoded
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    worker = page._start_worker(TINY, page.dataset)
    page.stop_training()
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: not page.is_training(), timeout=10_000)
    assert errors == []
    assert page.progress_card.bar.format() == "Cancelled"
    assert "no model was kept" in page.results.result_label.text()
    assert page.result is None and not window.save_action.isEnabled()
    assert not any(isinstance(e, StepEnded) for e in events)


def _trained(window, qtbot, tiny_dataset, epochs=1):
    page = window.train_page
    window.data_page.set_dataset(tiny_dataset)
    page.form.set_config(dataclasses.replace(TINY, epochs=epochs))
    worker = page.start_training()
    with qtbot.waitSignal(worker.finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: page.result is not None and not page.is_training(), timeout=10_000)
    return page


def test_train_more_continues_the_plots_and_records_the_lineage(window, qtbot, tiny_dataset):
    page = _trained(window, qtbot, tiny_dataset, epochs=1)
    first = page.result
    assert page.results.more_button.isEnabled()
    worker = page.train_more(2)
    with qtbot.waitSignal(worker.finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: page.result is not None and not page.is_training(), timeout=10_000)
    assert page.result is not first
    assert page.plots.epoch_x == [1.0, 2.0, 3.0]  # the new epochs go on after the old one
    stages = page.result.meta.lineage
    assert [stage["epochs"] for stage in stages][-2:] == [1, 2]
    assert page.run_dir is not None and (page.run_dir / "model.safetensors").is_file()


def test_evaluation_shows_curves_counts_and_errors_and_sets_thresholds(window, qtbot, tiny_dataset):
    from core.modelfile.checkpoint import read_meta

    page = _trained(window, qtbot, tiny_dataset)
    dialog = page.open_evaluation()
    qtbot.waitUntil(lambda: dialog.scores is not None, timeout=60_000)
    report = dialog.report
    assert report is not None and report.name == tiny_dataset.label_names[0]
    assert len(dialog.curve.getData()[0]) == len(report.curve) > 0
    assert report.tp + report.fp + report.fn + report.tn == len(tiny_dataset.val)
    assert dialog.false_positives.count() == len(report.false_positives)
    lowest = min(point.threshold for point in report.curve)
    dialog.set_threshold(0, lowest)  # as clicking the curve's last point does
    assert dialog.report.fn == 0 and f"{lowest:.2f}" in dialog.counts.text()
    with qtbot.waitSignal(dialog.thresholds_chosen, timeout=5_000):
        dialog.apply_button.click()
    assert page.result.meta.thresholds[0] == pytest.approx(lowest)
    model = page.run_dir / "model.safetensors"
    qtbot.waitUntil(lambda: read_meta(model).thresholds[0] == pytest.approx(lowest), timeout=30_000)


def test_the_error_gallery_gets_thumbnails_after_a_threshold_moves(window, qtbot, tiny_dataset):
    page = _trained(window, qtbot, tiny_dataset)
    dialog = page.open_evaluation()
    qtbot.waitUntil(lambda: dialog.scores is not None, timeout=60_000)
    dialog.set_threshold(0, 0.0)  # everything predicted: every negative is a false positive
    gallery = dialog.false_positives
    assert gallery.count() == len(dialog.report.false_positives) > 0
    qtbot.waitUntil(
        lambda: all(not gallery.item(r).icon().isNull() for r in range(gallery.count())),
        timeout=30_000,
    )
    dialog.close()
