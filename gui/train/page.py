"""Train page: hyperparameters, Start/Stop, live progress and plots, per-label metrics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from core.base.config import TrainConfig
from core.base.errors import ConfigError
from core.model.downloads import DownloadProgress
from core.training.events import (
    EpochEnded,
    PreparingData,
    StepEnded,
    TrainingFinished,
    TrainingStarted,
)
from gui.errors import show_error
from gui.settings import Preferences
from gui.tasks import TaskSlot
from gui.train import continuing
from gui.train.continuing import train_more_from_file_task
from gui.train.evaluation import EvaluationDialog
from gui.train.form import TrainFormWidget
from gui.train.progress import TrainProgressCard, outcome_text
from gui.train.results import TrainResultsCard
from gui.train.tracking import tracking_in
from gui.widgets.cards import CardWidget, hbox, page_header, vertical_scroll_area
from gui.widgets.label_table import LabelMetricsTable
from gui.widgets.plot_panel import TrainingPlotsWidget
from gui.workers import (
    FunctionWorker,
    Task,
    TaskState,
    TrainingOutcome,
    WorkerSet,
    train_more_task,
    training_task,
)

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.training.loop import TrainResult

REFRESH_MS = 100  # plots and progress text redraw at most 10x per second
SETTINGS_WIDTH = 370  # the form's width: three result actions side by side


class TrainPage(QWidget):
    """Composes the settings form, the progress card, the live plots, the per-label table
    and the result card; runs one training at a time."""

    status_message = Signal(str)
    open_in_predict = Signal(object, object)  # model file (Path | None), TrainResult | None
    training_running = Signal(bool)
    training_event = Signal(object)  # every engine event of the current run, as it arrives
    actions_changed = Signal()  # whether there is a model to save changed

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.dataset: Dataset | None = None
        self.workers = WorkerSet()
        self.tasks = TaskSlot(self.workers, self)  # the training run
        self._device_probe: FunctionWorker | None = None
        self._cancelled = False  # the last run was stopped before its first step
        self._continuing = False  # the current run trains more from the last one
        self._previous: tuple[TrainResult | None, Path | None] = (None, None)
        self._finished_now = False  # the last run ended with a saved model
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._build()
        self.form.set_config(prefs.train_config())
        self._initial_config = self.form.config()  # untouched until the device is known
        self._update_buttons()

    @property
    def result(self) -> TrainResult | None:
        """The last run's model (None: none yet, or the run is still going)."""
        return self.results.result

    @property
    def run_dir(self) -> Path | None:
        """Where the last run was saved."""
        return self.results.run_dir

    def _build(self) -> None:
        header, self.subtitle = page_header(
            "Train", "Fine-tune a pretrained backbone on the loaded data set."
        )
        self.form = TrainFormWidget()
        self.form.device_refresh_requested.connect(self.detect_device)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primary")
        self.start_button.setToolTip("Train with these settings (Ctrl+Return)")
        self.start_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("danger")
        self.stop_button.setToolTip("Stop after the current step and keep the best model (Esc)")
        self.stop_button.clicked.connect(self.stop_training)
        # Only the form scrolls (a small window): Start, Stop and the result card stay in view.
        scroll = vertical_scroll_area(self.form)
        settings = CardWidget("Settings")
        settings.body.addWidget(scroll, 1)
        settings.body.addLayout(hbox(self.start_button, self.stop_button))
        self.results = TrainResultsCard(self.workers)
        self.results.status_message.connect(self.status_message)
        self.results.open_in_predict.connect(self.open_in_predict)
        self.results.evaluate_requested.connect(self.open_evaluation)
        self.results.more_requested.connect(self.train_more)
        self.results.export_job_requested.connect(self.export_job_dialog)
        left_box = QWidget()
        left = QVBoxLayout(left_box)
        left.setContentsMargins(0, 0, 0, 0)
        left.setSpacing(14)
        left.addWidget(settings, 1)
        left.addWidget(self.results)
        left_box.setFixedWidth(SETTINGS_WIDTH + 40 + scroll.verticalScrollBar().sizeHint().width())

        body = QHBoxLayout()
        body.setSpacing(16)
        body.addWidget(left_box)
        body.addLayout(self._build_results(), 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(header)
        layout.addLayout(body, 1)

    def _build_results(self) -> QVBoxLayout:
        """The right side: progress, the live plots and the per-label table."""
        right = QVBoxLayout()
        right.setSpacing(14)
        self.progress_card = TrainProgressCard()
        right.addWidget(self.progress_card)
        plots_card = CardWidget("")
        self.plots = TrainingPlotsWidget()
        self.plots.setMinimumHeight(250)
        self.plots.setToolTip("Loss per step (faint), smoothed, and per epoch on validation")
        plots_card.body.addWidget(self.plots)
        right.addWidget(plots_card, 3)
        table_card = CardWidget("Per-label validation metrics")
        self.table = LabelMetricsTable()
        table_card.body.addWidget(self.table)
        right.addWidget(table_card, 2)
        self.saved_run = continuing.SavedRunView(self.workers, self.plots, self.table, self)
        self.saved_run.shown.connect(self._on_saved_run_shown)
        return right

    # ------------------------------------------------------------------ public
    def set_dataset(self, dataset: Dataset) -> None:
        self.dataset = dataset
        n_labels, n_all = len(dataset.label_names), len(dataset.all_label_names)
        labels = f"{n_labels} of {n_all} labels" if n_labels < n_all else f"{n_labels} labels"
        self.subtitle.setText(
            f"{len(dataset.train)} training and {len(dataset.val)} validation images, "
            f"{labels} — {dataset.source}"
        )
        self.subtitle.setToolTip("Labels: " + ", ".join(dataset.label_names))
        self._update_buttons()

    def is_training(self) -> bool:
        return self.tasks.busy()

    def detect_device(self) -> None:
        """Find the GPU in a worker (it imports torch); also warms torch for the first run."""
        if self._device_probe is not None:
            return

        def probe(_state: TaskState) -> tuple[str, str]:
            from core.base.device import resolve_device

            return resolve_device("auto")

        self._device_probe = FunctionWorker(probe, name="device-probe")
        self._device_probe.succeeded.connect(self._on_device_probe_succeeded)
        self._device_probe.failed.connect(lambda m, _d: self.form.set_detected_device(f"? ({m})"))
        self.workers.start(self._device_probe)

    def _on_device_probe_succeeded(self, found: tuple[str, str]) -> None:
        from core.training.recipes import recommend

        device, name = found
        self.form.set_detected_device(name)
        self.form.set_recommendation(recommend(device))
        untouched = self.form.config() == self._initial_config
        if untouched and not self.prefs.has_train_config():  # first run: the recommended recipe
            self.form.apply_recommendation()

    def start_training(self) -> FunctionWorker | None:
        if self.is_training():
            return None
        if self.dataset is None:
            self.status_message.emit("Load a data set on the Data page first.")
            return None
        config = self.form.config()
        try:
            config.validate()
        except ConfigError as exc:
            show_error(self, f"These settings cannot work: {exc}")
            return None
        self.prefs.set_train_config(config)
        return self._start_worker(config, self.dataset)

    def _start_worker(self, config: TrainConfig, dataset: Dataset) -> FunctionWorker:
        self.plots.build()  # normally done after the first paint already
        self.plots.reset()
        self.table.clear_rows()
        return self._run(training_task(config, dataset, True, tracking_in(self.prefs)), False)

    def train_more(self, epochs: int | None = None) -> FunctionWorker | None:
        """Continue the current model for more epochs; the plots go on where it stopped."""
        picked, in_memory, result = self.results.source, self.results.model_file(), self.result
        if self.is_training() or self.dataset is None or (result is None and not picked):
            return None  # below: a model in memory, or a run picked (one of the two branches)
        epochs, tracking = epochs or self.results.more_epochs.value(), tracking_in(self.prefs)
        if result is not None and (picked is None or picked.model_file == in_memory):
            task = train_more_task(result, self.dataset, epochs, in_memory, tracking)
        elif picked is not None:
            task = train_more_from_file_task(picked.model_file, self.dataset, epochs, tracking)
        return self._run(task, continuing=True)

    # ------------------------------------------------------------------ the current model
    def continue_from(self, model_file: Path, caption: str) -> None:
        """Train more continues `model_file` from now on; its saved curves are drawn so the
        new epochs carry on after them."""
        self.results.set_source(continuing.ContinueSource(model_file, caption))
        self._update_buttons()
        drawn = (self.saved_run.model_file, self.results.model_file())
        if not self.is_training() and model_file not in drawn:
            self.saved_run.show(model_file)

    def restore_last_run(self, current: str = "") -> None:
        """After a restart: the run of the current model (the file last open in Predict),
        else the newest run; its curves and tuned thresholds. Train more continues it."""
        if self.result is None and self.results.source is None and not self.is_training():
            self.saved_run.show(Path(current) if current else None, newest=True)

    def _on_saved_run_shown(self, saved: continuing.SavedRun) -> None:
        if self.results.source is None:  # the restored last run: Train more continues it
            caption = continuing.model_caption(saved.model_file, saved.record.metrics)
            self.results.set_source(continuing.ContinueSource(saved.model_file, caption))
        self.results.result_label.setText(continuing.summary_text(saved.record))
        self.progress_card.show_saved_run(saved.record)
        self.results.show_saved(saved.model_file if saved.model_exists else None)
        self._update_buttons()

    def finished_model_file(self) -> Path | None:
        """The model the last training saved, if it just ended with one."""
        return self.results.model_file() if self._finished_now else None

    def _run(self, task: Task, continuing: bool) -> FunctionWorker:
        self._previous = (self.result, self.run_dir) if continuing else (None, None)
        self.results.set_model(None, None)
        self._cancelled, self._continuing, self._finished_now = False, continuing, False
        self.saved_run.forget()
        self.results.result_label.setText("Training…")
        self.progress_card.begin()
        worker = self.tasks.start(
            task,
            "training",
            on_partial=self._on_worker_event,
            on_done=self._on_worker_succeeded,
            on_failed=self._on_worker_failed,
            on_cancelled=self._on_worker_cancelled,
            on_finished=self._on_worker_finished,
        )
        self._timer.start()
        self._update_buttons()
        self.training_running.emit(True)
        self.status_message.emit("Training started.")
        return worker

    def stop_training(self) -> None:
        """Stop after the current step and keep the best model so far (before the first step
        there is none: the run is cancelled)."""
        if self.is_training():
            self.tasks.request_stop()
            self.stop_button.setEnabled(False)
            self.progress_card.show_stopping()

    # ------------------------------------------------------------------ events
    def _on_worker_event(self, event: object) -> None:
        self.training_event.emit(event)
        if isinstance(event, StepEnded):
            self.progress_card.record_step(event)
            self.plots.add_step(event.step, event.loss)
        elif isinstance(event, EpochEnded):
            self.plots.add_epoch(
                event.epoch,
                event.val_loss,
                event.metrics.get("map") or 0.0,
                event.metrics.get("f1_macro") or 0.0,
            )
            self.table.set_metrics(event.per_label)
        elif isinstance(event, DownloadProgress):
            self.stop_button.setText("Cancel download")  # the same stop: fetch raises Cancelled
            self.progress_card.show_download(event)
        elif isinstance(event, PreparingData):
            self.stop_button.setText("Stop")
            self.progress_card.show_preparing(event)
        elif isinstance(event, TrainingStarted):
            self._on_training_started(event)
        elif isinstance(event, TrainingFinished):
            self.table.set_metrics(event.per_label, tuned=True)

    def _on_training_started(self, event: TrainingStarted) -> None:
        if self._continuing:
            self.plots.continue_run(event.previous_epochs, event.steps_per_epoch)
        else:
            self.plots.reset(event.steps_per_epoch)
        self.progress_card.show_started(event)
        self.form.set_detected_device(event.device_name)

    def _on_timer_timeout(self) -> None:
        self.plots.refresh()
        self.progress_card.refresh(stopping=self.tasks.stop_requested())

    def _on_worker_succeeded(self, outcome: TrainingOutcome) -> None:
        result, run_dir, save_error = outcome.result, outcome.run_dir, outcome.save_error
        self.results.set_model(result, run_dir)
        started = self.progress_card.started  # Train more: epochs count from the first run
        previous = started.previous_epochs if started is not None else 0
        self.results.result_label.setText(
            outcome_text(result.meta.metrics, result.stopped_early, previous)
        )
        self._finished_now = run_dir is not None
        if save_error:
            show_error(self, f"The run could not be saved: {save_error}")
        elif run_dir is not None:
            self.status_message.emit(f"Run saved to {run_dir}")

    def _on_worker_failed(self, message: str, details: str) -> None:
        self.results.set_model(*self._previous)
        self._show_current_again()
        show_error(self, f"Training failed: {message}", details)

    def _on_worker_cancelled(self) -> None:
        self._cancelled = True
        self.results.set_model(*self._previous)  # Train more stopped early: keep the model
        kept = self.result is not None or self.results.source is not None
        self.results.result_label.setText(
            "Stopped before the first training step; "
            + ("the current model is kept." if kept else "no model was kept.")
        )
        self._show_current_again()
        self.status_message.emit("Training cancelled.")

    def _show_current_again(self) -> None:
        """No new model came out: draw the current model's saved run again (its curves,
        its table, Open in Predict)."""
        source = self.results.source
        if self.result is None and source is not None:
            self.saved_run.show(source.model_file)

    def _on_worker_finished(self) -> None:
        self._timer.stop()
        self.stop_button.setText("Stop")
        self._on_timer_timeout()
        self.plots.refresh()
        if self.result is not None:
            outcome = "Stopped" if self.result.stopped_early else "Finished"
        else:
            outcome = "Cancelled" if self._cancelled else "Failed"
        self.progress_card.show_finished(outcome, complete=self.result is not None)
        self._update_buttons()
        self.training_running.emit(False)

    # ------------------------------------------------------------------ actions
    def _update_buttons(self) -> None:
        running = self.is_training()
        self.start_button.setEnabled(not running and self.dataset is not None)
        self.stop_button.setEnabled(running)
        self.form.setEnabled(not running)
        self.results.update_buttons(running, self.dataset is not None)
        self.actions_changed.emit()

    def can_save(self) -> bool:
        has_model = self.result is not None or self.results.saved_model is not None
        return has_model and not self.is_training()

    def open_evaluation(self) -> EvaluationDialog | None:
        """The last model on the validation images: PR curves, counts, error gallery."""
        if self.dataset is None:
            return None
        return self.results.open_evaluation(self.dataset)

    def export_job_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export as cluster job (an empty folder)")
        if folder:
            self.export_job(Path(folder))

    def export_job(self, folder: Path) -> FunctionWorker | None:
        """Write a torchrun job for the form's settings and the loaded data set."""
        if self.dataset is None:
            return None
        return self.results.export_job(folder, self.form.config(), self.dataset)
