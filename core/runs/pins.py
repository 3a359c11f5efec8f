"""Runs pinned by a running process (the app's current model): retention and `runs prune`
never remove them, whichever process prunes.

Each process keeps one small file, `.pins/<host>-<pid>.json`, naming the runs it pins; a
file whose process is gone is ignored (and tidied away), so a crash never pins for ever.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterable
from pathlib import Path

from core.runs import index as run_index
from core.runs.files import write_durable

PINS_DIR = ".pins"

log = logging.getLogger(__name__)


def _own_file(root: Path) -> Path:
    return root / PINS_DIR / f"{socket.gethostname()}-{os.getpid()}.json"


def pin_runs(root: Path, run_ids: Iterable[str]) -> None:
    """Pin exactly `run_ids` for this process (none: unpin)."""
    path, ids = _own_file(root), sorted(set(run_ids))
    if not ids:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"pid": os.getpid(), "host": socket.gethostname(), "runs": ids}
    write_durable(path, json.dumps(document), "the pinned runs")


def pinned_runs(root: Path) -> set[str]:
    """The runs pinned by processes still running (a damaged pin file pins nothing)."""
    pinned: set[str] = set()
    for path in sorted((root / PINS_DIR).glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            owner = (int(document["pid"]), str(document["host"]))
            runs = {str(run) for run in document["runs"]}
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if run_index.process_alive(owner):
            pinned |= runs
        else:
            _forget(path)
    return pinned


def _forget(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # another user's file in a shared folder: it stays ignored
        log.debug("could not remove the stale pin file %s", path)
