"""One slider and spin box per label: the Predict page's custom thresholds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from gui.theme import set_muted

STEPS = 100  # slider positions per unit: 0.01 resolution, like the global slider


class ThresholdPanelWidget(QWidget):
    """Edits per-label thresholds; says which label moved, never decides what is predicted."""

    threshold_changed = Signal(str, float)  # label name, new threshold
    reset_requested = Signal()
    save_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._sliders: list[QSlider] = []
        self._spins: list[QDoubleSpinBox] = []
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(10)
        self._grid.setVerticalSpacing(4)
        self._grid.setColumnStretch(3, 1)  # sliders keep a readable width; the rest is air
        self.note = QLabel("Move a label's slider to set its own threshold.")
        set_muted(self.note)
        self.reset_button = QPushButton("Reset to tuned")
        self.reset_button.setToolTip("Use the thresholds tuned on validation data for every label")
        self.reset_button.clicked.connect(self.reset_requested)
        self.save_button = QPushButton("Save into the model")
        self.save_button.setToolTip(
            "Store these thresholds in the model file; the weights are untouched and the tuned "
            "values stay in the file, so Reset to tuned still works"
        )
        self.save_button.clicked.connect(self.save_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.note, 1)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(self._grid)
        layout.addLayout(buttons)

    def set_labels(self, names: Sequence[str]) -> None:
        while (item := self._grid.takeAt(0)) is not None:  # None once the grid is empty
            if (widget := item.widget()) is not None:
                widget.deleteLater()
        self._names, self._sliders, self._spins = list(names), [], []
        for row, name in enumerate(self._names):
            self._add_row(row, name)

    def _add_row(self, row: int, name: str) -> None:
        label = QLabel(name)
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, STEPS)
        slider.setToolTip(f"Threshold for {name}")
        slider.setFixedWidth(360)
        spin = QDoubleSpinBox()
        spin.setRange(0.0, 1.0)
        spin.setSingleStep(0.01)
        spin.setDecimals(2)
        spin.setToolTip(f"Threshold for {name}, in 0.01 steps")
        slider.valueChanged.connect(lambda v, s=spin: s.setValue(v / STEPS))
        spin.valueChanged.connect(lambda v, i=row: self._on_spin_value_changed(i, v))
        self._grid.addWidget(label, row, 0)
        self._grid.addWidget(slider, row, 1)
        self._grid.addWidget(spin, row, 2)
        self._sliders.append(slider)
        self._spins.append(spin)

    def show_thresholds(self, thresholds: np.ndarray) -> None:
        """Reflect the set's thresholds without reporting them back as changes."""
        for slider, spin, value in zip(self._sliders, self._spins, thresholds, strict=False):
            for widget in (slider, spin):
                widget.blockSignals(True)
            spin.setValue(float(value))
            slider.setValue(round(float(value) * STEPS))
            for widget in (slider, spin):
                widget.blockSignals(False)

    def values(self) -> list[float]:
        return [spin.value() for spin in self._spins]

    def _on_spin_value_changed(self, row: int, value: float) -> None:
        slider = self._sliders[row]
        slider.blockSignals(True)
        slider.setValue(round(value * STEPS))
        slider.blockSignals(False)
        self.threshold_changed.emit(self._names[row], value)
