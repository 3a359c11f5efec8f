"""The data-health views' background jobs, as task functions (see gui.workers.TaskState).

Each wraps one core call (core.health, core.data.fixes, core.data.corrected) so that it runs
off the UI thread; heavy modules are imported inside the task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from gui.workers import Task, TaskState

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.data.fixes import Decision
    from core.health.doctor import DoctorOptions
    from core.health.report import HealthReport
    from core.health.suggest import Suggestions
    from core.inference.predictor import Predictor

# What the progress bar says for each of run_doctor's stages.
STAGES = {
    "decode": "Reading images",
    "embed": "Embedding images",
    "folds": "Training the out-of-fold checks",
    "neighbours": "Looking for duplicates and strays",
    "rank": "Ranking posters",
}


@dataclass(frozen=True)
class Loaded:
    """A data set as on disk (`raw`) and with its fix log applied (`dataset`)."""

    raw: Dataset
    dataset: Dataset


@dataclass(frozen=True)
class DoctorResult:
    """A report (nothing hidden: the view hides what the fix log decided) and, per file, the
    labels it was given, for showing "given vs suggested"."""

    report: HealthReport
    labels_of: dict[str, tuple[str, ...]]
    folder: Path


def stage_text(stage: str, done: int, total: int | None) -> str:
    name = STAGES.get(stage, stage.capitalize())
    return f"{name} {done} / {total}" if total else f"{name}…"


def describe(decision: Decision) -> str:
    """One line for the status: what a decision does."""
    name = Path(decision.file).name
    if decision.kind == "set_label":
        return f"{'add' if decision.value else 'remove'} {decision.label} on {name}"
    if decision.kind == "keep_label":
        return f"keep {decision.label} on {name} as given"
    if decision.kind == "drop":
        return f"drop {name} ({decision.reason or 'dropped'})"
    if decision.kind == "keep" and decision.other:
        return f"keep both {name} and {Path(decision.other).name}"
    if decision.kind == "add":
        return f"add {name} to training"
    return f"keep {name}"


def with_fixes(raw: Dataset) -> Dataset:
    """`raw` (loaded without its fix log) with the log as it is on disk now applied."""
    from core.data.datasets import select_labels
    from core.data.fixes import apply_recorded_fixes
    from core.data.types import ValidationReport

    if raw.root is None:
        return raw
    own = replace(raw, report=ValidationReport(list(raw.report.problems)))  # warnings added
    fixed = apply_recorded_fixes(own, raw.root)
    return select_labels(fixed, fixed.label_names)  # per-label warnings for the new counts


def fixes_task(raw: Dataset) -> Task:
    def task(state: TaskState) -> Dataset:
        return with_fixes(raw)

    return task


def doctor_task(dataset: Dataset, options: DoctorOptions | None) -> Task:
    """run_doctor on `dataset`, decided findings kept (the view hides them as it goes)."""

    def task(state: TaskState) -> DoctorResult:
        from core.data.fixes import dataset_folder, relative_file
        from core.health.doctor import DoctorOptions, run_doctor

        chosen = replace(options or DoctorOptions(), hide_decided=False)
        report = run_doctor(
            dataset,
            chosen,
            progress=lambda stage, done, total: state.progress(done, total, stage),
            should_stop=state.should_stop,
        )
        folder = dataset_folder(Path(dataset.root)) if dataset.root else Path()
        labels_of = {}
        for part in (dataset.train, dataset.val):
            for path, row in zip(part.paths, part.labels, strict=True):
                names = tuple(n for n, v in zip(part.label_names, row, strict=True) if v > 0.5)
                labels_of[relative_file(path, folder)] = names
        return DoctorResult(report, labels_of, folder)

    return task


def export_task(raw: Dataset, out: Path) -> Task:
    def task(state: TaskState) -> Path:
        from core.data.corrected import export_corrected

        return export_corrected(with_fixes(raw), out)

    return task


def write_back_task(root: Path) -> Task:
    """Write the fix log into the data set's label files; returns (files written, the
    decisions left in the log) so the UI thread can update its own copy of the log."""

    def task(state: TaskState) -> tuple[list, list]:
        from core.data.corrected import write_back
        from core.data.fixes import FixLog

        log = FixLog.for_dataset(root)
        written = write_back(root, log)
        return written, list(log.decisions)

    return task


def suggest_task(predictor: Predictor, folder: Path, known: Sequence[str] = ()) -> Task:
    """Rank the images of `folder` for labelling, leaving out those already added."""

    def task(state: TaskState) -> Suggestions:
        from core.health.suggest import suggest

        result = suggest(
            predictor,
            [folder],
            progress=lambda done, total: state.progress(done, total, "rank"),
            should_stop=state.should_stop,
        )
        seen = {str(Path(k).resolve()) for k in known}
        result.items = [s for s in result.items if str(Path(s.file).resolve()) not in seen]
        return result

    return task
