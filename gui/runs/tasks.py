"""What the Runs page does off the UI thread: list, compare, star, trash and restore runs.

Plain functions over a `RunStore` (no Qt), run by the page's workers; the Qt-free parts of
the page can be tested without a window.
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gui.runs.compare import LabelDeltas, RunCurves
from gui.runs.table import RunRow
from gui.train.continuing import short_name

if TYPE_CHECKING:
    from core.runs import DataChange, RunComparison, RunRecord, RunStore, RunSummary

TRASH = ".trash"  # inside the runs folder; the index never lists it (not a run id)


def display_names(run_ids: list[str]) -> list[str]:
    """Short names, made longer where two runs started in the same minute."""
    names = [short_name(i) for i in run_ids]
    return [i[4:] if names.count(n) > 1 else n for i, n in zip(run_ids, names, strict=True)]


def row_from_summary(summary: RunSummary) -> RunRow:
    return RunRow(
        run_id=summary.id,
        started=summary.started,
        dataset=summary.dataset,
        backbone=summary.backbone,
        strategy=summary.strategy,
        epochs=summary.epochs,
        image_size=summary.image_size,
        map=summary.map,
        f1=summary.f1_macro,
        seconds=summary.wall_s,
        disk_bytes=summary.disk_bytes,
        starred=summary.starred,
        status=summary.status,
        has_model=summary.has_model,
        origin=summary.origin,
    )


def list_rows(store: RunStore) -> list[RunRow]:
    """Every stored run as a table row, newest first."""
    return [row_from_summary(s) for s in store.list()]


# ---------------------------------------------------------------------- comparing
@dataclass(frozen=True)
class ComparisonView:
    """What the compare panel draws for the selected runs (in selection order)."""

    curves: list[RunCurves]
    deltas: list[LabelDeltas]
    differences_html: str


def run_curves(record: RunRecord, name: str, colour: str) -> RunCurves:
    history = record.history
    return RunCurves(
        name=name,
        colour=colour,
        epochs=[float(e.epoch) for e in history],  # counted on from the parent's epochs
        series={
            "val_loss": [e.val_loss for e in history],
            "map": [e.map for e in history],
            "f1": [e.f1_macro for e in history],
        },
    )


def label_deltas(
    comparison: RunComparison, names: list[str], colours: list[str]
) -> list[LabelDeltas]:
    """Per-label final AP of every run after the first, minus the first run's."""
    return [
        LabelDeltas(
            names[position],
            colours[position],
            {label: deltas[position] for label, deltas in comparison.per_label_deltas.items()},
        )
        for position in range(1, len(comparison.runs))
    ]


def compare_view(store: RunStore, run_ids: list[str], colours: list[str]) -> ComparisonView:
    """Load the selected runs and say how they differ (reads every record: a worker's job)."""
    from core.runs import compare_runs

    records = [store.load(run_id) for run_id in run_ids]
    comparison = compare_runs(records)
    names = display_names(run_ids)
    return ComparisonView(
        curves=[run_curves(r, n, c) for r, n, c in zip(records, names, colours, strict=True)],
        deltas=label_deltas(comparison, names, colours),
        differences_html=differences_html(comparison, lineage_lines(records, names)),
    )


def selection_view(store: RunStore, run_ids: list[str], colours: list[str]) -> ComparisonView:
    """What the panel below the table draws: one run alone, or two or more compared."""
    if len(run_ids) == 1:
        return single_run_view(store, run_ids[0], colours[0])
    return compare_view(store, run_ids, colours)


def single_run_view(store: RunStore, run_id: str, colour: str) -> ComparisonView:
    """One selected run: its own curves, and its settings and result in words."""
    record = store.load(run_id)
    name = display_names([run_id])[0]
    settings = record.settings
    facts = [
        f"{name}: {record.status}, mAP {record.metrics.get('map') or 0:.3f}, "
        f"F1 {record.metrics.get('f1_macro') or 0:.3f}",
        f"{settings.get('backbone', '?')}, {settings.get('strategy', '?')}, "
        f"{settings.get('image_size', '?')} px, {len(record.history)} epochs",
    ]
    if record.parent:
        facts.append(f"continued {short_name(record.parent)} (from its epoch "
                     f"{record.previous_epochs})")  # fmt: skip
    return ComparisonView(
        curves=[run_curves(record, name, colour)], deltas=[], differences_html=html_list(facts)
    )


