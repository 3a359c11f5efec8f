"""How an installed Marquee starts: first window cold and warm, and a second launch's hand-off.

Used by check_deb.py after `dpkg -i`; the first-paint probe itself is build.time_first_paint.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import build

LISTENING_LOG_LINE = "started; log file"  # gui.app logs it once the window is up
HAND_OFF_TIMEOUT_S = 120


def evict_page_cache(folder: Path) -> int:
    """Drop `folder`'s files from the page cache, so the next start reads them from disk as
    after a reboot (no root or /proc/sys/vm/drop_caches needed). Returns the files evicted."""
    evicted = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            evicted += 1
    return evicted


def first_window_times(exe: Path, warm_runs: int = 3) -> dict[str, Any]:
    """Launch to the main window's first paint: once with the app's files off the page cache,
    then `warm_runs` times in a row; with the load average, since the machine is shared."""
    os.sync()
    evict_page_cache(Path(os.path.realpath(exe)).parent)
    cold = build.time_first_paint(exe)
    warm = [build.time_first_paint(exe) for _ in range(warm_runs)]
    measured = [t for t in warm if t is not None]
    return {
        "cold_s": cold,
        "warm_s": warm,
        "warm_median_s": statistics.median(measured) if measured else None,
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
    }


def _wait_until_up(home: Path, first: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if first.poll() is not None:
            raise SystemExit(f"hand-off: the first instance exited ({first.returncode})")
        logs = (home / "log").glob("*.log") if (home / "log").is_dir() else []
        if any(LISTENING_LOG_LINE in p.read_text(errors="replace") for p in logs):
            return
        time.sleep(0.2)
    raise SystemExit(f"hand-off: the first instance showed no window in {timeout_s} s")


def hand_off_seconds(exe: Path) -> float:
    """Open Marquee, then `marquee poster.png` again: the second launch must hand the poster
    to the first and exit 0 while the first keeps running. Returns the second launch's time."""
    with tempfile.TemporaryDirectory(prefix="marquee-hand-off-") as folder:
        home = Path(folder)
        poster = shutil.copy(build.ROOT / "resources" / "marquee.png", home / "poster.png")
        env = {**os.environ, "MARQUEE_HOME": str(home)}
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        first = subprocess.Popen([str(exe)], env=env, stdout=subprocess.DEVNULL)
        try:
            _wait_until_up(home, first, HAND_OFF_TIMEOUT_S)
            started = time.perf_counter()
            second = subprocess.run([str(exe), str(poster)], env=env, timeout=HAND_OFF_TIMEOUT_S)
            seconds = time.perf_counter() - started
            if second.returncode != 0 or first.poll() is not None:
                raise SystemExit(f"hand-off: second launch exited {second.returncode}")
        finally:
            first.terminate()
            first.wait(timeout=60)
    return round(seconds, 2)
