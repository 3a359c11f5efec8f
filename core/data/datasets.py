"""Reading and validating labelled image collections.

Layouts (``detect_format`` tells them apart; ``fmt`` overrides):

- ``"folders"``: ``train/metadata.csv`` with an ``Id`` column and one 0/1 column per
  label, images next to it; optional ``val/`` and ``test/`` alike.
- ``"csv"``: one CSV (0/1 columns, or one column of labels such as ``Drama|Romance``)
  plus its images, in the CSV's folder or an ``images/`` folder beside it.
- ``"createml"``: Create ML multi-label JSON, ``[{"image": ..., "annotations": [...]}]``.
- ``"labelfolders"``: one folder per label (``root/<label>/<image>``), optionally under
  ``train/`` and ``val/``; the same file name in several folders is one image with
  several labels; images directly in the root have no labels.

Problems with single items go into ``Dataset.report``: errors drop the item, warnings
keep it. ``labels=`` (or ``select_labels`` on a loaded data set) narrows it to chosen
labels, in the given order: every row is kept, even one left without positives. A data
set that cannot be used at all raises ``DataError``. When ``should_stop()`` returns True,
``load_dataset`` raises ``core.base.errors.Cancelled``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.base.errors import shorten
from core.base.limits import label_names_problem
from core.data.cache_known import decoded_before
from core.data.csv_labels import parse_labels
from core.data.fixes import apply_recorded_fixes
from core.data.image_check import check_images
from core.data.readers import (
    CSV_SUFFIXES,
    LAYOUTS_HELP,
    READERS,
    Item,
    Options,
    Raw,
    files_in,
    has_label_file,
    is_label_tree,
    relative_name,
)
from core.data.types import (
    IMAGE_SUFFIXES,
    Cancelled,
    CsvPreview,
    DataError,
    Dataset,
    LabeledImages,
    Problem,
    ValidationReport,
)

__all__ = [
    "FORMATS",
    "IMAGE_SUFFIXES",
    "Cancelled",
    "CsvPreview",
    "DataError",
    "Dataset",
    "LabeledImages",
    "Problem",
    "ValidationReport",
    "detect_format",
    "load_dataset",
    "preview_csv",
    "resolve_labels",
    "select_labels",
    "split_train_val",
]

FORMATS = ("folders", "csv", "createml", "labelfolders")
Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


def load_dataset(
    path: str | Path,
    *,
    fmt: str = "auto",
    label_column: str | None = None,
    delimiter: str | None = None,
    images_dir: str | Path | None = None,
    prefer_onehot: bool = False,
    labels: Sequence[str] | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    fixes: bool = True,
) -> Dataset:
    """Read, validate and split a data set; see the module docstring for layouts.

    ``label_column``/``delimiter`` force delimited labels in CSVs (a whitespace-only
    delimiter splits on any whitespace); ``prefer_onehot`` reads 0/1 columns even beside
    a text label column; ``images_dir`` overrides where CSV/JSON images live. ``labels``
    keeps only those labels, in that order (see ``select_labels``); an unknown name fails
    before any image is opened. Every image is fully decoded; ``progress(done, total)``
    follows that check. Without a val split, ``val_fraction`` of train is carved out
    (seeded, ``val_was_split``; the split does not depend on ``labels``). With ``fixes``
    the data set's fix log (core.data.fixes: label fixes, dropped and added images) applies.
    """
    if not 0 < val_fraction < 1:
        raise DataError("The validation fraction must be between 0 and 1.")
    root = _existing(path)
    fmt = detect_format(root) if fmt == "auto" else _known_format(fmt)
    extra = Path(images_dir).expanduser() if images_dir is not None else None
    report = ValidationReport()
    raw = READERS[fmt](root, report, Options(label_column, delimiter, extra, prefer_onehot))
    if not raw.label_names:
        detail = _problems_detail(report)
        raise DataError(f"No labels found in {root}: every image would be unlabelled.{detail}")
    _check_label_names(raw.label_names, root)  # before any image is decoded
    chosen = None if labels is None else resolve_labels(labels, raw.label_names)
    _drop_unreadable(raw, report, progress, should_stop)
    splits = {name: _to_images(items, raw.label_names) for name, items in raw.splits.items()}
    _require_images(splits["train"], root, report)
    train, val, was_split = _train_and_val(splits, val_fraction, seed)
    test = splits.get("test")
    _warn_empty(report, {"train": train, "val": val, "test": test}, was_split)
    names = list(raw.label_names)
    dataset = Dataset(train, val, test, names, report, f"{root} ({fmt})", was_split, root=root)
    dataset = apply_recorded_fixes(dataset, root) if fixes else dataset
    return select_labels(dataset, names if chosen is None else chosen)


def resolve_labels(chosen: Sequence[str], available: Sequence[str]) -> list[str]:
    """``chosen`` checked against ``available``: names stripped, repeats dropped, order kept.

    Raises one DataError naming every unknown label and listing the available ones.
    """
    names = list(dict.fromkeys(name.strip() for name in chosen if name.strip()))
    listing = f"Available labels: {', '.join(available)}."
    if not names:
        raise DataError(f"Choose at least one label. {listing}")
    unknown = [name for name in names if name not in available]
    if unknown:
        quoted = ", ".join(f"'{name}'" for name in unknown)
        which = "is not a label" if len(unknown) == 1 else "are not labels"
        advice = _suggest(unknown, available)
        raise DataError(f"{quoted} {which} of this data set.{advice}", listing)
    return names


def select_labels(dataset: Dataset, labels: Sequence[str]) -> Dataset:
    """The data set narrowed to ``labels`` (checked by ``resolve_labels``), in that order.

    Every image is kept, also one left with no positive label; the report's per-label
    warnings are redone for the chosen labels. ``all_label_names`` stays as it was.
    """
    names = resolve_labels(labels, dataset.label_names)
    columns = [dataset.label_names.index(name) for name in names]

    def narrow(part: LabeledImages) -> LabeledImages:
        return LabeledImages(list(part.paths), part.labels[:, columns], list(names))

    train, val = narrow(dataset.train), narrow(dataset.val)
    test = narrow(dataset.test) if dataset.test is not None else None
    report = ValidationReport([p for p in dataset.report.problems if p.label is None])
    _warn_missing_labels(report, {"train": train, "val": val, "test": test})
    return replace(
        dataset,
        train=train,
        val=val,
        test=test,
        label_names=names,
        report=report,
    )


def detect_format(path: str | Path) -> str:
    """The layout of ``path``, one of FORMATS; DataError when none fits."""
    root = _existing(path)
    if root.is_file():
        suffix = root.suffix.lower()
        if suffix in (*CSV_SUFFIXES, ".txt"):
            return "csv"
        if suffix == ".json":
            return "createml"
        raise DataError(f"{root.name} is neither a CSV nor a JSON file. {LAYOUTS_HELP}")
    if has_label_file(root / "train" / "metadata.csv", "train/metadata.csv"):
        return "folders"
    tables, jsons = files_in(root, CSV_SUFFIXES), files_in(root, (".json",))
    if len(tables) + len(jsons) == 1:
        return "csv" if tables else "createml"
    if is_label_tree(root) or is_label_tree(root / "train"):
        return "labelfolders"
    if tables or jsons:
        found = ", ".join(p.name for p in [*tables, *jsons])
        raise DataError(f"{root} holds several label files ({found}); choose one of them.")
    raise DataError(f"Cannot recognise the layout of {root}. {LAYOUTS_HELP}")


def preview_csv(
    csv_path: str | Path,
    *,
    label_column: str | None = None,
    delimiter: str | None = None,
    prefer_onehot: bool = False,
    rows: int = 20,
) -> CsvPreview:
    """How a CSV's labels would be read, without opening images (for a live preview).

    Raises DataError for a file load_dataset could not use; row problems are returned.
    """
    path = _existing(csv_path)
    report = ValidationReport()
    table = parse_labels(
        path,
        path.name,
        report,
        label_column=label_column,
        delimiter=delimiter,
        prefer_onehot=prefer_onehot,
    )
    return CsvPreview(
        columns=table.columns,
        id_column=table.id_column,
        mode=table.mode,
        label_column=table.label_column,
        delimiter=table.delimiter,
        label_names=table.label_names,
        rows=[(row.ident, list(row.labels)) for row in table.rows[:rows]],
        n_rows=len(table.rows),
        problems=report.problems,
    )


def split_train_val(
    labels: np.ndarray, val_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, val) row indices, each sorted.

    Rarest label first, every label with at least two positives gets one in val while
    train keeps at least one; the rest is filled in random order up to the fraction,
    sparing each label's last training example while other images are left.
    """
    n = len(labels)
    if n < 2:
        return np.arange(n), np.arange(0)
    target = min(n - 1, max(1, round(n * val_fraction)))
    order = np.random.default_rng(seed).permutation(n)
    positive = labels > 0.5
    totals = positive.sum(axis=0)
    train_positives = totals.copy()
    in_val = np.zeros(n, dtype=bool)

    def move(i: int, force: bool = False) -> bool:
        # Avoid taking the last training example of a label unless val would stay short.
        if in_val[i] or not (force or (train_positives[positive[i]] >= 2).all()):
            return False
        in_val[i] = True
        train_positives[positive[i]] -= 1
        return True

    for label in np.argsort(totals, kind="stable"):
        if totals[label] >= 2 and not positive[in_val, label].any():
            for i in order[positive[order, label]]:
                if move(i):
                    break
    moved = int(in_val.sum())
    for force in (False, True):
        for i in order:
            if moved >= target:
                break
            moved += move(i, force)
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


