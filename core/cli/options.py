"""Command-line options that several subcommands share, each defined once."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.base.config import DEVICES

# "auto" and core.data.datasets.FORMATS (not imported: it loads pandas; a test keeps them equal)
DATA_FORMATS = ("auto", "folders", "csv", "createml", "labelfolders")


def add_reader_options(p: argparse.ArgumentParser) -> None:
    """How to read a data set: its format and, for a CSV, the label column and images."""
    p.add_argument("--format", default="auto", choices=DATA_FORMATS, help="the data set's layout")
    p.add_argument("--label-column", help="CSV column holding delimited labels")
    p.add_argument("--delimiter", help="delimiter of that column (default: detected)")
    p.add_argument("--images-dir", type=Path, help="image folder for a CSV (default: detected)")


def add_output_options(p: argparse.ArgumentParser) -> None:
    """--json (one document on stdout) and --quiet (no progress bars)."""
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_device(p: argparse.ArgumentParser, default: str = "auto") -> None:
    p.add_argument("--device", default=default, choices=DEVICES)


def add_runtime(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runtime",
        default="auto",
        choices=("auto", "torch", "onnx"),
        help="auto (default): ONNX Runtime on the CPU, torch on a GPU",
    )


def add_prediction_options(p: argparse.ArgumentParser) -> None:
    """What running a model over many images takes: batch size, runtime and device."""
    p.add_argument("--batch-size", type=int, default=32)
    add_runtime(p)
    add_device(p)
