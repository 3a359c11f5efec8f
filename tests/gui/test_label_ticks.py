"""The Data page's label ticks: the movie posters' five, counts that follow, a remembered
choice, the Train page's "5 of 20 labels", and a model trained on the ticked labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import TINY
from seed_layout import SEED_FIVE, make_seed_folder

from core.modelfile.checkpoint import read_meta


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_seed_folder(tmp_path_factory.mktemp("seed-posters"))


@pytest.fixture
def posters(window, qtbot, seed_dir, monkeypatch):
    """The Data page with the (synthetic) movie posters loaded; returns the page."""
    monkeypatch.setattr("core.data.movie_posters.ensure_movie_posters", lambda **_: seed_dir)
    page = window.data_page
    with qtbot.waitSignal(page.dataset_loaded, timeout=60_000):
        page.load_source("movie")
    return page


def captions(page) -> list[str]:
    model = page.images.grid.grid_model
    return [model.data(model.index(r)) for r in range(model.rowCount())]


def test_the_movie_posters_start_on_the_seeds_five(window, posters) -> None:
    page = posters
    assert page.chart.chosen() == SEED_FIVE
    assert page.dataset.label_names == SEED_FIVE
    assert len(page.full.label_names) == 20
    assert page.tiles["labels"].value_label.text() == "5 of 20"
    assert page.chart.counts == (
        page.dataset.train.positives().tolist(),
        page.dataset.val.positives().tolist(),
    )
    assert "Training on 5 of 20 labels" in page.chart.summary.text()
    assert "images have none of them" in page.chart.summary.text()
    assert window.train_page.dataset is page.dataset
    assert "5 of 20 labels" in window.train_page.subtitle.text()
    report = [page.report.item(i).text() for i in range(page.report.count())]
    assert any("label 'Thriller' has no images" in line for line in report)
    assert not any("Western" in line for line in report)
    assert "(no label)" in captions(page)  # Drama-only posters stay, without a label
    assert all(set(c.split(", ")) <= {*SEED_FIVE, "(no label)"} for c in captions(page))


def test_ticks_drive_counts_captions_and_the_train_page(window, qtbot, posters) -> None:
    page = posters
    rows_before = page.images.grid.grid_model.rowCount()
    with qtbot.waitSignal(page.dataset_loaded) as blocker:
        page.chart.set_item_checked("Thriller", False)
    assert blocker.args[0].label_names == ["Action", "Romance", "Crime", "Adventure"]
    with qtbot.waitSignal(page.dataset_loaded) as blocker:
        page.chart.set_item_checked("Drama", True)
    expected = ["Action", "Romance", "Crime", "Adventure", "Drama"]  # the order ticked
    assert blocker.args[0].label_names == expected == page.dataset.label_names
    assert page.tiles["labels"].value_label.text() == "5 of 20"
    assert page.images.grid.grid_model.rowCount() == rows_before  # every image is kept
    assert not any("Thriller" in c for c in captions(page))
    assert any("Drama" in c for c in captions(page))
    filters = [
        page.images.label_filter.itemText(i) for i in range(page.images.label_filter.count())
    ]
    assert filters == ["All labels", *expected]
    report = [page.report.item(i).text() for i in range(page.report.count())]
    assert not any("Thriller" in line for line in report)
    assert window.train_page.dataset.label_names == expected
    assert window.prefs.chosen_labels("movie") == expected

    # The last ticked label cannot be unticked: a model needs one.
    page.choose_labels(["Crime"])
    assert page.dataset.label_names == ["Crime"]
    page.chart.set_item_checked("Crime", False)
    assert page.chart.chosen() == ["Crime"] and page.dataset.label_names == ["Crime"]
    assert "At least one label" in page.chart.summary.text()
    assert "1 of 20 labels" in window.train_page.subtitle.text()


def test_the_choice_is_remembered_per_data_set(window, qtbot, posters, sample_root) -> None:
    page = posters
    page.choose_labels(["Romance", "Action"])
    with qtbot.waitSignal(page.dataset_loaded, timeout=60_000):
        page.load_source("folder", str(sample_root))
    assert page.dataset.label_names == page.full.label_names  # another data set: all
    with qtbot.waitSignal(page.dataset_loaded, timeout=60_000):
        page.load_source("movie")
    assert page.chart.chosen() == ["Romance", "Action"]
    assert page.dataset.label_names == ["Romance", "Action"]


@pytest.mark.slow
def test_training_uses_the_ticked_labels(window, qtbot, posters) -> None:
    posters.choose_labels(["Crime", "Action", "Drama"])
    page = window.train_page
    page.form.set_config(TINY)
    worker = page.start_training()
    assert worker is not None
    with qtbot.waitSignal(worker.finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: page.result is not None, timeout=10_000)
    assert page.table.rowCount() == 3
    meta = read_meta(page.run_dir / "model.safetensors")
    assert meta.label_names == ["Crime", "Action", "Drama"]
