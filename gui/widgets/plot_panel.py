"""Live training plots: loss (raw steps, smoothed, validation) and validation metrics.

Events only append to buffers; `refresh()` (driven by the page's ~10 Hz timer) pushes
them to pyqtgraph with setData, so a fast engine cannot flood the UI with repaints.

pyqtgraph costs 0.3-0.6 s to import, so the UI thread never imports it: `build()` asks
gui.widgets.background_imports to import it in a thread (the main window builds the Train
page's plots just after its first paint) and creates the widgets on the UI thread once it
is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

if TYPE_CHECKING:
    import pyqtgraph as pg

from gui.theme import ACCENT, SECOND, THIRD
from gui.widgets.background_imports import plots_library

EMA_BETA = 0.9


class DeferredPlotWidget(QWidget):
    """A container whose pyqtgraph content is created by `build()`: at once when the library
    is loaded, else as soon as its import (in a thread) has finished. Idempotent; what is
    drawn before then is kept and drawn by `_after_build`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.built = False
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(12)
        self._placeholder = QLabel("")
        self._layout.addWidget(self._placeholder)

    def build(self) -> None:
        if not self.built:
            plots_library().when_loaded(self._build_now)

    def _build_now(self) -> None:
        if self.built:
            return
        import pyqtgraph  # loaded already: only looked up here

        self._placeholder.deleteLater()
        self._create(pyqtgraph)
        self.built = True
        self._after_build()

    def _create(self, pg: Any) -> None:
        raise NotImplementedError

    def _after_build(self) -> None:
        pass

    def _draw_when_built(self) -> None:
        """Draw what is shown now, or (while the library loads) once the plots exist."""
        self.build()
        if self.built:
            self._after_build()


def styled_plot(parent: QWidget, title: str, y_label: str, x_label: str) -> pg.PlotWidget:
    """A PlotWidget coloured from the palette, so it reads in light and dark themes."""
    import pyqtgraph as pg

    pal = parent.palette()
    text = pal.color(QPalette.ColorRole.Text)
    plot = pg.PlotWidget(parent=parent, background=pal.color(QPalette.ColorRole.Base))
    item = plot.getPlotItem()
    item.setTitle(title, color=text.name(), size="10.5pt")
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setTextPen(text)
        axis.enableAutoSIPrefix(False)
        axis.setPen(pg.mkPen(QColor(text.red(), text.green(), text.blue(), 110)))
    item.setLabel("left", y_label, color=text.name())
    item.setLabel("bottom", x_label, color=text.name())
    plot.setMinimumSize(260, 200)
    return plot


def add_legend(plot: pg.PlotWidget, bottom: bool = False) -> pg.LegendItem:
    import pyqtgraph as pg

    text = plot.palette().color(QPalette.ColorRole.Text)
    base = plot.palette().color(QPalette.ColorRole.Base)
    base.setAlpha(200)
    offset = (-8, -8) if bottom else (-8, 8)
    return plot.addLegend(offset=offset, labelTextColor=text, brush=pg.mkBrush(base))


