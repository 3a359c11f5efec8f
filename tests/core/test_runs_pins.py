"""Pinned runs (the model open in the app): retention and `runs prune` never remove them,
from whichever process they run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from core.runs import RetentionPolicy, RunStore, RunSummary, RunWriter
from core.runs.pins import PINS_DIR, pin_runs, pinned_runs
from core.runs.retention import prune_removals, retention_removals


def _summary(i: int, score: float) -> RunSummary:
    return RunSummary(
        id=f"run{i}", started=f"2026-01-{i + 1:02d}T00:00:00+00:00", ended=None,
        status="finished", dataset="a", dataset_path="/a", data_fingerprint="",
        backbone="b", strategy="freeze", epochs=1, image_size=64, map=score,
        f1_micro=None, f1_macro=None, wall_s=1.0, disk_bytes=4 * 10**9, starred=False,
        parent=None, device="cpu", origin="cli", has_model=True,
    )  # fmt: skip


def test_a_pinned_run_survives_retention_the_disk_cap_and_prune():
    runs = [_summary(i, 0.1 * i) for i in range(5)]  # run4 newest and best
    plain = RetentionPolicy(keep_last=1, keep_best_per_dataset=False, max_disk_gb=None)
    assert "run0" in {r.id for r in retention_removals(runs, plain)}
    assert "run0" not in {r.id for r in retention_removals(runs, plain, pinned={"run0"})}
    capped = RetentionPolicy(keep_last=5, keep_best_per_dataset=False, max_disk_gb=9)
    removed = [r.id for r in retention_removals(runs, capped, pinned={"run0"})]
    assert removed == ["run1", "run2", "run3"]  # the cap takes the others, oldest first
    assert "run0" not in {r.id for r in prune_removals(runs, keep=0, pinned={"run0"})}
    assert "run0" in {r.id for r in prune_removals(runs, keep=0)}


def _three_runs(dataset, store: RunStore) -> list[str]:
    ids = []
    for score in (0.3, 0.2, 0.4):  # oldest first
        writer = RunWriter.start({}, dataset, store=store)
        (store.folder(writer.id) / "model.safetensors").write_bytes(b"weights")
        writer._save(status="finished", metrics={"map": score}, model_file="model.safetensors")
        ids.append(writer.id)
    return ids


def test_the_store_keeps_runs_named_by_id_or_model_file(dataset, tmp_path):
    store = RunStore(tmp_path)
    ids = _three_runs(dataset, store)
    model = store.folder(ids[0]) / "model.safetensors"
    policy = RetentionPolicy(keep_last=1, keep_best_per_dataset=False, max_disk_gb=None)
    assert store.apply_retention(policy, pinned=[model]).ids == (ids[1],)
    assert store.prune(keep=0, pinned=[ids[0]]).ids == (ids[2],)
    assert [r.id for r in store.list()] == [ids[0]]


def test_a_live_process_pin_holds_for_every_pruner_and_a_dead_one_does_not(dataset, tmp_path):
    store = RunStore(tmp_path)
    ids = _three_runs(dataset, store)
    pin_runs(store.root, [ids[0]])  # this process: the app with the oldest model open
    # A dead process's pin (a crashed app): ignored, and its file tidied away.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / PINS_DIR / "stale.json"
    owner = {"pid": int(dead.stdout), "host": socket.gethostname(), "runs": [ids[1]]}
    stale.write_text(json.dumps(owner), encoding="utf-8")
    (tmp_path / PINS_DIR / "damaged.json").write_text("{", encoding="utf-8")
    assert pinned_runs(store.root) == {ids[0]} and not stale.exists()
    removed = store.prune(keep=0)  # as `marquee runs prune --keep 0 --yes` from a shell
    assert set(removed.ids) == {ids[1], ids[2]}
    assert [r.id for r in store.list()] == [ids[0]]
    pin_runs(store.root, [])  # the app opened a model outside the runs folder
    assert not (tmp_path / PINS_DIR / f"{socket.gethostname()}-{os.getpid()}.json").exists()
    assert store.prune(keep=0).ids == (ids[0],)


def test_the_pins_folder_is_not_a_run(dataset, tmp_path: Path):
    store = RunStore(tmp_path)
    pin_runs(store.root, ["20260101-000000-abcd"])
    assert store.list() == []
