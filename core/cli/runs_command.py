"""`marquee runs list | show | compare | star | unstar | rm | prune | rerun | retention`."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

from core.base.errors import DataError, UsageError
from core.cli.console import print_json
from core.cli.output import say
from core.cli.runs_output import comparison_text, run_details, runs_table
from core.runs import RunRecord, RunStore, compare_runs, format_bytes


def run_runs(args: argparse.Namespace) -> int:
    handler = {
        "list": _list,
        "show": _show,
        "compare": _compare,
        "star": _star,
        "unstar": _star,
        "rm": _remove,
        "prune": _prune,
        "rerun": _rerun,
        "retention": _retention,
    }[args.runs_command]
    return handler(args, RunStore())


def _list(args: argparse.Namespace, store: RunStore) -> int:
    runs = store.list()
    if args.json:
        print_json({"runs": [run.to_dict() for run in runs]})
    elif not runs:
        print(f"no runs yet in {store.root}; 'marquee train' records one")
    else:
        print(runs_table(runs))
    return 0


def _show(args: argparse.Namespace, store: RunStore) -> int:
    record = store.load(args.run)
    if args.json:
        print_json(record.to_dict())
    else:
        print(run_details(record))
        print(f"folder: {store.folder(record.id)}")
    return 0


def _compare(args: argparse.Namespace, store: RunStore) -> int:
    if len(args.runs) < 2:
        raise UsageError("'marquee runs compare' needs two or more runs.")
    records = [store.load(ref) for ref in args.runs]
    comparison = compare_runs(records)
    if args.json:
        print_json(comparison.to_dict())
    else:
        print(comparison_text(comparison))
    return 0


def _star(args: argparse.Namespace, store: RunStore) -> int:
    on = args.runs_command == "star"
    record = store.star(args.run, on)
    print(f"run {record.id} {'starred' if on else 'unstarred'}")
    return 0


def _remove(args: argparse.Namespace, store: RunStore) -> int:
    ids = list(dict.fromkeys(store.resolve(ref) for ref in args.runs))
    freed = store.remove(ids)
    _removed(args, ids, freed)
    return 0


def _removed(args: argparse.Namespace, ids: list[str], freed: int) -> None:
    if args.json:
        print_json({"removed": ids, "bytes_freed": freed})
    else:
        print(f"removed {len(ids)} run(s), {format_bytes(freed)} freed")


def _prune(args: argparse.Namespace, store: RunStore) -> int:
    plan = store.prune_plan(args.keep, args.older_than)
    size = sum(run.disk_bytes for run in plan)
    if not args.yes:
        if args.json:
            print_json({"would_remove": [r.id for r in plan], "bytes": size, "removed": []})
            return 0
        for run in plan:
            print(f"would remove {run.id}  {run.dataset}  {run.backbone}  {run.status}")
        print(f"{len(plan)} run(s), {format_bytes(size)}; add --yes to remove them")
        return 0
    removal = store.prune(args.keep, args.older_than)
    _removed(args, list(removal.ids), removal.bytes_freed)
    return 0


def _retention(args: argparse.Namespace, store: RunStore) -> int:
    policy = store.retention_policy()
    changes: dict = {}
    if args.keep is not None:
        changes["keep_last"] = args.keep
    if args.best_per_dataset is not None:
        changes["keep_best_per_dataset"] = args.best_per_dataset
    if args.max_disk_gb is not None:
        changes["max_disk_gb"] = args.max_disk_gb
    if args.no_disk_cap:
        changes["max_disk_gb"] = None
    if args.off or args.on:
        changes["enabled"] = bool(args.on)
    if changes:
        policy = replace(policy, **changes)
        policy.save(store.root)
    if args.json:
        print_json(asdict(policy))
    else:
        print(f"retention after each run: {policy.describe()}")
    return 0


# ------------------------------------------------------------------ rerun
def _rerun(args: argparse.Namespace, store: RunStore) -> int:
    from core.base.config import TrainConfig
    from core.base.runtime import training_threads
    from core.cli.recording import train_and_record
    from core.training.loop import fit

    source = store.load(args.run)
    dataset = _same_data(source, args.anyway)
    config = TrainConfig.from_dict(source.settings)
    config.num_threads = training_threads(keep_ui_core=False)
    if args.device:
        config.device = args.device
    config.validate()
    say(args, f"rerun of {source.id}: {config.backbone} {config.strategy}, seed {config.seed}")
    args.format = (source.data.load_options.get("format") if source.data else None) or "auto"
    recorded = train_and_record(
        args, config, dataset, lambda sink: fit(config, dataset, sink), origin="rerun",
        parent=source.parent,
    )  # fmt: skip
    record = store.save_record(recorded.writer.record.with_changes(rerun_of=source.id))
    return _rerun_report(args, source, record)


def _same_data(source: RunRecord, anyway: bool):  # -> Dataset
    """The run's data set read as it was; DataError when it changed (unless `anyway`)."""
    from core.data.datasets import load_dataset
    from core.runs.identity import data_identity

    data = source.data
    if data is None:
        raise DataError(f"The run {source.id} did not record its data set; it cannot be rerun.")
    options = data.load_options
    dataset = load_dataset(
        data.path,
        fmt=options.get("format") or data.kind or "auto",
        label_column=options.get("label_column"),
        delimiter=options.get("delimiter"),
        images_dir=options.get("images_dir"),
        labels=list(source.labels) or None,
    )
    now = data_identity(dataset, options)
    if now.fingerprint != data.fingerprint and not anyway:
        raise DataError(_changed_line(source, now))
    return dataset


def _changed_line(source: RunRecord, now) -> str:  # now: DataIdentity
    from core.runs.compare import compare_runs

    current = source.with_changes(id="now", data=now)
    change = compare_runs([source, current]).data_changes[0]
    return (
        f"The data changed since run {source.id} ({change.images_added} images added, "
        f"{change.images_removed} removed, {change.labels_changed} relabelled"
        f"{', files changed' if change.files_changed else ''}); add --anyway to rerun on it."
    )


def _rerun_report(args: argparse.Namespace, source: RunRecord, record: RunRecord) -> int:
    if args.json:
        print_json({"run": record.id, "rerun_of": source.id, "metrics": record.metrics,
                    "source_metrics": source.metrics})  # fmt: skip
        return 0
    for key in ("map", "f1_micro", "f1_macro"):
        before, after = source.metrics.get(key), record.metrics.get(key)
        if before is not None and after is not None:
            print(f"{key}: {after:.4f} (was {before:.4f}, {after - before:+.4f})")
    print(f"run {record.id} ({record.status}), a rerun of {source.id}")
    return 0
