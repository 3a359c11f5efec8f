"""How `marquee runs ...` prints runs: the list table, one run, a comparison."""

from __future__ import annotations

from core.runs import RunComparison, RunRecord, RunSummary, format_bytes

LIST_COLUMNS = (
    "id", "date", "data set", "backbone", "strategy", "epochs", "size",
    "mAP", "F1", "time", "disk", "star", "status",
)  # fmt: skip


def runs_table(runs: list[RunSummary]) -> str:
    """The `runs list` table: newest first, one row a run."""
    rows = [LIST_COLUMNS, *(_list_row(run) for run in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(LIST_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _list_row(run: RunSummary) -> tuple[str, ...]:
    return (
        run.id,
        local_time(run.started),
        run.dataset[:24],
        run.backbone,
        run.strategy,
        str(run.epochs),
        str(run.image_size or ""),
        _score(run.map),
        _score(run.f1_micro),
        duration(run.wall_s),
        format_bytes(run.disk_bytes) if run.disk_bytes else "",
        "*" if run.starred else "",
        run.status,
    )


def local_time(stamp: str) -> str:
    """An ISO time (UTC) as this machine's local time, to the minute."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp[:16]


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def duration(wall_s: float) -> str:
    seconds = round(wall_s)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def run_details(record: RunRecord) -> str:
    """`runs show`: what the run was, its data, its history and per-label metrics."""
    from core.cli.output import label_table, metrics_line

    s, data = record.settings, record.data
    lines = [
        f"run {record.id}  {record.status}  {'starred' if record.starred else ''}".rstrip(),
        f"started {local_time(record.started)}, {duration(record.wall_s)} "
        f"on {record.device or '?'} (Marquee {record.marquee_version}, {record.origin})",
        f"{s.get('backbone')} {s.get('strategy')}, {s.get('image_size')} px, lr {s.get('lr')}, "
        f"batch {s.get('batch_size')}, head {s.get('head')}, loss {s.get('loss')}, "
        f"seed {s.get('seed')}",
    ]
    if record.parent:
        lines.append(f"continued from run {record.parent} ({record.previous_epochs} epochs)")
    if record.error:
        lines.append(f"error: {record.error}")
    if data is not None:
        counts = ", ".join(f"{k} {v}" for k, v in data.counts.items())
        lines += [
            f"data {data.path} ({data.kind}): {counts}; fingerprint {data.fingerprint}, "
            f"fixes in force {data.fixes_applied} (log {data.fixes_revision or 'none'})",
            f"labels: {', '.join(record.labels)}",
        ]
    if record.history:
        lines.append("\nepoch  train loss  val loss    mAP   F1 micro  F1 macro")
        for e in record.history:
            lines.append(
                f"{e.epoch:>5}  {_num(e.train_loss):>10}  {_num(e.val_loss):>8}  "
                f"{_num(e.map):>5}  {_num(e.f1_micro):>8}  {_num(e.f1_macro):>8}"
            )
    if record.metrics:
        lines.append(f"\nfinal: {metrics_line(dict(record.metrics))} (F1 at tuned thresholds)")
    if record.per_label:
        lines.append(label_table(list(record.per_label)))
    if record.model_file:
        lines.append(f"\nmodel: {record.model_file} ({format_bytes(record.disk_bytes)} in all)")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def comparison_text(comparison: RunComparison) -> str:
    """`runs compare`: the settings that differ, the data, metric deltas (vs the first)."""
    ids = comparison.runs
    lines = [f"runs: {ids[0]} (reference), {', '.join(ids[1:])}"]
    if comparison.settings:
        lines.append("settings that differ:")
        lines += [
            f"  {key}: {' | '.join(str(v) for v in values)}"
            for key, values in comparison.settings.items()
        ]
    else:
        lines.append("settings: the same")
    lines.append("data: the same" if comparison.same_data else "data: different")
    for change in comparison.data_changes:
        if not change.same_data:
            lines.append(
                f"  {change.run}: {change.images_added} images added, {change.images_removed} "
                f"removed, {change.labels_changed} with changed labels"
                f"{', image files changed' if change.files_changed else ''} (fix log "
                f"{change.fixes_revision[0] or 'none'} -> {change.fixes_revision[1] or 'none'})"
            )
    lines.append(_delta_table("metric", ids, comparison.metrics, comparison.metric_deltas))
    if comparison.per_label_ap:
        lines.append(
            _delta_table("label AP", ids, comparison.per_label_ap, comparison.per_label_deltas)
        )
    return "\n".join(lines)


def _delta_table(title: str, ids: tuple[str, ...], values: dict, deltas: dict) -> str:
    """One row per metric (or label): each run's value, and its delta to the first run."""
    width = max([len(title), *(len(k) for k in values)])
    rows = [f"{title:<{width}}  " + "  ".join(f"{run_id:>22}" for run_id in ids)]
    for key, row in values.items():
        cells = []
        for i, (value, delta) in enumerate(zip(row, deltas[key], strict=True)):
            shown = _num(value)
            if i and delta is not None:
                shown += f" ({delta:+.4f})"
            cells.append(f"{shown:>22}")
        rows.append(f"{key:<{width}}  " + "  ".join(cells))
    return "\n".join(rows)
