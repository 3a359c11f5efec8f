"""The run index: one JSON file of summaries, a cache checked against the run folders.

Each row keeps the (mtime, size) stamp of the record it was read from, so a listing only
re-reads records that changed, were added behind its back (another process, a copy) or
whose row is missing; a missing or damaged index is rebuilt from the folders. No lock is
needed: two processes that race on the index each write a complete, valid file, and the
next listing repairs whatever one of them did not know.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path

from core.runs.files import write_durable
from core.runs.legacy import adopt, is_legacy_folder
from core.runs.record import RunRecord, RunSummary

log = logging.getLogger(__name__)

INDEX_NAME = "index.json"
RECORD_NAME = "record.json"
INDEX_FORMAT = 1
# New ids end in 4 hex digits; earlier run folders in the backbone's name (and "-2"...).
RUN_ID = re.compile(r"^\d{8}-\d{6}-[A-Za-z0-9_.-]+$")

Stamp = tuple[int, int]


@dataclass
class IndexScan:
    """What one listing found: the rows (id -> summary) and how many records it re-read."""

    rows: dict[str, RunSummary]
    reread: int
    rebuilt: bool


def scan(root: Path) -> IndexScan:
    """Every listable run under `root`, reading only records the index does not match."""
    cached, damaged = _read_index(root / INDEX_NAME)
    stamps = _folder_stamps(root)
    rows: dict[str, RunSummary] = {}
    fresh: dict[str, tuple[Stamp, RunSummary]] = {}
    for run_id, stamp in stamps.items():
        hit = cached.get(run_id)
        if hit is not None and hit[0] == stamp:
            rows[run_id] = hit[1]
            continue
        summary = _read_summary(root / run_id / RECORD_NAME)
        if summary is not None:
            rows[run_id] = summary
            fresh[run_id] = (stamp, summary)
    if fresh or damaged or set(cached) - set(stamps):
        kept = {k: v for k, v in cached.items() if k in stamps}
        write_index(root, {**kept, **fresh})
    rows = {k: _with_liveness(v) for k, v in rows.items()}
    return IndexScan(rows, len(fresh), damaged or not cached)


def write_index(root: Path, rows: dict[str, tuple[Stamp, RunSummary]]) -> None:
    """Write the index atomically; a failure is logged (the next listing rebuilds it)."""
    document = {
        "format": INDEX_FORMAT,
        "runs": [
            {"stamp": list(stamp), "summary": summary.to_dict()} for stamp, summary in rows.values()
        ],
    }
    try:
        write_durable(root / INDEX_NAME, json.dumps(document, separators=(",", ":")))
    except Exception as exc:  # a read-only or full disk must not stop a listing
        log.warning("could not write the run index %s: %s", root / INDEX_NAME, exc)


def record_stamp(path: str | Path) -> Stamp | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def _folder_stamps(root: Path) -> dict[str, Stamp]:
    stamps: dict[str, Stamp] = {}
    try:
        entries = list(os.scandir(root))
    except OSError:
        return stamps
    for entry in entries:
        if not RUN_ID.match(entry.name):
            continue  # the index, settings, folders being removed, old-style folders
        stamp = record_stamp(os.path.join(entry.path, RECORD_NAME))
        if stamp is None and is_legacy_folder(Path(entry.path)) and adopt(Path(entry.path)):
            stamp = record_stamp(os.path.join(entry.path, RECORD_NAME))
        if stamp is not None:  # no record yet: a run folder still being created
            stamps[entry.name] = stamp
    return stamps


def _read_index(path: Path) -> tuple[dict[str, tuple[Stamp, RunSummary]], bool]:
    """The index rows, and whether the file was damaged (missing is not damaged)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != INDEX_FORMAT:
            return {}, True
        rows = {}
        for row in document["runs"]:
            summary = RunSummary.from_dict(row["summary"])
            stamp = (int(row["stamp"][0]), int(row["stamp"][1]))
            rows[summary.id] = (stamp, summary)
        return rows, False
    except FileNotFoundError:
        return {}, False
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        log.warning("the run index %s is damaged (%s); rebuilding it", path, exc)
        return {}, True


def _read_summary(path: Path) -> RunSummary | None:
    try:
        return RunRecord.from_json(path.read_text(encoding="utf-8")).summary()
    except FileNotFoundError:
        return None  # removed while we listed
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("skipping the run record %s: %s", path, exc)
        return None


def _with_liveness(summary: RunSummary) -> RunSummary:
    """A run left "running" by a process that is gone was killed: it lists as failed."""
    if summary.status != "running":
        return summary
    return (
        summary if process_alive((summary.pid, summary.host)) else replace(summary, status="failed")
    )


def process_alive(owner: tuple[int, str]) -> bool:
    """Whether the process (pid, host) that writes a running run still exists.

    A run written on another host (a shared folder) is taken as alive: we cannot tell.
    """
    pid, host = owner
    if host and host != socket.gethostname():
        return True
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill there would end the process: ask psutil, if present
        try:
            import psutil
        except ImportError:
            return True
        return bool(psutil.pid_exists(pid))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
