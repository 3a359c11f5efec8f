"""core.runs: the run record, the index, references, stars, prune and retention."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.base.errors import Cancelled
from core.runs import (
    RetentionPolicy,
    RunNotFound,
    RunRecord,
    RunStore,
    RunWriter,
    compare_runs,
)
from core.runs.index import INDEX_NAME
from core.training.events import EpochEnded, LabelMetrics, TrainingStarted


def _epoch(n: int, ap: float) -> EpochEnded:
    labels = tuple(LabelMetrics(name, ap, 0.5, 0.5, 0.5, 3) for name in ("Action", "Romance"))
    metrics = {"map": ap, "f1_micro": 0.5, "f1_macro": 0.4}
    return EpochEnded(n, 2, 0.7, 0.6, metrics, labels, True, 0.1)


def _started(config: dict, previous: int = 0) -> TrainingStarted:
    return TrainingStarted(config, ("Action",), 4, 2, "cpu", "CPU", 1, 2, previous)


def test_a_run_lists_as_running_then_finished_with_its_model(trained, dataset, tmp_path):
    store = RunStore(tmp_path / "runs")
    writer = RunWriter.start(trained.result.meta.config, dataset, store=store)
    (live,) = store.list()
    assert live.id == writer.id and live.status == "running" and not live.has_model
    writer.on_event(_started(trained.result.meta.config))
    writer.on_event(_epoch(1, 0.6))
    assert store.list()[0].epochs == 1 and store.list()[0].map == pytest.approx(0.6)
    record = writer.finish(trained.result)
    assert record.status == "finished" and record.model_file == "model.safetensors"
    (done,) = store.list()
    assert done.status == "finished" and done.has_model and done.disk_bytes > 10_000
    loaded = store.load(done.id[:10])
    assert loaded.metrics["map"] == trained.result.meta.metrics["map"]
    assert loaded.data is not None and loaded.data.counts == {"train": 24, "val": 12}
    assert len(loaded.data.images) == 36  # per-image label digests, kept beside the record
    assert RunRecord.from_json(loaded.to_json()) == loaded
    assert store.model_path("latest").is_file()
    metrics = json.loads((writer.folder / "metrics.json").read_text())
    assert metrics["final"]["map"] == trained.result.meta.metrics["map"]


def test_a_failed_or_stopped_run_is_recorded_without_a_model(dataset, tmp_path):
    store = RunStore(tmp_path)
    for error, status in ((RuntimeError("boom"), "failed"), (Cancelled("stop"), "stopped")):
        writer = RunWriter.start({"backbone": "efficientnet_lite0"}, dataset, store=store)
        with pytest.raises(type(error)), writer.recording():
            raise error
        record = store.load(writer.id)
        assert record.status == status and record.model_file is None
    assert {r.status for r in store.list()} == {"failed", "stopped"}
    assert store.load(store.list()[1].id).error == "boom"


def test_references_resolve_by_prefix_latest_and_best(dataset, tmp_path):
    store = RunStore(tmp_path)
    ids = []
    for score in (0.9, 0.5):
        writer = RunWriter.start({}, dataset, store=store)
        writer._save(status="finished", metrics={"map": score}, model_file="model.safetensors")
        ids.append(writer.id)
    assert store.resolve("latest") == store.list()[0].id
    assert store.resolve("best") == ids[0]
    assert store.resolve(ids[1]) == ids[1]
    with pytest.raises(RunNotFound, match="matches 2 runs"):
        store.resolve(ids[0][:8])  # same day: ambiguous
    with pytest.raises(RunNotFound, match="No run matches"):
        store.resolve("nothing")
    live = RunWriter.start({}, dataset, store=store)
    with pytest.raises(RunNotFound, match="still training"):
        store.remove([live.id])


def test_a_missing_or_damaged_index_is_rebuilt_from_the_folders(dataset, tmp_path):
    store = RunStore(tmp_path)
    made = [RunWriter.start({}, dataset, store=store).id for _ in range(3)]
    listed = [r.id for r in store.list()]
    assert sorted(listed) == sorted(made)
    (tmp_path / INDEX_NAME).write_text("{not json")
    assert [r.id for r in store.list()] == listed
    assert json.loads((tmp_path / INDEX_NAME).read_text())["format"] == 1  # repaired
    (tmp_path / INDEX_NAME).unlink()
    assert [r.id for r in store.list()] == listed


def test_star_prune_and_retention_keep_what_they_should(dataset, tmp_path):
    store = RunStore(tmp_path)
    ids = []
    for score in (0.9, 0.2, 0.3, 0.4):  # oldest first
        writer = RunWriter.start({}, dataset, store=store)
        writer._save(status="finished", metrics={"map": score}, model_file="model.safetensors")
        ids.append(writer.id)
    store.star(ids[1])
    assert store.load(ids[1]).starred
    removal = store.prune(keep=1)
    assert set(removal.ids) == {ids[0], ids[2]} and removal.bytes_freed > 0
    assert {r.id for r in store.list()} == {ids[1], ids[3]}
    store.star(ids[1], on=False)
    kept = store.apply_retention(RetentionPolicy(keep_last=1, keep_best_per_dataset=False))
    assert kept.ids == (ids[1],)
    assert [r.id for r in store.list()] == [ids[3]]


def test_compare_names_settings_data_changes_and_deltas(dataset, tmp_path):
    store = RunStore(tmp_path)
    first = RunWriter.start({"lr": 0.01, "epochs": 2}, dataset, store=store)
    first._save(metrics={"map": 0.5}, per_label=({"name": "Action", "ap": 0.4},))
    changed = replace(dataset, train=dataset.train.subset(list(range(20))))
    second = RunWriter.start({"lr": 0.02, "epochs": 2}, changed, store=store)
    second._save(metrics={"map": 0.7}, per_label=({"name": "Action", "ap": 0.6},))
    comparison = compare_runs([store.load(first.id), store.load(second.id)])
    assert comparison.settings == {"lr": [0.01, 0.02]}
    assert not comparison.same_data
    assert comparison.data_changes[0].images_removed == 4
    assert comparison.metric_deltas["map"][1] == pytest.approx(0.2)
    assert comparison.per_label_deltas["Action"][1] == pytest.approx(0.2)


def test_retention_setting_round_trips(tmp_path: Path):
    RetentionPolicy(keep_last=5, max_disk_gb=None).save(tmp_path)
    assert RetentionPolicy.load(tmp_path) == RetentionPolicy(keep_last=5, max_disk_gb=None)


def test_run_folders_from_before_records_list_once_adopted(trained, tmp_path):
    from dataclasses import asdict

    from core.modelfile.checkpoint import save_model

    folder = tmp_path / "20261101-093000-efficientnet_lite0"
    save_model(folder / "model.safetensors", trained.result.model, trained.result.meta)
    history = [asdict(e) for e in trained.result.history]
    metrics = {"final": trained.result.meta.metrics, "epochs": history}
    (folder / "metrics.json").write_text(json.dumps(metrics, default=str))
    (run,) = RunStore(tmp_path).list()
    assert run.id == folder.name and run.status == "finished" and run.origin == "earlier"
    assert run.map == trained.result.meta.metrics["map"] and run.epochs == 2
    assert RunStore(tmp_path).model_path("latest") == folder / "model.safetensors"


def test_retention_after_a_run_says_what_it_removed(trained, dataset, tmp_path, caplog):
    store = RunStore(tmp_path)
    policy = RetentionPolicy(keep_last=1, keep_best_per_dataset=False)
    older = [RunWriter.start({}, dataset, store=store) for _ in range(2)]
    for writer in older:
        writer._save(status="failed")
    writer = RunWriter.start(trained.result.meta.config, dataset, store=store)
    with caplog.at_level("INFO", logger="core.runs.store"):
        writer.finish(trained.result, policy)
    assert writer.retention is not None
    assert set(writer.retention.ids) == {w.id for w in older}
    assert writer.retention.describe().startswith("removed 2 runs")
    assert [r.id for r in store.list()] == [writer.id]
    (line,) = [r.getMessage() for r in caplog.records if "retention" in r.getMessage()]
    assert "the last 1 runs" in line and "removed 2 runs" in line


def test_retention_keeps_starred_recent_and_best_then_caps_the_disk():
    from core.runs import RunSummary
    from core.runs.retention import retention_removals

    def run(i: int, score: float, data: str = "a", starred: bool = False) -> RunSummary:
        return RunSummary(
            id=f"run{i}", started=f"2026-01-{i + 1:02d}T00:00:00+00:00", ended=None,
            status="finished", dataset=data, dataset_path=f"/{data}", data_fingerprint="",
            backbone="b", strategy="freeze", epochs=1, image_size=64, map=score,
            f1_micro=None, f1_macro=None, wall_s=1.0, disk_bytes=4 * 10**9, starred=starred,
            parent=None, device="cpu", origin="cli", has_model=True,
        )  # fmt: skip

    runs = [run(0, 0.9), run(1, 0.5, starred=True), run(2, 0.8, "b"), run(3, 0.1), run(4, 0.2)]
    keep_two = RetentionPolicy(keep_last=2, max_disk_gb=None)
    assert {r.id for r in retention_removals(runs, keep_two)} == set()  # 0,2 best; 1 starred
    capped = RetentionPolicy(keep_last=2, max_disk_gb=12)  # 4 GB each: three fit
    # The cap goes into the recent runs, oldest first; starred and best stay.
    assert [r.id for r in retention_removals(runs, capped)] == ["run3", "run4"]
    plain = RetentionPolicy(keep_last=1, keep_best_per_dataset=False, max_disk_gb=None)
    assert {r.id for r in retention_removals(runs, plain)} == {"run0", "run2", "run3"}
    assert retention_removals(runs, RetentionPolicy(enabled=False)) == []
