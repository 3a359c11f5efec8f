"""Selected runs side by side: overlaid curves per metric, per-label AP deltas, differences.

The view draws plain data (`RunCurves`, `LabelDeltas`, lines of text), so it knows
nothing about how runs are stored; the page turns a run comparison into these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from gui.theme import ACCENT, SECOND, THIRD, set_muted
from gui.widgets.plot_panel import DeferredPlotWidget, add_legend, styled_plot

if TYPE_CHECKING:
    import pyqtgraph as pg

# Series colours for compared runs, in selection order; the table's swatches use the same.
# The accent comes late: it is also the table's selection colour, which hides a swatch.
RUN_COLOURS = (SECOND, THIRD, "#c94f9a", "#3b8fd9", "#b0a12a", ACCENT, "#8a5a44", "#6c7a89")
METRICS = (("val_loss", "Validation loss", "loss"), ("map", "mAP", "score"), ("f1", "F1", "score"))


def run_colour(position: int) -> str:
    return RUN_COLOURS[position % len(RUN_COLOURS)]


@dataclass(frozen=True)
class RunCurves:
    """One run's per-epoch history, as drawn: epochs already offset by the run's parent."""

    name: str
    colour: str
    epochs: list[float]
    series: dict[str, list[float | None]]  # metric key of METRICS -> one value per epoch


@dataclass(frozen=True)
class LabelDeltas:
    """Per-label AP of one run minus the baseline run's (None where either lacks it)."""

    name: str
    colour: str
    deltas: dict[str, float | None]


class CurvesWidget(DeferredPlotWidget):
    """One pyqtgraph plot per metric, every selected run overlaid in its colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunCurves] = []

    def _create(self, pg: Any) -> None:
        self.plots: dict[str, pg.PlotWidget] = {}
        for key, title, unit in METRICS:
            plot = styled_plot(self, title, unit, "epoch")
            plot.setMinimumSize(200, 170)
            add_legend(plot, bottom=key != "val_loss")
            self.plots[key] = plot
            self._layout.addWidget(plot)

    def show_runs(self, runs: list[RunCurves]) -> None:
        self._runs = runs
        self._draw_when_built()

    def _after_build(self) -> None:
        import pyqtgraph as pg

        runs = self._runs
        for key, plot in self.plots.items():
            plot.clear()  # also empties the legend
            for run in runs:
                points = [
                    (x, y)
                    for x, y in zip(run.epochs, run.series.get(key, []), strict=False)
                    if y is not None
                ]
                if not points:
                    continue
                xs, ys = zip(*points, strict=True)
                colour = QColor(run.colour)
                plot.plot(
                    list(xs),
                    list(ys),
                    pen=pg.mkPen(colour, width=2.2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
                    symbolPen=None,
                    name=run.name,
                )

    def curve_names(self, key: str) -> list[str]:
        """The legend's names on one metric's plot (what the tests check)."""
        if not self.built:
            return []
        legend = self.plots[key].getPlotItem().legend
        return [label.text for _sample, label in legend.items]

    def curve_count(self, key: str) -> int:
        return len(self.plots[key].getPlotItem().listDataItems()) if self.built else 0


class DeltaBarsWidget(DeferredPlotWidget):
    """Per-label AP deltas against the first selected run: horizontal bars, one group a label."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shown: tuple[list[LabelDeltas], str] = ([], "the first run")

    def _create(self, pg: Any) -> None:
        self.plot = styled_plot(self, "Per-label AP vs the first run", "", "AP difference")
        self.plot.setMinimumSize(240, 170)
        self.plot.getPlotItem().showGrid(x=True, y=False, alpha=0.15)
        add_legend(self.plot, bottom=True)
        self.bars: list[pg.BarGraphItem] = []
        self._layout.addWidget(self.plot)

    def show_deltas(self, runs: list[LabelDeltas], baseline: str = "the first run") -> None:
        self._shown = (runs, baseline)
        self._draw_when_built()

    def _after_build(self) -> None:
        import pyqtgraph as pg

        runs, baseline = self._shown
        self.plot.clear()
        self.bars = []
        item = self.plot.getPlotItem()
        one = len(runs) == 1  # its name goes in the title: no legend over the bars
        title = (
            f"Per-label AP: {runs[0].name} minus {baseline}"
            if one
            else f"Per-label AP vs {baseline}"
        )
        item.setTitle(
            title, color=self.palette().color(QPalette.ColorRole.Text).name(), size="10.5pt"
        )
        labels = sorted({label for run in runs for label in run.deltas})
        height = 0.8 / max(1, len(runs))
        for position, run in enumerate(runs):
            ys, widths = [], []
            for row, label in enumerate(labels):
                delta = run.deltas.get(label)
                if delta is not None:
                    ys.append(row - 0.4 + height * (position + 0.5))
                    widths.append(delta)
            bars = pg.BarGraphItem(
                x0=0, y=ys, height=height * 0.9, width=widths, brush=QColor(run.colour), pen=None
            )
            bars.opts["name"] = run.name  # BarGraphItem.name() reads it: the legend shows it
            self.plot.addItem(bars)
            self.bars.append(bars)
        item.legend.setVisible(not one)
        item.getAxis("left").setTicks([list(enumerate(labels))])
        self.plot.addLine(x=0, pen=pg.mkPen(self.palette().color(QPalette.ColorRole.Text)))

    def bar_values(self) -> dict[str, list[float]]:
        """Bar widths per run name (what the tests check)."""
        return {bars.opts["name"]: list(bars.opts["width"]) for bars in self.bars}


class CompareWidget(QWidget):
    """Curves on top; the per-label deltas and the differences in words below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = QLabel("Select two or more runs to compare their curves and per-label AP.")
        set_muted(self.hint)
        self.curves = CurvesWidget()
        self.deltas = DeltaBarsWidget()
        self.differences = QTextBrowser()
        self.differences.setOpenLinks(False)
        self.differences.setMinimumWidth(260)
        lower = QHBoxLayout()
        lower.setSpacing(12)
        lower.addWidget(self.deltas, 3)
        lower.addWidget(self.differences, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.hint)
        layout.addWidget(self.curves, 1)
        layout.addLayout(lower, 1)

    def show_comparison(
        self, curves: list[RunCurves], deltas: list[LabelDeltas], differences: str
    ) -> None:
        self.hint.setText(
            "This run's curves; Ctrl+click another run to compare them."
            if len(curves) == 1
            else f"{len(curves)} runs: colours match the swatches in the table; "
            "AP differences are against the first run selected."
        )
        self.curves.show_runs(curves)
        self.deltas.setVisible(len(curves) != 1)  # per-label differences need two runs
        self.deltas.show_deltas(deltas, curves[0].name if curves else "the first run")
        self.differences.setHtml(differences)

    def clear(self, hint: str) -> None:
        self.hint.setText(hint)
        self.deltas.setVisible(True)
        self.curves.show_runs([])
        self.deltas.show_deltas([])
        self.differences.clear()
