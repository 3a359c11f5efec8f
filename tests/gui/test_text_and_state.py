"""What the window says after a stop, a fix, a mode change, a restart or a server restart:
no stale numbers, no "1 epochs", no cut-off names, nothing hidden at the default size."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.training.events import StepEnded, TrainingStarted
from gui.settings import Preferences
from gui.train.progress import TrainProgressCard, outcome_text


def _started(epochs: int = 5) -> TrainingStarted:
    return TrainingStarted({"epochs": epochs}, ("A", "B"), 8, 4, "cpu", "CPU", 10, 50)


def test_a_stopped_run_shows_where_it_ended_without_a_time_left(qtbot):
    card = TrainProgressCard()
    qtbot.addWidget(card)
    card.begin()
    card.show_started(_started())
    card.record_step(StepEnded(2, 13, 50, 0.5, 0.01, 40.0, 6.5))
    card.refresh(stopping=True)
    assert "ETA" in card.detail.text()
    card.show_finished("Stopped", complete=True)
    assert "ETA" not in card.detail.text() and "stopping" not in card.detail.text()
    assert card.detail.text().startswith("Stopped in epoch 2/5 at step 13/50")


def test_a_run_stopped_before_its_first_evaluation_names_no_best_epoch():
    metrics = {"best_epoch": 0, "map": 0.41, "f1_macro": 0.3}
    text = outcome_text(metrics, stopped=True)
    assert "Best epoch 0" not in text and "before the first epoch ended" in text
    finished = outcome_text({**metrics, "best_epoch": 3}, stopped=False, previous_epochs=2)
    assert finished.startswith("Done.\nBest epoch 5: validation mAP 0.410")


def test_train_more_says_1_epoch(window):
    spin = window.train_page.results.more_epochs
    spin.setValue(1)
    assert spin.text() == "1 epoch"
    spin.setValue(4)
    assert spin.text() == "4 epochs"


def test_label_names_keep_their_width_when_the_counts_come_again(qtbot):
    from gui.widgets.label_chart import LabelCountsWidget

    chart = LabelCountsWidget()
    qtbot.addWidget(chart)
    chart.resize(400, 400)
    chart.show()
    names = ["Action", "Documentary", "Science Fiction", "Romance"]
    chart.set_counts(names, [5, 3, 2, 1], [1, 1, 1, 1])
    chart.set_counts(names, [6, 3, 2, 1], [1, 1, 1, 1])  # fixes applied: the same labels
    table = chart.table
    assert table.columnWidth(0) >= table.sizeHintForColumn(0)


class _Predictor:
    label_names = ("A", "B")
    thresholds = np.array([0.2, 0.7])
    meta = None


def test_the_global_threshold_shows_no_stale_value_in_per_label_mode(window):
    controls = window.predict_page.threshold_controls
    controls.predictions.set_model(list(_Predictor.label_names), _Predictor.thresholds)
    controls.set_model(_Predictor(), None)
    controls.spin.setValue(0.35)
    assert controls.spin.text() == "0.35"
    controls.tuned.setChecked(True)
    assert controls.spin.text() == "per label"
    controls.tuned.setChecked(False)
    assert controls.spin.text() == "0.35" and controls.slider.value() == 35
    controls._on_panel_threshold_changed("A", 0.6)  # a custom value for one label
    assert controls.predictions.mode == "custom" and controls.spin.text() == "per label"
    controls.slider.setValue(40)  # back to one global value
    assert controls.predictions.mode == "global" and controls.spin.text() == "0.40"


def test_the_tuned_thresholds_tick_survives_a_restart(qtbot, marquee_home):
    from gui.predict.page import PredictPage
    from gui.workers import ThumbnailWorker

    thumbnails = ThumbnailWorker()
    first = PredictPage(Preferences(), thumbnails)
    qtbot.addWidget(first)
    first.threshold_controls.tuned.setChecked(True)
    again = PredictPage(Preferences(), thumbnails)  # the app started again
    qtbot.addWidget(again)
    assert again.threshold_controls.tuned.isChecked()
    assert again.predictions.mode == "tuned"


_CHILD = """
    import json, signal, sys, time
    port = int(sys.argv[sys.argv.index("--port") + 1]) or 40000 + {bump}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    url = f"http://127.0.0.1:{{port}}"
    print(json.dumps({{"event": "ready", "url": url, "port": port}}), flush=True)
    while True:
        time.sleep(0.05)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_start_again_keeps_the_port_so_a_copied_url_still_works(qtbot, tmp_path: Path):
    from gui.serve.panel import ServePanel

    # A stand-in server that picks a new port on every start given --port 0.
    code = textwrap.dedent(_CHILD.format(bump="int(time.time() * 1e6) % 9999"))
    command = (sys.executable, ["-c", code, "--host", "127.0.0.1", "--port", "0"])
    panel = ServePanel(tmp_path / "m.safetensors", command=command)
    qtbot.addWidget(panel)
    panel.start()
    qtbot.waitUntil(lambda: bool(panel.url), timeout=60_000)
    first = panel.url
    panel.stop_button.click()
    qtbot.waitUntil(lambda: panel.state == "stopped", timeout=30_000)
    panel.start_button.click()  # "Start again"
    qtbot.waitUntil(lambda: bool(panel.url), timeout=60_000)
    assert panel.url == first
    assert json.dumps(panel.process.arguments()).count(first.rsplit(":", 1)[1]) == 1
    panel.stop()


def test_at_the_default_size_start_stop_and_the_result_actions_are_in_view(window, qtbot):
    from core.training.recipes import recommend

    window.resize(1360, 860)  # the default size (no saved geometry)
    window.show_page(1)
    page = window.train_page
    page.form.set_recommendation(recommend("cpu"))
    page.results.result_label.setText(  # the longest result text: three lines
        outcome_text({"best_epoch": 12, "map": 0.5, "f1_macro": 0.4}, stopped=True)
    )
    buttons = (
        page.start_button,
        page.stop_button,
        page.results.more_button,
        page.results.export_job_button,
    )

    def whole(button) -> bool:  # not scrolled away, not cut off by the window
        return button.visibleRegion().boundingRect().size() == button.size()

    qtbot.waitUntil(lambda: all(whole(b) for b in buttons), timeout=5_000)


def test_a_saved_one_epoch_run_reads_one_epoch(tmp_path) -> None:
    from runs_helpers import write_run

    from core.runs import RunStore
    from gui.train.continuing import summary_text

    record = write_run(RunStore(tmp_path / "runs"), epochs=1)
    assert ", 1 epoch: validation mAP" in summary_text(record)
    several = write_run(RunStore(tmp_path / "runs"), epochs=3)
    assert ", 3 epochs: validation mAP" in summary_text(several)


def test_train_more_counts_its_epochs_on_from_the_first_run(qtbot):
    import dataclasses

    card = TrainProgressCard()
    qtbot.addWidget(card)
    card.begin()
    card.show_started(dataclasses.replace(_started(epochs=3), previous_epochs=5))
    card.record_step(StepEnded(2, 20, 30, 0.5, 0.01, 40.0, 6.5))
    card.refresh(stopping=False)
    assert card.detail.text().startswith("Epoch 7/8  ·  step 20/30")
    card.show_finished("Finished", complete=True)
    assert card.detail.text().startswith("Finished in epoch 7/8 at step 20/30")
