"""Trackers teams already run, fed from the training events: TensorBoard and MLflow.

Each tracker is an event sink (`on_event`) plus `close(record, folder)` once the run is
recorded, so the training loop knows nothing of them. Both libraries are optional extras;
without one, `require_tracker` raises one line naming the pip command.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from core.base.errors import ConfigError, one_line
from core.runs.record import RunRecord
from core.training.events import EpochEnded, Event, StepEnded, TrainingStarted

log = logging.getLogger(__name__)

_EXTRAS = {"tensorboard": ("tensorboard", "TensorBoard"), "mlflow": ("mlflow", "MLflow")}

# MLflow retries a failed request 7 times with a growing back-off and waits up to 120 s for
# each: an unreachable server took about 4 minutes to report. The first contact, which
# only checks that the server is there before any training step, is tried once with a
# short timeout; later requests keep MLflow's own retries. A user's own settings win.
FIRST_CONTACT = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


class Tracker(Protocol):
    def bind(self, run_id: str) -> None: ...

    def on_event(self, event: Event) -> None: ...

    def close(self, record: RunRecord, folder: Path) -> None: ...


def require_tracker(extra: str) -> None:
    """Raise ConfigError with the install line when the extra's library is missing."""
    module, name = _EXTRAS[extra]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{name} logging needs an optional extra: pip install marquee[{extra}]")


class TrackerError(ConfigError):
    """A tracker could not be reached or refused the run (one line: where and why)."""


def open_trackers(tensorboard_dir: str | Path | None, mlflow_uri: str | None) -> list[Tracker]:
    """The trackers asked for (`mlflow_uri` "" means MLFLOW_TRACKING_URI or MLflow's
    default), checked before any training starts; `bind(run_id)` each once the run has
    an id. A missing extra or an unreachable tracker raises one line."""
    trackers: list[Tracker] = []
    if tensorboard_dir is not None:
        require_tracker("tensorboard")
        trackers.append(TensorBoardTracker(Path(tensorboard_dir)))
    if mlflow_uri is not None:
        require_tracker("mlflow")
        trackers.append(MlflowTracker(mlflow_uri or None))
    return trackers


def tracked(trackers: list[Tracker]) -> list[Callable[[Event], None]]:
    """Each tracker's event sink, guarded: a tracker that fails while the model trains
    logs one warning and stops tracking; the training goes on."""
    return [_guarded(tracker) for tracker in trackers]


def _guarded(tracker: Tracker) -> Callable[[Event], None]:
    broken = [False]

    def sink(event: Event) -> None:
        if broken[0]:
            return
        try:
            tracker.on_event(event)
        except Exception as exc:
            broken[0] = True
            log.warning("%s stopped logging: %s", type(tracker).__name__, exc)

    return sink


def _epoch_metrics(event: EpochEnded) -> dict[str, float]:
    values = {"train_loss": event.train_loss, "val_loss": event.val_loss, **event.metrics}
    return {k: float(v) for k, v in values.items() if v is not None and _finite(v)}


