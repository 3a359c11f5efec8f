"""Terminal output shared by the CLI's commands: JSON documents and the user-error type."""

from __future__ import annotations

import json
import logging
import math
import os
import stat
import sys

from core.base.errors import Cancelled, MarqueeError, UsageError, one_line

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_READER_GONE",
    "EXIT_UNEXPECTED",
    "EXIT_USER_ERROR",
    "UsageError",
    "expected_exit",
    "print_json",
    "show_core_warnings",
]
# Core loggers whose warnings a command-line user must see (the cache repairing itself).
_CORE_LOGGERS = ("marquee.cache",)

# Exit codes of every Marquee command line (marquee ..., torchrun -m core.distributed ...).
EXIT_USER_ERROR, EXIT_UNEXPECTED, EXIT_CANCELLED = 2, 1, 130
EXIT_READER_GONE = 141  # 128 + SIGPIPE: what a Unix tool shows when its output pipe closed


def expected_exit(exc: BaseException) -> int | None:
    """The one stderr line and exit code for a stop (130) or a user's error (2); None for
    anything else (a bug: the caller logs it)."""
    if isinstance(exc, BrokenPipeError) and stdout_gone():
        return EXIT_READER_GONE  # `marquee predict ... | head -1`: stop quietly
    if isinstance(exc, Cancelled | KeyboardInterrupt):
        print("marquee: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    if isinstance(exc, MarqueeError):
        print(f"marquee: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    return None


def stdout_gone() -> bool:
    """After a BrokenPipeError: whether it was stdout's reader that went (stdout is a pipe);
    if so, stdout now points at the null device, so Python's flush at exit stays quiet."""
    try:
        if not stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode):
            return False  # not a pipe: the broken pipe is another one (a bug)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (embedded, replaced)
        return False
    return True


def print_json(document: object) -> None:
    """One JSON document on stdout (the only thing a `--json` command prints there)."""
    # Strict JSON: NaN (an AP without positives) and infinities become null.
    json.dump(_finite(document), sys.stdout, indent=2, default=str, allow_nan=False)
    sys.stdout.write("\n")


def _finite(value: object) -> object:
    """`value` with every non-finite float (NumPy's too) replaced by None, recursively."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # NumPy and torch scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _WarningLine(logging.Handler):
    """One `marquee: warning: ...` line on whatever sys.stderr is when the record comes."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"marquee: warning: {one_line(record.getMessage())}", file=sys.stderr)


def show_core_warnings() -> None:
    """Print core's warnings (once per logger, however often `main` runs in a process)."""
    for name in _CORE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, _WarningLine) for h in logger.handlers):
            logger.addHandler(_WarningLine(logging.WARNING))
