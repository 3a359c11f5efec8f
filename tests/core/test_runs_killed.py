"""SIGKILL at any point of a run's life never leaves a run listed as finished that is not
whole (record final and model in place), and never leaves an index that cannot be read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs import RunStore
from core.runs.index import INDEX_NAME

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).parent / "workers" / "run_killed.py"
POINTS = ("started", "epoch", "model-saved", "record-temp", "index-temp", "retention")
UNFINISHED = ("started", "epoch", "model-saved", "record-temp")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd; SIGKILL")
@pytest.mark.parametrize("point", POINTS)
def test_a_killed_run_is_never_listed_as_finished_unless_whole(
    point: str, data_dir: Path, tmp_path: Path, marquee_home: Path
) -> None:
    root = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARQUEE_HOME": str(marquee_home)}
    child = subprocess.Popen(
        [sys.executable, str(WORKER), str(root), str(data_dir), point],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = child.stdout.readline().strip()  # blocks until READY, or EOF if it died
        assert first == "READY", child.stderr.read()
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)

    index = root / INDEX_NAME
    if index.exists():
        json.loads(index.read_text())  # whole: written by rename, never in place
    (run,) = RunStore(root).list()
    if point in UNFINISHED:
        assert run.status == "failed"  # its writer is gone: interrupted, not finished
        assert RunStore(root).load(run.id).error == "interrupted (killed)"
    else:
        assert run.status == "finished" and run.has_model
        assert RunStore(root).model_path(run.id).read_bytes().startswith(b"weights")
