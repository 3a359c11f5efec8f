"""The duplicates tab: two posters side by side, how alike they are, a badge when the pair
is a train/validation leak, and Keep left (L) / Keep right (R) / Keep both (B)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from core.health.decisions import keep_both, keep_one, to_drop
from core.health.report import DuplicatePair
from gui.health.issue_review import SPLIT_NAMES
from gui.health.review_list import ReviewWidget
from gui.theme import DANGER, set_muted
from gui.widgets.poster_view import PosterWidget
from gui.workers import ThumbnailWorker

KEYS_HINT = "L keep left · R keep right · B keep both · ↑ ↓ move · Ctrl+Z undo"
BADGE_STYLE = f"background: {DANGER}; color: white; border-radius: 8px; padding: 3px 10px;"


class DuplicatePairsWidget(ReviewWidget[DuplicatePair]):
    def __init__(self, thumbnails: ThumbnailWorker, parent: QWidget | None = None) -> None:
        super().__init__(thumbnails, "No duplicates or leaks left to review.", parent)
        self.posters = (PosterWidget(), PosterWidget())
        self.badge = QLabel("")
        self.badge.setStyleSheet(BADGE_STYLE)
        self.badge.setToolTip(
            "The same picture in training and validation: validation scores look better than "
            "they are. Keeping one copy fixes it."
        )
        self.similarity = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.badge)
        top.addWidget(self.similarity, 1)
        self.detail_box.addLayout(top)
        row = QHBoxLayout()
        row.setSpacing(18)
        for poster in self.posters:
            row.addWidget(poster, 1)
        self.detail_box.addLayout(row, 1)
        self.left_button = self.button("Keep left  (L)", "Drop the right-hand copy", self.keep_left)
        self.right_button = self.button(
            "Keep right  (R)", "Drop the left-hand copy", self.keep_right
        )
        self.both_button = self.button(
            "Keep both  (B)", "They are different images; do not show this pair again", self.both
        )
        buttons = QHBoxLayout()
        for button in (self.left_button, self.right_button, self.both_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        hint = QLabel(KEYS_HINT)
        set_muted(hint)
        buttons.addWidget(hint)
        self.detail_box.addLayout(buttons)
        self.add_key("L", self.keep_left)
        self.add_key("R", self.keep_right)
        self.add_key("B", self.both)

    def keep_left(self) -> None:
        self.decide(lambda pair: keep_one(pair, drop=pair.files[1]))

    def keep_right(self) -> None:
        self.decide(lambda pair: keep_one(pair, drop=pair.files[0]))

    def both(self) -> None:
        self.decide(keep_both)

    # ------------------------------------------------------------------ ReviewWidget
    def item_text(self, item: DuplicatePair) -> str:
        a, b = (f.rsplit("/", 1)[-1] for f in item.files)
        kind = "leak" if item.cross_split else ("identical" if item.exact else "near-duplicate")
        return f"{a}\n↔ {b}\n{kind}  ·  similarity {item.similarity:.3f}"

    def files_of(self, item: DuplicatePair) -> tuple[str, ...]:
        return tuple(item.files)

    def show_item(self, item: DuplicatePair) -> None:
        splits = [SPLIT_NAMES.get(s, s) or "?" for s in item.splits]
        if item.cross_split:
            self.badge.setText(f"Leak ({item.splits[0]}/{item.splits[1]})")
        self.badge.setVisible(item.cross_split)
        kind = (
            "Identical files" if item.exact else "The same picture: re-encoded, resized or cropped"
        )
        self.similarity.setText(
            f"{kind} · similarity {item.similarity:.3f} · thumbnail match {item.fingerprint:.3f}"
        )
        keep_left = to_drop(item) == item.files[1]  # the suggestion: a leak keeps its val copy
        for button, suggested in (
            (self.left_button, keep_left),
            (self.right_button, not keep_left),
        ):
            button.setObjectName("primary" if suggested else "")
            button.style().unpolish(button)
            button.style().polish(button)
        for poster, file, split in zip(self.posters, item.files, splits, strict=True):
            poster.set_caption(f"<b>{Path(file).name}</b><br>{split} · {file}")
            poster.caption.setTextFormat(Qt.TextFormat.RichText)
            poster.set_image(self.image(file))
