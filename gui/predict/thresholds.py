"""The Predict page's thresholds: one global value, the tuned ones, or custom per label."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.inference.predictions import PredictionSet
from gui.errors import show_error
from gui.theme import set_muted
from gui.widgets.threshold_panel import ThresholdPanelWidget
from gui.workers import FunctionWorker, TaskState, WorkerSet

if TYPE_CHECKING:
    from core.inference.predictor import Predictor
    from core.modelfile.checkpoint import ModelMeta

MODE_NOTES = {"global": "", "tuned": "tuned per label", "custom": "custom per label"}
PER_LABEL_TEXT = "per label"  # what the global spin box shows while it does not apply


class ThresholdControlsWidget(QWidget):
    """A global slider and spin box, "use tuned", and a per-label panel; they set the
    thresholds of `predictions` and say so (thresholds_changed) for the views to follow."""

    thresholds_changed = Signal()
    status_message = Signal(str)

    def __init__(
        self, predictions: PredictionSet, workers: WorkerSet, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.predictions, self.workers = predictions, workers
        self.predictor: Predictor | None = None
        self.model_path: Path | None = None  # the predictor's file (None: not saved yet)
        self.global_value = 0.5  # the last global threshold chosen (kept while per label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(self._build_row())
        self.threshold_panel = ThresholdPanelWidget()
        self.threshold_panel.threshold_changed.connect(self._on_panel_threshold_changed)
        self.threshold_panel.reset_requested.connect(self._on_panel_reset_requested)
        self.threshold_panel.save_requested.connect(self.save_thresholds)
        self.threshold_panel.hide()
        layout.addWidget(self.threshold_panel)

    def _build_row(self) -> QHBoxLayout:
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 99)  # 0: per label (the spin box's special value)
        self.slider.setValue(50)
        self.slider.setMinimumWidth(220)
        self.slider.setToolTip("A label is predicted when its probability reaches the threshold")
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, 0.99)
        self.spin.setSpecialValueText(PER_LABEL_TEXT)  # at 0.00: no global value applies
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
        self.per_label_button = QPushButton("Per label…")
        self.per_label_button.setCheckable(True)
        self.per_label_button.setToolTip("Show one threshold per label, to set each by hand")
        self.per_label_button.toggled.connect(lambda on: self.threshold_panel.setVisible(on))
        self.mode_label = QLabel("")
        set_muted(self.mode_label)
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addWidget(QLabel("Threshold"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        row.addSpacing(12)
        row.addWidget(self.tuned)
        row.addWidget(self.per_label_button)
        row.addWidget(self.mode_label)
        row.addStretch(1)
        return row

    def set_model(self, predictor: Predictor, path: Path | None) -> None:
        """A new model (the set already has its labels): the controls apply to it."""
        self.predictor, self.model_path = predictor, path
        self.threshold_panel.set_labels(predictor.label_names)
        self.apply()

    def apply(self) -> None:
        """The set takes the thresholds the controls show (tuned, or the global value)."""
        if self.tuned.isChecked():
            self.predictions.use_tuned()
        else:
            self.predictions.use_global(self.global_value)
        self._on_thresholds_changed()

    def _on_spin_value_changed(self, value: float) -> None:
        if value < 0.01:  # stepped onto "per label", which is not a threshold one can choose
            self.spin.setValue(0.01)
            return
        self.global_value = value
        self.apply()

    def _show_global(self) -> None:
        """The spin box and slider show the global value only while it is the one in use."""
        value = self.global_value if self.predictions.mode == "global" else 0.0
        for widget in (self.slider, self.spin):
            widget.blockSignals(True)
        self.spin.setValue(value)
        self.slider.setValue(round(value * 100))
        for widget in (self.slider, self.spin):
            widget.blockSignals(False)

    def _on_tuned_toggled(self, on: bool) -> None:
        self.slider.setEnabled(not on)
        self.spin.setEnabled(not on)
        self.apply()

    def _on_panel_threshold_changed(self, name: str, value: float) -> None:
        self.predictions.use_custom({name: value})  # the other labels keep their values
        for widget in (self.tuned, self.slider, self.spin):
            widget.blockSignals(True)
        self.tuned.setChecked(False)
        self.slider.setEnabled(True)
        self.spin.setEnabled(True)
        for widget in (self.tuned, self.slider, self.spin):
            widget.blockSignals(False)
        self._on_thresholds_changed()

    def _on_panel_reset_requested(self) -> None:
        if self.tuned.isChecked():
            self.apply()
        else:
            self.tuned.setChecked(True)

    def _on_thresholds_changed(self) -> None:
        """The panel and mode note follow the set's thresholds; then the page's views."""
        self.threshold_panel.show_thresholds(self.predictions.thresholds)
        self._show_global()
        self.mode_label.setText(MODE_NOTES[self.predictions.mode])
        self.threshold_panel.save_button.setEnabled(
            self.model_path is not None and self.predictions.mode == "custom"
        )
        self.thresholds_changed.emit()

    # ------------------------------------------------------------------ export
    def save_thresholds(self) -> FunctionWorker | None:
        """Write the current per-label thresholds into the model file (metadata only)."""
        if self.model_path is None:
            self.status_message.emit("Save the model to a file first (Train page, Save model…).")
            return None
        path, values = self.model_path, [float(v) for v in self.predictions.thresholds]

        def task(_state: TaskState) -> ModelMeta:
            from core.modelfile.checkpoint import write_thresholds

            return write_thresholds(path, values)

        worker = FunctionWorker(task, name="save-thresholds")
        worker.succeeded.connect(lambda meta: self._on_thresholds_saved(meta, path))
        worker.failed.connect(lambda m, d: show_error(self, f"Could not save: {m}", d))
        return self.workers.start(worker)

    def _on_thresholds_saved(self, meta: ModelMeta, path: Path) -> None:
        if self.predictor is not None and meta.label_names == self.predictor.label_names:
            self.predictor.meta = meta  # the file's thresholds are now these
            self.predictions.tuned = np.asarray(meta.thresholds, dtype=float)
        self.status_message.emit(f"Thresholds saved into {path}")
