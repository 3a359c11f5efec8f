"""`RunStore`: the runs folder, its index, and what the CLI and the app do with runs."""

from __future__ import annotations

import builtins
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from core.base.errors import MarqueeError
from core.base.paths import runs_dir
from core.runs import index as run_index
from core.runs.files import folder_bytes, remove_folder, write_durable
from core.runs.pins import pinned_runs
from core.runs.record import RunRecord, RunSummary
from core.runs.retention import RetentionPolicy, prune_removals, retention_removals

log = logging.getLogger(__name__)

IMAGES_NAME = "images.json"
MODEL_NAME = "model.safetensors"


class RunNotFound(MarqueeError):
    """No run (or more than one) matches what the user named."""


@dataclass(frozen=True)
class Removal:
    """What a prune or the retention setting removed."""

    ids: tuple[str, ...]
    bytes_freed: int

    def describe(self) -> str:
        if not self.ids:
            return "no runs removed"
        what = "run" if len(self.ids) == 1 else "runs"
        return f"removed {len(self.ids)} {what}, {format_bytes(self.bytes_freed)} freed"


class RunStore:
    """The runs under `root` (default: the user's runs folder, MARQUEE_HOME/data/runs in
    tests). Every method reads the disk afresh; the index keeps listing fast."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else runs_dir()

    # ------------------------------------------------------------------ reading
    def list(self) -> list[RunSummary]:
        """Every run, newest first (a live run among them; half-created folders are not)."""
        self.root.mkdir(parents=True, exist_ok=True)
        rows = run_index.scan(self.root).rows.values()
        return sorted(rows, key=lambda r: (r.started, r.id), reverse=True)

    def load(self, ref: str) -> RunRecord:
        """The full record of the run `ref` names (see `resolve`), per-image data included."""
        run_id = self.resolve(ref)
        folder = self.folder(run_id)
        try:
            record = RunRecord.from_json((folder / run_index.RECORD_NAME).read_text("utf-8"))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise RunNotFound(f"The run {run_id} cannot be read ({exc}).") from exc
        if record.status == "running" and not run_index.process_alive((record.pid, record.host)):
            record = record.with_changes(status="failed", error="interrupted (killed)")
        return _with_images(record, folder / IMAGES_NAME)

    def resolve(self, ref: str) -> str:
        """The id `ref` names: an id, an unambiguous id prefix (or its last 4+ characters),
        `latest` or `best` (the highest mAP among runs with a model). RunNotFound says
        what matched."""
        ref = ref.strip()
        runs = self.list()
        if not runs:
            raise RunNotFound(f"There are no runs yet in {self.root}; train a model first.")
        if ref == "latest":
            return runs[0].id
        if ref == "best":
            scored = [r for r in runs if r.has_model and r.map is not None]
            if not scored:
                raise RunNotFound("No run has a model with a score yet.")
            return max(scored, key=lambda r: (r.map or 0.0, r.started)).id
        matches = (
            [r.id for r in runs if r.id == ref]
            or [r.id for r in runs if r.id.startswith(ref)]
            or [r.id for r in runs if len(ref) >= 4 and r.id.endswith(ref)]  # the random tail
        )
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunNotFound(f"No run matches '{ref}'; 'marquee runs list' shows the ids.")
        shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
        raise RunNotFound(f"'{ref}' matches {len(matches)} runs ({shown}); give more of the id.")

    def folder(self, run_id: str) -> Path:
        return self.root / run_id

    def model_path(self, ref: str) -> Path:
        """The model file of the run `ref` names; RunNotFound when it kept none."""
        record = self.load(ref)
        path = self.folder(record.id) / (record.model_file or MODEL_NAME)
        if record.model_file is None or not path.is_file():
            raise RunNotFound(f"The run {record.id} ({record.status}) has no model file.")
        return path

    def run_of_model(self, path: str | Path) -> str | None:
        """The id of the run whose folder holds the model file `path`, if any."""
        try:
            folder = Path(path).resolve().parent
            inside = folder.parent == self.root.resolve()
        except OSError:
            return None
        if inside and run_index.RUN_ID.match(folder.name):
            return folder.name
        return None

    # ------------------------------------------------------------------ changing
    def star(self, ref: str, on: bool = True) -> RunRecord:
        """Star (or unstar) a run: starred runs are never pruned nor removed by retention."""
        record = self.load(ref).with_changes(starred=on)
        return self.save_record(record, keep_star=False)

    def remove(self, ids: builtins.list[str]) -> int:
        """Remove these runs (ids or references); returns the bytes freed. A run still
        training is refused (RunNotFound names it): stop it first."""
        chosen = list(dict.fromkeys(self.resolve(ref) for ref in ids))
        live = {r.id for r in self.list() if r.status == "running"} & set(chosen)
        if live:
            raise RunNotFound(f"The run {sorted(live)[0]} is still training; stop it first.")
        freed = 0
        for run_id in chosen:
            freed += remove_folder(self.folder(run_id))
        self.list()  # brings the index up to date
        return freed

    def prune_plan(
        self, keep: int, older_than_days: float | None = None, pinned: Iterable[str | Path] = ()
    ) -> builtins.list[RunSummary]:
        return prune_removals(self.list(), keep, older_than_days, self.pinned(pinned))

    def prune(
        self, keep: int, older_than_days: float | None = None, pinned: Iterable[str | Path] = ()
    ) -> Removal:
        """Remove all but the starred, the live, the pinned and the newest `keep` runs."""
        plan = self.prune_plan(keep, older_than_days, pinned)
        return Removal(tuple(r.id for r in plan), self.remove([r.id for r in plan]) if plan else 0)

    def pinned(self, extra: Iterable[str | Path] = ()) -> set[str]:
        """The runs nothing prunes: those a running process pinned (the model open in the
        app, core.runs.pins) and `extra`, given as run ids or as model file paths."""
        ids = pinned_runs(self.root)
        for item in extra:
            run_id = self.run_of_model(item) if isinstance(item, Path) else item
            if run_id:
                ids.add(run_id)
        return ids

    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy.load(self.root)

    def apply_retention(
        self, policy: RetentionPolicy | None = None, pinned: Iterable[str | Path] = ()
    ) -> Removal:
        """Apply the retention setting (the saved one by default), keeping the pinned runs
        (see `pinned`); logs what it removed."""
        policy = policy or self.retention_policy()
        plan = retention_removals(self.list(), policy, self.pinned(pinned))
        removal = Removal(
            tuple(r.id for r in plan), self.remove([r.id for r in plan]) if plan else 0
        )
        if removal.ids:
            log.info("run retention (%s): %s", policy.describe(), removal.describe())
        return removal

    # ------------------------------------------------------------------ writing
    def new_id(self) -> str:
        """Create an empty folder for a new run and return its id (time-ordered)."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        while True:
            run_id = f"{stamp}-{secrets.token_hex(2)}"
            try:
                self.folder(run_id).mkdir()
            except FileExistsError:
                continue
            return run_id

    def save_record(self, record: RunRecord, keep_star: bool = True) -> RunRecord:
        """Write `record` durably (its per-image data once, beside it); with `keep_star`
        a star set meanwhile (by the app, say, while a run trains) is kept."""
        folder = self.folder(record.id)
        current = folder / run_index.RECORD_NAME
        if keep_star and not record.starred and _starred_on_disk(current):
            record = record.with_changes(starred=True)
        document = record.to_dict()
        data = document.get("data")
        if data and data.get("images"):
            images = folder / IMAGES_NAME
            if not images.exists():
                write_durable(images, json.dumps(data["images"], separators=(",", ":")))
            data["images"] = {}
        if record.status != "running":
            record = record.with_changes(disk_bytes=folder_bytes(folder))
            document["disk_bytes"] = record.disk_bytes
        write_durable(current, json.dumps(document, indent=1, allow_nan=False, default=str))
        return record


def _starred_on_disk(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("starred"))
    except (OSError, ValueError, AttributeError):
        return False


def _with_images(record: RunRecord, path: Path) -> RunRecord:
    if record.data is None or record.data.images:
        return record
    try:
        images = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return record
    return record.with_changes(data=replace(record.data, images=images))


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
