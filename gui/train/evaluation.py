"""Evaluation you can look at: a PR curve per label, confusion counts and an error gallery.

The validation images are predicted once in a worker; everything after that (moving a
label's threshold by clicking its curve) is recomputed by core.training.metrics.label_reports on
one label, which takes milliseconds. "Use these thresholds" hands them back to the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.errors import show_error
from gui.tasks import TaskSlot
from gui.theme import ACCENT, set_muted
from gui.widgets.plot_panel import styled_plot
from gui.workers import TaskState, ThumbnailWorker, WorkerSet, load_thumbnail

if TYPE_CHECKING:
    from core.inference.predictor import Predictor
    from core.modelfile.checkpoint import ModelMeta
    from core.training.metrics import LabelReport

THUMB = 96
# Builds the predictor in the dialog's worker; gets a should_stop callable.
PredictorFactory = Callable[[Callable[[], bool]], "Predictor"]
TOP_K = 8


@dataclass(frozen=True)
class _Scores:
    probs: np.ndarray  # images x labels
    targets: np.ndarray
    sources: list[str]
    thumbnails: dict[str, QImage]  # the images in the galleries at the first thresholds
    aps: list[float | None]  # average precision per label


def _evaluate_task(
    make_predictor: PredictorFactory, paths: list[Path], targets: np.ndarray, thresholds
):
    def task(state: TaskState) -> _Scores:
        from core.training.metrics import label_reports

        # Building a predictor hashes the weights and may export an ONNX graph: seconds,
        # so here in the worker, never on the UI thread.
        predictor = make_predictor(state.should_stop)
        state.check_stop()
        results = predictor.predict(
            paths, should_stop=state.should_stop, progress=lambda d, t: state.progress(d, t)
        )
        state.check_stop()
        ok = [i for i, r in enumerate(results) if r.ok]
        probs = np.stack([p for r in results if (p := r.probabilities) is not None])  # of `ok`
        sources = [str(paths[i]) for i in ok]
        truth = np.asarray(targets)[ok]
        reports = label_reports(probs, truth, predictor.label_names, thresholds, sources, TOP_K)
        shown = {e.source for r in reports for e in (*r.false_positives, *r.false_negatives)}
        thumbs = {source: load_thumbnail(Path(source), THUMB) for source in sorted(shown)}
        return _Scores(probs, truth, sources, thumbs, [r.ap for r in reports])

    return task


class EvaluationDialog(QDialog):
    """`make_predictor` builds the model's predictor (in the dialog's worker); `meta` gives
    the labels and tuned thresholds the dialog shows until it is ready."""

    thresholds_chosen = Signal(object)  # list[float], one per label

    def __init__(
        self,
        make_predictor: PredictorFactory,
        meta: ModelMeta,
        paths: list[Path],
        targets: np.ndarray,
        title: str = "validation images",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Evaluation on the {title}")
        self.resize(1100, 760)
        self.label_names = list(meta.label_names)
        self.thresholds = np.asarray(meta.thresholds, dtype=float).copy()
        self.scores: _Scores | None = None
        self.report: LabelReport | None = None  # of the selected label
        self.workers = WorkerSet()
        self.tasks = TaskSlot(self.workers, self)
        self._thumbnails: dict[str, QImage] = {}
        self._loader = ThumbnailWorker(size=THUMB, parent=self)  # for thresholds moved later
        self._loader.ready.connect(self._on_thumbnail_ready)
        self._build()
        self.tasks.start(
            _evaluate_task(make_predictor, list(paths), targets, self.thresholds.copy()),
            "evaluate",
            on_done=self._on_scores_ready,
            on_progress=lambda d, t, _p: self.status.setText(f"Predicting {d} / {t} images…"),
            on_failed=lambda m, d: show_error(self, f"Evaluation failed: {m}", d),
        )

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        import pyqtgraph as pg

        self.labels = QListWidget()
        self.labels.setFixedWidth(210)
        self.labels.setSpacing(3)
        self.labels.setToolTip("Choose a label to see its curve, counts and mistakes")
        self.labels.currentRowChanged.connect(self._show_label)
        self.plot = styled_plot(self, "Precision-recall", "precision", "recall")
        self.plot.getPlotItem().setMouseEnabled(x=False, y=False)
        self.plot.getPlotItem().hideButtons()
        self.plot.setXRange(0, 1)
        self.plot.setYRange(0, 1.02)
        self.plot.setToolTip("Click a point of the curve to use its threshold for this label")
        self.curve = self.plot.plot([], [], pen=pg.mkPen(ACCENT, width=2))
        self.marker = pg.ScatterPlotItem(size=12, brush=pg.mkBrush(ACCENT))
        self.plot.addItem(self.marker)
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        self.counts = QLabel()
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        self.status = QLabel("Preparing the model…")
        set_muted(self.status)
        self.false_positives = self._gallery()
        self.false_negatives = self._gallery()
        self.apply_button = QPushButton("Use these thresholds")
        self.apply_button.setObjectName("primary")
        self.apply_button.setToolTip("Store the thresholds in the model (Predict uses them)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._on_apply_clicked)
        side = QVBoxLayout()
        side.addWidget(self.plot, 3)
        side.addWidget(self.counts)
        grid = QGridLayout()
        grid.addWidget(QLabel("Most confident false positives"), 0, 0)
        grid.addWidget(self.false_positives, 1, 0)
        grid.addWidget(QLabel("Most confident false negatives"), 2, 0)
        grid.addWidget(self.false_negatives, 3, 0)
        side.addLayout(grid, 2)
        body = QHBoxLayout()
        body.addWidget(self.labels)
        body.addLayout(side, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)

    def _gallery(self) -> QListWidget:
        gallery = QListWidget()
        gallery.setViewMode(QListView.ViewMode.IconMode)
        gallery.setIconSize(QSize(THUMB, THUMB))
        gallery.setFlow(QListView.Flow.LeftToRight)
        gallery.setWrapping(False)
        gallery.setFixedHeight(THUMB + 48)
        gallery.setToolTip("Where the model is most sure and wrong: often a labelling mistake")
        return gallery

    # ------------------------------------------------------------------ behaviour
    def _on_scores_ready(self, scores: _Scores) -> None:
        self.scores = scores
        self._thumbnails.update(scores.thumbnails)
        self.status.setText(f"{len(scores.sources)} images. Click a curve to move a threshold.")
        self.labels.clear()
        for name, ap in zip(self.label_names, scores.aps, strict=True):
            self.labels.addItem(f"{name}  ·  AP {ap:.2f}" if ap is not None else f"{name}  ·  n/a")
        self.apply_button.setEnabled(True)
        self.labels.setCurrentRow(0)

    def _report(self, index: int) -> LabelReport:
        from core.training.metrics import label_reports

        scores = self.scores
        assert scores is not None
        column = [index]
        return label_reports(
            scores.probs[:, column],
            scores.targets[:, column],
            [self.label_names[index]],
            [self.thresholds[index]],
            scores.sources,
            TOP_K,
        )[0]

    def _show_label(self, index: int) -> None:
        if self.scores is None or index < 0:
            return
        report = self.report = self._report(index)
        recall = [p.recall for p in report.curve]
        precision = [p.precision for p in report.curve]
        self.curve.setData(recall, precision)
        self.plot.getPlotItem().setTitle(
            f"Precision-recall: {report.name}", color=self.palette().text().color().name()
        )
        self._show_counts(report)
        self._fill(self.false_positives, report.false_positives)
        self._fill(self.false_negatives, report.false_negatives)

    def _show_counts(self, report: LabelReport) -> None:
        precision = report.tp / max(report.tp + report.fp, 1)
        recall = report.tp / max(report.tp + report.fn, 1)
        ap = "n/a" if report.ap is None else f"{report.ap:.3f}"
        self.counts.setText(
            f"<b>{report.name}</b> at threshold <b>{report.threshold:.2f}</b> · AP {ap} · "
            f"TP {report.tp} · FP {report.fp} · FN {report.fn} · TN {report.tn} · "
            f"precision {precision:.2f} · recall {recall:.2f}"
        )
        self.marker.setData([recall], [precision] if report.tp + report.fp else [1.0])

    def _fill(self, gallery: QListWidget, examples: tuple) -> None:
        gallery.clear()
        for example in examples:
            item = QListWidgetItem(f"{example.probability:.2f}")
            item.setToolTip(f"{example.source}\nprobability {example.probability:.3f}")
            item.setData(Qt.ItemDataRole.UserRole, example.source)
            image = self._thumbnails.get(example.source)
            if image is not None:
                item.setIcon(QIcon(QPixmap.fromImage(image)))
            else:
                self._loader.request(example.source, Path(example.source))
            gallery.addItem(item)

    def _on_thumbnail_ready(self, source: object, image: QImage) -> None:
        self._thumbnails[str(source)] = image
        for gallery in (self.false_positives, self.false_negatives):
            for row in range(gallery.count()):
                item = gallery.item(row)
                if item.data(Qt.ItemDataRole.UserRole) == source:
                    item.setIcon(QIcon(QPixmap.fromImage(image)))

    def set_threshold(self, index: int, value: float) -> None:
        """Move one label's threshold (what clicking its curve does)."""
        self.thresholds[index] = float(np.clip(value, 0.0, 1.0))
        if index == self.labels.currentRow():
            self._show_label(index)

    def _on_plot_clicked(self, event: Any) -> None:
        if self.report is None or not self.report.curve:
            return
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        nearest = min(
            self.report.curve,
            key=lambda c: (c.recall - point.x()) ** 2 + (c.precision - point.y()) ** 2,
        )
        self.set_threshold(self.labels.currentRow(), nearest.threshold)

    def _on_apply_clicked(self) -> None:
        self.thresholds_chosen.emit([float(t) for t in self.thresholds])
        self.accept()

    def done(self, result: int) -> None:
        self._loader.stop()
        self.tasks.cancel()
        self.workers.release()  # never wait on the UI thread for a prediction batch
        super().done(result)
