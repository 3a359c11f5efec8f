"""The per-layout readers behind core.data.datasets: they list images and labels, report
problems with rows and files, and leave image decoding to the caller."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.base import limits
from core.base.errors import shorten
from core.base.limits import loads_json
from core.data.csv_labels import CsvLabels, CsvRow, drop_duplicates, parse_labels
from core.data.image_check import is_image_file, resolve_image
from core.data.types import IMAGE_SUFFIXES, DataError, ValidationReport

SPLIT_FOLDERS = (
    ("train", ("train",)),
    ("val", ("val", "valid", "validation")),
    ("test", ("test",)),
)
CSV_SUFFIXES = (".csv", ".tsv")
# Reading stops once this many listed images are missing and they outnumber those found:
# a label file of a million rows beside no images must not take minutes to refuse.
MAX_MISSING = 1000
LAYOUTS_HELP = (
    "Supported layouts: a folder with train/metadata.csv (and optional val/ and test/); "
    "a CSV file naming the images with 0/1 label columns or a column of labels; "
    "a Create ML JSON file; or a folder with one subfolder of images per label."
)


@dataclass
class Item:
    path: Path
    labels: list[str]


@dataclass
class Options:
    label_column: str | None
    delimiter: str | None
    images_dir: Path | None
    prefer_onehot: bool = False  # 0/1 columns win even next to a text 'labels' column


@dataclass
class Raw:
    """What a reader found, before image checks."""

    root: Path
    label_names: list[str]
    splits: dict[str, list[Item]]


def relative_name(path: Path, root: Path) -> str:
    """``path`` as shown in problems: relative to the data set root where possible."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _read_folders(root: Path, report: ValidationReport, options: Options) -> Raw:
    tables: dict[str, tuple[Path, str, CsvLabels]] = {}
    for split, folder in _split_folders(root):
        csv_path = folder / "metadata.csv"
        rel = f"{folder.name}/metadata.csv"
        if has_label_file(csv_path, rel):
            table = parse_labels(
                csv_path,
                rel,
                report,
                label_column=options.label_column,
                delimiter=options.delimiter,
                prefer_onehot=True,
            )
            tables[split] = (folder, rel, table)
        elif split == "train":
            raise DataError(f"{root} has no train/metadata.csv. {LAYOUTS_HELP}")
        else:
            advice = "; val is split off train instead" if split == "val" else ""
            message = f"has no metadata.csv, so it is ignored{advice}. Add one to use it."
            report.add("warning", f"{folder.name}/", message)
    names = _shared_labels(tables)
    splits = {
        split: _resolve_rows(
            table.rows, [folder], root, report, lambda n, rel=rel: f"{rel} row {n}"
        )
        for split, (folder, rel, table) in tables.items()
    }
    return Raw(root, names, splits)


def has_label_file(path: Path, rel: str) -> bool:
    """Whether `path` exists; a DataError if it is there but no regular file to read."""
    if not os.path.lexists(path):
        return False
    if not path.is_file():  # a FIFO or device would block or never end; a link loop fails
        raise DataError(
            f"{rel} is not a regular file (a pipe, a device, or a broken or looping link); "
            "make it a CSV file."
        )
    return True


def _split_folders(root: Path) -> Iterator[tuple[str, Path]]:
    for split, names in SPLIT_FOLDERS:
        folder = next((root / name for name in names if (root / name).is_dir()), None)
        if folder is not None:
            yield split, folder


def _shared_labels(tables: dict[str, tuple[Path, str, CsvLabels]]) -> list[str]:
    """Train's label columns, which every other split must repeat."""
    train_names = tables["train"][2].label_names
    if any(table.mode != "onehot" for _, _, table in tables.values()):
        return sorted({name for _, _, table in tables.values() for name in table.label_names})
    for _, rel, table in tables.values():
        missing = [n for n in train_names if n not in table.label_names]
        extra = [n for n in table.label_names if n not in train_names]
        if missing or extra:
            raise DataError(
                f"The label columns of {rel} differ from train/metadata.csv "
                f"(missing: {', '.join(missing) or 'none'}; extra: {', '.join(extra) or 'none'})."
                " Every metadata.csv needs the same 0/1 columns."
            )
    return list(train_names)


