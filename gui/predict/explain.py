"""Why did the model say "Romance"? A poster with one label's Grad-CAM heat map over it.

Opened by clicking a genre's bar on a prediction card. The maps are computed in a worker
(core.inference.explain), one label at a time and cached; the opacity slider only repaints.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QKeySequence, QPainter, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from gui.errors import show_error
from gui.tasks import TaskSlot
from gui.theme import set_muted
from gui.workers import TaskState, WorkerSet

if TYPE_CHECKING:
    from core.inference.explain import Explainer
    from core.inference.predictor import Predictor

VIEW_SIZE = QSize(520, 640)  # the poster is scaled to fit this box


@dataclass(frozen=True)
class _Map:
    index: int
    probability: float
    poster: QImage
    heat: QImage  # RGBA, cold areas transparent


def _to_qimage(rgba: np.ndarray) -> QImage:
    height, width, _ = rgba.shape
    data = np.ascontiguousarray(rgba, dtype=np.uint8)
    return QImage(data.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()


class _ExplainerHolder:
    """One Explainer per dialog, built on first use; used by one worker at a time."""

    def __init__(self, predictor: Predictor, model_path: Path | None) -> None:
        self._predictor, self._model_path = predictor, model_path
        self._explainer: Explainer | None = None
        self.lock = threading.Lock()

    def get(self) -> Explainer:
        from core.inference.explain import Explainer

        if self._explainer is None:
            if self._model_path is not None and self._model_path.is_file():
                self._explainer = Explainer.from_file(self._model_path)
            else:  # a model trained in this session: its own copy, never the predictor's
                model = copy.deepcopy(self._predictor.model).cpu()
                self._explainer = Explainer(model, self._predictor.meta)
        return self._explainer


def _explain_task(holder: _ExplainerHolder, image: Path, index: int):
    def task(state: TaskState) -> _Map:
        from core.inference.explain import colorize, open_image

        with holder.lock:  # a replaced task may still be running: never two at once
            state.check_stop()
            explanation = holder.get().explain(image, index)
        poster = open_image(image).convert("RGBA")
        heat = colorize(explanation.heatmap, alpha=1.0, fade=True)
        return _Map(
            index,
            explanation.probability,
            _to_qimage(np.asarray(poster)),
            _to_qimage(np.asarray(heat)),
        )

    return task


class ExplanationDialog(QDialog):
    def __init__(
        self,
        image: Path,
        label_names: list[str],
        start: int,
        predictor: Predictor,
        model_path: Path | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Why? {image.name}")
        self.image, self.label_names, self.index = image, list(label_names), start
        self.maps: dict[int, _Map] = {}
        self.workers = WorkerSet()
        self.tasks = TaskSlot(self.workers, self)
        self._holder = _ExplainerHolder(predictor, model_path)
        self._build()
        self.show_label(start)

    def _build(self) -> None:
        self.title = QLabel()
        self.title.setObjectName("pageTitle")
        self.prev_button = QPushButton("◀")
        self.prev_button.setToolTip("Previous label (Left arrow)")
        self.prev_button.clicked.connect(lambda: self.show_label(self.index - 1))
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip("Next label (Right arrow)")
        self.next_button.clicked.connect(lambda: self.show_label(self.index + 1))
        QShortcut(QKeySequence(Qt.Key.Key_Left), self, lambda: self.show_label(self.index - 1))
        QShortcut(QKeySequence(Qt.Key.Key_Right), self, lambda: self.show_label(self.index + 1))
        header = QHBoxLayout()
        header.addWidget(self.prev_button)
        header.addWidget(self.title, 1, Qt.AlignmentFlag.AlignCenter)
        header.addWidget(self.next_button)
        self.view = QLabel("Computing…")
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setMinimumSize(VIEW_SIZE)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.setToolTip("Opacity of the heat map over the poster")
        self.opacity.valueChanged.connect(self._repaint)
        note = QLabel("Warm areas raised this label's score the most (Grad-CAM).")
        set_muted(note)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Heat map"))
        controls.addWidget(self.opacity, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        layout.addWidget(note)

    # ------------------------------------------------------------------ behaviour
    def show_label(self, index: int) -> None:
        """Show label `index` (wrapping around); compute its map in a worker if needed."""
        self.index = index % len(self.label_names)
        name = self.label_names[self.index]
        self.title.setText(f"{name}  ·  computing…")
        if self.index in self.maps:
            self._repaint()
            return
        self.tasks.start(
            _explain_task(self._holder, self.image, self.index),
            "explain",
            on_done=self._on_map_ready,
            on_failed=lambda m, d: show_error(self, f"Could not explain {name}: {m}", d),
        )

    def _on_map_ready(self, result: _Map) -> None:
        self.maps[result.index] = result
        if result.index == self.index:
            self._repaint()

    def composed(self) -> QImage | None:
        """The poster with the current label's heat map at the chosen opacity."""
        result = self.maps.get(self.index)
        if result is None:
            return None
        image = result.poster.convertToFormat(QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        painter.setOpacity(self.opacity.value() / 100)
        painter.drawImage(image.rect(), result.heat)
        painter.end()
        return image

    def _repaint(self) -> None:
        image = self.composed()
        if image is None:
            return
        result = self.maps[self.index]
        self.title.setText(f"{self.label_names[self.index]}  ·  {result.probability:.2f}")
        pixmap = QPixmap.fromImage(image).scaled(
            VIEW_SIZE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.view.setPixmap(pixmap)

    def done(self, result: int) -> None:  # closing: stop the worker, keep nothing running
        self.tasks.cancel()
        self.workers.release()  # never wait on the UI thread for a heat map
        super().done(result)
