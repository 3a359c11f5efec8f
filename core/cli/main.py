"""The `marquee` command line: train, predict, evaluate, backbones, info, serve, export,
doctor, fixes, suggest, runs.

Exit codes: 0 success, 2 bad input or usage (one clear line on stderr), 1 unexpected error.
The GUI's entry point hands subcommands here without importing Qt.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from core import __version__
from core.base.config import HEADS, LOSSES, MAX_BATCH_SIZE, STRATEGIES, TrainConfig
from core.base.errors import OutputError, UsageError, one_line, shorten
from core.base.runtime import collect_rarely, configure_threading
from core.cli.backbone_commands import add_backbones_parser
from core.cli.console import (
    EXIT_UNEXPECTED,
    EXIT_USER_ERROR,
    expected_exit,
    show_core_warnings,
)
from core.cli.health_args import add_health_parsers
from core.cli.options import (
    add_device,
    add_output_options,
    add_prediction_options,
    add_reader_options,
    add_runtime,
)
from core.cli.runs_args import add_run_options, add_runs_parser

SUBCOMMANDS = (
    "train",
    "predict",
    "evaluate",
    "backbones",
    "info",
    "explain",
    "thresholds",
    "cache",
    "serve",
    "export",
    "doctor",
    "fixes",
    "suggest",
    "runs",
)


def unknown_command(args: Sequence[str]) -> str | None:
    """The error line for `marquee WORD ...` when WORD is neither a command nor an existing
    file or folder to open in the window (a typo: `marquee trian`); None otherwise."""
    if not args or args[0].startswith("-") or args[0] in SUBCOMMANDS:
        return None
    word = args[0]
    if os.path.exists(word):
        return None
    close = difflib.get_close_matches(word.lower(), SUBCOMMANDS, n=1, cutoff=0.6)
    shown = shorten(word, 100)
    if close:
        return f"marquee: error: '{shown}' is not a command; did you mean '{close[0]}'?"
    return (
        f"marquee: error: '{shown}' is neither a command nor an existing file or folder "
        "(see 'marquee --help')"
    )


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (the CLI's contract), not usage plus error."""

    def error(self, message: str) -> NoReturn:
        hint = f"see '{self.prog} --help'"
        self.exit(EXIT_USER_ERROR, f"marquee: error: {one_line(message)} ({hint})\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="marquee",
        description="Multi-label image classification: train on your images, predict labels.",
        epilog="Run 'marquee' with no command to open the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"marquee {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(sub.add_parser("train", help="train a classifier"))
    _add_predict(sub.add_parser("predict", help="predict labels for images or folders"))
    _add_evaluate(sub.add_parser("evaluate", help="score a model on a labelled data set"))
    add_backbones_parser(sub)
    info = sub.add_parser("info", help="show a model file's labels, backbone and metrics")
    info.add_argument("model", type=Path, metavar="MODEL")
    info.add_argument("--json", action="store_true", help="print JSON")
    _add_explain(sub.add_parser("explain", help="write Grad-CAM heat map overlays for an image"))
    _add_thresholds(sub.add_parser("thresholds", help="show or edit a model's thresholds"))
    cache = sub.add_parser("cache", help="show or clear the decoded-image cache")
    cache.add_argument("action", choices=("info", "clear"), help="info: size and place; clear")
    cache.add_argument("--json", action="store_true", help="print JSON")
    _add_serve(sub.add_parser("serve", help="serve a model over HTTP (REST, Prometheus)"))
    export = sub.add_parser("export", help="export a model (ONNX)")
    export.add_argument("model", type=Path, metavar="MODEL")
    export.add_argument("--format", default="onnx", choices=("onnx",))
    export.add_argument("--out", type=Path, metavar="FILE", help="default: MODEL with .onnx")
    add_health_parsers(sub)
    add_runs_parser(sub)
    return parser


def _add_data_options(p: argparse.ArgumentParser, required: bool = False) -> None:
    source = p.add_mutually_exclusive_group(required=required)
    source.add_argument("--data", type=Path, metavar="PATH", help="folder, CSV or Create ML JSON")
    source.add_argument(
        "--sample",
        nargs="?",
        const="normal",
        choices=("normal", "hard", "print"),
        help="the bundled sample posters; 'hard' and 'print': the development sets with a "
        "style shift (default: normal)",
    )
    source.add_argument(
        "--movie-posters", action="store_true", help="download the real movie posters data set"
    )
    add_reader_options(p)
    p.add_argument(
        "--labels",
        metavar="A,B,...",
        help="labels to use, comma-separated, in this order, or 'all' (default: every label; "
        "the seed's five genres with --movie-posters; the model's labels for evaluate)",
    )


def _add_common(p: argparse.ArgumentParser) -> None:
    add_device(p)
    add_output_options(p)


def _add_train(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    _add_data_options(p)
    p.add_argument(
        "--recipe",
        default="auto",
        choices=("auto", "cpu", "gpu", "baseline"),
        help="starting settings: auto picks gpu on CUDA/MPS, else cpu; baseline is the plain "
        "linear probe; every option below overrides the recipe",
    )
    p.add_argument(
        "--backbone", help=f"see 'marquee backbones' (default: {d.backbone}, or --init-from's)"
    )
    p.add_argument(
        "--init-from",
        type=Path,
        metavar="MODEL",
        help="fine-tune this saved model (same labels) instead of starting from ImageNet",
    )
    p.add_argument("--no-pretrained", action="store_true", help="random initial weights")
    p.add_argument("--weights", type=Path, help="local backbone state dict (.pth/.safetensors)")
    p.add_argument("--strategy", choices=STRATEGIES, help="default: the recipe's")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--image-size", type=int, help="default: the recipe's, or --init-from's")
    p.add_argument("--lr", type=float, help="head learning rate")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--balance", action="store_true", help="weight positives by label rarity")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    _add_accuracy_options(p)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--log-every",
        type=int,
        default=d.log_every,
        metavar="N",
        help=f"read the loss and report progress every N steps and at each epoch's end "
        f"(default {d.log_every}; 1: every step, which makes a GPU wait each time)",
    )
    p.add_argument("--out", type=Path, metavar="MODEL", help="where to write the .safetensors")
    p.add_argument(
        "--export-job",
        type=Path,
        metavar="DIR",
        help="write a torchrun cluster job (config, data manifest, README) instead of training",
    )
    add_run_options(p)
    _add_common(p)


def _add_accuracy_options(p: argparse.ArgumentParser) -> None:
    """What the recipes set: loss, head, features, views, auto-tune, TTA."""
    p.add_argument("--loss", choices=LOSSES, help="bce, or asl (asymmetric loss)")
    p.add_argument("--head", choices=HEADS, help="linear or mlp")
    p.add_argument(
        "--multi-stage",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="concatenate pooled features of the last two stages",
    )
    p.add_argument(
        "--feature-views",
        type=int,
        metavar="K",
        help="frozen backbone: embed K augmented views of each training image once",
    )
    p.add_argument(
        "--auto-tune",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sweep head lr / weight decay / epochs on the cached embeddings first",
    )
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="flip test-time augmentation (stored in the model file)",
    )


def _add_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL")
    p.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_FOLDER")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--threshold", type=float, help="one threshold for every label")
    which.add_argument("--tuned", action="store_true", help="per-label tuned thresholds")
    which.add_argument(
        "--thresholds",
        metavar="LABEL=T,...",
        help="per-label thresholds, e.g. Action=0.4,Crime=0.6 (other labels: tuned)",
    )
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write results to a CSV")
    _add_tta_override(p)
    add_prediction_options(p)
    add_output_options(p)


