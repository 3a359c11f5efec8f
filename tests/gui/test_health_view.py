"""The data-health view: the check in a worker, deciding (buttons and keys), undo, and the
Data page handing the fixed data set to training."""

from __future__ import annotations

from pathlib import Path

import pytest
from health_helpers import TINY_CHECK, has_file, labels_of, load_folder, make_planted
from PySide6.QtCore import Qt

from core.data.fixes import FixLog
from gui.health.tasks import doctor_task
from gui.workers import TaskState


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_planted(tmp_path_factory.mktemp("health-gui") / "posters")


@pytest.fixture(scope="module")
def checked(planted: Path):
    """The check's result for `planted`, computed once (core only, no fix log involved)."""
    from core.data.datasets import load_dataset

    state = TaskState(lambda *a: None, lambda v: None, lambda: False)
    return doctor_task(load_dataset(planted, fixes=False), TINY_CHECK)(state)


@pytest.fixture
def opened(window, qtbot, planted, checked, monkeypatch):
    """The health view on `planted`, showing the module's result (the worker runs, at once)."""
    monkeypatch.setattr("gui.health.dialog.doctor_task", lambda *a: lambda state: checked)
    page = window.data_page
    load_folder(page, qtbot, planted)
    dialog = page.health.open_health()
    qtbot.waitUntil(lambda: dialog.doctor_result is not None, timeout=10_000)
    dialog.activateWindow()
    return page, dialog


def test_the_check_runs_in_a_worker_and_shows_what_it_found(window, qtbot, planted):
    page = window.data_page
    assert not page.health_button.isEnabled()
    load_folder(page, qtbot, planted)
    assert page.health_button.isEnabled()
    page.health.doctor_options = TINY_CHECK
    stages = []
    page.health_button.click()
    dialog = page.health.health_dialog
    dialog.tasks.current.progressed.connect(lambda d, t, stage: stages.append(stage))
    assert dialog.progress_row.isVisibleTo(dialog)
    qtbot.waitUntil(lambda: not dialog.tasks.busy(), timeout=120_000)
    assert {"embed", "folds", "neighbours"} <= set(stages)
    assert not dialog.progress_row.isVisibleTo(dialog) and dialog.doctor_result is not None
    assert dialog.issues.list.count() == len(dialog.doctor_result.report.label_issues) > 0
    assert dialog.tabs.tabText(0) == f"Label issues ({dialog.issues.list.count()})"
    leaks = [p for p in dialog.pairs.items if p.cross_split and "train/copy.jpg" in p.files]
    assert leaks and "leak" in dialog.tabs.tabText(1)
    assert dialog.strays.items[0].file == "train/stray.jpg"


def test_cancel_is_a_cancellation_not_a_failure(window, qtbot, planted, monkeypatch):
    shown = []
    monkeypatch.setattr("gui.health.dialog.show_error", lambda *a, **k: shown.append(a))
    page = window.data_page
    load_folder(page, qtbot, planted)
    page.health.doctor_options = TINY_CHECK
    dialog = page.health.open_health()
    with qtbot.waitSignal(dialog.tasks.current.cancelled, timeout=60_000):
        dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.progress_row.isVisibleTo(dialog))
    assert "cancelled" in dialog.status.text() and not shown and dialog.doctor_result is None
    assert dialog.again_button.isEnabled()


def test_accept_records_a_fix_and_training_gets_it(opened, qtbot, window):
    page, dialog = opened
    issue = dialog.issues.current()
    before = dialog.issues.list.count()
    with qtbot.waitSignal(page.dataset_loaded, timeout=30_000) as blocker:
        dialog.issues.accept_button.click()
    [decision] = FixLog.for_dataset(page.raw.root).decisions  # saved on disk
    assert (decision.kind, decision.file, decision.label) == ("set_label", issue.file, issue.label)
    assert decision.value == issue.suggested
    assert dialog.issues.list.count() == before - 1
    assert dialog.tabs.tabText(0) == f"Label issues ({before - 1})"
    assert (issue.label in labels_of(blocker.args[0], issue.file)) == bool(issue.suggested)
    assert window.train_page.dataset is blocker.args[0]
    assert blocker.args[0].fixes_applied == 1


