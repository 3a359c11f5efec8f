"""Evaluate a saved model file on the data loaded now (a run picked on the Runs page, or the
run the Train page restored after a restart): the validation images, in the model's label
order, in the evaluation dialog (PR curves, counts, the most confident mistakes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QWidget

from core.base.errors import DataError
from gui.errors import show_error
from gui.tasks import TaskSlot
from gui.train.evaluation import EvaluationDialog
from gui.workers import TaskState, WorkerSet

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.inference.predictor import Predictor
    from core.modelfile.checkpoint import ModelMeta


def targets_in_model_order(dataset: Dataset, model_labels: list[str]) -> np.ndarray:
    """The validation labels as columns in the model's label order; DataError when the data
    lacks one of the model's labels."""
    names = list(dataset.val.label_names)
    missing = [n for n in model_labels if n not in names]
    if missing:
        raise DataError(
            f"The data loaded now has no label {', '.join(missing)}, which this model predicts: "
            "load the data set the run trained on (or one with the same labels)."
        )
    labels = np.asarray(dataset.val.labels)
    return labels[:, [names.index(n) for n in model_labels]]


class RunEvaluator(QObject):
    """Loads the model in a worker, then opens the evaluation dialog over `parent`."""

    opened = Signal(object)  # the EvaluationDialog
    status_message = Signal(str)  # e.g. where the chosen thresholds were written

    def __init__(self, workers: WorkerSet, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self.tasks = TaskSlot(workers, self)

    def evaluate(self, model_file: Path, dataset: Dataset | None) -> None:
        if dataset is None or not len(dataset.val):
            show_error(
                self._parent, "Load a data set with validation images on the Data page first."
            )
            return

        def task(_state: TaskState) -> tuple[ModelMeta, np.ndarray]:
            from core.modelfile.checkpoint import read_meta

            meta = read_meta(model_file)  # the header only: the dialog loads the model
            return meta, targets_in_model_order(dataset, list(meta.label_names))

        paths = list(dataset.val.paths)
        self.tasks.start(
            task,
            "evaluate-run",
            on_done=lambda found: self._open(found, paths, model_file),
            on_failed=lambda m, d: show_error(self._parent, f"Could not evaluate: {m}", d),
        )

    def _open(
        self, found: tuple[ModelMeta, np.ndarray], paths: list[Path], model_file: Path
    ) -> None:
        meta, targets = found
        title = f"validation images loaded now ({model_file.parent.name})"
        dialog = EvaluationDialog(
            predictor_of_file(model_file), meta, paths, targets, title=title, parent=self._parent
        )
        dialog.thresholds_chosen.connect(lambda chosen: self.save_thresholds(model_file, chosen))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.opened.emit(dialog)

    def save_thresholds(self, model_file: Path, thresholds: list[float]) -> None:
        """ "Use these thresholds": written into the model file, in a worker."""

        def task(_state: TaskState) -> Path:
            from core.modelfile.checkpoint import write_thresholds

            write_thresholds(model_file, thresholds)
            return model_file

        self.tasks.start(
            task,
            "save-thresholds",
            on_done=lambda path: self.status_message.emit(f"Thresholds saved in {path}"),
            on_failed=lambda m, d: show_error(self._parent, f"Could not save: {m}", d),
        )


def predictor_of_file(model_file: Path) -> Callable[[Callable[[], bool]], Predictor]:
    """What the evaluation dialog's worker calls to load `model_file`: its graph exported in
    a child process first (the exporter holds the GIL), then a predictor on it."""

    def make_predictor(should_stop: Callable[[], bool]) -> Predictor:
        from core.inference.predictor import Predictor
        from gui.graph_warmup import warm_graph_cache

        warm_graph_cache(model_file, should_stop)
        return Predictor.from_file(model_file)

    return make_predictor