def _add_tta_override(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="flip test-time augmentation (default: as the model file says)",
    )


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL")
    _add_data_options(p, required=True)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--threshold", type=float, help="default: the model's tuned thresholds")
    which.add_argument(
        "--thresholds",
        metavar="LABEL=T,...",
        help="per-label thresholds, e.g. Action=0.4,Crime=0.6 (other labels: tuned)",
    )
    _add_tta_override(p)
    add_prediction_options(p)
    add_output_options(p)


def _add_explain(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL")
    p.add_argument("image", type=Path, metavar="IMAGE")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--label", metavar="NAME", help="the label to explain (default: the top one)"
    )
    which.add_argument(
        "--all", action="store_true", help="every label: one OUT-<label>.png per label"
    )
    p.add_argument("--out", type=Path, required=True, metavar="PNG", help="overlay file to write")
    p.add_argument("--alpha", type=float, default=0.5, help="heat map opacity, 0..1 (0.5)")
    add_device(p, default="cpu")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _add_thresholds(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL")
    p.add_argument(
        "--set",
        nargs="+",
        metavar="LABEL=T",
        help="new thresholds, e.g. --set Action=0.4 Crime=0.6 (rewrites only the metadata)",
    )
    p.add_argument("--reset", action="store_true", help="put the tuned thresholds back")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _add_serve(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    add_device(p)
    add_runtime(p)
    p.add_argument("--max-batch", type=int, metavar="N", help="images per model call")
    p.add_argument("--max-wait-ms", type=float, metavar="MS", help="wait for a fuller batch")
    p.add_argument("--max-body-mb", type=float, default=10.0, metavar="MB", help="default 10")
    auth = p.add_mutually_exclusive_group()
    auth.add_argument("--token", metavar="T", help="require 'Authorization: Bearer T'")
    auth.add_argument(
        "--no-auth", action="store_true", help="allow a non-loopback --host without a token"
    )


def main(argv: Sequence[str] | None = None) -> int:
    configure_threading()  # before torch loads (a no-op when gui.app.main already ran it)
    collect_rarely()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    show_core_warnings()
    try:
        _check_arguments(args)
        from core.cli.dispatch import HANDLERS  # the heavy imports (torch) start here

        code = HANDLERS[args.command](args)
        sys.stdout.flush()  # here, where a closed pipe is handled, not at interpreter exit
        return code
    except (Exception, KeyboardInterrupt) as exc:
        expected = expected_exit(exc)
        if expected is not None:
            return expected
        log_file = _log_unexpected(exc)  # a bug: say so, and where the details are
        summary = f"{type(exc).__name__}: {one_line(str(exc))}"
        print(f"marquee: unexpected error: {summary}", file=sys.stderr)
        if "MARQUEE_DEBUG" in os.environ:
            traceback.print_exc()
        else:
            print(f"(details in {log_file}; set MARQUEE_DEBUG=1 to print them)", file=sys.stderr)
        return EXIT_UNEXPECTED


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse option values that cannot work before any data is read or model trained."""
    batch_size = getattr(args, "batch_size", None)
    if batch_size is not None and not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise UsageError(
            f"--batch-size must be between 1 and {MAX_BATCH_SIZE:,}, got {batch_size}."
        )
    if args.command == "serve":  # before torch and the model load: refused at once
        from core.serving.exposure import check_exposure

        check_exposure(args.host, args.token, args.no_auth)
    job = getattr(args, "export_job", None)
    if job is not None and job.exists() and not job.is_dir():
        raise OutputError(f"--export-job {shorten(str(job), 200)} is a file; give a new folder.")
    out = getattr(args, "out", None)
    if out is not None:
        if args.command == "train" and out.suffix.lower() != ".safetensors":
            raise UsageError(
                f"--out must name a .safetensors file, got {shorten(str(out), 200)}; Marquee "
                "saves models only in that format (e.g. --out model.safetensors)."
            )
        _check_output_file(out, "--out", parents_made=True)
    if getattr(args, "csv", None) is not None:
        _check_output_file(args.csv, "--csv", parents_made=False)


_NAME_MAX, _PATH_MAX = 255 - 20, 4000  # bytes; room for a temporary file's prefix and suffix


def _check_output_file(path: Path, option: str, *, parents_made: bool) -> None:
    """An OutputError naming `path` if a file cannot be written there."""
    shown = shorten(str(path), 200)
    encoded = os.fsencode(path.absolute())
    if len(encoded) > _PATH_MAX or any(len(p) > _NAME_MAX for p in encoded.split(b"/")):
        raise OutputError(f"{option} {shown}: the file name or path is too long.")
    try:
        if path.is_dir():
            raise OutputError(f"{option} {shown} is a folder; give a file name in it.")
        folder = path.parent
        if not parents_made and not folder.is_dir():
            raise OutputError(
                f"{option} {shown}: the folder {shorten(str(folder), 200)} does not exist."
            )
    except OSError as exc:
        raise OutputError(f"{option} {shown}: {exc.strerror or exc}.") from exc


def _log_unexpected(exc: BaseException) -> Path | str:
    """Append the traceback to the CLI's log file; returns where it went."""
    try:
        from core.base.paths import log_dir

        path = log_dir() / "marquee-cli.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {' '.join(sys.argv)}\n")
            handle.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return "the terminal only (the log folder is not writable)"
