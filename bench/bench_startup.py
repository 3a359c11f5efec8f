"""Cold start to first paint of the main window against a bare PySide6 window, same run.

Each run spawns a fresh interpreter that starts the app with MARQUEE_STARTUP_PROBE=1; the
window prints the wall-clock time of its first paint and quits. The figure is that time
minus the moment just before the process was spawned (interpreter start included),
with the project's bytecode compiled once beforehand, as an installed app has it. The
baseline is the same measure for the least a Qt app can do: a bare QMainWindow with a
label, shown by a fresh interpreter. Runs alternate (app, bare, app, ...) so a busy moment
hits both alike; the ratio of the medians is the figure (target <= 3x). Under X11 start
`Xvfb :99 & openbox &` and set DISPLAY=:99 to measure a real display server.

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


BARE_WINDOW = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            loaded = "torch" in sys.modules
            print(f"FIRST_PAINT {time.time():.6f} torch_loaded={loaded} {time.process_time():.6f}")
            QTimer.singleShot(0, QApplication.quit)
        return False

app = QApplication(sys.argv)
window = QMainWindow()
window.setCentralWidget(QLabel("bare"))
window.resize(1080, 700)
watcher = FirstPaint()
window.installEventFilter(watcher)
window.show()
app.exec()
"""


def one_run(platform: str | None, home: str, bare: bool = False) -> tuple[float, float, str, float]:
    env = dict(os.environ, MARQUEE_STARTUP_PROBE="1", MARQUEE_HOME=home)
    # Bytecode as an installed app has it (pip and the frozen build ship .pyc files): the
    # warm-up run writes it to a private folder even where PYTHONDONTWRITEBYTECODE is set.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    command = ["-c", BARE_WINDOW] if bare else ["-m", "gui"]
    start = time.time()
    proc = subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    lines = {x.split()[0]: x.split()[1:] for x in proc.stdout.splitlines() if x.strip()}
    if "FIRST_PAINT" not in lines:
        raise RuntimeError(f"no FIRST_PAINT line (rc {proc.returncode}):\n{proc.stderr[-2000:]}")
    stamp, torch_flag, cpu = lines["FIRST_PAINT"]
    ready = float(lines["READY"][0]) - start if "READY" in lines else float("nan")
    return float(stamp) - start, ready, torch_flag, float(cpu)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default=None if os.environ.get("DISPLAY") else "offscreen")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        one_run(args.platform, home)  # warm the OS file cache and compile once; not counted
        one_run(args.platform, home, bare=True)
        app, bare = [], []
        for _ in range(args.runs):  # interleaved, so a busy moment hits both alike
            app.append(one_run(args.platform, home))
            bare.append(one_run(args.platform, home, bare=True))
    platform = args.platform or os.environ.get("QT_QPA_PLATFORM") or "xcb"
    print(f"platform: {platform}, DISPLAY={os.environ.get('DISPLAY', '')}")
    for name, runs in (("first window", app), ("bare PySide6 window", bare)):
        print(f"{name} runs (s): " + ", ".join(f"{r[0]:.3f}" for r in runs))
    wall = [_median([r[0] for r in runs]) for runs in (app, bare)]
    cpu = [_median([r[3] for r in runs]) for runs in (app, bare)]
    print(f"launch to first paint, median: {wall[0]:.3f} s (target < 1.5 s)")
    print(f"bare PySide6 window, median:   {wall[1]:.3f} s")
    print(f"first window / bare window: {wall[0] / wall[1]:.2f}x by wall clock (target <= 3x)")
    print(
        f"  by process CPU time to first paint: {cpu[0]:.3f} / {cpu[1]:.3f} s = "
        f"{cpu[0] / cpu[1]:.2f}x (steadier on a busy machine)"
    )
    ready = _median([r[1] for r in app])
    print(f"plots built (pyqtgraph loaded, deferred past first paint): median {ready:.3f} s")
    print(f"at first paint: {app[0][2]}")


if __name__ == "__main__":
    main()
