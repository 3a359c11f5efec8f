"""The run record: what one training was (settings, data, history, metrics, model, lineage).

Plain frozen dataclasses that go to and from JSON (`to_dict` / `from_dict`), so the CLI,
the app and the trackers read the same document. Unknown keys are ignored on reading, so
records written by a newer Marquee still list.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

RECORD_FORMAT = 1
STATUSES = ("running", "finished", "stopped", "failed")
METRIC_NAMES = ("map", "f1_micro", "f1_macro", "loss")


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def _known(cls: type, data: dict) -> dict:
    names = _field_names(cls)
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of a run's history (metrics at threshold 0.5, as the loop reports them)."""

    epoch: int  # 1-based, counting on from the parent's epochs for a continued run
    train_loss: float | None  # None: not a finite number (a diverged run)
    val_loss: float | None
    map: float | None
    f1_micro: float | None
    f1_macro: float | None
    seconds: float = 0.0
    per_label_ap: dict[str, float | None] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> EpochRecord:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class DataIdentity:
    """Which data a run saw: where, how much, and fingerprints that change with any edit.

    `labels_fingerprint` covers the label table after fixes (every image id and its
    positive labels); `files_fingerprint` covers the image files (name, size and
    modification time, not their bytes: cheap for 100,000 images). `fixes_revision` names
    the fix log in force (decision count and a digest of them). `images` maps each image
    id (its path relative to the data set's folder) to a digest of its label row, which is
    what `compare_runs` uses to say images added/removed and labels changed.
    `load_options` are how the data set was read (format, CSV options, chosen labels), so
    `marquee runs rerun` can read it again.
    """

    path: str
    kind: str
    counts: dict[str, int]
    labels_fingerprint: str
    files_fingerprint: str
    fixes_revision: str = ""
    fixes_applied: int = 0
    images: dict[str, str] = field(default_factory=dict)
    load_options: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """One digest for "same data": labels and files (the fix log's effect is in both)."""
        return f"{self.labels_fingerprint[:12]}-{self.files_fingerprint[:12]}"

    @property
    def name(self) -> str:
        """A short name for tables: the data set's folder or file name."""
        parts = self.path.replace("\\", "/").rstrip("/").split("/")
        return parts[-1] or self.path

    @classmethod
    def from_dict(cls, data: dict) -> DataIdentity:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class RunSummary:
    """One row of the run index: what `marquee runs list` and the Runs page's table show."""

    id: str
    started: str
    ended: str | None
    status: str
    dataset: str  # short name
    dataset_path: str
    data_fingerprint: str
    backbone: str
    strategy: str
    epochs: int  # epochs run (this run's own)
    image_size: int
    map: float | None
    f1_micro: float | None
    f1_macro: float | None
    wall_s: float
    disk_bytes: int
    starred: bool
    parent: str | None
    device: str
    origin: str
    has_model: bool
    pid: int = 0  # the writer of a running run, to tell a live run from a killed one
    host: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunSummary:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class RunRecord:
    """Everything about one training run (see the package docstring for the fields)."""

    id: str
    started: str  # ISO 8601, UTC
    status: str = "running"  # one of STATUSES
    ended: str | None = None
    wall_s: float = 0.0
    device: str = ""
    marquee_version: str = ""
    origin: str = "cli"  # cli | app | torchrun | rerun
    settings: dict[str, Any] = field(default_factory=dict)  # every TrainConfig field
    labels: tuple[str, ...] = ()
    data: DataIdentity | None = None
    history: tuple[EpochRecord, ...] = ()
    metrics: dict[str, float | None] = field(default_factory=dict)  # final, tuned thresholds
    per_label: tuple[dict[str, Any], ...] = ()  # LabelMetrics as dicts
    thresholds: tuple[float, ...] = ()
    model_file: str | None = None  # file name inside the run folder
    parent: str | None = None  # the run this one continued (train more, --init-from)
    rerun_of: str | None = None  # the run whose settings and data `runs rerun` repeated
    previous_epochs: int = 0  # epochs the starting model already had
    starred: bool = False
    disk_bytes: int = 0
    error: str | None = None  # why a failed run failed
    pid: int = 0  # the process writing a running run (a dead one means it was killed)
    host: str = ""
    format: int = RECORD_FORMAT

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=str)

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        values = _known(cls, data)
        if isinstance(values.get("data"), dict):
            values["data"] = DataIdentity.from_dict(values["data"])
        values["history"] = tuple(EpochRecord.from_dict(e) for e in values.get("history", ()))
        for name in ("labels", "per_label", "thresholds"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------ views
    @property
    def is_live(self) -> bool:
        return self.status == "running"

    def with_changes(self, **changes: Any) -> RunRecord:
        return replace(self, **changes)

    def summary(self) -> RunSummary:
        data = self.data
        return RunSummary(
            id=self.id,
            started=self.started,
            ended=self.ended,
            status=self.status,
            dataset=data.name if data else "",
            dataset_path=data.path if data else "",
            data_fingerprint=data.fingerprint if data else "",
            backbone=str(self.settings.get("backbone", "")),
            strategy=str(self.settings.get("strategy", "")),
            epochs=len(self.history),
            image_size=int(self.settings.get("image_size") or 0),
            map=_metric(self, "map"),
            f1_micro=_metric(self, "f1_micro"),
            f1_macro=_metric(self, "f1_macro"),
            wall_s=self.wall_s,
            disk_bytes=self.disk_bytes,
            starred=self.starred,
            parent=self.parent,
            device=self.device,
            origin=self.origin,
            has_model=self.model_file is not None,
            pid=self.pid,
            host=self.host,
        )


def _metric(record: RunRecord, name: str) -> float | None:
    """The final metric, or the latest epoch's while the run is still going."""
    value = record.metrics.get(name)
    if value is None and record.history:
        value = getattr(record.history[-1], name, None)
    return None if value is None else float(value)
