"""The app's training tasks record runs (core.runs): live while training, then finished
with the model, stopped, or failed; Train more names its parent run."""

from __future__ import annotations

import dataclasses

import pytest
from gui_helpers import TINY

from core.base.errors import Cancelled
from core.runs import RunStore
from core.training.events import EpochEnded
from gui.workers import TaskState, Tracking, train_more_task, training_task

pytestmark = pytest.mark.slow


def _state(seen: list, stop_after_epochs: int | None = None) -> TaskState:
    def should_stop() -> bool:
        epochs = sum(isinstance(e, EpochEnded) for e in seen)
        return stop_after_epochs is not None and epochs >= stop_after_epochs

    return TaskState(lambda *a: None, seen.append, should_stop)


def test_the_apps_training_is_a_run_from_start_to_model(tiny_dataset, marquee_home, tmp_path):
    store, seen, listed_live = RunStore(), [], []

    def watch(event: object) -> None:
        seen.append(event)
        if isinstance(event, EpochEnded):
            listed_live.append(store.list()[0].status)

    state = TaskState(lambda *a: None, watch, lambda: False)
    tracking = Tracking(tensorboard_dir=str(tmp_path / "tb"))
    outcome = training_task(dataclasses.replace(TINY, epochs=2), tiny_dataset, True, tracking)(
        state
    )
    assert listed_live == ["running", "running"]  # listed while it trained
    record = store.load(outcome.run_id)
    assert record.status == "finished" and record.origin == "app"
    assert [e.epoch for e in record.history] == [1, 2]
    assert outcome.run_dir == store.folder(record.id)
    assert store.model_path(record.id).is_file()
    assert list((tmp_path / "tb" / record.id).glob("events.out.tfevents.*"))

    more = train_more_task(outcome.result, tiny_dataset, 1, store.model_path(record.id))
    child = store.load(more(_state([])).run_id)
    assert child.parent == record.id and [e.epoch for e in child.history] == [3]


def test_stopped_and_cancelled_trainings_are_recorded(tiny_dataset, marquee_home):
    seen: list = []
    outcome = training_task(dataclasses.replace(TINY, epochs=50), tiny_dataset)(
        _state(seen, stop_after_epochs=1)
    )
    assert RunStore().load(outcome.run_id).status == "stopped"
    with pytest.raises(Cancelled):
        training_task(TINY, tiny_dataset)(TaskState(lambda *a: None, lambda e: None, lambda: True))
    statuses = [run.status for run in RunStore().list()]
    assert statuses == ["stopped", "stopped"]  # the cancelled one kept no model
    assert [run.has_model for run in RunStore().list()] == [False, True]
