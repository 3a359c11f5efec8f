"""UI stalls while the app does its slow things: exits non-zero on any stall over a limit.

A 10 ms QTimer heartbeat runs on the UI thread; a gap between beats beyond 10 ms is time
the event loop could not answer (a click, a repaint). Each phase drives the real window:
open a model, predict and export the results as CSV, the evaluation dialog, the data
health check, labelling posters with key presses, and closing the window during a
training (how long `close()` took). The longest stall per phase is printed; any over
`--limit-ms` (200) fails the run.

    python bench/bench_responsiveness.py [--n-images 48] [--limit-ms 200]
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MARQUEE_HOME", tempfile.mkdtemp(prefix="marquee-bench-"))

BEAT_MS = 10
JUDGED = (
    "train page built",
    "first training (graph export)",
    "open model",
    "predict posters",
    "export CSV",
    "evaluation",
    "health check",
    "labelling (key presses)",
    "close during training",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=48, help="posters per phase")
    parser.add_argument("--limit-ms", type=float, default=200.0, help="longest stall allowed")
    parser.add_argument("--keys", type=int, default=12, help="key presses in the labelling view")
    parser.add_argument(
        "--stacks", type=Path, help="write every thread's stack here at each stall over the limit"
    )
    return parser.parse_args()


class StallMonitor:
    """A 10 ms heartbeat on the UI thread; gaps beyond 10 ms are stalls, grouped by phase."""

    def __init__(self, limit_ms: float, stacks: Path | None = None) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.phase = ""
        self.limit_ms = limit_ms
        self._stacks = stacks.open("w") if stacks else None  # where stalls are explained
        self.gaps: dict[str, list[float]] = {}
        self.notes: dict[str, str] = {}
        self._clock = QElapsedTimer()
        self._timer = QTimer(interval=BEAT_MS)
        self._timer.timeout.connect(self._beat)

    def start(self, phase: str) -> None:
        self.phase = phase
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self._stacks is not None:
            faulthandler.cancel_dump_traceback_later()

    def _beat(self) -> None:
        self.gaps.setdefault(self.phase, []).append(self._clock.nsecsElapsed() / 1e6 - BEAT_MS)
        self._clock.restart()
        if self._stacks is not None:  # a C-level watchdog: it fires even while the GIL is held
            faulthandler.cancel_dump_traceback_later()
            faulthandler.dump_traceback_later(self.limit_ms / 1000, file=self._stacks)

    def worst(self) -> float:
        """The longest stall of the judged phases (setting up is reported, not judged)."""
        judged = [g for phase, g in self.gaps.items() if phase in JUDGED and g]
        return max((max(g) for g in judged), default=0.0)

    def report(self, limit_ms: float) -> None:
        for phase, gaps in self.gaps.items():
            gaps = sorted(gaps) or [0.0]
            verdict = "OK" if gaps[-1] <= limit_ms else "STALL"
            verdict = verdict if phase in JUDGED else "(setting up, not judged)"
            print(
                f"  {phase:34s} beats {len(gaps):5d}  max stall {gaps[-1]:7.1f} ms  "
                f"p99 {gaps[int(0.99 * (len(gaps) - 1))]:6.1f} ms  "
                f"median {statistics.median(gaps):5.1f} ms  "
                f"took {(sum(gaps) + BEAT_MS * len(gaps)) / 1000:5.1f} s  {verdict}"
                + (f"  ({self.notes[phase]})" if phase in self.notes else "")
            )


def wait_until(condition: Callable[[], bool], timeout_s: float = 300.0) -> None:
    """Run the event loop (the heartbeat beats) until `condition` holds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer(interval=20)
    poll.timeout.connect(lambda: condition() and loop.quit())
    deadline = time.monotonic() + timeout_s
    guard = QTimer(interval=500)
    guard.timeout.connect(lambda: time.monotonic() > deadline and loop.quit())
    poll.start()
    guard.start()
    if not condition():
        loop.exec()
    poll.stop()
    guard.stop()
    if not condition():
        raise TimeoutError(f"gave up after {timeout_s:.0f} s")


