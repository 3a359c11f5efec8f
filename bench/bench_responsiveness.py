"""Longest event-loop stall while a real training runs through the GUI's worker.

A 10 ms QTimer heartbeat runs on the UI thread; each gap between beats beyond 10 ms is time
the event loop could not answer. Prints numbers, asserts nothing.

    python bench/bench_responsiveness.py [--epochs 3] [--strategy freeze_unfreeze] ...
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MARQUEE_HOME", tempfile.mkdtemp(prefix="marquee-bench-"))

BEAT_MS = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--strategy", default="freeze_unfreeze")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--n-train", type=int, default=96, help="training images (sample posters)")
    return parser.parse_args()


def tiny_dataset(n_train: int):
    import numpy as np

    from core.data.datasets import Dataset, LabeledImages, load_dataset
    from core.data.samples import ensure_sample_data

    full = load_dataset(ensure_sample_data())

    def head(part, n):
        return LabeledImages(list(part.paths[:n]), np.asarray(part.labels[:n]), part.label_names)

    return Dataset(
        head(full.train, n_train),
        head(full.val, max(8, n_train // 3)),
        None,
        full.label_names,
        full.report,
        "sample subset",
    )


def main() -> None:
    args = parse_args()
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from core.base.config import TrainConfig
    from gui.main_window import MainWindow
    from gui.theme import apply_theme

    app = QApplication([])
    apply_theme(app)
    window = MainWindow(restore_data=False)
    window.confirm_close = lambda: True
    window.show()
    window.show_page(1)
    window.data_page.set_dataset(tiny_dataset(args.n_train))
    config = TrainConfig(
        epochs=args.epochs,
        strategy=args.strategy,
        image_size=args.image_size,
        batch_size=args.batch_size,
    )
    monitor = StallMonitor(window)
    # What the app does when the Train page opens: detect the device (imports torch) in a
    # worker. Measured separately: it happens once, while the user is still choosing settings.
    monitor.phase = "torch import (device probe)"
    window.train_page.detect_device()
    probe = window.train_page._device_probe
    loop = QEventLoop()  # not app.exec(): QApplication.quit() would close the window too
    probe.finished.connect(loop.quit)
    monitor.start()
    loop.exec()
    started = time.perf_counter()
    monitor.phase = "model build + data preparation"
    worker = window.train_page._start_worker(config)
    worker.event.connect(monitor.on_event)
    worker.finished.connect(lambda: QTimer.singleShot(300, loop.quit))
    loop.exec()
    monitor.stop()
    seconds = time.perf_counter() - started
    steps = sum(type(e).__name__ == "StepEnded" for e in window.train_page.events)
    window.close()
    print(
        f"training: {args.strategy}, {args.epochs} epochs, {args.n_train} images at "
        f"{args.image_size} px, {steps} steps, {seconds:.1f} s wall"
    )
    monitor.report()


class StallMonitor:
    """A 10 ms heartbeat on the UI thread; gaps beyond 10 ms are stalls, grouped by phase."""

    def __init__(self, window) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.window = window
        self.phase = ""
        self.gaps: dict[str, list[float]] = {}
        self._clock = QElapsedTimer()
        self._timer = QTimer(interval=BEAT_MS)
        self._timer.timeout.connect(self._beat)

    def start(self) -> None:
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def on_event(self, event: object) -> None:
        if type(event).__name__ == "TrainingStarted":
            self.phase = "training loop (steps, evaluation, plots)"
        elif type(event).__name__ == "TrainingFinished":
            self.phase = "auto-save of the run"

    def _beat(self) -> None:
        self.gaps.setdefault(self.phase, []).append(self._clock.nsecsElapsed() / 1e6 - BEAT_MS)
        self._clock.restart()

    def report(self) -> None:
        everything = sorted(g for gaps in self.gaps.values() for g in gaps)
        for phase, gaps in self.gaps.items():
            gaps = sorted(gaps)
            print(
                f"  {phase:42s} beats {len(gaps):5d}  max stall {gaps[-1]:7.1f} ms  "
                f"p99 {gaps[int(0.99 * (len(gaps) - 1))]:6.1f} ms  "
                f"median {statistics.median(gaps):5.1f} ms"
            )
        print(
            f"longest event-loop stall overall: {everything[-1]:.1f} ms (target < 100 ms; "
            f"stalls are time beyond the {BEAT_MS} ms heartbeat)"
        )


if __name__ == "__main__":
    main()
