"""The Runs page with many runs: what the worker reads, what the UI thread does, the longest stall.

Writes N small run records in the store's format to a temporary runs folder, then times:
the store's listing (cold: no index, then warm), turning summaries into table rows (both in
the worker), filling the table model and sorting it (the UI thread's share), and the
longest gap of a 10 ms heartbeat on the UI thread while the page lists through its worker.
Prints numbers, asserts nothing.

    python bench/bench_runs_page.py [--runs 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MARQUEE_HOME", tempfile.mkdtemp(prefix="marquee-bench-"))

BEAT_MS = 10


def write_runs(root: Path, count: int) -> None:
    from core.runs import DataIdentity, EpochRecord, RunRecord

    history = tuple(EpochRecord(e, 1.0 / e, 1.1 / e, 0.5, 0.4, 0.3) for e in range(1, 11))
    data = DataIdentity("/data/posters", "folder", {"train": 800, "val": 200}, "a" * 32, "b" * 32)
    for n in range(count):
        run_id = (
            f"2026{1 + n // 28 % 12:02d}{1 + n % 28:02d}-{n // 60 % 24:02d}{n % 60:02d}00-{n:04x}"
        )
        record = RunRecord(
            id=run_id,
            started=f"2026-01-01T00:00:{n % 60:02d}+00:00",
            status="finished",
            settings={"backbone": ("efficientnet_lite0", "resnet18")[n % 2], "image_size": 224},
            labels=("Action", "Comedy", "Drama"),
            data=data,
            history=history,
            metrics={"map": 0.5 + (n % 400) / 1000, "f1_macro": 0.6},
            model_file="model.safetensors",
        )
        (root / run_id).mkdir()
        (root / run_id / "record.json").write_text(record.to_json())


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, result


def longest_stall(page, app) -> float:
    """The UI thread's longest gap between 10 ms heartbeats while the page lists its runs."""
    from PySide6.QtCore import QEventLoop, QTimer

    beats: list[float] = []
    timer = QTimer(interval=BEAT_MS)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    done: list[int] = []
    page.listed.connect(done.append)
    timer.start()
    beats.append(time.perf_counter())
    page.refresh()
    deadline = time.monotonic() + 120
    while not done and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    app.processEvents()
    timer.stop()
    beats.append(time.perf_counter())
    return max(b - a for a, b in itertools.pairwise(beats)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    from core.runs import RunStore
    from gui import gc_guard
    from gui.runs.page import RunsPage
    from gui.runs.tasks import list_rows
    from gui.settings import Preferences

    app = QApplication([])
    gc_guard.install(app)  # as in the app: Python's collector runs on the UI thread only
    root = Path(tempfile.mkdtemp(prefix="marquee-runs-"))
    write_runs(root, args.runs)
    store = RunStore(root)
    cold, _ = timed(store.list, 1)  # builds the index from the folders
    warm, _ = timed(store.list, args.repeat)
    rows_ms, rows = timed(lambda: list_rows(store), args.repeat)
    page = RunsPage(Preferences(), root=root)
    page.resize(1360, 860)
    page.show()

    def fill() -> None:
        page.model.set_rows(rows)
        app.processEvents()  # sort, filter and paint the first screen

    ui_ms, _ = timed(fill, args.repeat)
    stall = longest_stall(page, app)
    print(f"runs: {args.runs} (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(f"worker: store.list() cold {cold:.0f} ms, warm {warm:.1f} ms; rows {rows_ms:.1f} ms")
    print(
        f"UI thread: fill + sort + paint {ui_ms:.1f} ms ({ui_ms / rows_ms:.2f}x the worker's rows)"
    )
    print(f"longest UI stall while listing through the worker: {stall:.1f} ms")
    page.workers.stop_all()


if __name__ == "__main__":
    main()