# --- pipeline -----------------------------------------------------------------------


def _existing(path: str | Path) -> Path:
    resolved = Path(path).expanduser()
    shown = shorten(str(resolved), 300)
    try:
        if not resolved.exists():
            raise DataError(f"{shown} does not exist.")
        if not (resolved.is_dir() or resolved.is_file()):
            raise DataError(
                f"{shown} is neither a folder nor a regular file (a device or a pipe?). "
                "Give a data set folder, a CSV or a JSON file."
            )
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission...
        reason = getattr(exc, "strerror", None) or str(exc)
        raise DataError(f"Cannot open {shown}: {reason}.") from exc
    return resolved


def _check_label_names(names: list[str], root: Path) -> None:
    problem = label_names_problem(names)
    if problem is not None:
        raise DataError(
            f"{shorten(str(root), 200)} has {problem}. Fix the label names (a label column "
            "or a folder name may hold something else), then try again."
        )


def _known_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise DataError(f"Unknown data set format '{fmt}'; use one of: {', '.join(FORMATS)}.")
    return fmt


def _drop_unreadable(
    raw: Raw, report: ValidationReport, progress: Progress | None, should_stop: ShouldStop | None
) -> None:
    paths = list(dict.fromkeys(item.path for items in raw.splits.values() for item in items))
    known = decoded_before(paths)  # the image cache decoded these, unchanged since
    unknown = [p for p in paths if p not in known]
    failures = check_images(unknown, progress=progress, should_stop=should_stop)
    for path in paths:
        if path in failures:
            message = f"The file {failures[path]}. Replace or delete it; it is skipped."
            report.add("error", relative_name(path, raw.root), message)
    for name, items in raw.splits.items():
        raw.splits[name] = [item for item in items if item.path not in failures]


