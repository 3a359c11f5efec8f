from __future__ import annotations


def test_sample_data_loads(window, qtbot):
    page = window.data_page
    with qtbot.waitSignal(page.dataset_loaded, timeout=120_000) as blocker:
        page.load_source("sample")
    dataset = blocker.args[0]
    assert len(dataset.train) > 0 and len(dataset.val) > 0
    assert page.tiles["train"].value_label.text() == str(len(dataset.train))
    assert page.tiles["labels"].value_label.text() == str(len(dataset.label_names))
    train_counts, val_counts = page.chart.counts
    assert train_counts == dataset.train.positives().tolist()
    assert val_counts == dataset.val.positives().tolist()
    assert page.images.grid.grid_model.rowCount() == len(dataset.train) + len(dataset.val)
    assert page.report.count() >= 1
    assert window.train_page.dataset is dataset
    assert window.train_page.start_button.isEnabled()
    assert window.prefs.data_source()["kind"] == "sample"
    qtbot.waitUntil(lambda: page.images.grid.grid_model.loaded_count() > 0, timeout=10_000)


def test_label_filter_narrows_the_grid(window, qtbot, sample_dataset):
    page = window.data_page
    page.set_dataset(sample_dataset)
    everything = page.images.grid.grid_model.rowCount()
    page.images.label_filter.setCurrentIndex(1)  # the first label
    expected = int(sample_dataset.train.labels[:, 0].sum() + sample_dataset.val.labels[:, 0].sum())
    assert page.images.grid.grid_model.rowCount() == expected < everything


def test_unusable_folder_reports_a_problem(window, qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("gui.data.page.show_error", lambda *a, **k: shown.append(a[1]))
    page = window.data_page
    page.load_source("folder", str(tmp_path))
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)  # the page's handler has run
    assert "Could not load" in shown[0] and "Traceback" not in shown[0]
    assert page.dataset is None


def test_a_restored_csv_source_keeps_its_images_folder_and_one_hot_choice(
    window, qtbot, tmp_path, sample_dataset
):
    import shutil

    pictures = tmp_path / "elsewhere" / "pictures"
    pictures.mkdir(parents=True)
    rows = ["image,Action,labels"]  # one 0/1 column next to a column of label names
    for i, path in enumerate(sample_dataset.train.paths[:12]):
        shutil.copy(path, pictures / f"p{i}.jpg")
        rows.append(f"p{i}.jpg,{i % 2},Drama|Comedy")
    table = tmp_path / "tables" / "posters.csv"
    table.parent.mkdir()
    table.write_text("\n".join(rows) + "\n")
    page = window.data_page
    options = {"images_dir": str(pictures), "prefer_onehot": True}
    with qtbot.waitSignal(page.dataset_loaded, timeout=60_000):
        page.load_source("csv", str(table), **options)
    assert page.dataset.all_label_names == ["Action"]

    page.dataset = None
    with qtbot.waitSignal(page.dataset_loaded, timeout=60_000):
        page.restore_last_source()  # as at the next start of the app
    assert page.dataset.all_label_names == ["Action"]
    assert len(page.dataset.train) + len(page.dataset.val) == 12


def test_an_offline_movie_posters_download_is_one_plain_message(window, qtbot, monkeypatch):
    import core.data.movie_posters

    real = core.data.movie_posters.ensure_movie_posters
    unreachable = "http://127.0.0.1:1/movie_posters.zip"  # nothing listens on port 1
    monkeypatch.setattr(
        core.data.movie_posters, "ensure_movie_posters", lambda **kw: real(url=unreachable, **kw)
    )
    shown = []
    monkeypatch.setattr("gui.data.page.show_error", lambda *a, **k: shown.append(a[1:]))
    window.data_page.load_source("movie")
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    message, *details = shown[0]
    assert "Could not load" in message and "127.0.0.1" in message
    assert details in ([], [""])  # a user error: no traceback to unfold
    assert "Traceback" not in message


def test_the_print_sample_is_a_source_of_its_own(window, qtbot):
    page = window.data_page
    assert "sample_print" in page.source_buttons
    with qtbot.waitSignal(page.dataset_loaded, timeout=120_000) as blocker:
        page.load_source("sample_print")
    dataset = blocker.args[0]
    assert len(dataset.label_names) == 10 and dataset.train.paths[0].name.startswith("print_")
    assert window.prefs.data_source()["kind"] == "sample_print"
