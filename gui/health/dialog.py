"""The data-health view: `run_doctor` in a worker, then label issues, duplicates and strays
to decide one by one. Every decision goes into the data set's fix log (with undo); the Data
page re-applies the log, so training uses it at once. Export and write back from here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.base.errors import MarqueeError
from gui.errors import show_error
from gui.health.issue_review import LabelIssuesWidget
from gui.health.log_saver import decisions_in_force
from gui.health.pair_review import DuplicatePairsWidget
from gui.health.review_list import ReviewWidget
from gui.health.stray_review import StraysWidget
from gui.health.tasks import (
    DoctorResult,
    describe,
    doctor_task,
    export_task,
    stage_text,
    write_back_task,
)
from gui.tasks import TaskSlot
from gui.theme import set_muted
from gui.widgets.cards import hbox, page_header
from gui.workers import FunctionWorker, ThumbnailWorker, WorkerSet

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.data.fixes import Decision
    from core.health.doctor import DoctorOptions
    from core.health.report import HealthReport
    from gui.health.log_saver import FixLogSaver

POSTER_SIZE = 420  # posters are decoded to fit this square
WRITTEN = ("set_label", "drop")  # the decisions write back puts into the label files


class HealthDialog(QDialog):
    decisions_changed = Signal()  # the fix log changed: the data set should re-apply it
    written_back = Signal()  # the label files changed: the data set should be read again
    label_more_requested = Signal()

    def __init__(
        self,
        dataset: Dataset,
        raw: Dataset,
        saver: FixLogSaver,
        workers: WorkerSet,
        options: DoctorOptions | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Data health")
        self.dataset, self.raw, self.options = dataset, raw, options
        self.saver, self.log = saver, saver.fix_log  # the data set's one log, shared
        self.doctor_result: DoctorResult | None = None
        self._written: set[tuple] = set()  # keys already written back into the label files
        self._pending_written: set[tuple] = set()
        self.workers = workers
        self.tasks = TaskSlot(workers, self)  # the check
        self.io_tasks = TaskSlot(workers, self)  # export and write back
        self.thumbnails = ThumbnailWorker(size=POSTER_SIZE, parent=self)
        workers.start(self.thumbnails)  # so that shutting the page down stops it too
        self.confirm: Callable[[str, str], bool] = self._ask  # tests replace this
        self._build()
        self.resize(1180, 780)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        header, self.subtitle = page_header("Data health", self.dataset.source)
        self.progress = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the check (Esc closes the window)")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_row = QWidget()
        progress_layout = hbox(self.progress, self.cancel_button, stretch_last=True)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        self.progress_row.setLayout(progress_layout)
        self.issues = LabelIssuesWidget(self.thumbnails)
        self.pairs = DuplicatePairsWidget(self.thumbnails)
        self.strays = StraysWidget(self.thumbnails)
        self.tabs = QTabWidget()
        for widget in (self.issues, self.pairs, self.strays):
            self.tabs.addTab(widget, "")
            widget.decided.connect(self.decide)
        self.tabs.setEnabled(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        set_muted(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        layout.addWidget(header)
        layout.addWidget(self.progress_row)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(self._build_actions())
        layout.addWidget(self.status)
        QShortcut(QKeySequence.StandardKey.Undo, self, self.undo)
        self._set_tab_titles()

    def _build_actions(self) -> QHBoxLayout:
        def button(text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
            made = QPushButton(text)
            made.setToolTip(tip)
            made.setAutoDefault(False)
            made.clicked.connect(slot)
            return made

        self.undo_button = button("Undo  (Ctrl+Z)", "Take back the last decision", self.undo)
        self.again_button = button("Check again", "Run the check again", self.start)
        self.label_more_button = button(
            "Label unlabelled posters…",
            "Label new posters, the ones the model is least sure of first",
            self.label_more_requested.emit,
        )
        self.export_button = button(
            "Export corrected data set…",
            "Write a new folder (train/, val/, metadata.csv) with every fix applied",
            self.export_dialog,
        )
        self.write_button = button(
            "Write back to labels file…",
            "Put the fixes into the data set's own CSV file(s), after a timestamped backup",
            self.write_back,
        )
        close = button("Close", "Close this window; decisions are kept", self.close)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.decided = QLabel("")
        set_muted(self.decided)
        for widget in (self.undo_button, self.again_button, self.decided):
            row.addWidget(widget)
        row.addStretch(1)
        for widget in (self.label_more_button, self.export_button, self.write_button, close):
            row.addWidget(widget)
        return row

    # ------------------------------------------------------------------ the check
    def start(self) -> FunctionWorker:
        """Run the check in a worker; the tabs fill when it is done."""
        self.progress.setRange(0, 0)
        self.progress.setFormat("Starting…")
        self.progress_row.show()
        self.again_button.setEnabled(False)
        self.status.setText("Checking every image: embeddings, out-of-fold labels, neighbours.")
        return self.tasks.start(
            doctor_task(self.dataset, self.options),
            "doctor",
            on_progress=self._on_doctor_progressed,
            on_done=self.show_result,
            on_failed=self._on_doctor_failed,
            on_cancelled=self._on_doctor_cancelled,
            on_finished=self._on_doctor_finished,
        )

    def cancel(self) -> None:
        self.tasks.request_stop()

    def _on_doctor_progressed(self, done: int, total: int | None, stage: str) -> None:
        self.progress.setFormat(stage_text(stage, done, total))
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
        else:
            self.progress.setRange(0, 0)

    def _on_doctor_failed(self, message: str, details: str) -> None:
        show_error(self, f"The check failed. {message}", details)
        self.status.setText("The check failed.")

    def _on_doctor_cancelled(self) -> None:
        self.status.setText("Check cancelled. Nothing was changed; “Check again” starts over.")

    def _on_doctor_finished(self) -> None:
        self.progress_row.hide()
        self.again_button.setEnabled(True)

    def show_result(self, result: DoctorResult) -> None:
        self.doctor_result = result
        self._written.clear()
        summary = result.report.summary
        self.subtitle.setText(
            f"{self.dataset.source} · {summary.get('images', '?')} images checked in "
            f"{summary.get('seconds', 0):.1f} s ({summary.get('folds', '?')} folds)"
        )
        self.tabs.setEnabled(True)
        for widget in (self.issues, self.pairs, self.strays):
            widget.reset()
        self.refresh()
        self.status.setText(
            "Decisions are kept in the data set's fix log; your files are untouched."
        )
        self.activateWindow()  # keys go to the findings, even where no window manager is
        current = self.tabs.currentWidget()
        if isinstance(current, ReviewWidget):
            current.list.setFocus()

    # ------------------------------------------------------------------ deciding
    def view(self) -> HealthReport:
        """The report less what was decided (or written back) since."""
        from core.health.doctor import without_decided

        assert self.doctor_result is not None  # only refresh() asks, once a check is shown
        shown = without_decided(self.doctor_result.report, self.log)
        gone = {key[1] for key in self._written if key[0] == "file"}
        shown.label_issues = [
            i for i in shown.label_issues if ("label", i.file, i.label) not in self._written
        ]
        shown.duplicates = [d for d in shown.duplicates if not gone & set(d.files)]
        shown.outliers = [o for o in shown.outliers if o.file not in gone]
        return shown

    def refresh(self, focus: str | None = None) -> None:
        if self.doctor_result is None:
            return
        shown, folder = self.view(), self.doctor_result.folder
        self.issues.set_issues(shown.label_issues, self.doctor_result.labels_of, folder, focus)
        self.pairs.set_items(shown.duplicates, folder, focus)
        self.strays.set_items(shown.outliers, folder, focus)
        self._set_tab_titles(shown)

    def _set_tab_titles(self, shown: HealthReport | None = None) -> None:
        counts = (
            (len(shown.label_issues), len(shown.duplicates), len(shown.outliers))
            if shown is not None
            else ("…", "…", "…")
        )
        leaks = sum(d.cross_split for d in shown.duplicates) if shown is not None else 0
        titles = (
            f"Label issues ({counts[0]})",
            f"Duplicates ({counts[1]}{f', {leaks} leaks' if leaks else ''})",
            f"Strays ({counts[2]})",
        )
        for index, title in enumerate(titles):
            self.tabs.setTabText(index, title)
        in_force = decisions_in_force(self.log)
        self.undo_button.setEnabled(bool(self.log.decisions))
        self.decided.setText(f"{in_force} decision(s) in force" if in_force else "")

    def decide(self, decision: Decision) -> None:
        """Record one decision and show what is left."""
        try:
            self.log.record(decision, save=False)
        except (MarqueeError, OSError) as exc:
            show_error(self, f"Could not record the decision. {exc}")
            return
        self.saver.changed()
        self.refresh()
        self.status.setText(f"Recorded: {describe(decision)}. Ctrl+Z takes it back.")
        self.decisions_changed.emit()

    def undo(self) -> None:
        try:
            taken = self.log.undo(save=False)
        except (MarqueeError, OSError) as exc:
            show_error(self, f"Could not undo. {exc}")
            return
        if not taken:
            self.status.setText("Nothing to undo.")
            return
        self.saver.changed()
        self.refresh(focus=taken[0].file)
        self.status.setText(f"Undone: {describe(taken[0])}.")
        self.decisions_changed.emit()

    # ------------------------------------------------------------------ export, write back
    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Export the corrected data set into…", str(Path.home())
        )
        if folder:
            self.export_corrected(export_target(Path(folder), self.raw))

    def export_corrected(self, out: Path) -> FunctionWorker:
        """Write the data set with every fix applied to the new folder `out` (in a worker)."""
        self.status.setText(f"Exporting to {out}…")
        self._set_io_busy(True)
        return self.io_tasks.start(
            export_task(self.raw, out),
            "export-corrected",
            on_done=lambda path: self.status.setText(f"Exported the corrected data set to {path}."),
            on_failed=lambda m, d: show_error(self, f"Could not export. {m}", d),
            on_finished=lambda: self._set_io_busy(False),
        )

    def write_back(self) -> FunctionWorker | None:
        """After a confirmation, write the fixes into the data set's own label files."""
        fixes = [d for d in self.log.current().values() if d.kind in WRITTEN]
        if self.raw.root is None or not fixes:
            self.status.setText("No label fixes or dropped images to write back yet.")
            return None
        text = (
            f"Write {len(fixes)} fix(es) into the label file(s) of {self.raw.root.name}?\n\n"
            "A timestamped backup of each file is written beside it first "
            "(e.g. metadata.csv.20250131-120000.bak), then the file is replaced. Dropped "
            "images leave the label file; the image files themselves stay."
        )
        if not self.confirm("Write back to the labels file", text):
            return None
        self._pending_written = {d.key for d in fixes}
        self.saver.flush()  # the write back reads what is saved
        self._set_io_busy(True)
        self.status.setText("Writing back…")
        return self.io_tasks.start(
            write_back_task(self.raw.root),
            "write-back",
            on_done=self._on_write_back_done,
            on_failed=lambda m, d: show_error(self, f"Could not write back. {m}", d),
            on_finished=lambda: self._set_io_busy(False),
        )

    def _on_write_back_done(self, outcome: tuple[list, list]) -> None:
        written, _left = outcome  # the shared log already holds what is left
        self._written |= self._pending_written
        self.refresh()
        backups = ", ".join(w.backup.name for w in written)
        self.status.setText(f"Written back to {len(written)} file(s); backups: {backups}.")
        self.written_back.emit()

    def _set_io_busy(self, busy: bool) -> None:
        for button in (self.export_button, self.write_button):
            button.setEnabled(not busy)

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Ok

    def done(self, result: int) -> None:  # closing: nothing keeps running for this window
        self.saver.flush()
        self.tasks.cancel()
        self.io_tasks.cancel()
        self.thumbnails.stop()
        super().done(result)


def export_target(chosen: Path, raw: Dataset) -> Path:
    """`chosen` itself when empty, else a new `<data set>-corrected[-N]` folder inside it."""
    if chosen.is_dir() and not any(chosen.iterdir()):
        return chosen
    stem = f"{raw.root.stem if raw.root else 'dataset'}-corrected"
    target, n = chosen / stem, 2
    while target.exists():
        target, n = chosen / f"{stem}-{n}", n + 1
    return target
