"""The fix log: a data set's decisions (label fixes, dropped duplicates or strays, added
images), kept beside Marquee's own files and applied whenever the data set loads.

The user's images and label files are never touched. The log of the data set at the
resolved path P lives in ``<data dir>/fixes/<P's name>-<hash of P>.json`` (``data dir``:
core.base.paths.data_dir, MARQUEE_HOME/data in tests), so read-only data folders work.
Every change is written atomically and merged with what the file holds (one shared object
per data set in a process, a file lock between processes); ``undo`` takes back the last
decision. Files are
named relative to the data set's folder (the CSV's or JSON's folder for those layouts),
with forward slashes; an added image is named by the absolute path of its copy.

The document: ``{"format": 1, "dataset": P, "decisions": [{"kind", "file", ...}]}``.
Kinds: ``set_label`` (label, value: the label's new 0/1 value), ``keep_label`` (label:
reviewed, left as given), ``drop`` (reason: "duplicate" / "stray" / ...), ``keep`` (other:
a duplicate pair, both kept; or a stray kept), ``add`` (labels, split: a newly labelled
image, kept as a copy in the data set's managed folder; other: the file it came from).
The last decision about the same thing wins.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock
from filelock import Timeout as FileLockTimeout

from core.base.errors import DataError, OutputError
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


@dataclass(eq=False)
class FixLog:
    """A data set's decisions, in the order they were made (see the module docstring).

    One object per data set in a process (`for_dataset` hands out the same one), safe to
    use from several threads. A save merges: it reads the file (under a file lock, as
    another process may write it too), takes out what this object removed, appends what it
    added and writes the result, so two writers never undo each other's decisions.
    `record(..., save=False)` then `save()` later batches key presses into one write.
    """

    dataset: Path
    path: Path
    decisions: list[Decision] = field(default_factory=list)
    _added: list[Decision] = field(default_factory=list, repr=False)
    _removed: list[Decision] = field(default_factory=list, repr=False)
    _stamp: tuple[int, int] | None = field(default=None, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def for_dataset(cls, dataset_path: str | Path) -> FixLog:
        """The log of the data set at `dataset_path` (empty when none was written): the
        same object for every caller in this process, brought up to date with the file."""
        resolved = Path(dataset_path).expanduser().resolve()
        path = sidecar_path(resolved)
        with _shared_lock:
            log = _shared.get(path)
            if log is None:
                log = _shared[path] = cls(resolved, path)
        log.reload()
        return log

    @property
    def dirty(self) -> bool:
        """Whether decisions were recorded or taken back since the last save."""
        return bool(self._added or self._removed)

    def reload(self) -> None:
        """Take in what other writers saved (the unsaved changes here stay on top)."""
        with self._lock:
            stamp = _stamp_of(self.path)
            if stamp is not None and stamp != self._stamp:
                self.decisions = self._merged(_read(self.path))
                self._stamp = stamp

    def record(self, *decisions: Decision, save: bool = True) -> None:
        """Append decisions (time-stamped); saved unless `save` is False (call `save` later)."""
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            for decision in decisions:
                if decision.kind not in KINDS:
                    raise ValueError(f"unknown decision kind {decision.kind!r}")
                made = replace(decision, at=decision.at or stamp)
                self.decisions.append(made)
                self._added.append(made)
            if save:
                self.save()

    def undo(self, count: int = 1, save: bool = True) -> list[Decision]:
        """Take back the last `count` decisions (saved unless `save` is False); returns them,
        latest first."""
        with self._lock:
            taken = list(reversed(self.decisions[-count:])) if count > 0 else []
            self.discard(taken, save=save)
            return taken

    def clear(self) -> int:
        """Forget every decision; returns how many there were."""
        with self._lock:
            count = len(self.decisions)
            self.discard(list(self.decisions))
            return count

    def forget(self, kinds: set[str]) -> int:
        """Remove every decision of these kinds (written into the label files, say); saved.
        Returns how many went."""
        with self._lock:
            gone = [d for d in self.decisions if d.kind in kinds]
            self.discard(gone)
            return len(gone)

    def discard(self, decisions: list[Decision], save: bool = True) -> None:
        """Remove exactly these decisions (those a write-back used, say), not any made since."""
        with self._lock:
            for decision in decisions:
                if decision in self.decisions:
                    self.decisions.remove(decision)
                if decision in self._added:
                    self._added.remove(decision)
                else:
                    self._removed.append(decision)
            if save:
                self.save()

    def save(self) -> None:
        """Merge this object's changes into the file and write it atomically."""
        with self._lock, _file_lock(self.path):
            on_disk = _read(self.path) if self.path.is_file() else []
            merged = self._merged(on_disk)
            document = {
                "format": FIXES_FORMAT,
                "dataset": str(self.dataset),
                "decisions": [_plain(d) for d in merged],
            }
            write_text(self.path, json.dumps(document, indent=1) + "\n", "the data set's fix log")
            self.decisions, self._stamp = merged, _stamp_of(self.path)
            self._added, self._removed = [], []

    def _merged(self, on_disk: list[Decision]) -> list[Decision]:
        """`on_disk` less what this object removed, plus what it added (once each)."""
        removed = list(self._removed)
        merged = []
        for decision in on_disk:
            if decision in removed:
                removed.remove(decision)
            else:
                merged.append(decision)
        return merged + [d for d in self._added if d not in merged]

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


_shared: weakref.WeakValueDictionary[Path, FixLog] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def _stamp_of(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold the log's lock file: another process saving the same log waits for us."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock", timeout=30)
        lock.acquire()
    except (OSError, FileLockTimeout) as exc:
        raise OutputError(f"Cannot write the data set's fix log {path}: {exc}.") from exc
    try:
        yield
    finally:
        lock.release()


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
