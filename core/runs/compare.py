"""`compare_runs`: what differs between runs — settings, data, metrics overall and per label."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core.runs.record import METRIC_NAMES, RunRecord

# Settings that say where or how fast a run went, not what it learned.
_NOT_SETTINGS = frozenset({"device", "num_threads"})


@dataclass(frozen=True)
class DataChange:
    """How one run's data differs from the first run's."""

    run: str
    same_data: bool
    images_added: int
    images_removed: int
    labels_changed: int  # images in both whose positive labels differ (fixes, edits)
    files_changed: bool  # an image file's size or time differs
    fixes_revision: tuple[str, str]  # (first run's, this run's)
    examples: dict[str, list[str]] = field(default_factory=dict)  # a few ids per kind


@dataclass(frozen=True)
class RunComparison:
    """Several runs side by side; the first run is the reference for deltas."""

    runs: tuple[str, ...]
    settings: dict[str, list[Any]]  # only the settings that differ, one value per run
    same_data: bool
    data_changes: tuple[DataChange, ...]  # one per run after the first
    metrics: dict[str, list[float | None]]  # map, f1_micro, f1_macro, loss per run
    metric_deltas: dict[str, list[float | None]]  # each run minus the first
    per_label_ap: dict[str, list[float | None]]  # label -> AP per run
    per_label_deltas: dict[str, list[float | None]]

    def to_dict(self) -> dict:
        return asdict(self)


def compare_runs(records: list[RunRecord]) -> RunComparison:
    """Compare two or more runs (the first is the reference)."""
    if len(records) < 2:
        raise ValueError("compare_runs needs two or more runs")
    metrics = {name: [_number(r.metrics.get(name)) for r in records] for name in METRIC_NAMES}
    per_label = _per_label_ap(records)
    changes = tuple(_data_change(records[0], other) for other in records[1:])
    return RunComparison(
        runs=tuple(r.id for r in records),
        settings=_differing_settings(records),
        same_data=all(c.same_data for c in changes),
        data_changes=changes,
        metrics=metrics,
        metric_deltas={k: _deltas(v) for k, v in metrics.items()},
        per_label_ap=per_label,
        per_label_deltas={k: _deltas(v) for k, v in per_label.items()},
    )


def _differing_settings(records: list[RunRecord]) -> dict[str, list[Any]]:
    keys = sorted({k for r in records for k in r.settings} - _NOT_SETTINGS)
    differing: dict[str, list[Any]] = {}
    for key in keys:
        values = [r.settings.get(key) for r in records]
        if any(v != values[0] for v in values[1:]):
            differing[key] = values
    labels = [list(r.labels) for r in records]
    if any(v != labels[0] for v in labels[1:]):
        differing["labels"] = list(labels)
    return differing


def _data_change(first: RunRecord, other: RunRecord) -> DataChange:
    a, b = first.data, other.data
    if a is None or b is None:
        return DataChange(other.id, False, 0, 0, 0, True, ("", ""))
    added = sorted(set(b.images) - set(a.images))
    removed = sorted(set(a.images) - set(b.images))
    relabelled = sorted(i for i in set(a.images) & set(b.images) if a.images[i] != b.images[i])
    return DataChange(
        run=other.id,
        same_data=a.fingerprint == b.fingerprint and a.path == b.path,
        images_added=len(added),
        images_removed=len(removed),
        labels_changed=len(relabelled),
        files_changed=a.files_fingerprint != b.files_fingerprint,
        fixes_revision=(a.fixes_revision, b.fixes_revision),
        examples={"added": added[:5], "removed": removed[:5], "relabelled": relabelled[:5]},
    )


def _per_label_ap(records: list[RunRecord]) -> dict[str, list[float | None]]:
    names = list(dict.fromkeys(n for r in records for n in r.labels))
    tables = [{row.get("name"): row.get("ap") for row in r.per_label} for r in records]
    return {name: [_number(t.get(name)) for t in tables] for name in names}


def _deltas(values: list[float | None]) -> list[float | None]:
    first = values[0]
    return [None if v is None or first is None else v - first for v in values]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