def _to_images(items: list[Item], names: list[str]) -> LabeledImages:
    column = {name: j for j, name in enumerate(names)}
    labels = np.zeros((len(items), len(names)), dtype=np.float32)
    for i, item in enumerate(items):
        labels[i, [column[label] for label in item.labels]] = 1.0
    return LabeledImages([item.path for item in items], labels, list(names))


def _require_images(train: LabeledImages, root: Path, report: ValidationReport) -> None:
    if len(train):
        return
    raise DataError(f"No usable training images in {root}.{_problems_detail(report)}")


def _problems_detail(report: ValidationReport) -> str:
    errors = report.errors
    shown = "; ".join(str(p) for p in errors[:3])
    more = f" (and {len(errors) - 3} more problems)" if len(errors) > 3 else ""
    return f" Problems: {shown}{more}" if errors else ""


def _train_and_val(
    splits: dict[str, LabeledImages], val_fraction: float, seed: int
) -> tuple[LabeledImages, LabeledImages, bool]:
    train = splits["train"]
    if "val" in splits:
        return train, splits["val"], False
    train_idx, val_idx = split_train_val(train.labels, val_fraction, seed)
    return train.subset(train_idx), train.subset(val_idx), True


def _warn_empty(
    report: ValidationReport, splits: dict[str, LabeledImages | None], was_split: bool
) -> None:
    for name, images in splits.items():
        if images is not None and not len(images):
            report.add("warning", f"{name} split", _empty_advice(name, was_split))


def _warn_missing_labels(report: ValidationReport, splits: dict[str, LabeledImages | None]) -> None:
    for name, images in splits.items():
        if images is None or not len(images):
            continue
        consequence = (
            "the model cannot learn it; add images with it or remove the label"
            if name == "train"
            else "its metrics there will be n/a; add images with it"
        )
        for label, count in zip(images.label_names, images.positives(), strict=True):
            if count == 0:
                message = f"label '{label}' has no images: {consequence}."
                report.add("warning", f"{name} split", message, label=label)


def _suggest(unknown: list[str], available: Sequence[str]) -> str:
    by_lower = {name.lower(): name for name in available}
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
        if close:
            hints.append(f"'{by_lower[close[0]]}'" + (f" for '{name}'" if len(unknown) > 1 else ""))
    return f" Did you mean {', '.join(hints)}?" if hints else ""


def _empty_advice(name: str, was_split: bool) -> str:
    if was_split:
        return "has no images: too few images to set some aside for validation; add more."
    return f"has no usable images; add images to {name}/ or fix the problems reported for it."
