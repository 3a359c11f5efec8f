"""The Runs page's file actions, each in a worker: export, star, delete to the trash, undo.

Deleting moves a run folder into the runs folder's trash, which the index never lists;
Undo moves it back, and closing the app empties the trash for good.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from gui.runs import tasks
from gui.runs.table import RunRow
from gui.workers import FunctionWorker, Task, TaskState, WorkerSet

if TYPE_CHECKING:
    from core.runs.store import RunStore


class RunFileActions(QObject):
    status_message = Signal(str)
    failed = Signal(str, str)  # message, details
    changed = Signal()  # an action finished: the runs folder may look different
    trash_changed = Signal()  # what Undo can bring back changed

    def __init__(self, store: RunStore, workers: WorkerSet, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.workers = workers
        self.trashed: list[list[Path]] = []  # run folders per Delete, the latest last

    def export(self, model_file: Path, out: Path) -> FunctionWorker:
        return self._start(
            lambda _s: tasks.export_model(model_file, out), "export-run", "Model exported to {}."
        )

    def star(self, rows: list[RunRow]) -> FunctionWorker | None:
        """Star the runs (unstar them when all are starred already)."""
        if not rows:
            return None
        on = not all(r.starred for r in rows)
        store, ids = self.store, [r.run_id for r in rows]

        def task(_state: TaskState) -> int:
            for run_id in ids:
                store.star(run_id, on)
            return len(ids)

        return self._start(task, "star-runs", ("Starred" if on else "Unstarred") + " {} run(s).")

    def trash(self, rows: list[RunRow]) -> FunctionWorker | None:
        if not rows:
            return None
        store, ids = self.store, [r.run_id for r in rows]

        def task(_state: TaskState) -> list[Path]:
            return [tasks.trash_run(store, run_id) for run_id in ids]

        worker = self._start(task, "trash-runs", "Deleted {} (Undo brings it back).")
        worker.succeeded.connect(self._on_trashed)
        return worker

    def _on_trashed(self, folders: list[Path]) -> None:
        self.trashed.append(folders)
        self.trash_changed.emit()

    def undo(self) -> FunctionWorker | None:
        """Bring back the runs of the last Delete."""
        if not self.trashed:
            return None
        folders, store = self.trashed.pop(), self.store
        self.trash_changed.emit()

        def task(_state: TaskState) -> list[str]:
            return [tasks.restore_run(store, folder) for folder in folders]

        worker = self._start(task, "restore-runs", "Back: {}.")
        worker.failed.connect(lambda *_: self._on_trashed(folders))
        return worker

    def empty_trash(self) -> int:
        """Delete the trashed runs for good (the app is closing); returns how many."""
        self.trashed.clear()
        return tasks.empty_trash(self.store.root)

    def _start(self, task: Task, name: str, done: str) -> FunctionWorker:
        worker = FunctionWorker(task, name=name)
        worker.succeeded.connect(
            lambda result: self.status_message.emit(done.format(_said(result)))
        )
        worker.failed.connect(self.failed)
        worker.finished.connect(self.changed)
        self.workers.start(worker)
        return worker


def _said(result: object) -> str:
    if isinstance(result, list):
        return ", ".join(tasks.short_name(Path(str(p)).name) for p in result)
    return str(result)
