"""Render every page of Marquee, in use, to PNG (for the README and docs/, and for review).

A fresh user (MARQUEE_HOME in a temp folder) loads the sample posters, trains a small model,
and drops posters on the Predict page; each step is grabbed with QWidget.grab(). A second
pass renders the same pages with a dark palette (training events are replayed, not re-run).

    python tools/screenshots.py [--out docs/screenshots] [--epochs 10] [--no-dark]
    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshots.py   # on a virtual display
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["MARQUEE_HOME"] = tempfile.mkdtemp(prefix="marquee-shots-")

from PySide6.QtCore import QEventLoop  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from core.base.config import TrainConfig  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.theme import apply_theme  # noqa: E402

SIZE = (1360, 860)


def wait_until(condition: Callable[[], bool], timeout: float = 600, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    app = QApplication.instance()
    while not condition():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")


def settle(seconds: float = 0.6) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.instance().processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
        time.sleep(0.01)


def save(widget: QWidget, path: Path) -> None:
    settle()
    widget.grab().save(str(path), "PNG")
    from PIL import Image  # 256-colour palette: UI screenshots stay sharp at a third the size

    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def predicted(window: MainWindow, count: int) -> bool:
    predictions = window.predict_page.predictions
    return len(predictions) == count and not predictions.pending()


def new_window() -> MainWindow:
    window = MainWindow(restore_data=False)
    window.confirm_close = lambda: True
    window.resize(*SIZE)
    window.show()
    settle()
    return window


def light_pass(out: Path, epochs: int) -> tuple[object, list, Path]:
    window = new_window()
    window.data_page.load_source("sample")
    wait_until(lambda: window.data_page.dataset is not None, what="the sample data")
    model = window.data_page.images.grid.grid_model
    wait_until(lambda: model.loaded_count() >= min(8, model.rowCount()), what="thumbnails")
    save(window, out / "data.png")

    window.show_page(1)
    page = window.train_page
    events: list = []
    page.training_event.connect(events.append)
    page.form.set_config(TrainConfig(epochs=epochs, image_size=160, strategy="freeze", lr=0.01))
    page.start_training()
    wait_until(
        lambda: sum(type(e).__name__ == "EpochEnded" for e in events) >= epochs // 2,
        what="half the epochs",
    )
    save(window, out / "train-running.png")
    wait_until(lambda: page.result is not None and not page.is_training(), what="training")
    save(window, out / "train.png")

    page.results.predict_button.click()
    wait_until(lambda: window.predict_page.predictor is not None, what="the model")
    posters = window.data_page.dataset.val.paths[:8]
    window.predict_page.add_inputs(list(posters))
    wait_until(lambda: predicted(window, len(posters)), what="predictions")
    window.predict_page.threshold_controls.spin.setValue(0.4)
    window.predict_page.flow.verticalScrollBar().setValue(0)
    save(window, out / "predict.png")
    window.predict_page.tabs.setCurrentIndex(1)
    save(window, out / "predict-table.png")
    window.predict_page.tabs.setCurrentIndex(0)
    dataset, events = window.data_page.dataset, list(events)
    model_file = page.run_dir / "model.safetensors"
    runs_pass(window, out, epochs)
    window.close()
    return dataset, events, model_file


def runs_pass(window: MainWindow, out: Path, epochs: int) -> None:
    """A second run that trains more from the first, then both compared on the Runs page."""
    window.show_page(1)
    page = window.train_page
    page.train_more(max(2, epochs // 2))
    wait_until(lambda: not page.is_training(), what="train more")
    wait_until(lambda: page.run_dir is not None, what="the second run")
    compare_two_runs(window)
    save(window, out / "runs.png")


def compare_two_runs(window: MainWindow) -> None:
    """The Runs page comparing the two newest runs (the older first: deltas are against it)."""
    runs = window.runs_page
    window.show_page(3)
    wait_until(lambda: runs.model.rowCount() >= 2, what="the runs list")
    ids = [row.run_id for row in runs.model.stored_rows()[:2]]
    compared: list[bool] = []
    runs.compared.connect(lambda: compared.append(True))
    runs.select_runs(list(reversed(ids)))
    wait_until(lambda: bool(compared), what="the comparison")


def dark_pass(out: Path, dataset, events: list, model_file: Path) -> None:
    apply_theme(QApplication.instance(), dark=True)
    window = new_window()
    window.show_page(0)
    window.data_page.set_dataset(dataset)
    model = window.data_page.images.grid.grid_model
    wait_until(lambda: model.loaded_count() >= min(8, model.rowCount()), what="thumbnails")
    save(window, out / "data-dark.png")
    compare_two_runs(window)  # before the replay below, which the Runs page would list live
    save(window, out / "runs-dark.png")
    window.show_page(1)
    page = window.train_page
    page.plots.build()
    for event in events:  # replay the recorded run: same plots, no second training
        page._on_worker_event(event)
    page._on_timer_timeout()
    page.progress_card.show_finished("Finished", complete=True)
    save(window, out / "train-dark.png")
    window.show_page(2)
    window.predict_page.load_model(model_file)
    wait_until(lambda: window.predict_page.predictor is not None, what="the model")
    window.predict_page.add_inputs(list(dataset.val.paths[:8]))
    wait_until(lambda: predicted(window, 8), what="predictions")
    window.predict_page.threshold_controls.spin.setValue(0.4)
    save(window, out / "predict-dark.png")
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-dark", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication([])
    apply_theme(app, dark=False)
    print(f"platform: {app.platformName()}")
    dataset, events, model_file = light_pass(args.out, args.epochs)
    if not args.no_dark:
        dark_pass(args.out, dataset, events, model_file)


if __name__ == "__main__":
    main()
