"""Predict page: a model, a big drop zone, one card per image, a live threshold, CSV export.

The page's state is one `PredictionSet` (core.inference.predictions); the cards and the table only
render it. All background work (loading a model, finding images, predicting) goes through
the page's one `TaskSlot`, so a newer task always replaces an older one and nothing from
the older one reaches the page.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.inference.predictions import PredictionSet
from gui.errors import show_error
from gui.predict.explain import ExplanationDialog
from gui.predict.tasks import (
    Batch,
    Expanded,
    ModelReady,
    ModelRequest,
    predict_page_task,
)
from gui.predict.thresholds import ThresholdControlsWidget
from gui.settings import Preferences
from gui.tasks import TaskSlot
from gui.theme import set_muted
from gui.widgets.card_flow import CardFlowWidget
from gui.widgets.cards import CardWidget, hbox, page_header
from gui.widgets.drop_area import DropAreaWidget
from gui.widgets.prediction_card import PredictionCardWidget
from gui.widgets.results_table import ResultsTable
from gui.workers import FunctionWorker, TaskState, ThumbnailWorker, WorkerSet

if TYPE_CHECKING:
    from core.inference.predictor import Predictor
    from core.training.loop import TrainResult
    from gui.serve.panel import ServePanel

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp)"
TUNED_KEY = "predict/tuned_thresholds"  # the "use tuned thresholds" tick, across restarts


def is_image_or_folder(path: Path) -> bool:
    from core.data.datasets import IMAGE_SUFFIXES  # lazy: core.data.datasets pulls in pandas

    return path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


class PredictPage(QWidget):
    """Composes the model and image buttons, the threshold controls, the drop zone and the
    cards and table; owns the model and the prediction set."""

    status_message = Signal(str)
    model_loaded = Signal(object)
    actions_changed = Signal()  # what can be exported / cleared changed
    label_more_requested = Signal()  # label unlabelled posters with this model's help

    def __init__(
        self, prefs: Preferences, thumbnails: ThumbnailWorker, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.predictor: Predictor | None = None
        self.model_path: Path | None = None
        self.predictions = PredictionSet()
        self.cards: list[PredictionCardWidget] = []  # one per row of the set, same order
        self.workers = WorkerSet()
        self.tasks = TaskSlot(self.workers, self)
        self._model_request: ModelRequest | None = None  # asked for, not loaded yet
        self._unexpanded: list[Path] = []  # dropped, not yet searched for images
        self._thumbnails = thumbnails
        self.serve_panel: ServePanel | None = None  # the last one opened
        thumbnails.ready.connect(self._on_thumbnails_ready)
        self._build()
        tuned = self.threshold_controls.tuned  # the tick survives a restart
        tuned.setChecked(self.prefs.value(TUNED_KEY, False, bool))
        tuned.toggled.connect(lambda on: self.prefs.set_value(TUNED_KEY, on))
        self._update_actions()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        header, self.model_label = page_header("Predict", "No model loaded.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(header)
        layout.addWidget(self._build_controls())
        self.drop_area = DropAreaWidget(is_image_or_folder)
        self.drop_area.paths_dropped.connect(self.add_inputs)
        self.drop_area.rejected.connect(self.status_message)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_empty_hint())
        self.tabs = QTabWidget()
        self.flow = CardFlowWidget()
        self.table = ResultsTable(self.predictions)
        self.tabs.addTab(self.flow, "Cards")
        self.tabs.addTab(self.table, "Table")
        self.tabs.setToolTip("Drop more images or folders here at any time")
        self.stack.addWidget(self.tabs)
        inner = QVBoxLayout(self.drop_area)
        inner.setContentsMargins(2, 2, 2, 2)
        inner.addWidget(self.stack)
        layout.addWidget(self.drop_area, 1)

    def _build_controls(self) -> CardWidget:
        card = CardWidget("")
        self.open_model_button = QPushButton("Open model…")
        self.open_model_button.setToolTip("Load a .safetensors model file (Ctrl+Shift+O)")
        self.open_model_button.clicked.connect(self.open_model_dialog)
        self.open_images_button = QPushButton("Open images…")
        self.open_images_button.setObjectName("primary")
        self.open_images_button.setToolTip("Choose image files to classify (Ctrl+O)")
        self.open_images_button.clicked.connect(self.open_images_dialog)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove all images from the page")
        self.clear_button.clicked.connect(self.clear)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save file, probability per label and predicted labels")
        self.export_button.clicked.connect(self.export_dialog)
        top = hbox(self.open_images_button, self.open_model_button, self.clear_button)
        self.serve_button = QPushButton("Serve this model…")
        self.serve_button.setToolTip("Run a local REST endpoint for this model (marquee serve)")
        self.serve_button.clicked.connect(self._on_serve_clicked)
        self.label_more_button = QPushButton("Label unlabelled posters…")
        self.label_more_button.setToolTip("Label new posters for the data set, most unsure first")
        self.label_more_button.clicked.connect(self.label_more_requested)
        for button in (self.label_more_button, self.serve_button, self.export_button):
            top.addWidget(button)
        card.body.addLayout(top)
        self.threshold_controls = ThresholdControlsWidget(self.predictions, self.workers)
        self.threshold_controls.thresholds_changed.connect(
            lambda: self._show_rows(range(len(self.predictions)))
        )
        self.threshold_controls.status_message.connect(self.status_message)
        card.body.addWidget(self.threshold_controls)
        return card

    def _build_empty_hint(self) -> QWidget:
        hint = QWidget()
        box = QVBoxLayout(hint)
        box.addStretch(1)
        title = QLabel("Drop posters or folders here")
        title.setObjectName("pageTitle")
        sub = QLabel("JPEG, PNG or WebP. Folders are searched recursively.")
        set_muted(sub)
        for label in (title, sub):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(label)
        box.addStretch(1)
        return hint

    # ------------------------------------------------------------------ public actions
    def open_model_dialog(self) -> None:
        from core.base.paths import runs_dir  # every trained model is kept there

        start = str(self.model_path.parent) if self.model_path else str(runs_dir())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", start, "Marquee model (*.safetensors);;All files (*)"
        )
        if path:
            self.load_model(Path(path))

    def open_images_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", str(Path.home()), IMAGE_FILTER)
        if paths:
            self.add_inputs([Path(p) for p in paths])

    def export_dialog(self) -> None:
        if not self.can_export():
            self.status_message.emit("Nothing to export yet: drop some images first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export CSV", str(Path.home() / "predictions.csv"), "CSV (*.csv)"
        )
        if path:
            self.export_csv(Path(path))

    def can_export(self) -> bool:
        return self.predictions.any_done()

    def label_names(self) -> list[str]:
        return list(self.predictions.label_names)

    def load_model(self, path: Path | None, result: TrainResult | None = None) -> FunctionWorker:
        """Load a model file (or wrap a fresh TrainResult); every card is predicted again."""
        self._model_request = ModelRequest(path, result)
        self.model_label.setText(f"Loading {path.name if path else 'the trained model'}…")
        return self._restart()

    def add_inputs(self, paths: list[Path]) -> FunctionWorker:
        """Find the images in files/folders and predict them; cards appear as results arrive."""
        self._unexpanded += [Path(p) for p in paths]
        return self._restart()

    def explain(self, image: Path, label_index: int) -> ExplanationDialog | None:
        """Open the poster with one label's heat map (arrows step through the labels)."""
        if self.predictor is None:
            return None
        dialog = ExplanationDialog(
            image, self.label_names(), label_index, self.predictor, self.model_path, self
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def clear(self) -> None:
        self.tasks.cancel()
        self._unexpanded.clear()
        self.predictions.clear()
        self.flow.clear()
        self.cards.clear()
        self.table.results.reset()
        self.stack.setCurrentIndex(0)
        self.drop_area.set_empty(True)
        self._update_actions()

    # ------------------------------------------------------------------ the page's one task
    def _restart(self) -> FunctionWorker:
        """(Re)start the page's task with everything still to do; the old task is dropped."""
        task = predict_page_task(
            self._model_request,
            list(self._unexpanded),
            self.predictor,
            list(self.predictions.sources) if self._model_request else self.predictions.pending(),
            self.predictions.generation,
        )
        worker = self.tasks.start(
            task,
            "predict",
            on_partial=self._on_task_partial,
            on_failed=self._on_task_failed,
            on_finished=self._update_actions,
        )
        self._update_actions()
        return worker

    def _on_task_partial(self, part: object) -> None:
        if isinstance(part, ModelReady):
            self._set_predictor(part.predictor, part.path)
        elif isinstance(part, Expanded):
            self._unexpanded.clear()
            self._add_rows(part.images, part.skipped)
        elif isinstance(part, Batch):
            self._show_rows(self.predictions.record(part.predictions, part.generation))

    def _on_task_failed(self, message: str, details: str) -> None:
        if self._model_request is not None:
            self._model_request = None
            self._show_model_info()
            show_error(self, f"Could not open the model. {message}", details)
            if self._unexpanded:  # images dropped meanwhile still deserve cards
                QTimer.singleShot(0, self, self._restart)
        else:
            show_error(self, f"Prediction failed: {message}", details)

    def _set_predictor(self, predictor: Predictor, path: Path | None) -> None:
        self._model_request = None
        self.predictor, self.model_path = predictor, path
        if path is not None:
            self.prefs.set_value("predict/model", str(path))
        self.predictions.set_model(predictor.label_names, predictor.thresholds.tolist())
        self.threshold_controls.set_model(predictor, path)
        self.table.results.reset()
        for card in self.cards:
            card.set_labels(predictor.label_names)
        self._show_rows(range(len(self.predictions)))
        self._show_model_info()
        self.model_loaded.emit(predictor)
        self.status_message.emit(f"Model ready: {len(predictor.label_names)} labels.")

    def _show_model_info(self) -> None:
        if self.predictor is None:
            self.model_label.setText("No model loaded. Train one, or open a .safetensors file.")
            return
        meta = self.predictor.meta
        score = meta.metrics.get("map")
        where = self.model_path.parent.name if self.model_path else "this session"
        self.model_label.setText(
            f"{meta.backbone} · {len(meta.label_names)} labels ({', '.join(meta.label_names[:8])}"
            f"{'…' if len(meta.label_names) > 8 else ''})"
            + (f" · validation mAP {score:.3f}" if isinstance(score, int | float) else "")
            + f" · {where}"
        )

    # ------------------------------------------------------------------ rendering the set
    def _add_rows(self, images: list[Path], skipped: list[str]) -> None:
        if skipped:
            self.status_message.emit(
                f"Skipped: {skipped[0]}"
                + (f" (+{len(skipped) - 1} more)" if len(skipped) > 1 else "")
            )
        rows = self.predictions.add(images)
        for row in rows:
            path = Path(self.predictions.sources[row])
            card = PredictionCardWidget(path)
            card.set_labels(self.predictions.label_names)
            card.bars.label_clicked.connect(lambda index, p=path: self.explain(p, index))
            self.cards.append(card)
            self.flow.add_card(card)
            self._thumbnails.request(("card", id(self), str(path)), path)
        self.table.results.rows_added(rows)
        if rows:
            self.stack.setCurrentWidget(self.tabs)
            self.drop_area.set_empty(False)
            if self.predictor is None and self._model_request is None:
                self.status_message.emit("Open a model (or train one) to predict these images.")

    def _show_rows(self, rows: range | list[int]) -> None:
        thresholds = self.predictions.thresholds
        predicted = self.predictions.predicted()
        for row in rows:
            self.cards[row].show_result(
                self.predictions.probabilities(row),
                self.predictions.error(row),
                thresholds,
                predicted[row],
            )
        self.table.results.rows_changed(rows)
        self._update_actions()

    def _on_thumbnails_ready(self, key: object, image: QImage) -> None:
        if isinstance(key, tuple) and key[:2] == ("card", id(self)):
            row = self.predictions.row_of(key[2])
            if row is not None and row < len(self.cards):
                self.cards[row].set_image(image)

    def _update_actions(self) -> None:
        self.export_button.setEnabled(self.can_export())
        self.clear_button.setEnabled(bool(self.cards))
        self.label_more_button.setEnabled(self.predictor is not None)
        self.actions_changed.emit()

    def export_csv(self, path: Path) -> FunctionWorker:
        """Write one row per image (results and errors) in a worker; the status bar says
        how many. The worker writes a copy: the page's own set keeps changing meanwhile."""
        snapshot = copy.deepcopy(self.predictions)

        def task(_state: TaskState) -> int:
            return snapshot.write_csv(path)

        worker = FunctionWorker(task, name="export-csv")
        worker.succeeded.connect(
            lambda rows: self.status_message.emit(f"Exported {rows} rows to {path}")
        )
        worker.failed.connect(lambda message, details: show_error(self, message, details))
        return self.workers.start(worker)

    def _on_serve_clicked(self) -> None:
        if self.model_path is None:
            self.status_message.emit("Open or train a model first, then serve it.")
            return
        from gui.serve.panel import ServePanel

        panel = self.serve_panel
        if panel is not None and panel.running and panel.model_path == self.model_path:
            panel.show()
            panel.raise_()
            return
        if panel is not None:
            panel.close()  # another model: stop its server first
        self.serve_panel = ServePanel(self.model_path, self)
        self.serve_panel.show()
        self.serve_panel.start()
