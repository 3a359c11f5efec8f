"""Which runs to keep: the retention setting applied after each run, and `runs prune`.

Never removed: starred runs, runs still going and pinned runs (the model open in the
app, core.runs.pins, or ids the caller names). The setting also keeps the newest
`keep_last` runs and the best run (highest mAP) of each data set; then, while the runs
use more than `max_disk_gb`, the oldest runs that are neither starred, best nor live go.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.base.errors import ConfigError
from core.runs.files import write_durable
from core.runs.record import RunSummary

RETENTION_FILE = "retention.json"


@dataclass(frozen=True)
class RetentionPolicy:
    """The retention setting, kept in the runs folder so the app and the CLI share it."""

    enabled: bool = True
    keep_last: int = 30
    keep_best_per_dataset: bool = True
    max_disk_gb: float | None = 20.0  # None: no cap

    def validate(self) -> RetentionPolicy:
        if self.keep_last < 1:
            raise ConfigError("Keep at least 1 run (the retention setting's keep_last).")
        if self.max_disk_gb is not None and not self.max_disk_gb > 0:
            raise ConfigError("The runs' disk cap must be a positive number of GB.")
        return self

    def describe(self) -> str:
        if not self.enabled:
            return "off: every run is kept"
        best = " + the best run per data set" if self.keep_best_per_dataset else ""
        cap = f", at most {self.max_disk_gb:g} GB" if self.max_disk_gb else ""
        return f"starred + the last {self.keep_last} runs{best}{cap}"

    @classmethod
    def load(cls, root: Path) -> RetentionPolicy:
        """The saved setting (the default when none was saved or the file is damaged)."""
        try:
            data = json.loads((root / RETENTION_FILE).read_text(encoding="utf-8"))
            names = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in names}).validate()
        except (OSError, ValueError, TypeError, ConfigError):
            return cls()

    def save(self, root: Path) -> None:
        self.validate()
        write_durable(root / RETENTION_FILE, json.dumps(asdict(self), indent=1), "the setting")


def retention_removals(
    runs: list[RunSummary], policy: RetentionPolicy, pinned: Collection[str] = ()
) -> list[RunSummary]:
    """The runs `policy` removes from `runs` (newest first), oldest removals last; the
    ids in `pinned` are kept whatever the policy or the disk cap says."""
    if not policy.enabled:
        return []
    newest = _newest_first(runs)
    protected = set(pinned) | {r.id for r in newest if r.starred or r.status == "running"}
    if policy.keep_best_per_dataset:
        protected |= _best_per_dataset(newest)
    recent = {r.id for r in newest[: policy.keep_last]}
    doomed = [r for r in newest if r.id not in protected and r.id not in recent]
    if policy.max_disk_gb:
        cap = policy.max_disk_gb * 1e9
        kept = [r for r in newest if r not in doomed]
        total = sum(r.disk_bytes for r in kept)
        for run in reversed(kept):  # oldest first
            if total <= cap:
                break
            if run.id not in protected:
                doomed.append(run)
                total -= run.disk_bytes
    return doomed


def prune_removals(
    runs: list[RunSummary],
    keep: int,
    older_than_days: float | None = None,
    pinned: Collection[str] = (),
) -> list[RunSummary]:
    """`runs prune`: all but the starred, the live, the `pinned` and the newest `keep`
    runs (only those older than `older_than_days`, when given)."""
    if keep < 0:
        raise ConfigError("--keep needs 0 or more runs.")
    newest = _newest_first(runs)
    recent = {r.id for r in newest[:keep]}
    cutoff = None
    if older_than_days is not None:
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    return [
        r
        for r in newest
        if r.id not in recent
        and r.id not in pinned
        and not r.starred
        and r.status != "running"
        and (cutoff is None or _started(r) < cutoff)
    ]


def _newest_first(runs: list[RunSummary]) -> list[RunSummary]:
    return sorted(runs, key=lambda r: (r.started, r.id), reverse=True)


def _best_per_dataset(runs: list[RunSummary]) -> set[str]:
    best: dict[str, RunSummary] = {}
    for run in runs:
        if not run.has_model or run.map is None:
            continue
        key = run.dataset_path or run.dataset
        if key not in best or run.map > (best[key].map or 0.0):
            best[key] = run
    return {run.id for run in best.values()}


def _started(run: RunSummary) -> datetime:
    try:
        stamp = datetime.fromisoformat(run.started)
    except ValueError:
        return datetime.now(UTC)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
