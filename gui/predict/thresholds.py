"""The Predict page's thresholds: one global value, the tuned ones, or custom per label."""

from __future__ import annotations

from typing import Any

import numpy as np

from gui.errors import show_error
from gui.workers import FunctionWorker, TaskState


class ThresholdControls:
    """The Predict page's thresholds: one global value, the tuned ones, or custom per label."""

    def label_names(self) -> list[str]:
        return list(self.predictions.label_names)

    def thresholds(self) -> np.ndarray:
        return self.predictions.thresholds

    def _on_spin_value_changed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * 100))
        self.slider.blockSignals(False)
        self._apply_threshold_controls()

    def _on_tuned_toggled(self, on: bool) -> None:
        self.slider.setEnabled(not on)
        self.spin.setEnabled(not on)
        self._apply_threshold_controls()

    def _apply_threshold_controls(self) -> None:
        if self.tuned.isChecked():
            self.predictions.use_tuned()
        else:
            self.predictions.use_global(self.spin.value())
        self._thresholds_changed()

    def _on_panel_threshold_changed(self, name: str, value: float) -> None:
        self.predictions.use_custom({name: value})  # the other labels keep their values
        for widget in (self.tuned, self.slider, self.spin):
            widget.blockSignals(True)
        self.tuned.setChecked(False)
        self.slider.setEnabled(True)
        self.spin.setEnabled(True)
        for widget in (self.tuned, self.slider, self.spin):
            widget.blockSignals(False)
        self._thresholds_changed()

    def _on_panel_reset_requested(self) -> None:
        if self.tuned.isChecked():
            self._apply_threshold_controls()
        else:
            self.tuned.setChecked(True)

    def _thresholds_changed(self) -> None:
        """Every view follows the set's thresholds: panel, mode note, cards and table."""
        self.threshold_panel.show_thresholds(self.predictions.thresholds)
        self.mode_label.setText(
            {"global": "", "tuned": "tuned per label", "custom": "custom per label"}[
                self.predictions.mode
            ]
        )
        self.threshold_panel.save_button.setEnabled(
            self.model_path is not None and self.predictions.mode == "custom"
        )
        self._show_rows(range(len(self.predictions)))

    # ------------------------------------------------------------------ export
    def save_thresholds(self) -> FunctionWorker | None:
        """Write the current per-label thresholds into the model file (metadata only)."""
        if self.model_path is None:
            self.status_message.emit("Save the model to a file first (Train page, Save model…).")
            return None
        path, values = self.model_path, [float(v) for v in self.predictions.thresholds]

        def task(_state: TaskState) -> Any:
            from core.modelfile.checkpoint import write_thresholds

            return write_thresholds(path, values)

        worker = FunctionWorker(task, name="save-thresholds")
        worker.succeeded.connect(self._on_thresholds_saved)
        worker.failed.connect(lambda m, d: show_error(self, f"Could not save: {m}", d))
        return self.workers.start(worker)

    def _on_thresholds_saved(self, meta: Any) -> None:
        if self.predictor is not None and meta.label_names == self.predictor.label_names:
            self.predictor.meta = meta  # the file's thresholds are now these
            self.predictions.tuned = np.asarray(meta.thresholds, dtype=float)
        self.status_message.emit(f"Thresholds saved into {self.model_path}")