def _resolve_rows(
    rows: list[CsvRow],
    folders: list[Path],
    root: Path,
    report: ValidationReport,
    where: Callable[[int], str],
) -> list[Item]:
    items: list[Item] = []
    missing = 0
    for row in rows:
        problem = _name_problem(row.ident)
        path = None if problem else resolve_image(row.ident, folders)
        if path is None:
            message = problem or _not_found(row.ident, folders, root)
            report.add("error", where(row.row), f"{message} Add the file or fix the name; skipped.")
            missing += 1
            if missing >= MAX_MISSING and missing > len(items):
                raise _mostly_missing(missing, len(items), len(rows), where(row.row))
            continue
        items.append(Item(path, row.labels))
    return items


def _mostly_missing(missing: int, found: int, listed: int, last: str) -> DataError:
    return DataError(
        f"{missing:,} of the first {missing + found:,} images listed are missing (up to "
        f"{last}, of {listed:,} listed), so reading stopped there. Check that the images "
        "are in the data set folder (or give the images folder)."
    )


_NAME_MAX, _PATH_MAX = 250, 4000  # bytes; the OS limits are 255 and 4096 on most systems


def _name_problem(ident: str) -> str | None:
    """Why `ident` cannot name a file on any usual file system, or None."""
    shown = shorten(repr(ident), 80)
    if "\x00" in ident:
        return f"image name {shown} holds a NUL character, which no file name can."
    encoded = os.fsencode(ident)
    parts = encoded.replace(b"\\", b"/").split(b"/")
    if len(encoded) > _PATH_MAX or max(len(part) for part in parts) > _NAME_MAX:
        return f"image name {shown} is too long for a file name ({len(ident):,} characters)."
    return None


def _not_found(ident: str, folders: list[Path], root: Path) -> str:
    looked = relative_name(folders[0] / ident, root) if folders else ident
    if not Path(ident).suffix:
        looked += " with " + ", ".join(IMAGE_SUFFIXES)
    return f"image {shorten(repr(ident), 120)} not found (looked for {shorten(looked, 200)})."


def _read_csv(root: Path, report: ValidationReport, options: Options) -> Raw:
    csv_path = root if root.is_file() else _single_file(root, CSV_SUFFIXES, "CSV")
    base = csv_path.parent
    rel = csv_path.name
    table = parse_labels(
        csv_path,
        rel,
        report,
        label_column=options.label_column,
        delimiter=options.delimiter,
        prefer_onehot=options.prefer_onehot,
    )
    folders = _image_folders(base, options.images_dir)
    items = _resolve_rows(table.rows, folders, base, report, lambda n: f"{rel} row {n}")
    return Raw(base, table.label_names, {"train": items})


def _image_folders(base: Path, images_dir: Path | None) -> list[Path]:
    if images_dir is not None:
        if not limits.is_dir(images_dir):
            raise DataError(f"The images folder {shorten(str(images_dir), 300)} does not exist.")
        return [images_dir]
    return [folder for folder in (base / "images", base) if folder.is_dir()]


def files_in(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()
    )


def _single_file(folder: Path, suffixes: tuple[str, ...], kind: str) -> Path:
    found = files_in(folder, suffixes)
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(f"{folder} has no {kind} file. {LAYOUTS_HELP}")
    names = ", ".join(p.name for p in found)
    raise DataError(f"{folder} holds several {kind} files ({names}); choose one of them.")


