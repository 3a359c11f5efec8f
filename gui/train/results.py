"""What the Train page offers once a run has a model: save, evaluate, thresholds, jobs,
and where every training is also logged (TensorBoard, MLflow)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QSizePolicy, QSpinBox, QWidget

from core.base.paths import runs_dir
from gui.errors import show_error
from gui.settings import Preferences
from gui.train.continuing import ContinueSource, model_caption
from gui.train.evaluation import EvaluationDialog
from gui.train.form import epochs_suffix
from gui.train.saved_evaluation import RunEvaluator, predictor_of_file
from gui.train.tracking import TrackingDialog
from gui.widgets.cards import CardWidget, hbox
from gui.widgets.eliding_button import ElidingPushButton
from gui.workers import FunctionWorker, TaskState, WorkerSet

if TYPE_CHECKING:
    from core.base.config import TrainConfig
    from core.data.datasets import Dataset
    from core.inference.predictor import Predictor
    from core.training.loop import TrainResult


class TrainResultsCard(CardWidget):
    """The "Result" card: the last run's model (`result`, saved in `run_dir`) and what can be
    done with it. Evaluating, training more and exporting a job need the page's data set
    and settings: their buttons ask the page (the *_requested signals)."""

    status_message = Signal(str)
    open_in_predict = Signal(object, object)  # model file (Path | None), TrainResult | None
    evaluate_requested = Signal()
    more_requested = Signal(int)  # epochs
    export_job_requested = Signal()

    def __init__(self, workers: WorkerSet, parent: QWidget | None = None) -> None:
        super().__init__("Result", parent)
        self.workers = workers
        self.result: TrainResult | None = None
        self.run_dir: Path | None = None
        self.source: ContinueSource | None = None  # what Train more continues
        self.saved_model: Path | None = None  # the saved run drawn now (after a restart)
        self.saved_evaluator = RunEvaluator(workers, self)
        self.saved_evaluator.status_message.connect(self.status_message)
        self.result_label = QLabel("No model yet.")
        self.result_label.setWordWrap(True)
        self._build_buttons()
        self.body.addWidget(self.result_label)
        # Three rows of actions, so the settings above fit the default window unscrolled.
        self.body.addLayout(
            hbox(self.save_button, self.predict_button, self.evaluate_button, spacing=6)
        )
        self.body.addLayout(hbox(self.more_button, self.more_epochs, spacing=6, stretch_last=True))
        self.body.addLayout(
            hbox(self.export_job_button, self.tracking_button, self.runs_button, spacing=6)
        )

    def _build_buttons(self) -> None:
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Write the trained model to a .safetensors file (Ctrl+S)")
        self.save_button.clicked.connect(self.save_dialog)
        self.predict_button = QPushButton("Open in Predict")
        self.predict_button.setToolTip("Switch to the Predict page with this model loaded")
        self.predict_button.clicked.connect(self._on_predict_clicked)
        self.runs_button = QPushButton("Runs folder")
        self.runs_button.setToolTip("Open the folder where every run is saved automatically")
        self.runs_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run_dir or runs_dir())))
        )
        self.export_job_button = QPushButton("Export as cluster job…")
        self.export_job_button.setToolTip(
            "Write a folder to train these settings on this data set with torchrun "
            "(several GPUs or machines)"
        )
        self.export_job_button.clicked.connect(self.export_job_requested)
        self.tracking_button = QPushButton("Tracking…")
        self.tracking_button.setToolTip(
            "Also send every training (settings, scores per epoch) to TensorBoard or MLflow, "
            "where many teams follow their experiments"
        )
        self.tracking_button.clicked.connect(self.tracking_dialog)
        self.evaluate_button = QPushButton("Evaluation…")
        self.evaluate_button.setToolTip(
            "PR curve per label, confusion counts and the most confident mistakes"
        )
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        self.more_epochs = QSpinBox()
        self.more_epochs.setRange(1, 500)
        self.more_epochs.setValue(3)
        self.more_epochs.setSuffix(epochs_suffix(self.more_epochs.value()))
        self.more_epochs.valueChanged.connect(
            lambda n: self.more_epochs.setSuffix(epochs_suffix(n))
        )
        self.more_epochs.setToolTip("How many epochs Train more adds")
        self.more_epochs.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.more_button = ElidingPushButton("Train more")  # it names a model: any length
        self.more_button.setToolTip("Continue this model for more epochs; the plots go on")
        self.more_button.clicked.connect(lambda: self.more_requested.emit(self.more_epochs.value()))

    def tracking_dialog(self) -> TrackingDialog:
        """The TensorBoard folder and MLflow URI every training also logs to."""
        dialog = TrackingDialog(Preferences(), self)
        dialog.open()
        return dialog

    def set_model(self, result: TrainResult | None, run_dir: Path | None) -> None:
        """The last run's model; a saved one becomes what Train more continues."""
        self.result, self.run_dir, self.saved_model = result, run_dir, None
        model_file = self.model_file()
        if result is not None and model_file is not None:
            self.set_source(
                ContinueSource(model_file, model_caption(model_file, result.meta.metrics))
            )

    def show_saved(self, model_file: Path | None) -> None:
        """A saved run is drawn (the last one after a restart, or one picked to continue):
        Open in Predict opens its model file (None: it has none on disk)."""
        self.saved_model = model_file

    def model_file(self) -> Path | None:
        """Where the last run saved its model (None: not saved)."""
        return self.run_dir / "model.safetensors" if self.run_dir else None

    def set_source(self, source: ContinueSource | None) -> None:
        """The model Train more continues (the current model), named on its button."""
        self.source = source
        self.more_button.setText(f"Train more from {source.caption}" if source else "Train more")
        self.more_button.setToolTip(
            f"Continue {source.model_file} for more epochs; the plots go on"
            if source
            else "Continue this model for more epochs; the plots go on"
        )

    def update_buttons(self, running: bool, has_dataset: bool) -> None:
        has_model = self.result is not None or self.saved_model is not None
        for button in (self.save_button, self.predict_button, self.evaluate_button):
            button.setEnabled(has_model and not running)
        has_model = self.result is not None or self.source is not None
        self.more_button.setEnabled(has_model and has_dataset and not running)
        self.export_job_button.setEnabled(has_dataset and not running)

    def _on_predict_clicked(self) -> None:
        if self.saved_model is not None:  # the run the card shows
            self.open_in_predict.emit(self.saved_model, None)
        elif self.result is not None:
            self.open_in_predict.emit(self.model_file(), self.result)

    # ------------------------------------------------------------------ the model
    def save_dialog(self) -> None:
        if self.result is not None:
            name = f"{self.result.meta.backbone}.safetensors"
        elif self.saved_model is not None:
            name = self.saved_model.name
        else:
            return
        folder = self.run_dir or runs_dir()  # dialogs start among the runs
        default = str(folder / name)
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", default, "Marquee model (*.safetensors)"
        )
        if path:
            self.save_model(Path(path))

    def save_model(self, path: Path) -> FunctionWorker | None:
        """Write the last model (in memory, or the restored run's file, copied) to `path`."""
        result, saved = self.result, self.saved_model
        if result is None and saved is None:
            return None
        path = path if path.suffix == ".safetensors" else path.with_suffix(".safetensors")

        def task(_state: TaskState) -> Path:
            from core.modelfile.checkpoint import save_model

            if result is not None:
                return save_model(path, result.model, result.meta)
            assert saved is not None  # with neither, save_model returned before this task
            return copy_model_file(saved, path)

        worker = FunctionWorker(task, name="save-model")
        worker.succeeded.connect(lambda p: self.status_message.emit(f"Model saved to {p}"))
        worker.failed.connect(lambda m, d: show_error(self, f"Could not save the model: {m}", d))
        return self.workers.start(worker)

    def open_evaluation(self, dataset: Dataset) -> EvaluationDialog | None:
        """The last model on `dataset`'s validation images: PR curves, counts, error gallery
        (a restored run's file: the dialog opens once its model has loaded in a worker)."""
        if self.result is None:
            if self.saved_model is not None:
                self.saved_evaluator.evaluate(self.saved_model, dataset)
            return None
        model, meta, saved = self.result.model, self.result.meta, self.model_file()

        def make_predictor(should_stop: Callable[[], bool]) -> Predictor:  # in a worker
            from core.inference.predictor import Predictor

            if saved is not None and saved.is_file():
                return predictor_of_file(saved)(should_stop)
            return Predictor.for_model(model, meta)

        val = dataset.val
        dialog = EvaluationDialog(make_predictor, meta, list(val.paths), val.labels, parent=self)
        dialog.thresholds_chosen.connect(self.use_thresholds)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def use_thresholds(self, thresholds: list[float]) -> FunctionWorker | None:
        """Adopt per-label thresholds for the last model (and its saved run file)."""
        if self.result is None:
            return None
        self.result.meta.thresholds = list(thresholds)
        path = self.model_file()
        if path is None:
            return None

        def task(_state: TaskState) -> Path:
            from core.modelfile.checkpoint import write_thresholds

            write_thresholds(path, thresholds)
            return path

        worker = FunctionWorker(task, name="save-thresholds")
        worker.succeeded.connect(lambda p: self.status_message.emit(f"Thresholds saved in {p}"))
        worker.failed.connect(lambda m, d: show_error(self, f"Could not save: {m}", d))
        return self.workers.start(worker)

    # ------------------------------------------------------------------ the settings
    def export_job(self, folder: Path, config: TrainConfig, dataset: Dataset) -> FunctionWorker:
        """Write a torchrun job (core.training.job.export_job) for these settings and data."""

        def task(_state: TaskState) -> Path:
            from core.training.job import export_job

            return export_job(folder, config, dataset)

        worker = FunctionWorker(task, name="export-job")
        worker.succeeded.connect(
            lambda p: self.status_message.emit(f"Cluster job written to {p} (see its README.md)")
        )
        worker.failed.connect(lambda m, d: show_error(self, f"Could not export the job: {m}", d))
        return self.workers.start(worker)


def copy_model_file(source: Path, target: Path) -> Path:
    """A byte-for-byte copy of a saved model (written beside `target`, then renamed)."""
    import shutil

    from core.base.files import replacing

    if source.resolve() == target.resolve():
        return target  # saving a run's model over itself: it is already there
    with replacing(target, "the model") as tmp:
        shutil.copyfile(source, tmp)
    return target
