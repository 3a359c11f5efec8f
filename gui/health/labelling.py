"""The labelling view (active learning): unlabelled posters, the ones the model is least sure
of first (core.health.suggest, in a worker), one at a time with its suggestions pre-ticked.
An accepted poster is recorded as an `add` decision in the data set's fix log (split train),
so the next load, and *Train more*, use it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.base.errors import MarqueeError
from gui.errors import show_error
from gui.health.tasks import describe, stage_text, suggest_task
from gui.tasks import TaskSlot
from gui.theme import set_muted
from gui.widgets.cards import hbox, page_header
from gui.widgets.poster_view import PosterWidget
from gui.workers import FunctionWorker, ThumbnailWorker, WorkerSet

if TYPE_CHECKING:
    from core.health.suggest import Suggestion, Suggestions
    from core.inference.predictor import Predictor
    from gui.health.log_saver import FixLogSaver

KEYS_HINT = "1–9 tick a label · Enter add to training · → skip · ← back · Ctrl+Z undo"
POSTER_SIZE = 560


class LabellingDialog(QDialog):
    decisions_changed = Signal()  # the fix log changed: the data set should re-apply it

    def __init__(
        self,
        predictor: Predictor,
        folder: Path,
        label_names: list[str],
        saver: FixLogSaver,
        workers: WorkerSet,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Label unlabelled posters")
        self.predictor, self.folder = predictor, Path(folder)
        self.saver, self.log = saver, saver.fix_log  # the data set's one log, shared
        self.label_names = list(label_names)
        names = getattr(predictor, "label_names", [])
        self.thresholds = dict(zip(names, getattr(predictor, "thresholds", []), strict=False))
        self.items: list[Suggestion] = []  # most useful first
        self.index = 0
        self.added: list[str] = []  # files added in this window, in order
        self._images: dict[int, QImage] = {}  # the posters decoded last (current, next)
        self.tasks = TaskSlot(workers, self)
        self.thumbnails = ThumbnailWorker(size=POSTER_SIZE, parent=self)
        self.thumbnails.ready.connect(self._on_thumbnails_ready)
        workers.start(self.thumbnails)
        self._build()
        self.resize(1000, 760)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        header, _ = page_header(
            "Label unlabelled posters",
            f"{self.folder} · the posters the model is least sure of come first; ticked labels "
            "are its suggestions.",
        )
        self.progress = QProgressBar()
        cancel = QPushButton("Cancel")
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.tasks.request_stop)
        self.progress_row = QWidget()
        progress_layout = hbox(self.progress, cancel, stretch_last=True)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        self.progress_row.setLayout(progress_layout)
        self.message = QLabel("")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setObjectName("cardTitle")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.message)
        self.stack.addWidget(self._build_page())
        self.status = QLabel("")
        self.status.setWordWrap(True)
        set_muted(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(12)
        layout.addWidget(header)
        layout.addWidget(self.progress_row)
        layout.addWidget(self.stack, 1)
        close = self._button("Close", self.close)
        close.setToolTip("Close; the posters added stay added (Esc)")
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(close)
        layout.addLayout(bottom)
        for n in range(1, 10):
            QShortcut(QKeySequence(str(n)), self, lambda n=n: self.toggle(n - 1))
        for key, slot in (
            (Qt.Key.Key_Return, self.accept_current),
            (Qt.Key.Key_Enter, self.accept_current),
            (Qt.Key.Key_Right, self.skip),
            (Qt.Key.Key_Left, self.back),
            (QKeySequence.StandardKey.Undo, self.undo),
        ):
            QShortcut(QKeySequence(key), self, slot)

    def _build_page(self) -> QWidget:
        self.poster = PosterWidget()
        self.counter = QLabel()
        self.counter.setObjectName("cardTitle")
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.file_label = QLabel()
        self.file_label.setWordWrap(True)
        set_muted(self.file_label)
        grid = self._build_labels()
        self.accept_button = self._button("Add to training  (Enter)", self.accept_current)
        self.accept_button.setObjectName("primary")
        buttons = QHBoxLayout()
        for button in (
            self.accept_button,
            self._button("Skip  (→)", self.skip),
            self._button("Back  (←)", self.back),
            self._button("Undo  (Ctrl+Z)", self.undo),
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        hint = QLabel(KEYS_HINT)
        set_muted(hint)
        info = QVBoxLayout()
        info.setSpacing(10)
        for widget in (self.counter, self.why, self.file_label):
            info.addWidget(widget)
        caption = QLabel("Labels · the model's probability, and where it ticks a label")
        set_muted(caption)
        info.addSpacing(6)
        info.addWidget(caption)
        info.addLayout(grid)
        info.addStretch(1)
        info.addLayout(buttons)
        info.addWidget(hint)
        page = QWidget()
        row = QHBoxLayout(page)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(24)
        row.addWidget(self.poster, 3)
        row.addLayout(info, 2)
        return page

    def _build_labels(self) -> QGridLayout:
        """One tick box per label of the data set (1-9 for the first nine), and the model's
        probability beside it."""
        self.checks: list[QCheckBox] = []
        self.chances: list[QLabel] = []
        grid = QGridLayout()
        grid.setVerticalSpacing(6)
        for i, name in enumerate(self.label_names):
            check = QCheckBox(f"{i + 1}   {name}" if i < 9 else f"     {name}")
            chance = QLabel("")
            set_muted(chance)
            grid.addWidget(check, i, 0)
            grid.addWidget(chance, i, 1, Qt.AlignmentFlag.AlignRight)
            self.checks.append(check)
            self.chances.append(chance)
        return grid

    def _button(self, text: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    # ------------------------------------------------------------------ ranking
    def start(self) -> FunctionWorker:
        """Rank the folder's images in a worker; the first poster shows when it is done."""
        known = [d.other or d.file for d in self.log.current().values() if d.kind == "add"]
        self.progress.setRange(0, 0)
        self.progress.setFormat("Finding images…")
        self.progress_row.show()
        self._say("Ranking the posters by how much a label would help…")
        return self.tasks.start(
            suggest_task(self.predictor, self.folder, known),
            "suggest",
            on_progress=self._on_suggest_progressed,
            on_done=self._on_suggest_done,
            on_failed=self._on_suggest_failed,
            on_cancelled=lambda: self._say("Cancelled. Close this window and start again."),
            on_finished=self.progress_row.hide,
        )

    def _on_suggest_progressed(self, done: int, total: int | None, stage: str) -> None:
        self.progress.setFormat(stage_text(stage, done, total))
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _on_suggest_failed(self, message: str, details: str) -> None:
        self._say("Could not rank the posters.")
        show_error(self, f"Could not rank the posters. {message}", details)

    def _on_suggest_done(self, suggestions: Suggestions) -> None:
        self.items, self.index = list(suggestions.items), 0
        if suggestions.skipped:
            self.status.setText(f"Skipped {len(suggestions.skipped)}: {suggestions.skipped[0]}")
        self.show_current()

    # ------------------------------------------------------------------ labelling
    def current(self) -> Suggestion | None:
        return self.items[self.index] if 0 <= self.index < len(self.items) else None

    def show_current(self, ticked: tuple[str, ...] | None = None) -> None:
        item = self.current()
        if item is None:
            self._say(self._finished_text())
            return
        self.stack.setCurrentIndex(1)
        chosen = item.suggested if ticked is None else ticked
        for name, check, chance in zip(self.label_names, self.checks, self.chances, strict=True):
            check.setChecked(name in chosen)
            p, t = item.probabilities.get(name), self.thresholds.get(name)
            text = "" if p is None else f"{p:.0%}"
            if p is not None and t is not None:
                text += f"  ·  ticks at {t:.0%}"
            chance.setText(text)
        self.counter.setText(f"Poster {self.index + 1} of {len(self.items)}")
        self.why.setText(
            f"The model is least sure about <b>{item.uncertain_label}</b> "
            f"(uncertainty {item.score:.2f})."
        )
        self.file_label.setText(item.file)
        self.poster.set_image(self._images.get(self.index))
        self.thumbnails.clear()
        for index in (self.index, self.index + 1):  # this one, and the next one ready
            if index < len(self.items) and index not in self._images:
                self.thumbnails.request(("label", index), Path(self.items[index].file))

    def ticked(self) -> tuple[str, ...]:
        return tuple(n for n, c in zip(self.label_names, self.checks, strict=True) if c.isChecked())

    def toggle(self, index: int) -> None:
        if self.current() is not None and index < len(self.checks):
            self.checks[index].toggle()

    def accept_current(self) -> None:
        """Record the poster with the ticked labels (split train) and show the next one."""
        from core.data.added_images import add_images

        item = self.current()
        if item is None:
            return
        file = str(Path(item.file).resolve())
        try:  # a copy goes into the data set's own folder: the original may be deleted
            add_images(self.log, [Path(file)], self.ticked(), "train", save=False)
        except (MarqueeError, OSError) as exc:
            show_error(self, f"Could not record the poster. {exc}")
            return
        self.saver.changed()  # written in a worker, once per burst of key presses
        self.added.append(file)
        self.status.setText(f"Added {Path(file).name} to training ({len(self.added)} so far).")
        self.decisions_changed.emit()
        self.index += 1
        self.show_current()

    def skip(self) -> None:
        if self.current() is not None:
            self.index += 1
            self.show_current()

    def back(self) -> None:
        if self.items and self.index > 0:
            self.index -= 1
            self.show_current()

    def undo(self) -> None:
        taken = self.log.undo(save=False)
        if not taken:
            self.status.setText("Nothing to undo.")
            return
        self.saver.changed()
        decision = taken[0]
        self.decisions_changed.emit()
        files = [str(Path(s.file).resolve()) for s in self.items]
        source = decision.other or decision.file  # an added poster is kept as a copy
        if decision.kind == "add" and source in files:
            if source in self.added:
                self.added.remove(source)
            self.index = files.index(source)
            self.show_current(ticked=decision.labels)
        self.status.setText(f"Undone: {describe(decision)}.")

    def _finished_text(self) -> str:
        if not self.items:
            return "No new posters in this folder (those added before are left out)."
        return (
            f"All {len(self.items)} posters seen; {len(self.added)} added to training.\n"
            "Train more on the Train page to use them."
        )

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentIndex(0)

    def _on_thumbnails_ready(self, key: object, image: QImage) -> None:
        if not (isinstance(key, tuple) and key[0] == "label"):
            return
        self._images[key[1]] = image
        for index in [i for i in self._images if abs(i - self.index) > 2]:
            del self._images[index]
        if key[1] == self.index:
            self.poster.set_image(image)

    def done(self, result: int) -> None:  # closing: nothing keeps running for this window
        self.saver.flush()
        self.tasks.cancel()
        self.thumbnails.stop()
        super().done(result)