def _read_createml(root: Path, report: ValidationReport, options: Options) -> Raw:
    json_path = root if root.is_file() else _single_file(root, (".json",), "JSON")
    base, rel = json_path.parent, json_path.name
    rows: list[CsvRow] = []
    for number, entry in enumerate(_load_json_list(json_path, rel), start=1):
        try:
            image, labels = _createml_entry(entry)
        except ValueError as exc:
            report.add("error", f"{rel} entry {number}", f"{exc}; the entry is skipped.")
            continue
        rows.append(CsvRow(number, image, labels))
    rows = drop_duplicates(rows, rel, report, unit="entry")
    names = list(dict.fromkeys(label for row in rows for label in row.labels))
    folders = _image_folders(base, options.images_dir)
    items = _resolve_rows(rows, folders, base, report, lambda n: f"{rel} entry {n}")
    return Raw(base, names, {"train": items})


def _load_json_list(path: Path, rel: str) -> list:
    try:
        data = loads_json(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise DataError(f"Cannot read {rel}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{rel} is not UTF-8 text; save it as UTF-8 JSON.") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{rel} is not valid JSON ({exc}).") from exc
    except ValueError as exc:  # too deep, NaN, a number thousands of digits long
        raise DataError(f"{rel} cannot be used as a Create ML file: {exc}.") from exc
    if not isinstance(data, list):
        raise DataError(
            f"{rel} is not a Create ML multi-label file: expected a list such as "
            '[{"image": "a.jpg", "annotations": ["Drama"]}].'
        )
    return data


def _createml_entry(entry: object) -> tuple[str, list[str]]:
    """(image, labels) of one Create ML entry; ValueError saying what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError("expected an object with 'image' and 'annotations'")
    image = entry.get("image", entry.get("imagefilename"))
    if not isinstance(image, str) or not image.strip():
        raise ValueError("has no 'image' file name")
    key = next((k for k in ("annotations", "annotation", "labels", "label") if k in entry), None)
    raw = entry.get(key) if key else None
    values = [] if raw is None else [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list):
        raise ValueError(f"'{key}' must be a list of label names")
    # Object-detection files hold {"label": ...} objects; their labels still apply.
    labels = [v.get("label") if isinstance(v, dict) else v for v in values]
    if not all(isinstance(label, str) for label in labels):
        raise ValueError(f"'{key}' must hold label names (text) only")
    return image.strip(), list(dict.fromkeys(label.strip() for label in labels if label.strip()))


def _read_label_folders(root: Path, report: ValidationReport, options: Options) -> Raw:
    if not root.is_dir():
        raise DataError(f"{root} is a file; label folders need a folder. {LAYOUTS_HELP}")
    has_splits = is_label_tree(root / "train")
    split_roots = dict(_split_folders(root)) if has_splits else {"train": root}
    splits = {name: _label_tree_items(folder, root, report) for name, folder in split_roots.items()}
    names = sorted({label for items in splits.values() for i in items for label in i.labels})
    return Raw(root, names, splits)


def _label_tree_items(folder: Path, root: Path, report: ValidationReport) -> list[Item]:
    items: dict[str, Item] = {}
    ignored = 0
    for label, files in _label_tree_files(folder):
        for file in files:
            if not is_image_file(file):
                ignored += not file.name.startswith(".")
                continue
            item = items.setdefault(file.name, Item(file, []))
            if label is not None and label not in item.labels:
                item.labels.append(label)
    if ignored:
        where = relative_name(folder, root) + "/" if folder != root else "./"
        kinds = "/".join(IMAGE_SUFFIXES)
        report.add("warning", where, f"{ignored} entries that are not {kinds} images were ignored.")
    return list(items.values())


def _label_tree_files(folder: Path) -> Iterator[tuple[str | None, list[Path]]]:
    """(label or None for the folder's own files, files), label folders alphabetically."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    yield None, [p for p in entries if p.is_file()]
    for sub in entries:
        if sub.is_dir():
            yield sub.name, sorted(sub.iterdir())


def is_label_tree(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    subs = (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return any(any(is_image_file(f) for f in sub.iterdir()) for sub in subs)


READERS: dict[str, Callable[[Path, ValidationReport, Options], Raw]] = {
    "folders": _read_folders,
    "csv": _read_csv,
    "createml": _read_createml,
    "labelfolders": _read_label_folders,
}
