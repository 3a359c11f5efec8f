"""The command lines of data health: `doctor`, `fixes` and `suggest` (parsers only, so
`marquee --help` stays light)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.base.config import DEVICES

# "auto" and core.data.datasets.FORMATS (not imported: it loads pandas; a test keeps them equal)
DATA_FORMATS = ("auto", "folders", "csv", "createml", "labelfolders")


def add_health_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the three subcommands to the `marquee` parser's subcommands."""
    _add_doctor(sub.add_parser("doctor", help="find wrong labels, duplicates, leaks and strays"))
    _add_fixes(sub.add_parser("fixes", help="show, accept, undo, export or write back fixes"))
    _add_suggest(sub.add_parser("suggest", help="rank unlabelled images worth labelling"))


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", type=Path, metavar="DATA", help="data set folder, CSV or JSON")
    p.add_argument("--format", default="auto", choices=DATA_FORMATS, help="the data set's layout")
    p.add_argument("--label-column", help="CSV column holding delimited labels")
    p.add_argument("--delimiter", help="delimiter of that column (default: detected)")
    p.add_argument("--images-dir", type=Path, help="image folder for a CSV (default: detected)")
    p.add_argument("--labels", metavar="A,B,...", help="labels to check (default: every label)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_doctor(p: argparse.ArgumentParser) -> None:
    _add_data(p)
    p.add_argument("--out", type=Path, metavar="REPORT", help="also write the report (JSON)")
    p.add_argument("--folds", type=int, default=5, help="out-of-fold splits (default 5)")
    p.add_argument("--flip", action="store_true", help="also use mirrored images (slower)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="findings shown per kind")
    p.add_argument(
        "--accept",
        action="store_true",
        help="record the sure label fixes (a missing label scored >= 0.95, a wrong one >= 0.99) "
        "and drop one image of each duplicate pair in the data set's fix log (undo with "
        "'marquee fixes DATA --undo N')",
    )


def _add_fixes(p: argparse.ArgumentParser) -> None:
    _add_data(p)
    action = p.add_mutually_exclusive_group()
    action.add_argument("--accept", type=Path, metavar="REPORT", help="record a report's fixes")
    action.add_argument("--undo", type=int, nargs="?", const=1, metavar="N", help="undo N (1)")
    action.add_argument("--clear", action="store_true", help="forget every decision")
    action.add_argument("--export", type=Path, metavar="DIR", help="write a corrected copy")
    action.add_argument(
        "--add",
        type=Path,
        nargs="+",
        metavar="IMAGE",
        help="add labelled images to the data set (recorded like the fixes; see --with-labels)",
    )
    action.add_argument(
        "--write-back",
        action="store_true",
        help="write the fixes into the data set's own CSV file(s), after a timestamped backup",
    )
    p.add_argument(
        "--min-score",
        type=float,
        default=None,
        help="--accept: accept label issues scored at least this (default: 0.8 to add a "
        "missing label, 0.97 to remove a given one; 0: every one)",
    )
    p.add_argument(
        "--with-labels",
        default="",
        metavar="A,B,...",
        help="--add: the images' labels (default: none of them)",
    )
    p.add_argument("--split", default="train", choices=("train", "val"), help="--add: where")
    p.add_argument("--strays", action="store_true", help="--accept: also drop the strays")
    p.add_argument("--no-duplicates", action="store_true", help="--accept: keep duplicates")


def _add_suggest(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL")
    p.add_argument("folder", type=Path, nargs="+", metavar="FOLDER")
    p.add_argument("--top", type=int, metavar="N", help="show the N most useful (default: all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--runtime", default="auto", choices=("auto", "torch", "onnx"))
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