def lineage_lines(records: list[RunRecord], names: list[str]) -> list[str]:
    """Which of the compared runs continued which (Train more, --init-from)."""
    name_of = {r.id: name for r, name in zip(records, names, strict=True)}
    return [
        f"{name_of[r.id]} continued {name_of[r.parent]} (from its epoch {r.previous_epochs})"
        for r in records
        if r.parent in name_of
    ]


def differences_html(comparison: RunComparison, extra: list[str] | None = None) -> str:
    """The comparison's metric, settings and data differences as a short HTML list."""
    return html_list(comparison_lines(comparison) + (extra or []))


def html_list(lines: list[str]) -> str:
    """Lines as the compare panel's bullet list (escaped)."""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"<ul style='margin-left:-24px'>{items}</ul>"


def comparison_lines(comparison: RunComparison) -> list[str]:
    names = display_names(list(comparison.runs))
    lines = [f"Runs: {' → '.join(names)} (deltas against {names[0]})"]
    for key, title in (("map", "mAP"), ("f1_macro", "F1")):
        values = comparison.metrics.get(key, [])
        if any(v is not None for v in values):
            lines.append(f"{title}: {_series(values, comparison.metric_deltas.get(key, []))}")
    for key, values in comparison.settings.items():
        lines.append(f"{key}: {' → '.join(_setting(v) for v in values)}")
    if len(comparison.settings) == 0:
        lines.append("Same settings.")
    if comparison.same_data:
        lines.append("Same data.")
    for change in [] if comparison.same_data else comparison.data_changes:
        name = names[comparison.runs.index(change.run)]
        lines.append(f"Data of {name}: {_data_change(change)}")
    return lines


def _series(values: list[float | None], deltas: list[float | None]) -> str:
    shown = " → ".join("–" if v is None else f"{v:.3f}" for v in values)
    last = deltas[-1] if deltas else None
    return shown + ("" if last is None or len(values) < 2 else f" ({last:+.3f})")


def _setting(value: object) -> str:
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
        return text if len(text) <= 40 else text[:39] + "…"
    return "–" if value is None else str(value)


def _data_change(change: DataChange) -> str:
    if change.same_data:
        return "the same."
    parts = [
        f"{change.images_added} images added" if change.images_added else "",
        f"{change.images_removed} removed" if change.images_removed else "",
        f"{change.labels_changed} relabelled" if change.labels_changed else "",
        "image files changed" if change.files_changed else "",
    ]
    before, after = change.fixes_revision
    if before != after:
        parts.append(f"fix log {before or 'none'} → {after or 'none'}")
    return ", ".join(p for p in parts if p) or "another data set."


# ---------------------------------------------------------------------- trash
def trash_run(store: RunStore, run_id: str) -> Path:
    """Move a run folder into the runs folder's trash (undo puts it back); returns where."""
    folder = store.folder(run_id)
    trash = store.root / TRASH
    trash.mkdir(exist_ok=True)
    target = trash / folder.name
    if target.exists():
        shutil.rmtree(target)
    folder.rename(target)  # same file system: instant, and the index no longer lists it
    return target


def restore_run(store: RunStore, trashed: Path) -> str:
    """Put a trashed run folder back; the next listing reads it again."""
    target = store.root / trashed.name
    trashed.rename(target)
    return trashed.name


def empty_trash(root: Path) -> int:
    """Delete what was trashed for good (on closing the app); returns the folders removed."""
    trash = root / TRASH
    if not trash.is_dir():
        return 0
    folders = [p for p in trash.iterdir() if p.is_dir()]
    shutil.rmtree(trash, ignore_errors=True)
    return len(folders)


def export_model(model_file: Path, out: Path) -> Path:
    """A copy of a run's model: the .safetensors file as it is, or as ONNX (by the suffix)."""
    if out.suffix.lower() == ".onnx":
        from core.inference.onnx_export import export_onnx

        return export_onnx(model_file, out)
    out = out if out.suffix == ".safetensors" else out.with_suffix(".safetensors")
    partial = out.with_name(out.name + ".partial")
    shutil.copyfile(model_file, partial)
    partial.replace(out)  # a reader never sees half a model
    return out


def run_caption(row: RunRow) -> str:
    """How a button names a run: "0412-1530 (mAP 0.948)"."""
    score = f" (mAP {row.map:.3f})" if row.map is not None else ""
    return f"{short_name(row.run_id)}{score}"
