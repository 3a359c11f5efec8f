"""Terminal output shared by the CLI's commands: JSON documents and the user-error type."""

from __future__ import annotations

import json
import sys

from core.base.errors import UsageError

__all__ = ["EXIT_CANCELLED", "EXIT_UNEXPECTED", "EXIT_USER_ERROR", "UsageError", "print_json"]

# Exit codes of every Marquee command line (marquee ..., torchrun -m core.distributed ...).
EXIT_USER_ERROR, EXIT_UNEXPECTED, EXIT_CANCELLED = 2, 1, 130


def print_json(document: object) -> None:
    """One JSON document on stdout (the only thing a `--json` command prints there)."""
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
