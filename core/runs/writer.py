"""`RunWriter`: how every training path (CLI, torchrun's rank 0, the app) records its run.

    writer = RunWriter.start(config, dataset, origin="cli")
    with writer.recording():                     # a failure or a stop is recorded too
        result = fit(config, dataset, fan_out(progress, writer.on_event))
    record = writer.finish(result)               # model + record, atomically; retention

The run is listed as `running` from `start` on, its history grows per epoch, and only
`finish` (after the model file is durably in place) marks it finished or stopped.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import __version__
from core.base.errors import Cancelled, one_line
from core.runs.files import sync_file, write_durable
from core.runs.record import EpochRecord, RunRecord
from core.runs.retention import RetentionPolicy
from core.runs.store import MODEL_NAME, Removal, RunStore
from core.training.events import EpochEnded, Event, TrainingStarted

if TYPE_CHECKING:
    from core.base.config import TrainConfig
    from core.data.types import Dataset
    from core.training.loop import TrainResult

log = logging.getLogger(__name__)

EventSink = Callable[[Event], None]


def fan_out(*sinks: EventSink | None) -> EventSink:
    """One event sink that hands every event to each of `sinks` (None ones skipped)."""
    chosen = [sink for sink in sinks if sink is not None]

    def sink(event: Event) -> None:
        for each in chosen:
            each(event)

    return sink


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RunWriter:
    """Writes one run's folder: created `running`, history per epoch, then finalised."""

    def __init__(self, store: RunStore, record: RunRecord) -> None:
        self.store = store
        self.record = record
        self._clock = time.monotonic()
        self.retention: Removal | None = None  # what retention removed after `finish`

    @classmethod
    def start(
        cls,
        config: TrainConfig | dict[str, Any],
        dataset: Dataset,
        *,
        store: RunStore | None = None,
        origin: str = "cli",
        parent: str | None = None,
        load_options: dict[str, Any] | None = None,
    ) -> RunWriter:
        """Create the run folder and a `running` record (the run lists from now on).

        `parent`: the run this one continues (None: found from `config.init_from` when
        that model lives in a run folder). `load_options`: how the data set was read
        (format, label_column, delimiter, images_dir), for `marquee runs rerun`.
        """
        from core.runs.identity import data_identity  # numpy: not on the app's start-up path

        store = store or RunStore()
        settings = dict(config) if isinstance(config, dict) else asdict(config)
        if parent is None and settings.get("init_from"):
            parent = store.run_of_model(settings["init_from"])
        identity = data_identity(dataset, load_options)
        record = RunRecord(
            id=store.new_id(),
            started=now_iso(),
            marquee_version=__version__,
            origin=origin,
            settings=settings,
            labels=tuple(dataset.label_names),
            data=identity,
            parent=parent,
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        return cls(store, store.save_record(record))

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def folder(self) -> Path:
        return self.store.folder(self.record.id)

    # ------------------------------------------------------------------ while training
    def on_event(self, event: Event) -> None:
        """The training events that change the record: start (device) and each epoch."""
        if isinstance(event, TrainingStarted):
            self._save(
                device=event.device_name or event.device,
                settings={**self.record.settings, **event.config},
                previous_epochs=event.previous_epochs,
            )
        elif isinstance(event, EpochEnded):
            epoch = _epoch_record(event, self.record.previous_epochs)
            self._save(history=(*self.record.history, epoch), wall_s=self._elapsed())

    @contextmanager
    def recording(self) -> Iterator[RunWriter]:
        """Record a stop or a failure inside the block (then let it propagate)."""
        try:
            yield self
        except BaseException as exc:
            self.fail(exc)
            raise

    # ------------------------------------------------------------------ the end
    def finish(self, result: TrainResult, retention: RetentionPolicy | None = None) -> RunRecord:
        """Save the model, then mark the run finished (or stopped), both durably; then
        apply the retention setting (`retention`, else the saved one)."""
        from core.modelfile.checkpoint import save_model

        path = self.folder / MODEL_NAME
        save_model(path, result.model, result.meta)
        sync_file(path)
        after_model_saved(path)
        meta = result.meta
        final: dict[str, Any] = dict(
            status="stopped" if result.stopped_early else "finished",
            ended=now_iso(),
            wall_s=self._elapsed(),
            settings={**self.record.settings, **meta.config},
            labels=tuple(meta.label_names),
            metrics=dict(meta.metrics),
            per_label=tuple(meta.per_label),
            thresholds=tuple(meta.thresholds),
            model_file=MODEL_NAME,
        )
        _write_summaries(replace(self.record, **final), self.folder)
        self._save(**final)
        self.retention = self._retain(retention)
        return self.record

    def fail(self, error: BaseException) -> RunRecord:
        """Mark the run stopped (a stop request, Ctrl+C) or failed, without a model."""
        stopped = isinstance(error, Cancelled | KeyboardInterrupt)
        message = None if stopped else one_line(str(error) or type(error).__name__)
        try:
            self._save(
                status="stopped" if stopped else "failed",
                ended=now_iso(),
                wall_s=self._elapsed(),
                error=message,
            )
        except Exception:  # recording must never hide the training's own error
            log.exception("could not record the end of run %s", self.id)
        return self.record

    # ------------------------------------------------------------------ helpers
    def _save(self, **changes: Any) -> None:
        self.record = self.store.save_record(replace(self.record, **changes))

    def _elapsed(self) -> float:
        return round(time.monotonic() - self._clock, 3)

    def _retain(self, policy: RetentionPolicy | None) -> Removal | None:
        try:
            removal = self.store.apply_retention(policy)
        except Exception:
            log.exception("applying the run retention setting failed")
            return None
        return removal


def after_model_saved(path: Path) -> None:
    """The one place a run's model file is final: work that should follow every saved
    model hooks in here. Its inference graph goes into the graph cache now, so the first
    prediction from it runs as fast as any later one (never fails the save)."""
    from core.inference.warm import warm_graph_cache

    warm_graph_cache(path)


def _write_summaries(record: RunRecord, folder: Path) -> None:
    """config.json and metrics.json beside the model: plain files other tools (and the
    trackers' artifacts) read; the record stays the source of truth."""
    metrics = {
        "final": record.metrics,
        "per_label": list(record.per_label),
        "epochs": [asdict(epoch) for epoch in record.history],
    }
    write_durable(folder / "metrics.json", json.dumps(metrics, indent=2, default=str))
    write_durable(folder / "config.json", json.dumps(record.settings, indent=2, default=str))


def _epoch_record(event: EpochEnded, previous_epochs: int) -> EpochRecord:
    return EpochRecord(
        epoch=previous_epochs + event.epoch,
        train_loss=_number(event.train_loss),
        val_loss=_number(event.val_loss),
        map=_number(event.metrics.get("map")),
        f1_micro=_number(event.metrics.get("f1_micro")),
        f1_macro=_number(event.metrics.get("f1_macro")),
        seconds=round(float(event.seconds), 3),
        per_label_ap={m.name: _number(m.ap) for m in event.per_label},
    )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None
