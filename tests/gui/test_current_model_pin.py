"""The model open in Predict is pinned: the retention after a run and `marquee runs prune`
from a shell never remove its run while the app runs."""

from __future__ import annotations

import pytest
from runs_helpers import remember_last_open, unshown_window, write_run

from core.runs import RetentionPolicy, RunStore

pytestmark = pytest.mark.slow


def test_the_run_open_in_predict_is_never_pruned(window, qtbot, model_file):
    store = RunStore()
    old = write_run(store, model=model_file, started="2026-04-10T10:00:00+00:00")
    newer = [
        write_run(store, model=model_file, started=f"2026-04-1{day}T10:00:00+00:00")
        for day in (1, 2)
    ]
    predict = window.predict_page  # builds the later pages, and the current model with them
    with qtbot.waitSignal(window.current_model.pinned, timeout=60_000) as pinned:
        predict.load_model(store.folder(old.id) / "model.safetensors")
    assert pinned.args == [old.id]
    policy = RetentionPolicy(keep_last=1, keep_best_per_dataset=False, max_disk_gb=None)
    assert store.apply_retention(policy).ids == (newer[0].id,)  # as after the next training
    assert store.prune(keep=0).ids == (newer[1].id,)  # as `marquee runs prune --keep 0 --yes`
    assert [r.id for r in store.list()] == [old.id]
    with qtbot.waitSignal(window.current_model.pinned, timeout=60_000) as pinned:
        predict.load_model(model_file)  # a file outside the runs folder
    assert pinned.args == [None]
    assert store.prune(keep=0).ids == (old.id,)


def test_after_a_restart_the_runs_page_has_the_current_run_ready_to_open(
    qtbot, marquee_home, model_file
):
    store = RunStore()
    current = write_run(store, model=model_file, started="2026-04-10T10:00:00+00:00")
    write_run(store, model=model_file)  # newer, but not the model last open
    remember_last_open(store, current)
    window = unshown_window(qtbot)
    window.show()
    runs = window.runs_page
    with qtbot.waitSignal(window.current_model.pinned, timeout=30_000):
        pass
    with qtbot.waitSignal(runs.listed, timeout=20_000):
        window.show_page(3)
    assert [r.run_id for r in runs.selected_rows()] == [current.id]
    assert runs.predict_button.isEnabled()
    with qtbot.waitSignal(window.predict_page.model_loaded, timeout=60_000):
        runs.predict_button.click()
    assert window.predict_page.model_path == store.folder(current.id) / "model.safetensors"
    window.close()
