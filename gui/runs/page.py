"""Runs page: every training as a row; select runs to compare; reopen, continue, prune.

Everything that reads the runs folder runs in a worker: listing through `listing`,
comparing through `comparing` (each a TaskSlot, so a newer request replaces an older
one), and the file actions (star, trash, restore, export) as workers of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.runs import RunStore
from core.runs.store import MODEL_NAME
from gui.errors import show_error
from gui.runs import tasks
from gui.runs.actions import RunFileActions
from gui.runs.compare import CompareWidget, run_colour
from gui.runs.live import dataset_name, live_row
from gui.runs.table import SWATCH_COLUMN, RunRow, RunsFilterProxy, RunsTableModel, SwatchDelegate
from gui.settings import Preferences
from gui.tasks import TaskSlot
from gui.train.saved_evaluation import RunEvaluator
from gui.widgets.cards import CardWidget, hbox, page_header
from gui.workers import FunctionWorker, TaskState, WorkerSet

# The widest text a column usually holds (the data set column takes the remaining space).
COLUMN_SAMPLES = (
    "MM",
    "2026-04-12 15:30",
    "",
    "efficientnet_lite0",
    "freeze_unfreeze",
    "Epochs",
    "224px",
    "0.000",
    "0.000",
    "0:00:00",
    "110 MB",
    "★",
)
if TYPE_CHECKING:
    from core.data.datasets import Dataset

MODEL_FILTER = "Marquee model (*.safetensors);;ONNX model (*.onnx)"


class RunsPage(QWidget):
    status_message = Signal(str)
    open_in_predict = Signal(object)  # the run's model file (Path)
    train_more_requested = Signal(object, str)  # model file (Path), a caption for the button
    listed = Signal(int)  # a listing arrived: how many stored runs
    compared = Signal()  # the compare panel shows the selected runs

    def __init__(
        self, prefs: Preferences, root: Path | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)

        self.prefs = prefs
        self.store = RunStore(root)
        self.workers = WorkerSet()
        self.listing = TaskSlot(self.workers, self)
        self.comparing = TaskSlot(self.workers, self)
        self.files = RunFileActions(self.store, self.workers, self)
        self.files.status_message.connect(self.status_message)
        self.files.failed.connect(self._on_task_failed)
        self.files.changed.connect(self.refresh)
        self.files.trash_changed.connect(self._update_actions)
        self.dataset: Dataset | None = None
        self.dataset_name = ""
        self.evaluator = RunEvaluator(self.workers, self)
        self.evaluator.status_message.connect(self.status_message)
        self._selected: list[str] = []  # run ids in the order they were selected
        self._live: RunRow | None = None
        self.current_run: str | None = None  # the run of the model open in the app
        self._build()
        self._update_actions()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        header, self.subtitle = page_header(
            "Runs", "Every training, kept with its data and curves."
        )
        self.model = RunsTableModel(self)
        self.proxy = RunsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = self._build_table()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: data set, backbone, strategy, date, starred…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        table_card = CardWidget("")
        top, bottom = self._build_actions()
        table_card.body.addLayout(top)
        table_card.body.addWidget(self.table, 1)
        table_card.body.addLayout(bottom)
        self.compare = CompareWidget()
        compare_card = CardWidget("")
        compare_card.body.addWidget(self.compare)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(table_card)
        split.addWidget(compare_card)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(header)
        layout.addWidget(split, 1)
        for keys, slot in (
            (QKeySequence.StandardKey.Delete, self.delete_selected),
            (QKeySequence.StandardKey.Undo, self.undo_delete),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setModel(self.proxy)
        table.setSortingEnabled(True)
        table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setAlternatingRowColors(True)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(24)
        header = table.horizontalHeader()  # widths from sample texts: sizing to the contents
        metrics = table.fontMetrics()  # would ask every row for its text (slow at 1,000)
        for column, sample in enumerate(COLUMN_SAMPLES):
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 18)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        table.setItemDelegateForColumn(SWATCH_COLUMN, SwatchDelegate(table))
        table.setToolTip("Select two or more runs (Ctrl+click) to compare them below")
        table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        table.doubleClicked.connect(lambda _i: self.open_selected_in_predict())
        return table

    def _button(self, text: str, tip: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda _=False: slot())
        return button

    def _build_actions(self) -> tuple[QHBoxLayout, QHBoxLayout]:
        """Filter and housekeeping above the table; what to do with one run below it."""
        self.predict_button = self._button(
            "Open in Predict",
            "Load this run's model on the Predict page (double-click)",
            self.open_selected_in_predict,
        )
        self.predict_button.setObjectName("primary")
        self.more_button = self._button(
            "Train more", "Continue this run on the Train page", self.train_more_selected
        )
        self.evaluate_button = self._button(
            "Evaluate", "This run's model on the data loaded now", self.evaluate_selected
        )
        self.export_button = self._button(
            "Export…", "Save a copy of the model (.safetensors or ONNX)", self.export_dialog
        )
        self.star_button = self._button("Star", "Starred runs are never pruned", self.star_selected)
        self.reveal_button = self._button(
            "Reveal", "Show the run's folder in the file manager", self.reveal_selected
        )
        self.delete_button = self._button(
            "Delete",
            "Move to the trash; Undo brings it back until Marquee closes (Del)",
            self.delete_selected,
        )
        self.undo_button = self._button(
            "Undo delete", "Bring back the last deleted run (Ctrl+Z)", self.undo_delete
        )
        self.filter_edit.setMinimumWidth(260)
        top = hbox(self.filter_edit, self.star_button, self.delete_button, self.undo_button)
        top.setStretch(0, 1)
        bottom = hbox(
            self.predict_button,
            self.more_button,
            self.evaluate_button,
            self.export_button,
            self.reveal_button,
        )
        return top, bottom

    # ------------------------------------------------------------------ listing
    def refresh(self) -> FunctionWorker:
        """List the runs folder in a worker; the table is replaced when the list arrives."""
        store = self.store

        def task(_state: TaskState) -> list[RunRow]:
            return tasks.list_rows(store)

        return self.listing.start(
            task, "list-runs", on_done=self._on_rows_listed, on_failed=self._on_task_failed
        )

    def _on_rows_listed(self, rows: list[RunRow]) -> None:
        if self._live is not None:  # the app's own running run is the live row already
            rows = [r for r in rows if not (r.live and r.origin == "app")]
        self.model.set_rows(rows)
        self._reselect()
        self._select_current_if_none()
        n = len(rows)
        self.subtitle.setText(
            f"{n} run{'s' if n != 1 else ''} in {self.store.root}. Select two or more to compare."
        )
        self._update_actions()
        self.listed.emit(n)

    def set_current_run(self, run_id: str | None) -> None:
        self.current_run = run_id
        self._select_current_if_none()

    def _select_current_if_none(self) -> None:
        """Nothing selected: the current model's run, so its actions are a click away."""
        if not self._selected and self.current_run:
            self.select_runs([self.current_run])

    def _reselect(self) -> None:
        """After a new listing, select again the runs that were selected (in their order)."""
        wanted, self._selected = list(self._selected), []
        selection = QItemSelection()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.model.row(self.proxy.mapToSource(index).row()).run_id in wanted:
                selection.select(index, index.siblingAtColumn(self.proxy.columnCount() - 1))
        self._selected = [w for w in wanted if w in {r.run_id for r in self.model.rows()}]
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.table.selectionModel().select(selection, flags)

    def set_dataset(self, dataset: Dataset) -> None:
        """The data loaded now: named on the live row, used by Evaluate."""
        self.dataset = dataset
        self.dataset_name = dataset.source

    # ------------------------------------------------------------------ the live training
    def on_training_event(self, event: object) -> None:
        """The Train page's events: the running training is row 0, updated each epoch."""
        row = live_row(self._live, event, dataset_name(self.dataset_name))
        if row is not self._live:
            self._set_live(row)

    def on_training_running(self, running: bool) -> None:
        """A training ended (or started): drop the live row and list again."""
        if not running:
            self._set_live(None)
            self.refresh()

    def _set_live(self, row: RunRow | None) -> None:
        self._live = row
        self.model.set_live(row)

    # ------------------------------------------------------------------ selection
    def selected_rows(self) -> list[RunRow]:
        """The stored runs selected, in the order the user selected them."""
        by_id = {r.run_id: r for r in self.model.stored_rows()}
        return [by_id[i] for i in self._selected if i in by_id]

    def select_runs(self, run_ids: list[str]) -> None:
        """Select these runs in this order (as Ctrl+clicks would)."""
        self.table.clearSelection()
        for run_id in run_ids:
            for row in range(self.proxy.rowCount()):
                index = self.proxy.index(row, 0)
                if self.model.row(self.proxy.mapToSource(index).row()).run_id == run_id:
                    flags = (
                        QItemSelectionModel.SelectionFlag.Select
                        | QItemSelectionModel.SelectionFlag.Rows
                    )
                    self.table.selectionModel().select(index, flags)

    def _on_selection_changed(self, *_args: Any) -> None:
        chosen = {
            self.model.row(self.proxy.mapToSource(index).row()).run_id
            for index in self.table.selectionModel().selectedRows()
        }
        chosen.discard("")  # the live row has nothing stored to compare yet
        self._selected = [i for i in self._selected if i in chosen] + sorted(
            chosen - set(self._selected)
        )
        colours = {run_id: run_colour(n) for n, run_id in enumerate(self._selected)}
        self.model.set_swatches(colours if len(self._selected) >= 2 else {})
        self._update_actions()
        self._compare()

    def _compare(self) -> None:
        run_ids = list(self._selected)
        if not run_ids:
            self.comparing.cancel()
            self.compare.clear("Select two or more runs to compare their curves and per-label AP.")
            return
        store, colours = self.store, [run_colour(n) for n in range(len(run_ids))]

        def task(_state: TaskState) -> tasks.ComparisonView:
            return tasks.selection_view(store, run_ids, colours)

        self.compare.hint.setText("Reading the runs…")
        self.comparing.start(
            task, "compare-runs", on_done=self._on_compared, on_failed=self._on_task_failed
        )

    def _on_compared(self, view: tasks.ComparisonView) -> None:
        self.compare.show_comparison(view.curves, view.deltas, view.differences_html)
        self.compared.emit()

    # ------------------------------------------------------------------ actions
    def _update_actions(self) -> None:
        rows = self.selected_rows()
        one = len(rows) == 1 and rows[0].has_model
        for button in (
            self.predict_button,
            self.more_button,
            self.evaluate_button,
            self.export_button,
        ):
            button.setEnabled(one)
        self.reveal_button.setEnabled(len(rows) == 1)
        self.star_button.setEnabled(bool(rows))
        self.star_button.setText("Unstar" if rows and all(r.starred for r in rows) else "Star")
        self.delete_button.setEnabled(bool(rows))
        self.undo_button.setEnabled(bool(self.files.trashed))
        name = tasks.short_name(rows[0].run_id) if len(rows) == 1 else ""
        self.more_button.setText(f"Train more from {name}" if name else "Train more")

    def _single(self) -> tuple[RunRow, Path] | None:
        rows = self.selected_rows()
        if len(rows) != 1 or not rows[0].has_model:
            return None
        return rows[0], self.store.folder(rows[0].run_id) / MODEL_NAME

    def open_selected_in_predict(self) -> None:
        picked = self._single()
        if picked is not None:
            self.open_in_predict.emit(picked[1])

    def train_more_selected(self) -> None:
        picked = self._single()
        if picked is not None:
            self.train_more_requested.emit(picked[1], tasks.run_caption(picked[0]))

    def evaluate_selected(self) -> None:
        picked = self._single()
        if picked is not None:
            self.evaluator.evaluate(picked[1], self.dataset)

    def reveal_selected(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 1:
            folder = self.store.folder(rows[0].run_id)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def export_dialog(self) -> None:
        picked = self._single()
        if picked is None:
            return
        row, model_file = picked
        name = f"{row.backbone}-{tasks.short_name(row.run_id)}.safetensors"
        start = self.store.folder(row.run_id) / name  # dialogs start among the runs
        path, _ = QFileDialog.getSaveFileName(self, "Export model", str(start), MODEL_FILTER)
        if path:
            self.export(model_file, Path(path))

    def export(self, model_file: Path, out: Path) -> FunctionWorker:
        return self.files.export(model_file, out)

    def star_selected(self) -> FunctionWorker | None:
        return self.files.star(self.selected_rows())

    def delete_selected(self) -> FunctionWorker | None:
        """Move the selected runs to the trash; Undo brings them back until Marquee closes."""
        return self.files.trash(self.selected_rows())

    def undo_delete(self) -> FunctionWorker | None:
        return self.files.undo()

    def empty_trash(self) -> int:
        """Really delete what was deleted (on closing the app)."""
        return self.files.empty_trash()

    def _on_task_failed(self, message: str, details: str) -> None:
        show_error(self, message, details)