def test_undo_restores_the_issue_and_the_labels(opened, qtbot):
    page, dialog = opened
    issue = dialog.issues.current()
    given = labels_of(page.dataset, issue.file)
    dialog.issues.accept_button.click()
    assert dialog.issues.current() != issue
    with qtbot.waitSignal(page.dataset_loaded, timeout=30_000) as blocker:
        qtbot.keyClick(dialog, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert dialog.log.decisions == [] and FixLog.for_dataset(page.raw.root).decisions == []
    assert dialog.issues.current() == issue  # back, and chosen again
    assert labels_of(blocker.args[0], issue.file) == given


def test_keys_accept_and_keep(opened, qtbot):
    _page, dialog = opened
    first, second = dialog.issues.items[:2]
    qtbot.keyClick(dialog, Qt.Key.Key_K)
    qtbot.keyClick(dialog, Qt.Key.Key_A)
    kinds = [(d.kind, d.file, d.label) for d in dialog.log.decisions]
    assert kinds == [
        ("keep_label", first.file, first.label),
        ("set_label", second.file, second.label),
    ]
    qtbot.keyClick(dialog, Qt.Key.Key_Down)
    assert dialog.issues.list.currentRow() == 1
    assert len(dialog.issues.items) == len(dialog.doctor_result.report.label_issues) - 2


def test_keeping_one_of_a_duplicate_pair_drops_the_other(opened, qtbot):
    page, dialog = opened
    dialog.tabs.setCurrentWidget(dialog.pairs)
    pair = next(p for p in dialog.pairs.items if "train/copy.jpg" in p.files)
    dialog.pairs.list.setCurrentRow(dialog.pairs.items.index(pair))
    assert dialog.pairs.badge.isVisibleTo(dialog) and "Leak" in dialog.pairs.badge.text()
    right = pair.files[1]
    with qtbot.waitSignal(page.dataset_loaded, timeout=30_000) as blocker:
        qtbot.keyClick(dialog, Qt.Key.Key_L)  # keep left: the right one goes
    [decision] = dialog.log.decisions
    assert (decision.kind, decision.file, decision.reason) == ("drop", right, "leak")
    assert pair not in dialog.pairs.items
    assert not has_file(blocker.args[0], Path(right).name)
    assert has_file(blocker.args[0], Path(pair.files[0]).name)


def test_export_and_write_back(opened, qtbot, tmp_path, planted, monkeypatch):
    _page, dialog = opened
    dialog.tabs.setCurrentWidget(dialog.strays)
    dialog.strays.drop_button.click()  # the checkerboard
    out = tmp_path / "corrected"
    dialog.export_corrected(out)
    qtbot.waitUntil(lambda: "Exported" in dialog.status.text(), timeout=30_000)
    assert (out / "train" / "metadata.csv").is_file() and not (out / "train" / "stray.jpg").exists()
    asked = []
    dialog.confirm = lambda title, text: asked.append(text) or False
    assert dialog.write_back() is None and "backup" in asked[0]  # said no: nothing written
    assert not list(planted.glob("train/*.bak"))


def test_write_back_keeps_a_backup_then_the_data_set_reloads(
    window, qtbot, tmp_path, planted, checked, monkeypatch
):
    import shutil

    monkeypatch.setattr("gui.health.dialog.doctor_task", lambda *a: lambda state: checked)
    copy = shutil.copytree(planted, tmp_path / "posters")
    page = window.data_page
    load_folder(page, qtbot, copy)
    dialog = page.health.open_health()
    qtbot.waitUntil(lambda: dialog.doctor_result is not None, timeout=10_000)
    issue = dialog.issues.current()
    dialog.issues.accept()
    dialog.confirm = lambda title, text: True
    with qtbot.waitSignal(page.dataset_loaded, timeout=60_000) as blocker:
        dialog.write_back()
    assert len(list((copy / "train").glob("metadata.csv.*.bak"))) == 1
    assert dialog.log.decisions == [] and issue not in dialog.issues.items
    assert blocker.args[0].fixes_applied == 0  # now in the labels file itself
    assert (issue.label in labels_of(blocker.args[0], issue.file)) == bool(issue.suggested)


def test_a_data_set_without_a_folder_gets_a_message_instead_of_a_check(window, qtbot, tiny_dataset):
    from dataclasses import replace

    page = window.data_page
    page.set_dataset(replace(tiny_dataset, root=None))  # built in memory, not read from disk
    assert page.health_button.isEnabled()
    with qtbot.waitSignal(page.health.status_message, timeout=5_000) as blocker:
        assert page.health.open_health() is None
    assert "folder or label file" in blocker.args[0] and page.health.health_dialog is None
