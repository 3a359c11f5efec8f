"""`marquee --self-test`: an end-to-end smoke test of a dev install or a frozen bundle.

It opens the real main window offscreen, generates the sample posters, trains briefly through
`core.training.loop.fit`, saves the model, loads it back with `Predictor.from_file` and predicts one
poster, then prints ONE JSON line (`"ok": true` and timings, exit 0; or `"ok": false` with the
error, exit 1). Every file goes under MARQUEE_HOME when set, else a temporary folder, so a
user's settings, caches and runs are never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from core.data.datasets import Dataset
    from core.training.loop import TrainResult
    from gui.main_window import MainWindow

SELF_TEST_FLAG = "--self-test"


@dataclasses.dataclass(frozen=True)
class Options:
    epochs: int = 2
    image_size: int = 128
    train_limit: int | None = None  # first N training posters only (None: all of them)
    val_limit: int | None = None
    device: str = "auto"
    json_out: Path | None = None  # also write the JSON here (a windowed build has no stdout)
    window_timeout_s: float = 30.0
    train_timeout_s: float = 900.0
    qt_args: tuple[str, ...] = ()  # what the self-test does not know is Qt's (-platform ...)


class _Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.clock = {"main_at": time.time()}  # unix times, for a launcher timing start-up

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)

    def total(self) -> dict[str, float]:
        return {**self.timings, "total_s": round(time.perf_counter() - self.started, 3)}


def parse_args(args: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog=f"marquee {SELF_TEST_FLAG}")
    parser.add_argument(SELF_TEST_FLAG, action="store_true")
    parser.add_argument("--epochs", type=int, default=Options.epochs)
    parser.add_argument("--image-size", type=int, default=Options.image_size)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--val-limit", type=int, default=None)
    parser.add_argument("--device", default=Options.device)
    parser.add_argument("--json-out", type=Path, default=None)
    ns, qt_args = parser.parse_known_args(args)
    return Options(
        epochs=ns.epochs,
        image_size=ns.image_size,
        train_limit=ns.train_limit,
        val_limit=ns.val_limit,
        device=ns.device,
        json_out=ns.json_out,
        qt_args=tuple(qt_args),
    )


def main(args: list[str]) -> int:
    """Run the self-test; print the JSON line; 0 when everything worked, 1 otherwise."""
    timer = _Timer()
    options = parse_args(args)
    try:
        report = run(options, timer)
    except Exception as exc:
        report = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "timings": timer.total(),
        }
    _emit(report, options.json_out)
    return 0 if report["ok"] else 1


def run(options: Options, timer: _Timer) -> dict[str, Any]:
    with _isolated_home():
        with timer("import_s"):
            _import_stack()
        with timer("window_s"):
            app, window = _open_window(options)
        timer.clock["window_at"] = time.time()
        try:
            with timer("data_s"):
                data = _sample_data(options)
            with timer("train_s"):
                result = _train(options, data, app, window)
            with timer("predict_s"):
                prediction = _predict(result, data)
            with timer("serve_s"):
                served = _serve_round_trip(result, data.val.paths[0])
            checks = _check_torchvision(data.val.paths[0])
        finally:
            _close_window(app, window)
    import torch

    from core import __version__

    return {
        "ok": True,
        "version": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "torch": torch.__version__,
        **checks,
        **prediction,
        "serve": served,
        "val_map": _round(result.meta.metrics.get("map")),
        "timings": timer.total(),
        "clock": timer.clock,
    }


@contextlib.contextmanager
def _isolated_home() -> Iterator[Path]:
    """MARQUEE_HOME when the user set one, else a temporary one removed afterwards."""
    current = os.environ.get("MARQUEE_HOME")
    if current:
        yield Path(current)
        return
    with tempfile.TemporaryDirectory(
        prefix="marquee-self-test-", ignore_cleanup_errors=True
    ) as tmp:
        os.environ["MARQUEE_HOME"] = tmp
        try:
            yield Path(tmp)
        finally:
            os.environ.pop("MARQUEE_HOME", None)


def _import_stack() -> None:
    """The heavy imports, timed on their own (in a frozen app they dominate cold start)."""
    import torch  # noqa: F401
    import torchvision  # noqa: F401
    from PySide6 import QtWidgets  # noqa: F401

    import gui.main_window  # noqa: F401


def _open_window(options: Options) -> tuple[QApplication, MainWindow]:
    forced = os.environ.get("QT_QPA_PLATFORM") or "-platform" in options.qt_args
    if not forced:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from gui.theme import apply_theme

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0], *options.qt_args])
        app.setApplicationName("Marquee")
        apply_theme(app)
    assert isinstance(app, QApplication)
    window = MainWindow(restore_data=False)
    window.show()
    deadline = time.perf_counter() + options.window_timeout_s
    while not _exposed(window):
        if time.perf_counter() > deadline:
            window.close()
            raise RuntimeError(f"The main window was not shown within {options.window_timeout_s}s.")
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    return app, window


def _exposed(window: MainWindow) -> bool:
    handle = window.windowHandle()
    return window.isVisible() and handle is not None and handle.isExposed()


def _close_window(app: QApplication, window: MainWindow) -> None:
    window.close()  # stops the window's workers (MainWindow.closeEvent)
    window.deleteLater()
    app.processEvents()


def _sample_data(options: Options) -> Dataset:
    """The sample posters, generated on first use (so this always runs in a fresh home)."""
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data

    data = load_dataset(ensure_sample_data())
    return _limited(data, options.train_limit, options.val_limit)


def _train(options: Options, data: Dataset, app: QApplication, window: MainWindow) -> TrainResult:
    """Train through the Train page, as a user would: its task slot, worker and events."""
    from core.base.config import TrainConfig

    config = TrainConfig(
        backbone="efficientnet_lite0",
        strategy="freeze",
        epochs=options.epochs,
        image_size=options.image_size,
        device=options.device,
    )
    page = window.train_page
    page.set_dataset(data)
    page.form.set_config(config)
    worker = page.start_training()
    if worker is None:
        raise RuntimeError("The Train page did not start training.")
    deadline = time.perf_counter() + options.train_timeout_s
    while page.is_training():
        if time.perf_counter() > deadline:
            page.stop_training()
            raise RuntimeError(f"Training did not finish within {options.train_timeout_s}s.")
        app.processEvents()
        time.sleep(0.01)
    if page.result is None:
        raise RuntimeError(f"Training ended without a model ({page.progress_card.bar.format()}).")
    return page.result


def _limited(data: Dataset, train: int | None, val: int | None) -> Dataset:
    import numpy as np

    def first(part, n: int | None):
        return part if n is None or n >= len(part) else part.subset(np.arange(n))

    return dataclasses.replace(data, train=first(data.train, train), val=first(data.val, val))


def _predict(result: TrainResult, data: Dataset) -> dict[str, Any]:
    """Save, reload through the model file, and predict the first validation poster."""
    from core.inference.predictor import Predictor
    from core.modelfile.checkpoint import save_model

    poster = data.val.paths[0]
    with tempfile.TemporaryDirectory(prefix="marquee-model-", ignore_cleanup_errors=True) as tmp:
        path = save_model(Path(tmp) / "self-test.safetensors", result.model, result.meta)
        predictor = Predictor.from_file(path)
        [prediction] = predictor.predict([poster])
    if prediction.probabilities is None:
        raise RuntimeError(f"Prediction failed for {poster.name}: {prediction.error}")
    probs = [float(p) for p in prediction.probabilities]
    if len(probs) != len(predictor.label_names) or not all(0.0 <= p <= 1.0 for p in probs):
        raise RuntimeError(f"Implausible probabilities for {predictor.label_names}: {probs}")
    names = predictor.label_names
    predictions = predictor.new_set()
    predictions.use_tuned()
    predictions.record([prediction])
    return {
        "labels": names,
        "poster": poster.name,
        "prediction": {name: round(p, 4) for name, p in zip(names, probs, strict=True)},
        "predicted_labels": predictions.predicted_labels(0),
        "true_labels": [n for n, y in zip(data.label_names, data.val.labels[0], strict=True) if y],
    }


def _serve_round_trip(result: TrainResult, poster: Path) -> dict[str, Any]:
    """`marquee serve` in-process: uvicorn on 127.0.0.1 port 0, one prediction, shutdown."""
    import threading
    import urllib.request

    import uvicorn

    from core.modelfile.checkpoint import save_model
    from core.serving.app import create_app
    from core.serving.limits import ServeOptions
    from core.serving.runtime import load_runtime
    from core.serving.server import bind_socket, uvicorn_config

    with tempfile.TemporaryDirectory(prefix="marquee-serve-", ignore_cleanup_errors=True) as tmp:
        path = save_model(Path(tmp) / "serve.safetensors", result.model, result.meta)
        app = create_app(load_runtime(path, "cpu"), ServeOptions(max_wait_ms=0))
    sock = bind_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        request = urllib.request.Request(
            url + "/v1/predict", data=poster.read_bytes(), headers={"Content-Type": "image/jpeg"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    if thread.is_alive() or sorted(answer["probabilities"]) != sorted(result.meta.label_names):
        raise RuntimeError(f"serve round trip failed: {answer}")
    return {"url": url, "predicted": answer["predicted"], "stopped": True}


def _check_torchvision(poster: Path) -> dict[str, Any]:
    """Call the compiled ops from both of torchvision's libraries (_C_stable, image_stable)."""
    import torch
    import torchvision
    from torchvision.io import decode_jpeg, read_file

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist()
    if keep != [0, 2]:
        raise RuntimeError(f"torchvision.ops.nms returned {keep}, expected [0, 2]")
    decoded = decode_jpeg(read_file(str(poster)))
    return {
        "torchvision": torchvision.__version__,
        "torchvision_ops": keep,
        "torchvision_decode_jpeg": list(decoded.shape),
    }


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _emit(report: dict[str, Any], json_out: Path | None) -> None:
    line = json.dumps(report, default=str)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(line + "\n", encoding="utf-8")
    if sys.stdout is not None:  # None in a windowed Windows build
        print(line, flush=True)
