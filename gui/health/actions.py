"""The Data page's data-health side: the health view, the labelling view, and the fix log
re-applied (in a worker) after every decision, so the Train page gets the fixed data set.

The Data page loads every data set as on disk (`raw`) and shows it with its fix log applied;
it hands both to this controller (`set_data`) and shows what comes back (`fixes_applied`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from core.base.errors import MarqueeError
from gui.errors import show_error
from gui.health.dialog import HealthDialog
from gui.health.labelling import LabellingDialog
from gui.health.log_saver import FixLogSaver, decisions_in_force
from gui.health.tasks import fixes_task
from gui.settings import Preferences
from gui.tasks import TaskSlot
from gui.workers import FunctionWorker, WorkerSet

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.data.fixes import FixLog
    from core.health.doctor import DoctorOptions
    from core.inference.predictor import Predictor

FIXES_DELAY_MS = 250  # decisions in quick succession are applied once


class DataHealthController(QObject):
    """Opens the health and labelling views on the Data page's data set and applies their
    decisions; `owner` is the page its dialogs and messages belong to."""

    status_message = Signal(str)
    fixes_applied = Signal(object, object)  # raw Dataset, the same with its fix log applied
    reload_requested = Signal()  # the label files on disk changed: read the data set again

    def __init__(self, prefs: Preferences, workers: WorkerSet, owner: QWidget) -> None:
        super().__init__(owner)
        self.prefs, self.workers, self.owner = prefs, workers, owner
        self.raw: Dataset | None = None  # as on disk, before its fix log
        self.dataset: Dataset | None = None  # as trained on: fixed, narrowed to the chosen labels
        self.doctor_options: DoctorOptions | None = None  # None: the thorough default check
        self.predictor_provider: Callable[[], Predictor | None] = lambda: None  # Predict's model
        self.health_dialog: HealthDialog | None = None
        self.labelling_dialog: LabellingDialog | None = None
        self.fix_log: FixLog | None = None  # the data set's one log, shared by both views
        self.saver: FixLogSaver | None = None  # writes it, debounced, in a worker
        self.fix_tasks = TaskSlot(workers, self)  # re-applying the fix log
        self._fixes_timer = QTimer(self)
        self._fixes_timer.setSingleShot(True)
        self._fixes_timer.setInterval(FIXES_DELAY_MS)
        self._fixes_timer.timeout.connect(self.apply_fixes)

    def set_data(self, dataset: Dataset, raw: Dataset) -> None:
        """The data set the page shows now, and the same as on disk."""
        self.dataset, self.raw = dataset, raw

    # ------------------------------------------------------------------ the views
    def open_health(self) -> HealthDialog | None:
        """Open the health view on the data set as trained on, and start the check."""
        if self.dataset is None or self.raw is None:
            self.status_message.emit("Load a data set first.")
            return None
        if self.raw.root is None:  # its decisions are kept beside the data set's files
            self.status_message.emit(
                "The health check needs a data set read from a folder or label file: "
                "load one on the Data page."
            )
            return None
        saver = self._saver()
        if saver is None:
            return None
        if self.health_dialog is not None:
            self.health_dialog.close()
            self.health_dialog.deleteLater()
        dialog = self.health_dialog = HealthDialog(
            self.dataset, self.raw, saver, self.workers, self.doctor_options, self.owner
        )
        dialog.decisions_changed.connect(self.schedule_fixes)
        dialog.written_back.connect(self.reload)
        dialog.label_more_requested.connect(
            lambda: self.label_more(self.predictor_provider(), parent=dialog)
        )
        dialog.show()
        dialog.start()
        return dialog

    def label_more(
        self, predictor: Predictor | None, folder: Path | None = None, parent: QWidget | None = None
    ) -> LabellingDialog | None:
        """Label posters of a folder (asked for when None) into this data set's training split."""
        parent = parent or self.owner
        if self.raw is None or self.raw.root is None:
            show_error(
                parent,
                "No data set is loaded. Load one on the Data page first: the posters you "
                "label join its training images.",
            )
            return None
        if predictor is None:
            show_error(
                parent,
                "No model is loaded. Train one, or open one on the Predict page: it ranks the "
                "posters and suggests their labels.",
            )
            return None
        if folder is None:
            last = self.prefs.value("health/unlabelled", str(Path.home()), str)
            chosen = QFileDialog.getExistingDirectory(parent, "Folder of unlabelled posters", last)
            if not chosen:
                return None
            folder = Path(chosen)
            self.prefs.set_value("health/unlabelled", chosen)
        return self._open_labelling(predictor, folder, self.raw, parent)

    def _open_labelling(
        self, predictor: Predictor, folder: Path, raw: Dataset, parent: QWidget
    ) -> LabellingDialog | None:
        health = self.health_dialog
        shared = health is not None and health.isVisible()
        saver = self._saver()
        if saver is None:
            return None
        if self.labelling_dialog is not None:
            self.labelling_dialog.close()
            self.labelling_dialog.deleteLater()
        dialog = self.labelling_dialog = LabellingDialog(
            predictor, folder, list(raw.label_names), saver, self.workers, parent
        )
        dialog.decisions_changed.connect(self.schedule_fixes)
        if shared and health is not None:
            dialog.decisions_changed.connect(health.refresh)
        dialog.show()
        dialog.start()
        return dialog

    def _saver(self) -> FixLogSaver | None:
        """The saver of the loaded data set's fix log: one log object (core.data.fixes hands
        out the same one to every caller), written by one saver."""
        from core.data.fixes import FixLog

        assert self.raw is not None and self.raw.root is not None  # checked by the callers
        root = Path(self.raw.root).expanduser().resolve()
        if self.fix_log is None or self.fix_log.dataset != root:
            try:
                self.fix_log = FixLog.for_dataset(root)
            except (MarqueeError, OSError) as exc:
                show_error(self.owner, f"Could not open the data set's fix log. {exc}")
                return None
            if self.saver is not None:
                self.saver.flush()
                self.saver.deleteLater()
            self.saver = FixLogSaver(self.fix_log, self.workers, self)
            self.saver.failed.connect(
                lambda message: show_error(self.owner, f"Could not save a decision. {message}")
            )
        return self.saver

    def decisions_in_force(self) -> int | None:
        """What the views' "N decisions in force" says (None: no fix log opened yet)."""
        return decisions_in_force(self.fix_log) if self.fix_log is not None else None

    def flush(self) -> None:
        """Write the fix log now if a decision is not saved yet (closing the app)."""
        if self.saver is not None:
            self.saver.flush()

    # ------------------------------------------------------------------ applying decisions
    def schedule_fixes(self) -> None:
        """Re-apply the fix log soon (one run for a burst of decisions)."""
        self._fixes_timer.start()

    def apply_fixes(self) -> FunctionWorker | None:
        """The loaded data set with its fix log as it is now, in a worker; then handed back
        to the page (fixes_applied)."""
        self._fixes_timer.stop()
        if self.raw is None:
            return None
        raw = self.raw
        return self.fix_tasks.start(
            fixes_task(raw),
            "apply-fixes",
            on_done=lambda dataset: self._on_fixes_done(raw, dataset),
            on_failed=lambda m, d: show_error(self.owner, f"Could not apply the fixes. {m}", d),
        )

    def _on_fixes_done(self, raw: Dataset, dataset: Dataset) -> None:
        if raw is self.raw:  # else another data set was loaded meanwhile
            self.fixes_applied.emit(raw, dataset)

    def reload(self) -> None:
        """Read the data set from disk again (its label files changed)."""
        self._fixes_timer.stop()  # the labels file holds them now
        self.fix_tasks.cancel()
        self.reload_requested.emit()