def small_data(root: Path, n: int) -> tuple[Path, Path]:
    """A data set of `n` training and n/2 validation sample posters, and a folder of n/2
    unlabelled posters for the labelling view."""
    import csv

    from core.data.samples import ensure_sample_data

    sample = ensure_sample_data(root / "sample")
    data, unlabelled = root / "data", root / "unlabelled"
    for split, count in (("train", n), ("val", max(8, n // 2))):
        with (sample / split / "metadata.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        (data / split).mkdir(parents=True)
        with (data / split / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows[: count + 1])
        for row in rows[1 : count + 1]:
            shutil.copy(sample / split / f"{row[0]}.jpg", data / split / f"{row[0]}.jpg")
    unlabelled.mkdir()
    for image in sorted((sample / "train").glob("*.jpg"))[-max(4, n // 2) :]:
        shutil.copy(image, unlabelled / image.name)
    return data, unlabelled


def main() -> int:
    args = parse_args()
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from gui.theme import apply_theme

    app = QApplication([])
    apply_theme(app)
    as_the_app_does()
    data, unlabelled = small_data(Path(tempfile.mkdtemp(prefix="marquee-resp-")), args.n_images)
    window = MainWindow(restore_data=False)
    window.confirm_close = lambda: True
    monitor = StallMonitor(args.limit_ms, args.stacks)
    monitor.start("train page built")
    window.show()
    train_page_built(window)
    phases(window, monitor, data, unlabelled, args)
    monitor.stop()
    print(f"UI stalls (heartbeat {BEAT_MS} ms; limit {args.limit_ms:.0f} ms):")
    monitor.report(args.limit_ms)
    worst = monitor.worst()
    print(f"longest stall overall: {worst:.1f} ms")
    app.processEvents()
    from gui.app import finish_workers

    finish_workers(0)
    return 1 if worst > args.limit_ms else 0


def as_the_app_does() -> None:
    """What gui.app sets up before the window (where this code has it)."""
    set_child_exports(True)


def set_child_exports(enabled: bool) -> bool:
    """Graph exports in a child process (the app) or here; whether they went to one before.
    Older code without the switch exports here."""
    try:
        from core.model import export_process
    except ImportError:
        return False
    before = export_process.exports_in_child_processes()
    export_process.export_in_child_processes(enabled)
    return before


def phases(window, monitor: StallMonitor, data: Path, unlabelled: Path, args) -> None:
    from gui.health.actions import DataHealthController

    page = window.data_page
    loaded: list[object] = []
    page.dataset_loaded.connect(loaded.append)
    monitor.phase = "load the data set"
    page.load_source("folder", str(data))
    wait_until(lambda: bool(loaded))
    import_torch(monitor)
    result = train_quietly(window, monitor)

    predict = window.predict_page
    predict.load_model(None, result=result)  # warm: the first model is built off the clock
    wait_until(lambda: predict.predictor is not None and not predict.tasks.busy())
    model_file = window.train_page.results.model_file()

    monitor.phase = "open model"
    predict.load_model(model_file)
    wait_until(lambda: predict.model_path == model_file and not predict.tasks.busy())

    monitor.phase = "baseline: open model, export here"
    open_with_export_in_process(predict, result, data.parent / "baseline.safetensors")

    monitor.phase = "predict posters"
    posters = sorted(data.glob("val/*.jpg"))
    predict.add_inputs(posters)
    wait_until(lambda: predict.predictions.done_count() == len(posters))

    monitor.phase = "export CSV"
    out = data.parent / "predictions.csv"
    worker = predict.export_csv(out)
    wait_until(lambda: worker.isFinished() and out.is_file())

    monitor.phase = "evaluation"
    dialog = window.train_page.open_evaluation()
    wait_until(lambda: dialog.scores is not None)
    dialog.close()

    monitor.phase = "health check"
    health: DataHealthController = page.health
    from core.health.doctor import DoctorOptions

    health.doctor_options = DoctorOptions(image_size=64, folds=3)
    view = health.open_health()
    wait_until(lambda: view.doctor_result is not None and not view.tasks.busy())
    view.close()

    monitor.phase = "labelling (key presses)"
    label_with_keys(health, predict.predictor, unlabelled, args.keys)

    monitor.phase = "close during training"
    close_during_training(window, monitor)


def open_with_export_in_process(predict, result, out: Path) -> None:
    """The same as "open model" for a model no cache knows, with the graph exported in the
    app's own process as before (the baseline of this run; not judged)."""
    import copy

    import torch

    import gui.graph_warmup
    from core.modelfile.checkpoint import save_model

    model = copy.deepcopy(result.model)
    with torch.no_grad():
        next(model.parameters()).mul_(0.5)  # other weights: a graph no cache holds
    save_model(out, model, result.meta)
    real = gui.graph_warmup.warm_graph_cache
    gui.graph_warmup.warm_graph_cache = lambda *a, **k: False
    in_children = set_child_exports(False)
    try:
        predict.load_model(out)
        wait_until(lambda: predict.model_path == out and not predict.tasks.busy())
    finally:
        gui.graph_warmup.warm_graph_cache = real
        set_child_exports(in_children)


def import_torch(monitor: StallMonitor) -> None:
    """torch in a worker before the first training, so that phase shows the graph exports: its
    C extension holds the GIL while it loads (0.4-0.9 s here), a stall of its own, reported."""
    import importlib

    from gui.workers import FunctionWorker

    monitor.phase = "import torch (in a worker)"
    worker = FunctionWorker(lambda _state: importlib.import_module("torch"), name="torch")
    worker.start()
    wait_until(worker.isFinished)


def train_page_built(window) -> None:
    """The first paint, then what it defers: the later pages and their plots (the plots
    library is imported then; the window must keep answering meanwhile)."""
    wait_until(lambda: window._later is not None and window.train_page.plots.built, 60)


def train_quietly(window, monitor: StallMonitor):
    """A tiny model through the Train page: the session's first training, which exports the
    frozen backbone's embedding graph (a fresh graph cache) and the model's inference graph."""
    from core.base.config import TrainConfig

    train = window.train_page
    monitor.phase = "first training (graph export)"
    train.form.set_config(
        TrainConfig(epochs=2, batch_size=8, image_size=64, strategy="freeze", num_threads=1)
    )
    train.start_training()
    wait_until(lambda: train.result is not None and not train.is_training())
    return train.result


def label_with_keys(health, predictor, unlabelled: Path, keys: int) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    dialog = health.label_more(predictor, folder=unlabelled)
    wait_until(lambda: dialog.current() is not None)
    for _ in range(keys):
        if dialog.current() is None:
            break
        QTest.keyClick(dialog, Qt.Key.Key_Return)
        pause = time.monotonic() + 0.08  # a fast labeller: about 12 posters a second
        wait_until(lambda deadline=pause: time.monotonic() > deadline)
    wait_until(lambda: not health.saver.pending() and not health.fix_tasks.busy())
    dialog.close()


def close_during_training(window, monitor: StallMonitor) -> None:
    """Close while a training runs: `close()` itself must return at once."""
    from core.base.config import TrainConfig

    train = window.train_page
    train.form.set_config(
        TrainConfig(epochs=200, batch_size=8, image_size=64, strategy="freeze", num_threads=1)
    )
    train.start_training()
    wait_until(lambda: train.progress_card.started is not None)
    started = time.perf_counter()
    window.close()
    seconds = time.perf_counter() - started
    monitor.notes[monitor.phase] = f"close() took {seconds * 1000:.0f} ms"


if __name__ == "__main__":
    sys.exit(main())
