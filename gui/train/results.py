"""What the Train page offers once a run has a model: save, evaluate, thresholds, jobs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
)

from gui.errors import show_error
from gui.train.evaluation import EvaluationDialog
from gui.workers import (
    FunctionWorker,
    TaskState,
)


class TrainResultActions:
    """What the Train page offers once a run has a model: save, evaluate, thresholds, jobs."""

    def can_save(self) -> bool:
        return self.result is not None and not self.is_training()

    def save_dialog(self) -> None:
        if self.result is None:
            return
        default = str(Path.home() / f"{self.result.meta.backbone}.safetensors")
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", default, "Marquee model (*.safetensors)"
        )
        if path:
            self.save_model(Path(path))

    def save_model(self, path: Path) -> FunctionWorker:
        path = path if path.suffix == ".safetensors" else path.with_suffix(".safetensors")
        result = self.result

        def task(_state: TaskState) -> Path:
            from core.modelfile.checkpoint import save_model

            return save_model(path, result.model, result.meta)

        worker = FunctionWorker(task, name="save-model")
        worker.succeeded.connect(lambda p: self.status_message.emit(f"Model saved to {p}"))
        worker.failed.connect(lambda m, d: show_error(self, f"Could not save the model: {m}", d))
        return self.workers.start(worker)

    def open_evaluation(self) -> EvaluationDialog | None:
        """The last model on the validation images: PR curves, counts, error gallery."""
        if self.result is None or self.dataset is None:
            return None
        from core.inference.predictor import Predictor  # torch is loaded: a model was just trained

        val = self.dataset.val
        dialog = EvaluationDialog(
            Predictor.for_model(self.result.model, self.result.meta),
            list(val.paths),
            val.labels,
            parent=self,
        )
        dialog.thresholds_chosen.connect(self.use_thresholds)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def use_thresholds(self, thresholds: list[float]) -> FunctionWorker | None:
        """Adopt per-label thresholds for the last model (and its saved run file)."""
        if self.result is None:
            return None
        self.result.meta.thresholds = list(thresholds)
        path = self.run_dir / "model.safetensors" if self.run_dir else None
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

    def export_job_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export as cluster job (an empty folder)")
        if folder:
            self.export_job(Path(folder))

    def export_job(self, folder: Path) -> FunctionWorker | None:
        """Write a torchrun job (core.training.job.export_job) for the form's settings."""
        if self.dataset is None:
            return None
        config, dataset = self.form.config(), self.dataset

        def task(_state: TaskState) -> Path:
            from core.training.job import export_job

            return export_job(folder, config, dataset)

        worker = FunctionWorker(task, name="export-job")
        worker.succeeded.connect(
            lambda p: self.status_message.emit(f"Cluster job written to {p} (see its README.md)")
        )
        worker.failed.connect(lambda m, d: show_error(self, f"Could not export the job: {m}", d))
        return self.workers.start(worker)
