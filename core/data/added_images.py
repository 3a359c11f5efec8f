"""Images a user adds to a data set: copied into Marquee's own folder beside the fix log.

An added poster used to be kept by its absolute path, so deleting or moving the folder
it came from silently took it out of training. `add_images` copies each into the data
set's managed folder (``<fix log>.added/``, named by content, so adding the same file
twice keeps one copy) and records the copy; when the copy cannot be made nothing is
recorded and the error says so. A poster whose bytes are those of a validation image is
still added, with a warning: the next health check would report the pair as a leak.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import ImageDecodeError, shorten
from core.base.files import replacing
from core.data.cache_files import content_hash
from core.data.fixes import Decision, FixLog, dataset_folder, relative_file
from core.data.types import Dataset


@dataclass(frozen=True)
class Added:
    """What `add_images` recorded, and what the user should know about it."""

    decisions: list[Decision]
    warnings: list[str]


def managed_folder(log: FixLog) -> Path:
    """Where the data set's added images are kept (beside its fix log)."""
    return log.path.with_name(log.path.stem + ".added")


def adopt_image(log: FixLog, source: Path) -> Path:
    """A copy of `source` in the managed folder (made once per content); OutputError when
    it cannot be made."""
    digest = content_hash(str(source))
    target = managed_folder(log) / f"{digest}{source.suffix.lower()}"
    if target.is_file() and content_hash(str(target)) == digest:
        return target
    with replacing(target, f"a copy of {shorten(str(source), 200)}") as tmp:
        shutil.copyfile(source, tmp)
    return target


def add_images(
    log: FixLog,
    images: Sequence[Path],
    labels: tuple[str, ...],
    split: str,
    dataset: Dataset | None = None,
    save: bool = True,
) -> Added:
    """Copy `images` into the managed folder and record one `add` decision per copy
    (`other`: the file it was copied from), saved once unless `save` is false (a caller
    that debounces its saves). With `dataset`, warn about images that are already
    validation images."""
    decisions = [
        Decision(
            "add", str(adopt_image(log, Path(image))), other=str(image), labels=labels, split=split
        )
        for image in images
    ]
    warnings = validation_twins(images, dataset) if dataset is not None else []
    log.record(*decisions, save=save)
    return Added(decisions, warnings)


def validation_twins(images: Sequence[Path], dataset: Dataset) -> list[str]:
    """One warning per image whose bytes are those of a validation image."""
    if dataset.val is None or not len(dataset.val):
        return []
    val_by_content = {}
    for path in dataset.val.paths:
        with contextlib.suppress(ImageDecodeError):  # a file gone since loading: no twin
            val_by_content[content_hash(str(path))] = path
    base = dataset_folder(dataset.root) if dataset.root is not None else Path("/")
    warnings = []
    for image in images:
        twin = val_by_content.get(content_hash(str(image)))
        if twin is not None:
            warnings.append(
                f"{shorten(str(image), 200)} is the validation image "
                f"{relative_file(twin, base)}: training on it makes validation scores "
                "look better than they are (the next health check reports it as a leak)."
            )
    return warnings
