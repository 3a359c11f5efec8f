"""A data set with its fix log applied, written out: as a new folder (export), or into its
own label files (write back, an explicit action: a timestamped backup first, then an
atomic replace, so a kill at any moment leaves the original or the new file, never less).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import DataError, OutputError, shorten
from core.base.files import replacing
from core.data.csv_edit import CsvText
from core.data.csv_labels import CsvLabels, parse_labels, sniff_separator, split_labels
from core.data.fixes import FixLog, dataset_folder, relative_file
from core.data.image_check import resolve_image
from core.data.seed_layout import write_metadata
from core.data.types import Dataset, LabeledImages, ValidationReport

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class WrittenBack:
    """One label file rewritten: where, its backup, and how many rows changed or went."""

    file: Path
    backup: Path
    changed: int
    removed: int


def export_corrected(dataset: Dataset, out: Path) -> Path:
    """Write `dataset` (as loaded: fixes applied) to a new seed-layout folder `out`:
    `<split>/metadata.csv` (Id, Genre, one 0/1 column per label) and the images."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise OutputError(f"{shorten(str(out), 200)} is not empty; give a new folder.")
    try:  # a fresh folder of our own: whatever else is beside `out` is left alone
        out.parent.mkdir(parents=True, exist_ok=True)
        temp = out.with_name(f".{out.name[:50]}.{uuid.uuid4().hex[:12]}.partial")
        temp.mkdir()
    except OSError as exc:
        raise OutputError(f"Cannot write {shorten(str(out), 200)}: {exc.strerror or exc}.") from exc
    try:
        for split in SPLITS:
            part = getattr(dataset, split)
            if part is not None and len(part):
                _export_split(part, temp / split)
        if out.exists():
            out.rmdir()
        os.replace(temp, out)
    except OSError as exc:
        raise OutputError(f"Cannot write {shorten(str(out), 200)}: {exc.strerror or exc}.") from exc
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return out


def _export_split(part: LabeledImages, folder: Path) -> None:
    folder.mkdir(parents=True)
    taken: set[str] = set()
    rows = []
    for path, labels in zip(part.paths, part.labels, strict=True):
        ident = path.stem
        while ident.lower() in taken:
            ident = f"{ident}_1"
        taken.add(ident.lower())
        shutil.copy2(path, folder / f"{ident}{path.suffix.lower()}")
        rows.append((ident, [n for n, v in zip(part.label_names, labels, strict=True) if v > 0.5]))
    write_metadata(folder / "metadata.csv", rows, part.label_names)


def write_back(dataset_path: Path, log: FixLog | None = None) -> list[WrittenBack]:
    """Put the fix log's label fixes and dropped images into the data set's own CSV
    label file(s) (the seed layout's metadata.csv files, or one CSV).

    Only the cells and rows the decisions change are edited: line endings, a BOM, the
    encoding, quoting, mode and owner stay as they were. A changed file is copied to
    `<name>.<YYYYmmdd-HHMMSS>.bak` beside it first, then replaced atomically; a file with
    nothing to change is left alone (and not returned). Written decisions leave the log
    (kept ones and added images stay).
    """
    root = Path(dataset_path).expanduser().resolve()
    log = log or FixLog.for_dataset(root)
    files = _label_files(root)
    snapshot = list(log.decisions)
    decisions = {d.key: d for d in snapshot}  # the decisions in force
    results = [_rewrite(path, dataset_folder(root), decisions) for path in files]
    # What was written leaves the log; a decision made meanwhile stays for the next time.
    log.discard([d for d in snapshot if d.kind in ("set_label", "drop")])
    return [written for written in results if written is not None]


def _label_files(root: Path) -> list[Path]:
    if root.is_file() and root.suffix.lower() in (".csv", ".tsv"):
        return [root]
    found = [root / s / "metadata.csv" for s in ("train", "val", "valid", "validation", "test")]
    found = [p for p in found if p.is_file()]
    if root.is_dir() and not found:
        found = sorted(p for p in root.iterdir() if p.suffix.lower() in (".csv", ".tsv"))[:1]
    if not found:
        raise DataError(
            f"{shorten(str(root), 200)}: write back works on CSV label files (the seed "
            "layout's metadata.csv, or one CSV); export a corrected copy instead."
        )
    return found


def _rewrite(path: Path, base: Path, decisions: dict) -> WrittenBack | None:
    """Edit only the cells and rows the decisions change; a file they do not change is
    left alone (no backup, no write)."""
    table = parse_labels(path, path.name, ValidationReport(), prefer_onehot=True)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else sniff_separator(path)
    text = CsvText.read(path, delimiter)
    header = text.records[0].values if text.records else []
    folders = [path.parent, path.parent / "images"]
    ident_of = {row.row: row.ident for row in table.rows}
    changed, removed = 0, 0
    for number, record in enumerate(text.records[1:], start=2):
        ident = ident_of.get(number)
        image = resolve_image(ident, folders) if ident is not None else None
        name = relative_file(image, base) if image is not None else None
        if name is None:
            continue
        gone = decisions.get(("file", name))
        if gone is not None and gone.kind == "drop":
            text.remove(record)
            removed += 1
            continue
        new = _fixed_cells(record.values, header, table, name, decisions)
        for column, (old, value) in enumerate(zip(record.values, new, strict=True)):
            if old != value:
                text.set_cell(record, column, value)
        changed += new != record.values
    if not text.edited:
        return None
    backup = _backup(path)
    text.save()
    return WrittenBack(path, backup, changed, removed)


def _fixed_cells(
    cells: list[str], header: list[str], table: CsvLabels, name: str, decisions: dict
) -> list[str]:
    cells = list(cells)
    for label in table.label_names:
        decision = decisions.get(("label", name, label))
        if decision is None or decision.kind != "set_label":
            continue
        if table.mode == "onehot" and label in header:
            cells[header.index(label)] = str(int(bool(decision.value)))
        elif table.label_column in header:
            cells[header.index(table.label_column)] = _relabel(
                cells[header.index(table.label_column)], label, bool(decision.value), table
            )
    return cells


def _relabel(cell: str, label: str, value: bool, table: CsvLabels) -> str:
    labels = [x for x in split_labels(cell, table.delimiter) if x != label]
    labels += [label] if value else []
    order = {name: i for i, name in enumerate(table.label_names)}
    joiner = table.delimiter if table.delimiter and table.delimiter.strip() else "|"
    return joiner.join(sorted(labels, key=lambda x: order.get(x, len(order))))


def _backup(path: Path) -> Path:
    """A byte-for-byte copy beside `path`, synced to disk before anything replaces it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    counter = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.{stamp}-{counter}.bak")
        counter += 1
    try:
        with replacing(backup, "the backup") as tmp:
            shutil.copyfile(path, tmp)
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
    except OSError as exc:
        raise OutputError(f"Cannot back up {path}: {exc.strerror or exc}.") from exc
    return backup
