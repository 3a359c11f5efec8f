"""Train more from a saved run, and the last run shown again after a restart.

Train more continues the current model (the one open in Predict, or a run picked on the
Runs page), not whatever ran last. Its run is read from the runs folder in a worker; its
curves and tuned per-label metrics are drawn so the new epochs carry on after them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from core.training.events import LabelMetrics
from gui.tasks import TaskSlot
from gui.widgets.label_table import LabelMetricsTable
from gui.widgets.plot_panel import TrainingPlotsWidget
from gui.workers import Task, TaskState, Tracking, WorkerSet, train_more_task

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.runs import EpochRecord, RunRecord, RunStore


MODEL_NAME = "model.safetensors"  # a run folder's model (core.runs.store.MODEL_NAME)
MAX_ANCESTORS = 100  # a Train more chain longer than this is drawn from there on


def short_name(run_id: str) -> str:
    """A run id ("20260412-153012-ab12") as people say it: "0412-1530"."""
    parts = run_id.split("-")
    if len(parts) >= 2 and len(parts[0]) == 8 and len(parts[1]) >= 4:
        return f"{parts[0][4:]}-{parts[1][:4]}"
    return run_id


def model_caption(model_file: Path, metrics: dict) -> str:
    """How buttons name a model: its run ("0412-1530") or its file name, and its mAP."""
    in_run = model_file.name == MODEL_NAME
    name = short_name(model_file.parent.name) if in_run else model_file.stem
    score = metrics.get("map")
    return f"{name} (mAP {score:.3f})" if isinstance(score, int | float) else name


@dataclass(frozen=True)
class ContinueSource:
    """The model Train more continues: its file, and how its button names it."""

    model_file: Path
    caption: str


@dataclass(frozen=True)
class SavedRun:
    """A run read back from the runs folder: its record, its model file (and whether that
    file is there), and the epochs of the runs it continued, which its curves carry on."""

    record: RunRecord
    model_file: Path
    model_exists: bool = False
    earlier: tuple[EpochRecord, ...] = ()


def train_more_from_file_task(
    model_file: Path, data: Dataset, epochs: int, tracking: Tracking | None = None
) -> Task:
    """Train more from a saved model: it is loaded in the worker, then continued; its run
    becomes the new run's parent (core.runs finds it from the model file's folder)."""

    def task(state: TaskState) -> object:
        from core.modelfile.checkpoint import load_model
        from core.training.loop import TrainResult

        model, meta = load_model(model_file)
        previous = TrainResult(model, meta, [], False)
        return train_more_task(previous, data, epochs, model_file, tracking)(state)

    return task


def saved_run_task(model_file: Path | None, newest: bool = False, root: Path | None = None) -> Task:
    """The run that holds `model_file`, else (with `newest`, or no file) the newest run
    with a model; None when there is none."""

    def task(_state: TaskState) -> SavedRun | None:
        from core.runs import RunStore

        store = RunStore(root)
        run_id = store.run_of_model(model_file) if model_file is not None else None
        if run_id is None and (newest or model_file is None):
            run_id = next((s.id for s in store.list() if s.has_model), None)
        if run_id is None:
            return None
        record, model = store.load(run_id), store.folder(run_id) / MODEL_NAME
        return SavedRun(record, model, model.is_file(), earlier_epochs(store, record))

    return task


def earlier_epochs(store: RunStore, record: RunRecord) -> tuple[EpochRecord, ...]:
    """The epochs before `record`'s own from the runs it continued (Train more), oldest
    first, as the live plots showed them; a pruned or unreadable parent ends the chain."""
    from core.runs import RunNotFound

    epochs: list[EpochRecord] = []
    first = record.history[0].epoch if record.history else record.previous_epochs + 1
    parent, seen = record.parent, {record.id}
    while parent and parent not in seen and len(seen) <= MAX_ANCESTORS:
        seen.add(parent)
        try:
            ancestor = store.load(parent)
        except RunNotFound:
            break
        before = [e for e in ancestor.history if e.epoch < first]
        epochs[:0] = before
        first = min([first, *(e.epoch for e in before)])
        parent = ancestor.parent
    return tuple(epochs)


class SavedRunView(QObject):
    """Reads a saved run in a worker and draws it on the Train page's plots and table."""

    shown = Signal(object)  # the SavedRun now drawn

    def __init__(
        self,
        workers: WorkerSet,
        plots: TrainingPlotsWidget,
        table: LabelMetricsTable,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = TaskSlot(workers, self)
        self.plots, self.table = plots, table
        self.model_file: Path | None = None  # the run drawn now (None: a live one, or none)

    def show(self, model_file: Path | None, newest: bool = False) -> None:
        """Draw the run of `model_file` (see `saved_run_task` for `newest`)."""
        task = saved_run_task(model_file, newest)
        self.tasks.start(task, "saved-run", on_done=self._on_read)

    def forget(self) -> None:
        """A training starts: its live curves replace the saved ones."""
        self.tasks.cancel()
        self.model_file = None

    def _on_read(self, saved: SavedRun | None) -> None:
        if saved is None:
            return
        show_run(saved.record, self.plots, self.table, saved.earlier)
        self.model_file = saved.model_file
        self.shown.emit(saved)


def show_run(
    record: RunRecord,
    plots: TrainingPlotsWidget,
    table: LabelMetricsTable,
    earlier: tuple[EpochRecord, ...] = (),
) -> None:
    """Draw a saved run as it looked live: the curves of the runs it continued, then its
    own (training loss per epoch, validation loss, mAP, F1), and its tuned per-label
    metrics."""
    plots.build()
    plots.reset()
    for epoch in (*earlier, *record.history):
        val_loss = epoch.val_loss if epoch.val_loss is not None else math.nan  # diverged: a gap
        plots.add_epoch(epoch.epoch, val_loss, epoch.map or 0.0, epoch.f1_macro or 0.0)
        if epoch.train_loss is not None:
            plots.add_epoch_train_loss(epoch.epoch, epoch.train_loss)
    plots.refresh()
    table.clear_rows()
    rows = [_label_metrics(row) for row in record.per_label]
    table.set_metrics([r for r in rows if r is not None], tuned=True)


def _label_metrics(row: dict) -> LabelMetrics | None:
    try:
        return LabelMetrics(
            name=str(row["name"]),
            ap=row.get("ap"),
            precision=float(row.get("precision") or 0.0),
            recall=float(row.get("recall") or 0.0),
            f1=float(row.get("f1") or 0.0),
            support=int(row.get("support") or 0),
            threshold=float(row.get("threshold") or 0.5),
        )
    except (KeyError, TypeError, ValueError):
        return None


def summary_text(record: RunRecord) -> str:
    """The result card's text for a saved run."""
    score, f1 = record.metrics.get("map"), record.metrics.get("f1_macro")
    epochs = record.history[-1].epoch if record.history else 0
    return (
        f"Run {record.id} ({record.status}), {epochs} epoch{'' if epochs == 1 else 's'}: "
        f"validation mAP {score or 0:.3f}, F1 {f1 or 0:.3f} (tuned thresholds)."
    )
