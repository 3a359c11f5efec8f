"""Data page: choose a data set, see its counts, labels, thumbnails and problems."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.data.csv_dialog import CsvImportDialog
from gui.data.images import ImageBrowserCard
from gui.data.report import ProblemReportWidget
from gui.data.tasks import BUILT_IN, SAMPLES, SOURCES, default_labels, load_task
from gui.errors import show_error
from gui.health.actions import DataHealthController
from gui.health.tasks import Loaded
from gui.settings import Preferences
from gui.tasks import TaskSlot
from gui.widgets.cards import CardWidget, StatTileWidget, hbox, page_header
from gui.widgets.label_chart import LabelCountsWidget
from gui.workers import FunctionWorker, ThumbnailWorker, WorkerSet

if TYPE_CHECKING:
    from core.data.datasets import Dataset


SOURCE_BUTTONS = [  # kind, button text, tooltip
    ("sample", "Sample posters", "Small synthetic poster set, generated locally (instant)"),
    (
        "sample_hard",
        "Hard sample",
        "A harder synthetic set for comparing recipes: 10 labels, small motifs, clutter, "
        "label noise, and a style shift between training and validation",
    ),
    (
        "sample_print",
        "Print sample",
        "The hard set's training posters, validated on photographs of printed posters "
        "with smaller, hatched motifs: a second shift for comparing recipes",
    ),
    ("movie", "Movie posters", "Download the real movie-posters data set (about 1 GB)"),
    ("folder", "Open folder…", "A folder of images: per-label sub-folders or a CSV inside"),
    ("csv", "Open CSV…", "A CSV listing image files and their labels"),
    ("createml", "Open Create ML JSON…", "An Apple Create ML annotations file"),
]


class DataPage(QWidget):
    """Composes the source buttons, counts, image browser, label chart, report and the
    data-health controller; owns the loaded data set."""

    dataset_loaded = Signal(object)
    status_message = Signal(str)

    def __init__(
        self, prefs: Preferences, thumbnails: ThumbnailWorker, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.full: Dataset | None = None  # as loaded, every label
        self.dataset: Dataset | None = None  # narrowed to the ticked labels; what Train gets
        self.raw: Dataset | None = None  # as on disk, before its fix log
        self._dataset_key: str | None = None  # names the data set in the remembered choices
        self.workers = WorkerSet()
        self.tasks = TaskSlot(self.workers, self)  # loading (or downloading) a data set
        self._source: tuple[str, str, dict] = ("sample", "", {})
        self.health = DataHealthController(prefs, self.workers, self)
        self.health.status_message.connect(self.status_message)
        self.health.fixes_applied.connect(self._on_fixes_applied)
        self.health.reload_requested.connect(self.reload)
        self._build(thumbnails)

    # ------------------------------------------------------------------ layout
    def _build(self, thumbnails: ThumbnailWorker) -> None:
        header, self.source_label = page_header("Data", "No data set loaded yet.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(header)
        layout.addWidget(self._build_sources())
        layout.addLayout(self._build_stats())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.images = ImageBrowserCard(thumbnails)
        splitter.addWidget(self.images)
        splitter.addWidget(self._build_side())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout.addWidget(splitter, 1)

    def _build_sources(self) -> CardWidget:
        card = CardWidget("Source")
        self.source_buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        row.setSpacing(8)
        for kind, text, tip in SOURCE_BUTTONS:
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setAutoExclusive(False)
            button.clicked.connect(lambda _=False, k=kind: self.open_source(k))
            self.source_buttons[kind] = button
            row.addWidget(button)
        row.addStretch(1)
        self.health_button = QPushButton("Check data health…")
        self.health_button.setObjectName("primary")
        self.health_button.setToolTip(
            "Find wrong labels, duplicates, train/validation leaks and strays, and fix them"
        )
        self.health_button.setEnabled(False)  # until a data set is loaded
        self.health_button.clicked.connect(self.health.open_health)
        row.addWidget(self.health_button)
        card.body.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setToolTip("Progress of the current download or load")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download or load (Esc)")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_row = QWidget()
        progress_layout = hbox(self.progress, self.cancel_button, stretch_last=True)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        self.progress_row.setLayout(progress_layout)
        self.progress_row.hide()
        card.body.addWidget(self.progress_row)
        return card

    def _build_stats(self) -> QHBoxLayout:
        self.tiles = {
            "train": StatTileWidget("training images", "Images used to fit the model"),
            "val": StatTileWidget("validation images", "Held-out images for the metrics"),
            "labels": StatTileWidget(
                "labels", "Labels ticked for training, of all in the data set"
            ),
            "problems": StatTileWidget("problems", "Entries in the validation report below"),
        }
        row = QHBoxLayout()
        row.setSpacing(12)
        for tile in self.tiles.values():
            row.addWidget(tile)
        return row

    def _build_side(self) -> QWidget:
        side = QSplitter(Qt.Orientation.Vertical)
        chart_card = CardWidget("Labels")
        self.chart = LabelCountsWidget()
        self.chart.setToolTip(
            "How many images carry each label, per split. Tick the labels to train on."
        )
        self.chart.setMinimumSize(280, 200)
        self.chart.choice_changed.connect(self._on_chart_choice_changed)
        chart_card.body.addWidget(self.chart)
        report_card = CardWidget("Validation report")
        self.report = ProblemReportWidget()
        report_card.body.addWidget(self.report)
        side.addWidget(chart_card)
        side.addWidget(report_card)
        side.setStretchFactor(0, 2)
        side.setStretchFactor(1, 1)
        side.setChildrenCollapsible(False)
        return side

    # ------------------------------------------------------------------ loading
    def open_source(self, kind: str) -> None:
        self._mark_source(self._source[0])  # a click toggles; show the loaded source instead
        if kind in BUILT_IN:
            self.load_source(kind)
        elif kind == "folder":
            folder = QFileDialog.getExistingDirectory(self, "Open image folder", self._last_dir())
            if folder:
                self.load_source("folder", folder)
        elif kind == "csv":
            self._open_csv()
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open Create ML JSON", self._last_dir(), "Create ML JSON (*.json)"
            )
            if path:
                self.load_source("createml", path)

    def _open_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open CSV", self._last_dir(), "CSV (*.csv)")
        if not path:
            return
        dialog = CsvImportDialog(Path(path), self)
        if dialog.exec():
            self.load_source("csv", path, **dialog.options())

    def _last_dir(self) -> str:
        path = self.prefs.data_source()["path"]
        return str(Path(path).parent) if path else str(Path.home())

    def load_source(
        self, kind: str, path: str = "", **options: str | bool | None
    ) -> FunctionWorker:
        """Load a data set in a worker; returns it (tests wait on its signals)."""
        self._source = (kind, path, options)
        self._mark_source(kind)
        self.progress.setRange(0, 0)
        self.progress.setFormat("Preparing…")
        self.progress_row.show()
        self.status_message.emit(f"Loading {SOURCES[kind].lower()}…")
        return self.tasks.start(
            load_task(kind, path, options),
            f"load-{kind}",
            on_progress=self._on_loader_progressed,
            on_done=self._on_loader_succeeded,
            on_failed=self._on_loader_failed,
            on_cancelled=self._on_loader_cancelled,
            on_finished=self.progress_row.hide,
        )

    def _mark_source(self, kind: str) -> None:
        for key, button in self.source_buttons.items():
            button.setChecked(key == kind)

    def cancel(self) -> None:
        """Stop loading or downloading (Esc); nothing half-done is kept."""
        self.tasks.request_stop()

    def restore_last_source(self) -> FunctionWorker | None:
        source = self.prefs.data_source()
        kind, path = source["kind"], source["path"]
        stale = kind not in SAMPLES and not Path(path).exists()
        if kind not in SOURCES or kind == "movie" or stale:
            kind, path = "sample", ""
        return self.load_source(kind, path, **(source["options"] if kind == "csv" else {}))

    def _on_loader_progressed(self, done: int, total: int | None, phase: str) -> None:
        downloading = phase == "download"
        if downloading:
            text = f"Downloading {done / 1e6:.0f}" + (
                f" / {total / 1e6:.0f} MB" if total else " MB"
            )
        else:
            text = f"Reading images {done} / {total}" if total else "Reading images…"
        self.progress.setFormat(text)
        if not total:
            self.progress.setRange(0, 0)
            return
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / total))

    def _on_loader_succeeded(self, loaded: Loaded) -> None:
        kind, path, options = self._source
        self.prefs.set_data_source(kind, path, options)
        key = kind if kind in BUILT_IN else f"{kind}:{path}"
        dataset = loaded.dataset
        chosen = self.prefs.chosen_labels(key) or default_labels(kind, dataset)
        self.set_dataset(dataset, chosen, raw=loaded.raw)
        self._dataset_key = key
        self.status_message.emit(
            f"Loaded {len(dataset.train)} training and {len(dataset.val)} validation images."
        )

    def _on_loader_failed(self, message: str, details: str) -> None:
        show_error(self, f"Could not load the data set. {message}", details)
        self.status_message.emit("Loading the data set failed.")

    def _on_loader_cancelled(self) -> None:
        self.status_message.emit("Cancelled.")

    # ------------------------------------------------------------------ display
    def set_dataset(
        self, dataset: Dataset, chosen: list[str] | None = None, raw: Dataset | None = None
    ) -> None:
        """Show a loaded data set and train on `chosen` of its labels (default: all); `raw`:
        the same before its fix log (default: `dataset`)."""
        self.full, self._dataset_key = dataset, None
        self.raw = raw if raw is not None else dataset
        self.health_button.setEnabled(True)
        self.source_label.setText(dataset.source)
        names = dataset.label_names
        chosen = [n for n in chosen or names if n in names] or list(names)
        train, val = dataset.train.positives().tolist(), dataset.val.positives().tolist()
        self.chart.set_counts(names, train, val, chosen)
        self._apply_choice(chosen)

    def choose_labels(self, names: list[str]) -> None:
        """Train on these labels of the loaded data set (as ticking them would)."""
        self.chart.set_chosen(names, emit=True)

    def _on_chart_choice_changed(self, names: list[str]) -> None:
        if self.full is None:
            return
        if self._dataset_key is not None:
            self.prefs.set_chosen_labels(self._dataset_key, names)
        self._apply_choice(names)

    def _apply_choice(self, names: list[str]) -> None:
        from core.data.datasets import select_labels

        if self.full is None:
            return
        dataset = self.dataset = select_labels(self.full, names)
        n_all = len(dataset.all_label_names)
        n_labels = len(dataset.label_names)
        values = (
            str(len(dataset.train)),
            str(len(dataset.val)),
            f"{n_labels} of {n_all}" if n_labels < n_all else str(n_labels),
            str(len(dataset.report.problems)),
        )
        for tile, value in zip(self.tiles.values(), values, strict=True):
            tile.set_value(value)
        unlabelled = sum(
            int((part.labels.sum(axis=1) == 0).sum()) for part in (dataset.train, dataset.val)
        )
        some = "1 image has" if unlabelled == 1 else f"{unlabelled} images have"
        self.chart.set_note(f"{some} none of them (kept, as negatives)" if unlabelled else "")
        self.report.show_problems(dataset)
        self.images.show_dataset(dataset)
        self.health.set_data(dataset, self.raw or self.full)
        self.dataset_loaded.emit(dataset)

    # ------------------------------------------------------------------ data health
    def _on_fixes_applied(self, raw: Dataset, dataset: Dataset) -> None:
        key = self._dataset_key
        chosen = self.dataset.label_names if self.dataset is not None else None
        self.set_dataset(dataset, chosen, raw=raw)
        self._dataset_key = key
        in_force = self.health.decisions_in_force()  # counted as the views count them
        in_force = dataset.fixes_applied if in_force is None else in_force
        self.status_message.emit(
            f"Fixes applied: {in_force} decision(s) in force; {len(dataset.train)} training "
            f"and {len(dataset.val)} validation images."
        )

    def reload(self) -> FunctionWorker:
        """Read the data set from disk again (its label files changed)."""
        kind, path, options = self._source
        return self.load_source(kind, path, **options)
