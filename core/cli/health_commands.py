"""`marquee doctor`, `marquee fixes` and `marquee suggest` (data health: wrong labels,
duplicates and leaks, strays, fixes, labelling more)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from tqdm import tqdm

from core.base.errors import DataError, UsageError, shorten
from core.cli.console import print_json
from core.cli.data_args import label_choice, load_data
from core.cli.output import bars_enabled, say
from core.data.added_images import Added, add_images
from core.data.datasets import Dataset
from core.data.fixes import FixLog
from core.data.image_check import check_image
from core.health.report import HealthReport


def run_doctor(args: argparse.Namespace) -> int:
    from core.health.decisions import accept_report
    from core.health.doctor import DoctorOptions, run_doctor

    if not 2 <= args.folds <= 20:
        raise UsageError(f"--folds must be between 2 and 20, got {args.folds}.")
    dataset = _load(args)
    with _Bars(args) as bars:
        report = run_doctor(dataset, DoctorOptions(folds=args.folds, flip=args.flip), bars)
    if args.out is not None:
        report.save(args.out)
    if args.accept:
        decisions = accept_report(FixLog.for_dataset(dataset.root), report)
        report.summary["accepted"] = len(decisions)
    if args.json:
        print_json(report.to_dict())
    else:
        _print_report(args, report)
    return 0


def run_fixes(args: argparse.Namespace) -> int:
    from core.data.corrected import export_corrected, write_back
    from core.health.decisions import accept_report

    if not args.data.exists():
        raise DataError(f"{shorten(str(args.data), 300)} does not exist.")
    log = FixLog.for_dataset(args.data)
    result: dict = {"dataset": str(log.dataset), "fix_log": str(log.path)}
    if args.accept is not None:
        report = HealthReport.load(args.accept)
        made = accept_report(
            log,
            report,
            duplicates=not args.no_duplicates,
            strays=args.strays,
            min_score=args.min_score,
        )
        result["recorded"] = len(made)
    elif args.undo is not None:
        result["undone"] = [asdict(d) for d in log.undo(args.undo)]
    elif args.clear:
        result["cleared"] = log.clear()
    elif args.export is not None:
        result["exported"] = str(export_corrected(_load(args), args.export))
    elif args.add is not None:
        added = _additions(args, log, _load(args))
        result["recorded"] = len(added.decisions)
        result["warnings"] = added.warnings
        for warning in added.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    elif args.write_back:
        _load(args)  # refuse a data set that does not load before touching its files
        result["written"] = [
            {**asdict(w), "file": str(w.file), "backup": str(w.backup)}
            for w in write_back(log.dataset, log)
        ]
    result["decisions"] = [asdict(d) for d in log.decisions]
    _print_fixes(args, result)
    return 0


def run_suggest(args: argparse.Namespace) -> int:
    from core.base.runtime import prediction_threads, use_torch_threads
    from core.health.suggest import suggest
    from core.inference.predictor import Predictor

    if args.top is not None and args.top < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}.")
    predictor = Predictor.from_file(args.model, device=args.device, runtime=args.runtime)
    use_torch_threads(prediction_threads())
    with tqdm(desc="rank", disable=not bars_enabled(args), leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        found = suggest(predictor, args.folder, args.top, progress, batch_size=args.batch_size)
    for message in found.skipped:
        print(f"marquee: warning: {message}", file=sys.stderr)
    if args.json:
        print_json({"model": str(args.model), "suggestions": [asdict(s) for s in found.items]})
        return 0
    for s in found.items:
        ticked = ", ".join(s.suggested) or "(none)"
        say(args, f"{s.score:.3f}  {s.file}  unsure: {s.uncertain_label}  suggested: {ticked}")
    return 0


def _additions(args: argparse.Namespace, log: FixLog, dataset: Dataset) -> Added:
    """Copy the images into the data set's managed folder and record one `add` decision
    each, after checking the images decode and the labels exist."""
    labels = tuple(n.strip() for n in args.with_labels.split(",") if n.strip())
    unknown = [n for n in labels if n not in dataset.all_label_names]
    if unknown:
        raise UsageError(
            f"--with-labels: {', '.join(unknown)} is not a label of this data set; "
            f"its labels are {', '.join(dataset.all_label_names)}."
        )
    for image in args.add:
        problem = check_image(image) if image.is_file() else "does not exist"
        if problem:
            raise DataError(f"{shorten(str(image), 300)} {problem}; nothing was added.")
    return add_images(log, [i.resolve() for i in args.add], labels, args.split, dataset)


def _load(args: argparse.Namespace) -> Dataset:
    args.sample, args.movie_posters = None, False
    return load_data(args, label_choice(args))


class _Bars:
    """One tqdm bar per doctor stage, on stderr (hidden with --quiet or off a terminal)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.enabled, self.bar, self.stage = bars_enabled(args), None, ""

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.__exit__()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, disable=not self.enabled, leave=False)
        self.bar.update(done - self.bar.n)


def _print_report(args: argparse.Namespace, report: HealthReport) -> None:
    s = report.summary
    say(
        args,
        f"{s['images']} images: {s['label_issues']} label issues, {s['duplicates']} "
        f"duplicate pairs ({s['leaks']} leaks between splits), {s['outliers']} strays",
    )
    for i in report.label_issues[: args.top]:
        say(
            args,
            f"  label  {i.score:.3f}  {i.file}  {i.label}: given {i.given}, "
            f"suggested {i.suggested} (p={i.probability:.2f})",
        )
    for d in report.duplicates[: args.top]:
        kind = "leak " if d.cross_split else "dup  "
        say(args, f"  {kind}  {d.similarity:.3f}  {d.files[0]}  {d.files[1]}")
    for o in report.outliers[: args.top]:
        say(args, f"  stray  {o.score:.3f}  {o.file}")
    if "accepted" in s:
        say(args, f"recorded {s['accepted']} fixes; undo with 'marquee fixes DATA --undo N'")


def _print_fixes(args: argparse.Namespace, result: dict) -> None:
    if args.json:
        print_json(result)
        return
    for key in ("recorded", "cleared", "exported"):
        if key in result:
            say(args, f"{key}: {result[key]}")
    for item in result.get("undone", []):
        say(args, f"undone: {item['kind']} {item['file']} {item.get('label') or ''}")
    for item in result.get("written", []):
        say(
            args,
            f"wrote {item['file']} (backup {item['backup']}): {item['changed']} rows "
            f"changed, {item['removed']} removed",
        )
    say(args, f"{len(result['decisions'])} decision(s) in {result['fix_log']}")
