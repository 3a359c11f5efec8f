"""Cold start to first paint of the main window, in seconds (prints numbers, asserts nothing).

Each run spawns a fresh interpreter that starts the app with MARQUEE_STARTUP_PROBE=1; the
window prints the wall-clock time of its first paint and quits. The figure is that time
minus the moment just before the process was spawned (interpreter start included).

    python bench/bench_startup.py [--runs 5] [--platform offscreen|xcb]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(platform: str | None, home: str) -> tuple[float, float, str]:
    env = dict(os.environ, MARQUEE_STARTUP_PROBE="1", MARQUEE_HOME=home)
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "gui"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    lines = {x.split()[0]: x.split()[1:] for x in proc.stdout.splitlines() if x.strip()}
    if "FIRST_PAINT" not in lines:
        raise RuntimeError(f"no FIRST_PAINT line (rc {proc.returncode}):\n{proc.stderr[-2000:]}")
    stamp, torch_flag = lines["FIRST_PAINT"]
    ready = float(lines["READY"][0]) - start if "READY" in lines else float("nan")
    return float(stamp) - start, ready, torch_flag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default=None if os.environ.get("DISPLAY") else "offscreen")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        one_run(args.platform, home)  # warm the OS file cache once; not counted
        results = [one_run(args.platform, home) for _ in range(args.runs)]
    times = [t for t, _, _ in results]
    ready = [r for _, r, _ in results]
    print(f"platform: {args.platform or os.environ.get('QT_QPA_PLATFORM') or 'default'}")
    print("runs (s): " + ", ".join(f"{t:.3f}" for t in times))
    print(
        f"startup to first paint: median {statistics.median(times):.3f} s, "
        f"best {min(times):.3f} s, worst {max(times):.3f} s (target < 1.5 s)"
    )
    print(
        f"plots built (pyqtgraph loaded, deferred past first paint): median "
        f"{statistics.median(ready):.3f} s"
    )
    print(f"at first paint: {results[0][2]}")


if __name__ == "__main__":
    main()
