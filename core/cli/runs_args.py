"""The command lines of `marquee runs ...` and the run options of `marquee train`
(parsers only, so `marquee --help` stays light)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.base.config import DEVICES

RUN_HELP = "an id, an unambiguous id prefix, 'latest' or 'best'"


def add_run_options(p: argparse.ArgumentParser) -> None:
    """`marquee train`: trackers and the retention override."""
    p.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="also write TensorBoard event files to DIR/<run id> "
        "(pip install marquee[tensorboard])",
    )
    p.add_argument(
        "--mlflow",
        nargs="?",
        const="",
        metavar="URI",
        help="also log the run to MLflow at URI (default: $MLFLOW_TRACKING_URI) "
        "(pip install marquee[mlflow])",
    )
    p.add_argument(
        "--keep-runs",
        type=int,
        metavar="N",
        help="after this run keep the starred, the best per data set and the newest N runs "
        "(0: keep all; default: the retention setting, see 'marquee runs retention')",
    )


def add_runs_parser(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="list, compare, star, prune and rerun past trainings")
    verbs = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    listing = verbs.add_parser("list", help="every run, newest first")
    _json(listing)
    show = verbs.add_parser("show", help="one run: settings, data, history, per-label metrics")
    show.add_argument("run", metavar="RUN", help=RUN_HELP)
    _json(show)
    compare = verbs.add_parser("compare", help="settings, data and metric differences")
    compare.add_argument("runs", nargs="+", metavar="RUN", help=f"two or more: {RUN_HELP}")
    _json(compare)
    for verb, text in (("star", "keep a run whatever prune says"), ("unstar", "undo star")):
        starring = verbs.add_parser(verb, help=text)
        starring.add_argument("run", metavar="RUN", help=RUN_HELP)
    remove = verbs.add_parser("rm", help="remove runs (their folders and models)")
    remove.add_argument("runs", nargs="+", metavar="RUN", help=RUN_HELP)
    _json(remove)
    _add_prune(verbs.add_parser("prune", help="remove all but the starred and newest runs"))
    _add_rerun(verbs.add_parser("rerun", help="train again with a run's settings and data"))
    _add_retention(verbs.add_parser("retention", help="show or set what is kept after each run"))


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep", type=int, required=True, metavar="N", help="newest runs to keep")
    p.add_argument(
        "--older-than", type=float, metavar="DAYS", help="only remove runs older than DAYS"
    )
    p.add_argument("--yes", action="store_true", help="remove them (without: only say what)")
    _json(p)


def _add_rerun(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help=RUN_HELP)
    p.add_argument("--anyway", action="store_true", help="train even though the data changed since")
    p.add_argument("--device", choices=DEVICES, help="default: the run's")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--keep-runs", type=int, metavar="N", help="as for 'marquee train'")
    _json(p)


def _add_retention(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep", type=int, metavar="N", help="newest runs to keep (default 30)")
    p.add_argument(
        "--best-per-dataset",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also keep the best run of each data set (default: yes)",
    )
    cap = p.add_mutually_exclusive_group()
    cap.add_argument("--max-disk-gb", type=float, metavar="GB", help="disk cap (default 20)")
    cap.add_argument("--no-disk-cap", action="store_true", help="no disk cap")
    switch = p.add_mutually_exclusive_group()
    switch.add_argument("--off", action="store_true", help="keep every run")
    switch.add_argument("--on", action="store_true", help="apply the setting after each run")
    _json(p)
