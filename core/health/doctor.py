"""`run_doctor`: label issues, duplicates and leaks, and strays of a loaded data set.

A plain function for every front end: the CLI calls it directly, the app from a worker
thread. `progress(stage, done, total)` reports the stages ("decode", "embed", "folds",
"neighbours"); `should_stop()` is polled between batches and folds, and a stop raises
`core.base.errors.Cancelled`, as the training loop does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.base.errors import DataError
from core.base.runtime import torch_threads, training_threads
from core.data.datasets import Dataset
from core.data.fixes import FixLog
from core.health.confident import label_issues
from core.health.duplicates import find_duplicates
from core.health.embeddings import Embedded, doctor_config, embed_dataset
from core.health.neighbours import (
    Neighbourhood,
    neighbour_votes,
    neighbourhood,
    with_cropped_copies,
)
from core.health.oof import DEFAULT_MEMBERS, Member, out_of_fold
from core.health.outliers import find_outliers
from core.health.report import HealthReport, LabelIssue
from core.health.stacking import combined_probabilities
from core.health.thumbnails import fingerprints, small_images

Progress = Callable[[str, int, int], None]  # stage, done, total
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class DoctorOptions:
    """What `run_doctor` checks and how hard it looks."""

    folds: int = 5
    members: tuple[Member, ...] = DEFAULT_MEMBERS
    flip: bool = False  # also embed mirrored images (TTA) for the out-of-fold heads
    image_size: int = 224
    multi_stage: bool = True  # two-stage features (the CPU recipe); False: pooled only
    min_fingerprint: float = 0.985  # thumbnail correlation from which a pair is a duplicate
    min_cosine: float = 0.9  # centred-embedding cosine from which a pair is one
    min_aligned: float = 0.975  # a nearest neighbour's crop-aligned thumbnail correlation
    neighbours: int = 20  # for the kNN vote (strays use the nearest 5)
    knn_vote: bool = True  # add the neighbours' labels to the ensemble
    # How the heads and the kNN vote become one probability: "stacked" (a per-label
    # regression on both and the image's other labels, core.health.stacking) or "mean"
    # (their plain average: the ranking before, kept to compare in bench/bench_health.py)
    combine: str = "stacked"
    max_outliers: int = 50
    hide_decided: bool = True  # leave out what the fix log already decided
    threads: int | None = None


def run_doctor(
    dataset: Dataset,
    options: DoctorOptions | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> HealthReport:
    """Check `dataset` (as loaded, its fix log applied) and return what was found."""
    options = options or DoctorOptions()
    if len(dataset.train) + len(dataset.val) < 2 * options.folds:
        raise DataError(
            f"Checking labels needs at least {2 * options.folds} images; this data set has "
            f"{len(dataset.train) + len(dataset.val)}."
        )
    started = time.perf_counter()
    with torch_threads(options.threads or training_threads(keep_ui_core=False)):
        data, probs, near = _look(dataset, options, progress, should_stop)
    report = HealthReport(
        label_issues=_issues(data, probs),
        duplicates=find_duplicates(data, near),
        outliers=find_outliers(data, near, options.max_outliers),
    )
    if options.hide_decided and dataset.root is not None:
        report = without_decided(report, FixLog.for_dataset(dataset.root))
    report.summary = _summary(report, data, options, time.perf_counter() - started)
    return report


def _look(
    dataset: Dataset,
    options: DoctorOptions,
    progress: Progress | None,
    should_stop: ShouldStop | None,
) -> tuple[Embedded, np.ndarray, Neighbourhood]:
    """Embeddings, out-of-fold probabilities (heads, plus the kNN vote) and neighbours."""
    config = doctor_config(options.image_size, options.flip, multi_stage=options.multi_stage)
    data = embed_dataset(dataset, config, progress, should_stop)
    with torch_threads(1):  # milliseconds per head step: more threads only contend
        probs = out_of_fold(data, options.folds, options.members, progress)
    small = small_images(data.images, len(data))
    near = neighbourhood(
        data.features,
        fingerprints(small),
        options.neighbours,
        options.min_fingerprint,
        options.min_cosine,
        check=lambda: data.context.check_stop("looking for duplicates"),
        progress=lambda d, t: progress("neighbours", d, t) if progress else None,
    )
    near = with_cropped_copies(near, small, options.min_aligned)
    if options.knn_vote:
        probs = _combined(probs, neighbour_votes(near, data.targets), data.targets, options)
    return data, probs, near


def _combined(
    heads: np.ndarray, votes: np.ndarray, given: np.ndarray, options: DoctorOptions
) -> np.ndarray:
    if options.combine == "mean":
        return (heads + votes) / 2
    if options.combine != "stacked":
        raise ValueError(f"unknown combine {options.combine!r}; use 'stacked' or 'mean'")
    return combined_probabilities(heads, votes, given, options.folds, neighbours=options.neighbours)


def _issues(data: Embedded, probs) -> list[LabelIssue]:
    issues = []
    for flag in label_issues(probs, data.targets):
        ref = data.refs[flag.image]
        issues.append(
            LabelIssue(
                ref.file,
                ref.split,
                ref.row,
                data.label_names[flag.label],
                flag.given,
                1 - flag.given,
                round(flag.score, 4),
                round(flag.probability, 4),
            )
        )
    return issues


def without_decided(report: HealthReport, log: FixLog) -> HealthReport:
    """`report` less what `log` already decided (a label reviewed, a pair or stray kept)."""
    current = log.current()
    dropped = log.dropped()
    issues = [i for i in report.label_issues if ("label", i.file, i.label) not in current]
    dups = [
        d
        for d in report.duplicates
        if ("pair", *sorted(d.files)) not in current and not dropped & set(d.files)
    ]
    outliers = [o for o in report.outliers if ("file", o.file) not in current]
    return HealthReport(issues, dups, outliers, dict(report.summary))


def _summary(report: HealthReport, data: Embedded, options: DoctorOptions, seconds: float) -> dict:
    splits = {}
    for ref in data.refs:
        splits[ref.split] = splits.get(ref.split, 0) + 1
    return {
        "images": len(data),
        "splits": splits,
        "labels": list(data.label_names),
        "label_issues": len(report.label_issues),
        "duplicates": len(report.duplicates),
        "leaks": sum(1 for d in report.duplicates if d.cross_split),
        "exact_duplicates": sum(1 for d in report.duplicates if d.exact),
        "outliers": len(report.outliers),
        "folds": options.folds,
        "models": len(options.members),
        "flip_views": options.flip,
        "combine": options.combine if options.knn_vote else "heads",
        "seconds": round(seconds, 2),
    }