class TrainingPlotsWidget(DeferredPlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reset()

    def _create(self, pg: Any) -> None:
        self.loss_plot = styled_plot(self, "Loss", "BCE loss", "epoch")
        self.metrics_plot = styled_plot(self, "Validation metrics", "score", "epoch")
        self.metrics_plot.setYRange(0, 1, padding=0.02)
        self.metrics_plot.getPlotItem().getViewBox().setLimits(yMin=-0.05, yMax=1.05)
        add_legend(self.loss_plot)
        add_legend(self.metrics_plot, bottom=True)
        accent, faint = QColor(ACCENT), QColor(ACCENT)
        faint.setAlpha(110)
        self._raw = self.loss_plot.plot([], [], pen=pg.mkPen(faint, width=1), name="train (step)")
        self._smooth = self.loss_plot.plot(
            [], [], pen=pg.mkPen(accent, width=2.5), name="train (smoothed)"
        )
        self._val = self._epoch_curve(self.loss_plot, SECOND, "validation")
        self._map = self._epoch_curve(self.metrics_plot, ACCENT, "mAP")
        self._f1 = self._epoch_curve(self.metrics_plot, THIRD, "F1 (macro)")
        self._layout.addWidget(self.loss_plot)
        self._layout.addWidget(self.metrics_plot)

    def _after_build(self) -> None:
        self._dirty = True
        self.refresh()

    @staticmethod
    def _epoch_curve(plot: pg.PlotWidget, colour: str, name: str) -> pg.PlotDataItem:
        import pyqtgraph as pg

        return plot.plot(
            [],
            [],
            pen=pg.mkPen(colour, width=2.5),
            symbol="o",
            symbolSize=7,
            symbolBrush=colour,
            symbolPen=None,
            name=name,
        )

    def reset(self, steps_per_epoch: int = 1) -> None:
        self._steps_per_epoch = max(1, steps_per_epoch)
        self._epoch_offset = 0
        self.step_x: list[float] = []
        self.step_loss: list[float] = []
        self.step_smooth: list[float] = []
        self._ema = 0.0
        self._ema_weight = 0.0  # 1 - beta^n after n steps: the bias correction
        self.epoch_x: list[float] = []
        self.val_loss: list[float] = []
        self.map: list[float] = []
        self.f1: list[float] = []
        self._dirty = True
        self.refresh()
        self._reset_axes()

    def _reset_axes(self) -> None:
        """Empty axes as before any run: the last run's ranges would stay while nothing is
        drawn (a download, the embeddings), then squeeze the new curves."""
        if not self.built:
            return
        self.loss_plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.02)
        self.loss_plot.enableAutoRange()
        self.metrics_plot.setXRange(0, 1, padding=0.02)
        self.metrics_plot.enableAutoRange(x=True)

    def continue_run(self, previous_epochs: int, steps_per_epoch: int) -> None:
        """Train more: keep the curves drawn so far; new points go on after them."""
        self._steps_per_epoch = max(1, steps_per_epoch)
        self._epoch_offset = previous_epochs

    def add_step(self, step: int, loss: float) -> None:
        self._ema = EMA_BETA * self._ema + (1 - EMA_BETA) * loss
        self._ema_weight = EMA_BETA * self._ema_weight + (1 - EMA_BETA)
        self.step_x.append(self._epoch_offset + step / self._steps_per_epoch)
        self.step_loss.append(loss)
        self.step_smooth.append(self._ema / self._ema_weight)  # bias-corrected EMA
        self._dirty = True

    def add_epoch_train_loss(self, epoch: int, loss: float) -> None:
        """A saved run's mean training loss of an epoch (its steps are not kept): a point
        at the epoch's end on the training curves, where the live smoothed curve was."""
        self.step_x.append(float(self._epoch_offset + epoch))
        self.step_loss.append(loss)
        self.step_smooth.append(loss)
        self._ema, self._ema_weight = loss, 1.0  # Train more's live curve carries on from here
        self._dirty = True

    def add_epoch(self, epoch: int, val_loss: float, map_: float, f1: float) -> None:
        self.epoch_x.append(float(self._epoch_offset + epoch))
        self.val_loss.append(val_loss)
        self.map.append(map_)
        self.f1.append(f1)
        self._dirty = True

    def refresh(self) -> None:
        if not self._dirty or not self.built:
            return
        self._raw.setData(self.step_x, self.step_loss)
        self._smooth.setData(self.step_x, self.step_smooth)
        self._val.setData(self.epoch_x, self.val_loss)
        self._map.setData(self.epoch_x, self.map)
        self._f1.setData(self.epoch_x, self.f1)
        self._dirty = False

    def curve_lengths(self) -> dict[str, int]:
        """Points actually drawn per curve (what the tests check)."""
        if not self.built:
            return {}
        curves = {"raw": self._raw, "smooth": self._smooth, "val": self._val}
        curves |= {"map": self._map, "f1": self._f1}
        return {
            name: len(c.getData()[0] if c.getData()[0] is not None else [])
            for name, c in curves.items()
        }
