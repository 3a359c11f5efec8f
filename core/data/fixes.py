"""The fix log: a data set's decisions (label fixes, dropped duplicates or strays, added
images), kept beside Marquee's own files and applied whenever the data set loads.

The user's images and label files are never touched. The log of the data set at the
resolved path P lives in ``<data dir>/fixes/<P's name>-<hash of P>.json`` (``data dir``:
core.base.paths.data_dir, MARQUEE_HOME/data in tests), so read-only data folders work.
Every change is written atomically; ``undo`` takes back the last decision. Files are
named relative to the data set's folder (the CSV's or JSON's folder for those layouts),
with forward slashes; an added image is named by its absolute path.

The document: ``{"format": 1, "dataset": P, "decisions": [{"kind", "file", ...}]}``.
Kinds: ``set_label`` (label, value: the label's new 0/1 value), ``keep_label`` (label:
reviewed, left as given), ``drop`` (reason: "duplicate" / "stray" / ...), ``keep`` (other:
a duplicate pair, both kept; or a stray kept), ``add`` (labels, split: a newly labelled
image). The last decision about the same thing wins.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from core.base.errors import DataError
from core.base.files import write_text
from core.base.paths import data_dir
from core.data.types import Dataset, LabeledImages

FIXES_FORMAT = 1
KINDS = ("set_label", "keep_label", "drop", "keep", "add")
CHANGES = ("set_label", "drop", "add")  # the kinds that change what loads


@dataclass(frozen=True)
class Decision:
    """One decision about one image (see the module docstring for the kinds)."""

    kind: str
    file: str
    label: str | None = None
    value: int | None = None
    other: str | None = None
    labels: tuple[str, ...] = ()
    split: str = "train"
    reason: str = ""
    at: str = ""

    @property
    def key(self) -> tuple:
        """What the decision is about: a later one with the same key replaces it."""
        if self.kind in ("set_label", "keep_label"):
            return ("label", self.file, self.label)
        if self.kind == "keep" and self.other is not None:
            return ("pair", *sorted((self.file, self.other)))
        return ("file", self.file)


@dataclass
class FixLog:
    """A data set's decisions, in the order they were made (see the module docstring)."""

    dataset: Path
    path: Path
    decisions: list[Decision] = field(default_factory=list)

    @classmethod
    def for_dataset(cls, dataset_path: str | Path) -> FixLog:
        """The log of the data set at `dataset_path` (empty when none was written)."""
        resolved = Path(dataset_path).expanduser().resolve()
        log = cls(resolved, sidecar_path(resolved))
        if log.path.is_file():
            log.decisions = _read(log.path)
        return log

    def record(self, *decisions: Decision, save: bool = True) -> None:
        """Append decisions (time-stamped) and save the log atomically."""
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        for decision in decisions:
            if decision.kind not in KINDS:
                raise ValueError(f"unknown decision kind {decision.kind!r}")
            self.decisions.append(replace(decision, at=decision.at or stamp))
        if save:
            self.save()

    def undo(self, count: int = 1) -> list[Decision]:
        """Take back the last `count` decisions (saved); returns them, latest first."""
        taken = [self.decisions.pop() for _ in range(min(count, len(self.decisions)))]
        if taken:
            self.save()
        return taken

    def clear(self) -> int:
        """Forget every decision; returns how many there were."""
        count = len(self.decisions)
        self.decisions = []
        self.save()
        return count

    def forget(self, kinds: set[str]) -> int:
        """Remove every decision of these kinds (written into the label files, say); saved.
        Returns how many went."""
        kept = [d for d in self.decisions if d.kind not in kinds]
        gone, self.decisions = len(self.decisions) - len(kept), kept
        self.save()
        return gone

    def save(self) -> None:
        document = {
            "format": FIXES_FORMAT,
            "dataset": str(self.dataset),
            "decisions": [_plain(d) for d in self.decisions],
        }
        write_text(self.path, json.dumps(document, indent=1) + "\n", "the data set's fix log")

    def current(self) -> dict[tuple, Decision]:
        """The decision in force for each key (the last one made)."""
        return {decision.key: decision for decision in self.decisions}

    def dropped(self) -> set[str]:
        return {d.file for d in self.current().values() if d.kind == "drop"}

    def apply(self, dataset: Dataset) -> Dataset:
        """`dataset` with the decisions in force: labels set, images dropped or added.

        Decisions about files or labels the data set does not have are skipped (a warning
        in its report says how many).
        """
        # Dropping an added image replaced its `add` (same key): nothing is left to apply.
        added = {d.file for d in self.decisions if d.kind == "add"}
        current = [d for d in self.current().values() if not (d.kind == "drop" and d.file in added)]
        if not current:
            return dataset
        base = dataset_folder(self.dataset)
        applied = [0]
        parts = {
            name: part
            for name, part in (
                ("train", dataset.train),
                ("val", dataset.val),
                ("test", dataset.test),
            )
            if part is not None
        }
        # Added images first: a later label fix or drop may be about one of them.
        _add_images(parts, current, dataset.label_names, applied)
        splits = {
            name: _apply_split(part, current, base, dataset.label_names, applied)
            for name, part in parts.items()
        }
        skipped = sum(d.kind in CHANGES for d in current) - applied[0]
        if skipped:
            dataset.report.add(
                "warning",
                "fix log",
                f"{skipped} recorded decision(s) name files or labels this data set does "
                f"not have; they are skipped ({self.path}).",
            )
        return replace(
            dataset,
            train=splits["train"],
            val=splits["val"],
            test=splits.get("test"),
            fixes_applied=applied[0],
        )


