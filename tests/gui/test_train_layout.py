"""The Train page at the main window's default size: every setting and every result action
in view without scrolling, with the longest texts the page shows."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QScrollArea

from core.training.recipes import recommend
from gui.train.continuing import ContinueSource
from gui.train.progress import outcome_text

DEFAULT_SIZE = (1360, 860)  # gui.main_window: the size without saved geometry


def _longest_texts(page) -> None:
    page.form.set_recommendation(recommend("cpu"))
    page.form.set_detected_device("NVIDIA GeForce RTX 4090 Laptop GPU")
    page.results.result_label.setText(  # three lines
        outcome_text({"best_epoch": 12, "map": 0.5, "f1_macro": 0.4}, stopped=True)
    )
    caption = "20261206-023712-ab12 (mAP 0.949)"
    page.results.set_source(ContinueSource(Path("/runs/x/model.safetensors"), caption))


def test_the_settings_need_no_scrolling_at_the_default_size(window, qtbot):
    window.resize(*DEFAULT_SIZE)
    window.show_page(1)
    page = window.train_page
    _longest_texts(page)
    scroll = page.findChild(QScrollArea)
    qtbot.waitUntil(lambda: scroll.viewport().height() > 100, timeout=5_000)
    qtbot.wait(50)  # queued layout requests after the texts changed
    assert scroll.verticalScrollBar().maximum() == 0
    buttons = (
        page.start_button,
        page.results.more_button,
        page.results.more_epochs,
        page.results.export_job_button,
        page.results.tracking_button,
        page.form.advanced_toggle,
    )
    for button in buttons:  # not scrolled away, not cut off by the window or the column
        assert button.visibleRegion().boundingRect().size() == button.size(), button


def test_more_options_fold_away_and_come_back_into_view(window, qtbot):
    window.resize(*DEFAULT_SIZE)
    window.show_page(1)
    form = window.train_page.form
    assert not form.advanced.isVisibleTo(form)
    form.advanced_toggle.click()
    assert form.advanced.isVisibleTo(form) and form.balance.isVisibleTo(form)
    scroll = window.train_page.findChild(QScrollArea)
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().value() > 0, timeout=5_000)
    assert form.tta.visibleRegion().boundingRect().size() == form.tta.size()
    form.advanced_toggle.click()
    assert not form.balance.isVisibleTo(form)


def _fully_shown(label) -> bool:
    if not label.wordWrap():
        return label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width()
    return label.heightForWidth(label.width()) <= label.height()


def test_a_download_says_size_rate_and_time_left_in_full(window, qtbot):
    from core.model.downloads import DownloadProgress

    window.resize(*DEFAULT_SIZE)
    window.show_page(1)
    card = window.train_page.progress_card
    event = DownloadProgress(
        "vit_base_patch16_siglip_224", "open_clip_model.safetensors", 123_400_000,
        812_600_000, 2_300_000, 299.0,
    )  # fmt: skip
    card.show_download(event)
    text = card.detail.text()
    assert "123.4 of 812.6 MB" in text and "2.3 MB/s" in text and "4 min 59 s left" in text
    qtbot.waitUntil(lambda: _fully_shown(card.detail), timeout=5_000)


def test_a_stalled_download_says_it_waits_instead_of_a_stale_rate(qtbot, monkeypatch):
    from core.model.downloads import DownloadProgress
    from gui.train import progress

    card = progress.TrainProgressCard()
    qtbot.addWidget(card)
    card.begin()
    card.show_download(DownloadProgress("resnet18", "m.safetensors", 10**6, 4 * 10**7, 9e6, 4.0))
    card.refresh(stopping=False)
    assert "9.0 MB/s" in card.detail.text()  # bytes came a moment ago
    monkeypatch.setattr(progress, "STALL_S", 0.0)  # as if none came for a while
    card.refresh(stopping=False)
    text = card.detail.text()
    assert "waiting for the server" in text and "MB/s" not in text and "1.0 of 40.0 MB" in text
