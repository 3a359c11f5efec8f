"""The data set named by --data / --sample / --movie-posters, with --labels applied."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from core.cli.console import UsageError
from core.cli.output import bars_enabled, say
from core.data.datasets import Dataset, load_dataset
from core.data.movie_posters import MOVIE_POSTER_LABELS

MAX_PROBLEMS_SHOWN = 15


def resolve_data_path(args: argparse.Namespace) -> Path:
    if args.data is not None:
        return args.data
    if args.movie_posters:
        from core.data.movie_posters import ensure_movie_posters

        with tqdm(
            unit="B", unit_scale=True, desc="download", disable=not bars_enabled(args)
        ) as bar:

            def progress(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)

            return ensure_movie_posters(progress=progress)
    from core.data.samples import ensure_sample_data

    return ensure_sample_data(variant=getattr(args, "sample", None) or "normal")


def label_choice(args: argparse.Namespace) -> list[str] | None:
    """--labels as a list; None for every label ('all', or no --labels but --movie-posters)."""
    if args.labels is None:
        return list(MOVIE_POSTER_LABELS) if args.movie_posters else None
    if args.labels.strip().lower() == "all":
        return None
    names = [name.strip() for name in args.labels.split(",") if name.strip()]
    if not names:
        raise UsageError("--labels needs label names separated by commas, or 'all'")
    return names


def load_data(args: argparse.Namespace, labels: list[str] | None = None) -> Dataset:
    """The data set of --data/--sample/--movie-posters, narrowed to ``labels`` if given."""
    path = resolve_data_path(args)
    with tqdm(desc="checking images", disable=not bars_enabled(args), leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        dataset = load_dataset(
            path,
            fmt=args.format,
            label_column=args.label_column,
            delimiter=args.delimiter,
            images_dir=args.images_dir,
            labels=labels,
            progress=progress,
        )
    report_problems(dataset)
    if len(dataset.label_names) < len(dataset.all_label_names):
        say(
            args,
            f"labels: {', '.join(dataset.label_names)} ({len(dataset.label_names)} of "
            f"{len(dataset.all_label_names)}; --labels all uses every one)",
        )
    return dataset


def report_problems(dataset: Dataset) -> None:
    problems = dataset.report.problems
    # The run goes on without the skipped items, so every problem is a warning here.
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        print(f"marquee: warning: {problem.where}: {problem.message}", file=sys.stderr)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(
            f"marquee: ... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems", file=sys.stderr
        )
