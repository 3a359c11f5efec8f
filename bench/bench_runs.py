"""Listing many runs: `RunStore.list()` cold (no index: every record read, the index
rebuilt), warm (the index checked against the folders), and `marquee runs list` as a
user runs it (a new process).

N small but realistic run records (10 epochs of history, 5 labels, a 400-image data
identity) are written to a temporary runs folder; nothing is trained.

    python bench/bench_runs.py [--runs 1000] [--repeat 5] [--json FILE]

Prints a Markdown table; asserts nothing. The baseline is the cold listing of the same
folder in the same run (what every listing would cost without the index).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.runs import DataIdentity, EpochRecord, RunRecord, RunStore  # noqa: E402
from core.runs.index import INDEX_NAME  # noqa: E402

LABELS = ("Action", "Comedy", "Drama", "Horror", "Romance")


def small_record(i: int, start: datetime) -> RunRecord:
    """Run `i` of a series, one minute apart (its id sorts as its start time does)."""
    when = start + timedelta(minutes=i)
    history = tuple(
        EpochRecord(e, 0.5 / e, 0.6 / e, 0.5 + e / 40, 0.4, 0.3, 1.5, dict.fromkeys(LABELS, 0.6))
        for e in range(1, 11)
    )
    data = DataIdentity("/data/posters", "folders", {"train": 320, "val": 80}, "ab" * 16,
                        "cd" * 16, "0:", 0)  # fmt: skip
    per_label = tuple({"name": n, "ap": 0.6, "f1": 0.5, "support": 16} for n in LABELS)
    return RunRecord(
        id=f"{when:%Y%m%d-%H%M%S}-{i % 65536:04x}", started=when.isoformat(), status="finished",
        ended=when.isoformat(), wall_s=60.0, settings={"backbone": "efficientnet_lite0",
        "strategy": "freeze", "image_size": 224, "lr": 0.01}, labels=LABELS, data=data,
        history=history, metrics={"map": 0.5 + (i % 100) / 1000}, per_label=per_label,
        model_file="model.safetensors",
    )  # fmt: skip


def write_records(root: Path, count: int) -> list[str]:
    store = RunStore(root)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for i in range(count):
        record = small_record(i, start)
        store.folder(record.id).mkdir(parents=True)
        store.save_record(record)
        ids.append(record.id)
    return ids


def _timed(action, repeat: int, before=None) -> float:  # type: ignore[no-untyped-def]
    """Median seconds of `action` over `repeat` tries (`before` runs untimed each time)."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(root: Path, repeat: int) -> dict[str, float]:
    store = RunStore(root)
    index = root / INDEX_NAME
    cold = _timed(store.list, repeat, before=lambda: index.unlink(missing_ok=True))
    store.list()
    warm = _timed(store.list, repeat)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARQUEE_HOME": str(root.parent)}
    command = [sys.executable, "-c", "import sys; from core.cli.main import main; "
               "sys.exit(main(['runs', 'list']))"]  # fmt: skip
    cli = _timed(lambda: subprocess.run(command, env=env, check=True, capture_output=True), repeat)
    startup = _timed(
        lambda: subprocess.run([sys.executable, "-c", "import core.cli.main"], env=env,
                               check=True, capture_output=True), repeat)  # fmt: skip
    return {"cold_s": cold, "warm_s": warm, "cli_s": cli, "cli_import_s": startup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        root = Path(home) / "data" / "runs"
        write_records(root, args.runs)
        result = {"runs": args.runs, **measure(root, args.repeat)}
    print("| runs | list, cold (index rebuilt) | list, warm | warm vs cold | "
          "`marquee runs list` (new process) | of which Python + imports |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {args.runs:,} | {result['cold_s'] * 1000:.0f} ms | {result['warm_s'] * 1000:.0f} ms "
        f"| {result['cold_s'] / result['warm_s']:.1f}x faster | {result['cli_s'] * 1000:.0f} ms "
        f"| {result['cli_import_s'] * 1000:.0f} ms |"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
