"""One current model everywhere: the model open on the Predict page.

A finished training becomes the current model at once; Train more continues the current
model (or the run picked on the Runs page) and names it on its button; the Runs page
follows the data and the running training; the current model's run is pinned, so the
run retention and `marquee runs prune` never remove it while the app runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from gui.train.continuing import model_caption
from gui.workers import FunctionWorker, TaskState

if TYPE_CHECKING:
    from gui.data.page import DataPage
    from gui.predict.page import PredictPage
    from gui.runs.page import RunsPage
    from gui.train.page import TrainPage

TRAIN_PAGE, PREDICT_PAGE = 1, 2


class CurrentModel(QObject):
    """Wires the pages so they agree on one current model."""

    pinned = Signal(object)  # the run id now pinned (None: none)

    def __init__(
        self,
        pages: tuple[DataPage, TrainPage, PredictPage, RunsPage],
        show_page: Callable[[int], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.data_page, self.train_page, self.predict_page, self.runs_page = pages
        self._show_page = show_page
        runs, train = self.runs_page, self.train_page
        self.data_page.dataset_loaded.connect(runs.set_dataset)
        if self.data_page.dataset is not None:  # loaded before the Runs page was built
            runs.set_dataset(self.data_page.dataset)
        train.training_event.connect(runs.on_training_event)
        train.training_running.connect(runs.on_training_running)
        train.training_running.connect(self._on_train_training_running)
        runs.open_in_predict.connect(self._on_runs_open_in_predict)
        runs.train_more_requested.connect(self._on_runs_train_more_requested)
        self.predict_page.model_loaded.connect(self._on_predict_model_loaded)
        self.pinned.connect(runs.set_current_run)
        last = self.predict_page.prefs.value("predict/model", "", str)
        if last:  # the model last open is the current one, before Predict loads it again
            self.pin(Path(last))

    def _on_train_training_running(self, running: bool) -> None:
        """A training ended with a saved model: it becomes the current model at once."""
        model_file = None if running else self.train_page.finished_model_file()
        if model_file is not None and model_file != self.predict_page.model_path:
            self.predict_page.load_model(model_file)

    def _on_predict_model_loaded(self, predictor: Any) -> None:
        path = self.predict_page.model_path
        if path is not None:
            self.train_page.continue_from(path, model_caption(path, predictor.meta.metrics))
        self.pin(path)

    def pin(self, model_file: Path | None) -> FunctionWorker:
        """Pin the run holding `model_file` for as long as this process runs (None, or a
        file outside the runs folder: pin nothing), in a worker (a durable write)."""

        store = self.runs_page.store

        def task(_state: TaskState) -> str | None:
            from core.runs.pins import pin_runs

            run_id = store.run_of_model(model_file) if model_file is not None else None
            pin_runs(store.root, [run_id] if run_id else [])
            return run_id

        worker = FunctionWorker(task, name="pin-current-model")
        worker.succeeded.connect(self.pinned)
        self.runs_page.workers.start(worker)
        return worker

    def _on_runs_open_in_predict(self, model_file: Path) -> None:
        self._show_page(PREDICT_PAGE)
        self.predict_page.load_model(model_file)

    def _on_runs_train_more_requested(self, model_file: Path, caption: str) -> None:
        self.train_page.continue_from(model_file, caption)
        self._show_page(TRAIN_PAGE)
