"""GUI fixtures: a shared sample data set, a tiny model, and a main window per test."""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import TINY
from PySide6.QtWidgets import QApplication

from core.data.datasets import Dataset, LabeledImages


@pytest.fixture(scope="session", autouse=True)
def ui_thread_garbage_collection(qapp: QApplication):
    """As in the app: Python's collector runs on the UI thread only (see gui.gc_guard)."""
    from gui import gc_guard

    return gc_guard.install(qapp)


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.data.samples import ensure_sample_data

    return ensure_sample_data(tmp_path_factory.mktemp("sample") / "posters")


@pytest.fixture(scope="session")
def sample_dataset(sample_root: Path) -> Dataset:
    from core.data.datasets import load_dataset

    return load_dataset(sample_root)


def _subset(part: LabeledImages, n: int) -> LabeledImages:
    return LabeledImages(list(part.paths[:n]), np.asarray(part.labels[:n]), list(part.label_names))


@pytest.fixture(scope="session")
def tiny_dataset(sample_dataset: Dataset) -> Dataset:
    """24 training and 16 validation posters: enough to train in a second or two."""
    ds = sample_dataset
    return Dataset(
        train=_subset(ds.train, 24),
        val=_subset(ds.val, 16),
        test=None,
        label_names=list(ds.label_names),
        report=ds.report,
        source="tiny subset of the sample posters",
    )


@pytest.fixture(scope="session")
def model_file(tiny_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model trained once (through core, no Qt) for the Predict page tests."""
    from core.modelfile.checkpoint import save_model
    from core.training.loop import fit

    result = fit(TINY, tiny_dataset)
    return save_model(
        tmp_path_factory.mktemp("model") / "tiny.safetensors", result.model, result.meta
    )


@pytest.fixture(scope="session")
def model_graphs(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ONNX graph of `model_file`, exported once for the session (every test's cache
    starts empty, and the app exports a missing graph in a child process: seconds each)."""
    from core.base.paths import cache_dir
    from core.inference.predictor import Predictor

    home, before = tmp_path_factory.mktemp("graphs-home"), os.environ.get("MARQUEE_HOME")
    os.environ["MARQUEE_HOME"] = str(home)
    try:
        Predictor.from_file(model_file)
        return cache_dir() / "onnx"
    finally:
        os.environ["MARQUEE_HOME"] = before or ""


@pytest.fixture(autouse=True)
def model_graph_in_the_cache(request: pytest.FixtureRequest, marquee_home: Path) -> None:
    """A test that uses `model_file` finds its graph in its own cache, as after a first run."""
    if "model_file" not in request.fixturenames:
        return
    from core.base.paths import cache_dir

    graphs = request.getfixturevalue("model_graphs")
    target = cache_dir() / "onnx"
    target.mkdir(parents=True, exist_ok=True)
    for graph in graphs.glob("*.onnx"):
        shutil.copy(graph, target / graph.name)


@pytest.fixture
def window(qtbot, marquee_home):
    from gui.main_window import MainWindow
    from gui.theme import apply_theme

    apply_theme(QApplication.instance())
    win = MainWindow(restore_data=False)
    win.confirm_close = lambda: True
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    # The window's Python wrappers sit in reference cycles; collected here, on the GUI thread,
    # rather than by a GC pass that happens to run in a later test's worker thread (seen once:
    # a segfault in "Garbage-collecting" inside a model-loading worker).
    gc.collect()


@pytest.fixture(scope="session", autouse=True)
def retired_threads_end_before_exit():
    """Threads a closed window asked to stop end before the interpreter does (as the app
    waits for them, gui.app.finish_workers): a QThread destroyed while it runs aborts."""
    yield
    from gui.thread_keeper import wait_for_retired

    wait_for_retired(120_000)
