"""Per-label positive counts, train vs validation, as horizontal bars (names stay legible)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from gui.theme import ACCENT, SECOND
from gui.widgets.plot_panel import DeferredPlotWidget, styled_plot

BAR = 0.38


class LabelCountsWidget(DeferredPlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: tuple[list[int], list[int]] = ([], [])
        self._names: list[str] = []

    def _create(self, pg: Any) -> None:
        self.plot = styled_plot(self, "", "", "images with the label")
        self.plot.getPlotItem().setTitle(
            f'<span style="color:{ACCENT}">&#9632;</span> train &nbsp; '
            f'<span style="color:{SECOND}">&#9632;</span> validation',
            size="10pt",
            color=self.palette().color(QPalette.ColorRole.Text).name(),
        )
        self.plot.getPlotItem().setMouseEnabled(x=False, y=False)
        self.plot.getPlotItem().invertY(True)
        self._train = pg.BarGraphItem(
            x0=[], y=[], height=BAR, width=[], brush=QColor(ACCENT), pen=None, name="train"
        )
        self._val = pg.BarGraphItem(
            x0=[], y=[], height=BAR, width=[], brush=QColor(SECOND), pen=None, name="validation"
        )
        self.plot.addItem(self._train)
        self.plot.addItem(self._val)
        self._layout.addWidget(self.plot)

    def _after_build(self) -> None:
        if self._names:
            self._draw(self._names, *self.counts)

    def set_counts(self, names: Sequence[str], train: Sequence[int], val: Sequence[int]) -> None:
        self._names = list(names)
        self.counts = (list(map(int, train)), list(map(int, val)))
        if self.built:
            self._draw(self._names, *self.counts)

    def _draw(self, names: Sequence[str], train: Sequence[int], val: Sequence[int]) -> None:
        y = np.arange(len(names), dtype=float)
        zeros = np.zeros(len(names))
        self._train.setOpts(x0=zeros, y=y - BAR / 2, width=np.asarray(train, float), height=BAR)
        self._val.setOpts(x0=zeros, y=y + BAR / 2, width=np.asarray(val, float), height=BAR)
        self.plot.getAxis("left").setTicks([list(zip(y.tolist(), names, strict=True))])
        top = max([*train, *val, 1])
        self.plot.setXRange(0, top * 1.08, padding=0)
        self.plot.setYRange(-0.6, max(len(names), 1) - 0.4, padding=0)
