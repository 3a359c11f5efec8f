"""One fix log per data set, shared; saves merge, so no writer undoes another's decisions."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from core.data import corrected
from core.data.corrected import write_back
from core.data.fixes import Decision, FixLog, _read, sidecar_path


def _another_process(root: Path) -> FixLog:
    """The log as a second process sees it: its own object, read from the file."""
    resolved = root.resolve()
    log = FixLog(resolved, sidecar_path(resolved))
    log.reload()
    return log


def _on_disk(root: Path) -> list[tuple[str, str]]:
    return [(d.kind, d.file) for d in _read(sidecar_path(root.resolve()))]


def test_every_view_of_a_data_set_shares_one_log(tmp_path: Path) -> None:
    health, labelling = FixLog.for_dataset(tmp_path), FixLog.for_dataset(tmp_path / ".")
    assert health is labelling
    health.record(Decision("drop", "a.jpg"))
    labelling.record(Decision("keep_label", "b.jpg", label="Crime"))
    assert len(health.current()) == len(labelling.current()) == 2


def test_two_writers_keep_both_their_decisions(tmp_path: Path) -> None:
    app, cli = FixLog.for_dataset(tmp_path), _another_process(tmp_path)
    app.record(Decision("drop", "a.jpg"))
    cli.record(Decision("drop", "b.jpg"))
    app.record(Decision("drop", "c.jpg"))
    assert _on_disk(tmp_path) == [("drop", "a.jpg"), ("drop", "b.jpg"), ("drop", "c.jpg")]
    cli.undo()  # takes back its own last decision, not the app's
    assert _on_disk(tmp_path) == [("drop", "a.jpg"), ("drop", "c.jpg")]
    assert [d.file for d in FixLog.for_dataset(tmp_path).decisions] == ["a.jpg", "c.jpg"]


def test_a_decision_made_during_a_write_back_is_kept(make_data_dir, tmp_path, monkeypatch):
    root = make_data_dir(tmp_path / "data", 6, 3)
    first = (root / "train" / "metadata.csv").read_text().splitlines()[1].split(",")[0]
    log = FixLog.for_dataset(root)
    log.record(Decision("set_label", f"train/{first}.jpg", label="Crime", value=1))
    late = Decision("set_label", f"train/{first}.jpg", label="Action", value=0)
    real_rewrite = corrected._rewrite

    def rewrite_while_the_user_labels(*args):
        FixLog.for_dataset(root).record(late)  # the UI thread, while the worker writes
        return real_rewrite(*args)

    monkeypatch.setattr(corrected, "_rewrite", rewrite_while_the_user_labels)
    write_back(root, log)
    left = [(d.kind, d.label) for d in FixLog.for_dataset(root).decisions]
    assert ("set_label", "Action") in left and ("set_label", "Crime") not in left


def test_key_presses_batch_into_one_save(tmp_path: Path) -> None:
    log = FixLog.for_dataset(tmp_path)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        log.record(Decision("keep", name), save=False)
    assert log.dirty and not sidecar_path(tmp_path.resolve()).exists()
    log.save()
    assert not log.dirty and len(_on_disk(tmp_path)) == 3


def test_saves_from_many_threads_lose_nothing(tmp_path: Path) -> None:
    log = FixLog.for_dataset(tmp_path)
    other = _another_process(tmp_path)

    def record(target: FixLog, prefix: str) -> None:
        for i in range(15):
            target.record(Decision("drop", f"{prefix}{i}.jpg"))

    threads = [
        threading.Thread(target=record, args=(target, prefix))
        for target, prefix in ((log, "ui"), (log, "worker"), (other, "cli"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    document = json.loads(sidecar_path(tmp_path.resolve()).read_text())
    assert len(document["decisions"]) == 45
