"""The data identity of a run: counts, fingerprints and per-image label digests."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from core.data.fixes import FixLog
from core.data.types import Dataset, LabeledImages
from core.runs.record import DataIdentity

_DIGEST = 16  # bytes of blake2b for whole-set fingerprints
_ROW_DIGEST = 6  # bytes per image row: enough to tell a changed row among millions


def data_identity(dataset: Dataset, load_options: dict[str, Any] | None = None) -> DataIdentity:
    """The identity of `dataset` as loaded (fixes applied). Stats every image file once."""
    root = Path(dataset.root) if dataset.root is not None else None
    base = root.parent if root is not None and root.is_file() else root
    parts = {"train": dataset.train, "val": dataset.val}
    if dataset.test is not None:
        parts["test"] = dataset.test
    images: dict[str, str] = {}
    labels_hash = hashlib.blake2b(digest_size=_DIGEST)
    files_hash = hashlib.blake2b(digest_size=_DIGEST)
    labels_hash.update("\x1f".join(dataset.label_names).encode())
    for split, part in parts.items():
        for image_id, row, path in _rows(part, base):
            images[image_id] = row
            labels_hash.update(f"{split}\x1f{image_id}\x1f{row}\n".encode())
            files_hash.update(f"{image_id}\x1f{_file_stamp(path)}\n".encode())
    options = dict(load_options or {})
    options.setdefault("labels", list(dataset.label_names))
    return DataIdentity(
        path=str(root.resolve()) if root is not None else dataset.source,  # rerun from anywhere
        kind=_kind(dataset.source),
        counts={split: len(part) for split, part in parts.items()},
        labels_fingerprint=labels_hash.hexdigest(),
        files_fingerprint=files_hash.hexdigest(),
        fixes_revision=fixes_revision(root) if root is not None else "",
        fixes_applied=dataset.fixes_applied,
        images=images,
        load_options=options,
    )


def fixes_revision(dataset_path: Path) -> str:
    """The fix log in force: "<decisions>:<digest>" ("0:" when there is none)."""
    log = FixLog.for_dataset(dataset_path)
    if not log.decisions:
        return "0:"
    digest = hashlib.blake2b(digest_size=6)
    for decision in log.decisions:
        digest.update(repr(decision).encode())
    return f"{len(log.decisions)}:{digest.hexdigest()}"


def label_row_digest(names: list[str], row: Any) -> str:
    """A digest of one image's positive labels (by name, so label order does not matter)."""
    positives = sorted(name for name, value in zip(names, row, strict=True) if value >= 0.5)
    return hashlib.blake2b("|".join(positives).encode(), digest_size=_ROW_DIGEST).hexdigest()


def _rows(part: LabeledImages, base: Path | None) -> list[tuple[str, str, Path]]:
    names = list(part.label_names)
    return [
        (_image_id(Path(path), base), label_row_digest(names, part.labels[i]), Path(path))
        for i, path in enumerate(part.paths)
    ]


def _image_id(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _file_stamp(path: Path) -> str:
    try:
        info = os.stat(path)
    except OSError:
        return "missing"
    return f"{info.st_size}:{info.st_mtime_ns}"


def _kind(source: str) -> str:
    """The layout from Dataset.source ("<path> (<format>)")."""
    found = re.search(r"\((\w+)\)\s*$", source)
    return found.group(1) if found else ""
