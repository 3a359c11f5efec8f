"""Predict page: a model, a big drop zone, one card per image, a live threshold, CSV export."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.errors import show_error
from gui.settings import Preferences
from gui.theme import set_muted
from gui.widgets.card_flow import CardFlowWidget
from gui.widgets.cards import CardWidget, page_header
from gui.widgets.drop_area import DropAreaWidget
from gui.widgets.prediction_card import PredictionCardWidget
from gui.widgets.results_table import ResultsTable
from gui.workers import FunctionWorker, PredictionWorker, ThumbnailWorker, WorkerSet

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp)"


def is_image_or_folder(path: Path) -> bool:
    from core.datasets import IMAGE_SUFFIXES  # lazy: core.datasets pulls in pandas

    return path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


class PredictPage(QWidget):
    status_message = Signal(str)
    model_loaded = Signal(object)

    def __init__(
        self, prefs: Preferences, thumbnails: ThumbnailWorker, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.predictor: Any = None
        self.model_path: Path | None = None
        self.cards: dict[Path, PredictionCardWidget] = {}
        self.results: dict[Path, tuple[np.ndarray | None, str | None]] = {}
        self.workers = WorkerSet()
        self._thumbnails = thumbnails
        thumbnails.ready.connect(self._on_thumbnails_ready)
        self._build()

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
        self.table = ResultsTable()
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
        self.open_model_button.clicked.connect(self._on_open_model_clicked)
        self.open_images_button = QPushButton("Open images…")
        self.open_images_button.setObjectName("primary")
        self.open_images_button.setToolTip("Choose image files to classify (Ctrl+O)")
        self.open_images_button.clicked.connect(self._on_open_images_clicked)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove all images from the page")
        self.clear_button.clicked.connect(self.clear)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save file, probability per label and predicted labels")
        self.export_button.clicked.connect(self._on_export_clicked)
        top = QHBoxLayout()
        top.setSpacing(8)
        for button in (self.open_images_button, self.open_model_button, self.clear_button):
            top.addWidget(button)
        top.addStretch(1)
        self.serve_button = QPushButton("Serve this model…")
        self.serve_button.setToolTip("Run a local REST endpoint for this model (marquee serve)")
        self.serve_button.clicked.connect(self._on_serve_clicked)
        top.addWidget(self.serve_button)
        top.addWidget(self.export_button)
        card.body.addLayout(top)
        card.body.addLayout(self._build_threshold_row())
        return card

    def _build_threshold_row(self) -> QHBoxLayout:
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, 99)
        self.slider.setValue(50)
        self.slider.setMinimumWidth(220)
        self.slider.setToolTip("A label is predicted when its probability reaches the threshold")
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.01, 0.99)
        self.spin.setSingleStep(0.01)
        self.spin.setDecimals(2)
        self.spin.setValue(0.5)
        self.spin.setToolTip("Global threshold, in 0.01 steps")
        self.tuned = QCheckBox("Use tuned per-label thresholds")
        self.tuned.setToolTip(
            "Thresholds chosen on the validation images when the model was trained"
        )
        self.slider.valueChanged.connect(lambda v: self.spin.setValue(v / 100))
        self.spin.valueChanged.connect(self._on_spin_value_changed)
        self.tuned.toggled.connect(self._on_tuned_toggled)
        label = QLabel("Threshold")
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addWidget(label)
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        row.addSpacing(12)
        row.addWidget(self.tuned)
        row.addStretch(1)
        return row

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

    # ------------------------------------------------------------------ model
    def _on_open_model_clicked(self) -> None:
        start = str(self.model_path.parent) if self.model_path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", start, "Marquee model (*.safetensors);;All files (*)"
        )
        if path:
            self.load_model(Path(path))

    def load_model(self, path: Path, result: Any = None) -> FunctionWorker:
        """Load a model file (or wrap a fresh TrainResult) in a worker; cards re-predict."""

        def task(_progress, _should_stop):
            from core.predictor import Predictor

            if result is not None:
                return Predictor(result.model, result.meta)
            return Predictor.from_file(path)

        worker = FunctionWorker(task, name="load-model")
        worker.succeeded.connect(lambda p: self.set_predictor(p, path))
        worker.failed.connect(self._on_model_failed)
        self.model_label.setText(f"Loading {path.name if path else 'model'}…")
        return self.workers.start(worker)

    def _on_model_failed(self, message: str, details: str) -> None:
        self._show_model_info()
        show_error(self, f"Could not open the model. {message}", details)

    def set_predictor(self, predictor: Any, path: Path | None) -> None:
        self.predictor, self.model_path = predictor, path
        if path is not None:
            self.prefs.set_value("predict/model", str(path))
        self._show_model_info()
        for card in self.cards.values():
            card.set_labels(predictor.label_names)
        self.table.set_labels(predictor.label_names)
        self.results.clear()
        if self.cards:
            self._run_prediction(list(self.cards), expand=False)
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

    # ------------------------------------------------------------------ images
    def _on_open_images_clicked(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", str(Path.home()), IMAGE_FILTER)
        if paths:
            self.add_inputs([Path(p) for p in paths])

    def add_inputs(self, paths: list[Path]) -> PredictionWorker:
        """Expand files/folders and predict them in a worker; cards appear as results arrive."""
        return self._run_prediction(paths, expand=True)

    def _run_prediction(self, paths: list[Path], expand: bool) -> PredictionWorker:
        worker = PredictionWorker(self.predictor, paths, expand=expand)
        worker.expanded.connect(self._on_worker_expanded)
        worker.batch_ready.connect(self._on_worker_batch_ready)
        worker.failed.connect(lambda m, d: show_error(self, f"Prediction failed: {m}", d))
        return self.workers.start(worker)

    def _on_worker_expanded(self, images: list[Path], skipped: list[str]) -> None:
        if skipped:
            self.status_message.emit(
                f"Skipped: {skipped[0]}"
                + (f" (+{len(skipped) - 1} more)" if len(skipped) > 1 else "")
            )
        new = [p for p in images if p not in self.cards]
        names = self.predictor.label_names if self.predictor is not None else []
        for path in new:
            card = PredictionCardWidget(path)
            card.set_labels(names)
            card.set_thresholds(self.thresholds())
            self.cards[path] = card
            self.flow.add_card(card)
            self._thumbnails.request(("card", id(self), path), path)
        if new:
            self.stack.setCurrentWidget(self.tabs)
            self.drop_area.set_empty(False)
            if self.predictor is None:
                self.status_message.emit("Open a model (or train one) to predict these images.")

    def _on_worker_batch_ready(self, predictions: list) -> None:
        thresholds = self.thresholds()
        for prediction in predictions:
            path = Path(prediction.source)
            card = self.cards.get(path)
            if card is None:
                continue
            self.results[path] = (prediction.probabilities, prediction.error)
            card.set_result(prediction.probabilities, prediction.error)
            card.set_thresholds(thresholds)
        self.table.set_results(list(self.cards), self.results, thresholds)

    def _on_thumbnails_ready(self, key: object, image: QImage) -> None:
        if isinstance(key, tuple) and key[:2] == ("card", id(self)) and key[2] in self.cards:
            self.cards[key[2]].set_image(image)

    def clear(self) -> None:
        self.flow.clear()
        self.cards.clear()
        self.results.clear()
        self.table.set_results([], {}, self.thresholds())
        self.stack.setCurrentIndex(0)
        self.drop_area.set_empty(True)

    # ------------------------------------------------------------------ thresholds
    def label_names(self) -> list[str]:
        return self.predictor.label_names if self.predictor is not None else []

    def thresholds(self) -> np.ndarray:
        n = len(self.predictor.label_names) if self.predictor is not None else 0
        if self.tuned.isChecked() and self.predictor is not None:
            return np.asarray(self.predictor.thresholds, dtype=float)
        return np.full(n, self.spin.value())

    def _on_spin_value_changed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * 100))
        self.slider.blockSignals(False)
        self._apply_thresholds()

    def _on_tuned_toggled(self, on: bool) -> None:
        self.slider.setEnabled(not on)
        self.spin.setEnabled(not on)
        self._apply_thresholds()

    def _apply_thresholds(self) -> None:
        thresholds = self.thresholds()
        for card in self.cards.values():
            card.set_thresholds(thresholds)
        self.table.update_predicted(thresholds)

    # ------------------------------------------------------------------ export
    def _on_export_clicked(self) -> None:
        if not self.results:
            self.status_message.emit("Nothing to export yet: drop some images first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export CSV", str(Path.home() / "predictions.csv"), "CSV (*.csv)"
        )
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> int:
        """Write one row per predicted image; returns the number of rows."""
        names = self.predictor.label_names if self.predictor is not None else []
        thresholds = self.thresholds()
        rows = 0
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", *names, "predicted"])
            for image in self.cards:
                probs, _error = self.results.get(image, (None, None))
                if probs is None:
                    continue
                predicted = [n for n, p, t in zip(names, probs, thresholds, strict=True) if p >= t]
                writer.writerow([str(image), *(f"{p:.4f}" for p in probs), ";".join(predicted)])
                rows += 1
        self.status_message.emit(f"Exported {rows} rows to {path}")
        return rows

    def _on_serve_clicked(self) -> None:
        if self.model_path is None:
            self.status_message.emit("Open or train a model first, then serve it.")
            return
        from gui.serve_panel import ServePanel

        panel = getattr(self, "serve_panel", None)
        if panel is not None and panel.running and panel.model_path == self.model_path:
            panel.show()
            panel.raise_()
            return
        if panel is not None:
            panel.close()  # another model: stop its server first
        self.serve_panel = ServePanel(self.model_path, self)
        self.serve_panel.show()
        self.serve_panel.start()
