"""The Data page's data-health side: the health view, the labelling view, and the fix log
re-applied (in a worker) after every decision, so the Train page gets the fixed data set.

A mixin of DataPage, which loads every data set as on disk (`raw`) and shows it with its fix
log applied (`full`, `dataset`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from core.base.errors import MarqueeError
from gui.errors import show_error
from gui.health.dialog import HealthDialog
from gui.health.labelling import LabellingDialog
from gui.health.tasks import fixes_task
from gui.tasks import TaskSlot
from gui.workers import FunctionWorker

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.data.fixes import FixLog
    from core.health.doctor import DoctorOptions

FIXES_DELAY_MS = 250  # decisions in quick succession are applied once


class DataHealthActions:
    raw: Dataset | None

    def _init_health(self) -> None:
        self.raw = None  # as on disk, before its fix log
        self.doctor_options: DoctorOptions | None = None  # None: the thorough default check
        self.predictor_provider: Callable[[], Any] = lambda: None  # the Predict page's model
        self.health_dialog: HealthDialog | None = None
        self.labelling_dialog: LabellingDialog | None = None
        self._fix_log: FixLog | None = None
        self.fix_tasks = TaskSlot(self.workers, self)  # re-applying the fix log
        self._fixes_timer = QTimer(self)
        self._fixes_timer.setSingleShot(True)
        self._fixes_timer.setInterval(FIXES_DELAY_MS)
        self._fixes_timer.timeout.connect(self.apply_fixes)
        self.health_button = QPushButton("Check data health…")
        self.health_button.setObjectName("primary")
        self.health_button.setToolTip(
            "Find wrong labels, duplicates, train/validation leaks and strays, and fix them"
        )
        self.health_button.setEnabled(False)
        self.health_button.clicked.connect(self.open_health)

    # ------------------------------------------------------------------ the views
    def open_health(self) -> HealthDialog | None:
        """Open the health view on the data set as trained on, and start the check."""
        if self.dataset is None or self.raw is None:
            self.status_message.emit("Load a data set first.")
            return None
        log = self._log(fresh=True)
        if log is None:
            return None
        if self.health_dialog is not None:
            self.health_dialog.close()
            self.health_dialog.deleteLater()
        dialog = self.health_dialog = HealthDialog(
            self.dataset, self.raw, log, self.workers, self.doctor_options, self
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
        self, predictor: Any, folder: Path | None = None, parent: QWidget | None = None
    ) -> LabellingDialog | None:
        """Label posters of a folder (asked for when None) into this data set's training split."""
        parent = parent or self
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
        return self._open_labelling(predictor, folder, parent)

    def _open_labelling(
        self, predictor: Any, folder: Path, parent: QWidget
    ) -> LabellingDialog | None:
        health = self.health_dialog
        shared = health is not None and health.isVisible()
        log = self._log(fresh=not shared)
        if log is None:
            return None
        if self.labelling_dialog is not None:
            self.labelling_dialog.close()
            self.labelling_dialog.deleteLater()
        dialog = self.labelling_dialog = LabellingDialog(
            predictor, folder, list(self.raw.label_names), log, self.workers, parent
        )
        dialog.decisions_changed.connect(self.schedule_fixes)
        if shared:
            dialog.decisions_changed.connect(health.refresh)
        dialog.show()
        dialog.start()
        return dialog

    def _log(self, fresh: bool) -> FixLog | None:
        """The loaded data set's fix log; one object shared by the open views."""
        from core.data.fixes import FixLog

        root = Path(self.raw.root).expanduser().resolve()
        if fresh or self._fix_log is None or self._fix_log.dataset != root:
            try:
                self._fix_log = FixLog.for_dataset(root)
            except (MarqueeError, OSError) as exc:
                show_error(self, f"Could not open the data set's fix log. {exc}")
                return None
        return self._fix_log

    # ------------------------------------------------------------------ applying decisions
    def schedule_fixes(self) -> None:
        """Re-apply the fix log soon (one run for a burst of decisions)."""
        self._fixes_timer.start()

    def apply_fixes(self) -> FunctionWorker | None:
        """The loaded data set with its fix log as it is now, in a worker; then shown here
        and handed to the Train page (dataset_loaded)."""
        self._fixes_timer.stop()
        if self.raw is None:
            return None
        raw = self.raw
        return self.fix_tasks.start(
            fixes_task(raw),
            "apply-fixes",
            on_done=lambda dataset: self._on_fixes_applied(raw, dataset),
            on_failed=lambda m, d: show_error(self, f"Could not apply the fixes. {m}", d),
        )

    def _on_fixes_applied(self, raw: Dataset, dataset: Dataset) -> None:
        if raw is not self.raw:  # another data set was loaded meanwhile
            return
        key = self._dataset_key
        chosen = self.dataset.label_names if self.dataset is not None else None
        self.set_dataset(dataset, chosen, raw=raw)
        self._dataset_key = key
        self.status_message.emit(
            f"Fixes applied: {dataset.fixes_applied} in force; {len(dataset.train)} training "
            f"and {len(dataset.val)} validation images."
        )

    def reload(self) -> FunctionWorker:
        """Read the data set from disk again (its label files changed)."""
        self._fixes_timer.stop()  # the labels file holds them now
        self.fix_tasks.cancel()
        kind, path, options = self._source
        return self.load_source(kind, path, **options)
