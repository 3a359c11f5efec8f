"""The label-issues tab: one poster, its given labels against the suggested ones, and
Accept (A) / Keep (K); Up and Down move through the ranked list."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.health.decisions import accept_issue, keep_issue
from core.health.report import LabelIssue
from gui.health.review_list import ReviewWidget, heading_labels, poster_beside
from gui.theme import DANGER, THIRD, set_muted
from gui.widgets.poster_view import PosterWidget
from gui.workers import ThumbnailWorker

KEYS_HINT = "A accept · K keep as given · ↑ ↓ move · Ctrl+Z undo"
SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


def label_chips(names: tuple[str, ...], added: str = "", removed: str = "") -> str:
    """Rich text: the labels, an added one in green and a removed one struck out in red."""
    parts = []
    for name in names:
        text = html.escape(name)
        if name == removed:
            text = f"<s style='color:{DANGER}'>{text}</s>"
        parts.append(text)
    if added:
        parts.append(f"<b style='color:{THIRD}'>+ {html.escape(added)}</b>")
    return ", ".join(parts) or "<i>(no label)</i>"


class LabelIssuesWidget(ReviewWidget[LabelIssue]):
    def __init__(self, thumbnails: ThumbnailWorker, parent: QWidget | None = None) -> None:
        super().__init__(thumbnails, "No label issues left to review.", parent)
        self.labels_of: dict[str, tuple[str, ...]] = {}
        self.poster = PosterWidget()
        self.title, self.where = heading_labels()
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.given = QLabel()
        self.suggested = QLabel()
        for label in (self.given, self.suggested):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
        self.score = QLabel()
        self.score.setWordWrap(True)
        set_muted(self.score)
        self.accept_button = self.button(
            "Accept suggestion  (A)", "Record the suggested label (undo: Ctrl+Z)", self.accept, True
        )
        self.keep_button = self.button(
            "Keep as given  (K)", "The given label is right; do not show this again", self.keep
        )
        hint = QLabel(KEYS_HINT)
        set_muted(hint)
        self.detail_box.addLayout(self._layout_detail(hint), 1)
        self.add_key("A", self.accept)
        self.add_key("K", self.keep)

    def _layout_detail(self, hint: QLabel) -> QHBoxLayout:
        info = QVBoxLayout()
        info.setSpacing(10)
        info.addWidget(self.title)
        info.addWidget(self.where)
        info.addSpacing(6)
        info.addWidget(self.question)
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(8)
        for row, (name, value) in enumerate((("Given", self.given), ("Suggested", self.suggested))):
            caption = QLabel(name)
            set_muted(caption)
            grid.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row, 1)
        grid.setColumnStretch(1, 1)
        info.addLayout(grid)
        info.addWidget(self.score)
        info.addSpacing(8)
        info.addWidget(self.accept_button)
        info.addWidget(self.keep_button)
        return poster_beside(self.poster, info, hint)

    def set_issues(
        self,
        issues: list[LabelIssue],
        labels_of: dict[str, tuple[str, ...]],
        folder: Path,
        focus: str | None = None,
    ) -> None:
        self.labels_of = labels_of
        self.set_items(issues, folder, focus)

    def accept(self) -> None:
        self.decide(accept_issue)

    def keep(self) -> None:
        self.decide(keep_issue)

    # ------------------------------------------------------------------ ReviewWidget
    def item_text(self, item: LabelIssue) -> str:
        verb = "Add" if item.suggested else "Remove"
        return f"{item.file.rsplit('/', 1)[-1]}\n{verb} {item.label}  ·  score {item.score:.2f}"

    def files_of(self, item: LabelIssue) -> tuple[str, ...]:
        return (item.file,)

    def show_item(self, item: LabelIssue) -> None:
        given = self.labels_of.get(item.file, ())
        if item.suggested:
            now = tuple(n for n in given if n != item.label)
            suggested = label_chips(now, added=item.label)
            question = f"Missing <b>{html.escape(item.label)}</b>? The model says it is one."
        else:
            suggested = label_chips(given, removed=item.label)
            question = f"Really <b>{html.escape(item.label)}</b>? The model says it is not."
        self.title.setText(Path(item.file).name)
        self.where.setText(f"{SPLIT_NAMES.get(item.split, item.split)} image · {item.file}")
        self.question.setText(question)
        self.given.setText(label_chips(given))
        self.suggested.setText(suggested)
        self.score.setText(
            f"Score {item.score:.2f} (how sure the check is) · out-of-fold probability of "
            f"{item.label}: {item.probability:.2f}"
        )
        self.poster.set_image(self.image(item.file))