def sidecar_path(dataset_path: Path) -> Path:
    """Where the fix log of the data set at (resolved) `dataset_path` is kept."""
    digest = hashlib.blake2b(str(dataset_path).encode(), digest_size=8).hexdigest()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", dataset_path.name)[:60] or "dataset"
    return data_dir() / "fixes" / f"{name}-{digest}.json"


def dataset_folder(dataset_path: Path) -> Path:
    """The folder files are named relative to: the data set's, or its label file's."""
    return dataset_path if dataset_path.is_dir() else dataset_path.parent


def relative_file(path: Path, base: Path) -> str:
    """`path` relative to `base` with forward slashes (absolute when outside it)."""
    try:
        return Path(path).resolve().relative_to(base).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def _apply_split(
    part: LabeledImages,
    current: list[Decision],
    base: Path,
    names: list[str],
    applied: list[int],
) -> LabeledImages:
    row_of = {relative_file(p, base): i for i, p in enumerate(part.paths)}
    labels = part.labels.copy()
    drop: set[int] = set()
    for d in current:
        row = row_of.get(d.file)
        if row is None or d.kind not in ("set_label", "drop"):
            continue
        if d.kind == "drop":
            drop.add(row)
        elif d.label in names:
            labels[row, names.index(d.label)] = float(bool(d.value))
        else:
            continue
        applied[0] += 1
    keep = [i for i in range(len(part)) if i not in drop]
    return LabeledImages([part.paths[i] for i in keep], labels[keep], list(part.label_names))


def _add_images(
    splits: dict[str, LabeledImages], current: list[Decision], names: list[str], applied: list[int]
) -> None:
    for d in current:
        if d.kind != "add":
            continue
        path = Path(d.file)
        part = splits.get(d.split)
        if part is None or not path.is_file() or path in part.paths:
            continue
        import numpy as np  # only here: the app's window imports this module, numpy waits

        row = np.array([[float(name in d.labels) for name in names]], dtype=np.float32)
        splits[d.split] = LabeledImages(
            [*part.paths, path], np.concatenate([part.labels, row]), list(part.label_names)
        )
        applied[0] += 1


def _plain(decision: Decision) -> dict:
    values = asdict(decision)
    values["labels"] = list(decision.labels)
    return {k: v for k, v in values.items() if v not in (None, "", [])}


def _read(path: Path) -> list[Decision]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries = document["decisions"]
        known = set(Decision.__dataclass_fields__)
        decisions = []
        for entry in entries:
            values = {k: v for k, v in entry.items() if k in known}
            values["labels"] = tuple(values.get("labels", ()))
            decisions.append(Decision(**values))
        return decisions
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise DataError(
            f"The fix log {path} cannot be read ({exc}).",
            "Move it away to start a new one (its decisions are then lost).",
        ) from exc


def apply_recorded_fixes(dataset: Dataset, dataset_path: Path) -> Dataset:
    """`dataset` with its fix log applied (what `load_dataset` does); an unreadable log
    becomes a warning in the data set's report and nothing is applied."""
    try:
        log = FixLog.for_dataset(dataset_path)
    except DataError as exc:
        dataset.report.add("warning", "fix log", str(exc))
        return dataset
    except OSError:  # no data folder can be made (a read-only home): nothing recorded
        return dataset
    return log.apply(dataset)
