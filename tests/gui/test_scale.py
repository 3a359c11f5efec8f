"""Large data sets in the app, Clear image cache, Export as cluster job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.data.datasets import Dataset, LabeledImages, ValidationReport
from gui.data.report import REPORT_BATCH
from gui.widgets.thumbnail_grid import FETCH_BATCH


def _big_dataset(root: Path, n: int = 20_000, problems: int = 3_000) -> Dataset:
    names = ["Action", "Drama", "Comedy"]
    labels = (np.random.default_rng(0).random((n, 3)) < 0.4).astype(np.float32)
    paths = [root / f"img{i:05d}.jpg" for i in range(n)]  # never opened: thumbnails are lazy
    report = ValidationReport()
    for i in range(problems):
        report.add("error", f"broken{i}.jpg", "cannot be decoded")
    cut = n * 4 // 5
    return Dataset(
        LabeledImages(paths[:cut], labels[:cut], names),
        LabeledImages(paths[cut:], labels[cut:], names),
        None,
        names,
        report,
        "20,000 images",
    )


def test_a_20000_image_data_set_is_shown_lazily(window, qtbot, tmp_path):
    page = window.data_page
    page.set_dataset(_big_dataset(tmp_path))
    model = page.images.grid.grid_model
    assert model.item_count() == 20_000
    assert model.rowCount() == FETCH_BATCH  # the view lays out the first rows only
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 2 * FETCH_BATCH
    assert page.report.count() == REPORT_BATCH + 1  # and a "… more (scroll down)" line
    assert "more" in page.report.item(REPORT_BATCH).text()
    bar = page.report.verticalScrollBar()
    page.report.scrollToBottom()
    bar.setValue(bar.maximum())
    assert page.report.count() == 2 * REPORT_BATCH + 1
    page.images.label_filter.setCurrentIndex(1)
    assert model.item_count() < 20_000 and model.rowCount() <= FETCH_BATCH


def test_clear_image_cache_from_the_menu(window, qtbot, sample_root):
    from core.data.cache import ImageCache

    cache = ImageCache()
    cache.images(sorted((sample_root / "train").glob("*.jpg"))[:5], 32)
    assert cache.info().records == 5
    texts = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert "Clear image &cache" in texts
    worker = window.clear_image_cache()
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: "cache cleared" in window.statusBar().currentMessage())
    assert cache.info().records == 0


def test_export_as_cluster_job(window, qtbot, tiny_dataset, tmp_path):
    page = window.train_page
    assert not page.results.export_job_button.isEnabled()
    window.data_page.set_dataset(tiny_dataset)
    assert page.results.export_job_button.isEnabled()
    worker = page.export_job(tmp_path / "job")
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        pass
    job = json.loads((tmp_path / "job" / "job.json").read_text())
    assert job["counts"] == {"train": 24, "val": 16}
    assert job["config"]["backbone"] == page.form.config().backbone
    assert "torchrun" in (tmp_path / "job" / "README.md").read_text()