def _finite(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number == number and abs(number) != float("inf")


def _hparams(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as TensorBoard/MLflow take them: numbers, booleans and strings."""
    return {
        k: v if isinstance(v, bool | int | float | str) else str(v) for k, v in settings.items()
    }


class TensorBoardTracker:
    """Event files under `<dir>/<run id>`: step train loss; epoch val loss, mAP, F1 and
    per-label AP; hyperparameters with the final metrics at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.offset = 0  # epochs the starting model had (train more): the axis goes on

    def bind(self, run_id: str) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.folder = self.log_dir / run_id
        self.writer = SummaryWriter(log_dir=str(self.folder))

    def on_event(self, event: Event) -> None:
        if isinstance(event, TrainingStarted):
            self.offset = event.previous_epochs
        elif isinstance(event, StepEnded) and _finite(event.loss):
            self.writer.add_scalar("train/loss_step", event.loss, event.step)
        elif isinstance(event, EpochEnded):
            epoch = self.offset + event.epoch
            for name, value in _epoch_metrics(event).items():
                self.writer.add_scalar(f"epoch/{name}", value, epoch)
            for label in event.per_label:
                if label.ap is not None:
                    self.writer.add_scalar(f"ap/{label.name}", label.ap, epoch)
            self.writer.flush()

    def close(self, record: RunRecord, folder: Path) -> None:
        final = {
            f"final/{k}": float(v)
            for k, v in record.metrics.items()
            if v is not None and _finite(v)
        }
        if final:
            self.writer.add_hparams(_hparams(record.settings), final, run_name="hparams")
        self.writer.close()


class MlflowTracker:
    """One MLflow run: params = settings, metrics per epoch, tags = the data identity,
    the model file and metrics.json as artifacts. Uses the client API (no global state),
    so it is safe from the app's worker thread."""

    def __init__(self, uri: str | None, experiment: str = "marquee") -> None:
        from mlflow.tracking import MlflowClient

        uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
        try:
            self.client = MlflowClient(tracking_uri=uri)
            with _first_contact():
                found = self.client.get_experiment_by_name(experiment)
            experiment_id = (
                found.experiment_id if found else self.client.create_experiment(experiment)
            )
            self.run_id = self.client.create_run(experiment_id).info.run_id
        except Exception as exc:  # MlflowException, connection errors: all say why
            where = uri or "MLflow's default store"
            raise TrackerError(f"MLflow at {where}: {one_line(str(exc))[:300]}") from exc
        self.offset = 0
        self.params_logged = False

    def bind(self, run_id: str) -> None:
        self.client.update_run(self.run_id, name=run_id)
        self.client.set_tag(self.run_id, "marquee.run_id", run_id)

    def on_event(self, event: Event) -> None:
        from mlflow.entities import Metric, Param

        if isinstance(event, TrainingStarted) and not self.params_logged:
            self.offset = event.previous_epochs
            params = [Param(k, str(v)[:500]) for k, v in _hparams(event.config).items()]
            self.client.log_batch(self.run_id, params=params)
            self.params_logged = True
        elif isinstance(event, EpochEnded):
            epoch = self.offset + event.epoch
            stamp = _millis()
            metrics = [Metric(k, v, stamp, epoch) for k, v in _epoch_metrics(event).items()]
            self.client.log_batch(self.run_id, metrics=metrics)

    def close(self, record: RunRecord, folder: Path) -> None:
        try:
            self._finish(record, folder)
        finally:
            status = {"finished": "FINISHED", "stopped": "KILLED"}.get(record.status, "FAILED")
            self.client.set_terminated(self.run_id, status)

    def _finish(self, record: RunRecord, folder: Path) -> None:
        data = record.data
        if data is not None:
            tags = {
                "marquee.data_fingerprint": data.fingerprint,
                "marquee.data_path": data.path,
                "marquee.fixes_revision": data.fixes_revision,
            }
            for key, value in tags.items():
                self.client.set_tag(self.run_id, key, value)
        for name, number in record.metrics.items():
            if number is not None and _finite(number):
                self.client.log_metric(self.run_id, f"final_{name}", float(number))
        metrics = folder / "metrics.json"
        if metrics.is_file():
            self.client.log_artifact(self.run_id, str(metrics))
        if record.model_file and (folder / record.model_file).is_file():
            self.client.log_artifact(self.run_id, str(folder / record.model_file))


@contextmanager
def _first_contact() -> Iterator[None]:
    """MLflow's HTTP settings for the first request (its client reads them per request)."""
    added = {k: v for k, v in FIRST_CONTACT.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _millis() -> int:
    import time

    return int(time.time() * 1000)


class TrackerSet:
    """The trackers one training writes to, for any training path (CLI, app, rerun):
    opened (and checked) before the run exists, bound to its id, fed its events, closed
    with the record. Closing never raises: a tracker's failure is logged and returned."""

    def __init__(self, tensorboard_dir: str | Path | None = None, mlflow_uri: str | None = None):
        self.trackers = open_trackers(tensorboard_dir, mlflow_uri)

    def bind(self, run_id: str) -> None:
        for tracker in self.trackers:
            tracker.bind(run_id)

    def sinks(self) -> list[Callable[[Event], None]]:
        return tracked(self.trackers)

    def close(self, record: RunRecord, folder: Path) -> list[str]:
        problems = []
        for tracker in self.trackers:
            try:
                tracker.close(record, folder)
            except Exception as exc:
                problems.append(f"{type(tracker).__name__}: {one_line(str(exc))}")
                log.warning("%s", problems[-1])
        return problems
