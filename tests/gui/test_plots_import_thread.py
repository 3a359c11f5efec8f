"""The plots library (pyqtgraph, 0.3-0.6 s to import) and the later pages' modules (numpy...)
are never imported on the UI thread: after the first paint a thread imports them, and the
pages and plots are built on the UI thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# A fresh process (pytest's may have pyqtgraph loaded already): an import hook records the
# thread that imports pyqtgraph; the window's Train page plots must get built all the same.
_OPEN_WINDOW = """
import json, sys, threading
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

importers = {}
WATCHED = ("pyqtgraph", "numpy", "gui.train.page")

class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name in WATCHED:
            on_ui = threading.current_thread() is threading.main_thread()
            importers.setdefault(name, []).append(on_ui)
        return None

sys.meta_path.insert(0, Recorder())
import gui.main_window
app = QApplication([])
window = gui.main_window.MainWindow(restore_data=False)
window.show()
poll = QTimer(interval=20)
poll.timeout.connect(lambda: window._later and window.train_page.plots.built and app.quit())
poll.start()
QTimer.singleShot(60_000, app.quit)
app.exec()
plots = window.train_page.plots
print(json.dumps({"on_ui_thread": importers, "built": plots.built,
                  "curves": sorted(plots.curve_lengths())}))
window.close()
"""


def test_the_ui_thread_never_imports_the_plots_library(tmp_path):
    env = dict(os.environ, MARQUEE_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", _OPEN_WINDOW], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    # each imported exactly once, by another thread
    assert seen["on_ui_thread"] == {
        "pyqtgraph": [False],
        "numpy": [False],
        "gui.train.page": [False],
    }
    assert seen["built"] and seen["curves"] == ["f1", "map", "raw", "smooth", "val"]


def test_plots_shown_before_the_library_loads_are_drawn_once_it_has(qtbot):
    from gui.runs.compare import CurvesWidget, RunCurves
    from gui.widgets.background_imports import BackgroundImports

    library = BackgroundImports(
        ("pyqtgraph",)
    )  # a loader of its own: not loaded yet, whatever the process has
    widget = CurvesWidget()
    qtbot.addWidget(widget)
    run = RunCurves("a", "#3b8fd9", [1.0, 2.0], {"map": [0.5, 0.6], "f1": [0.4, None]})
    import gui.widgets.plot_panel as panel

    real = panel.plots_library
    panel.plots_library = lambda: library
    try:
        widget.show_runs([run])
        assert not widget.built  # waiting for the import thread
        with qtbot.waitSignal(library.ready, timeout=30_000):
            pass
    finally:
        panel.plots_library = real
    assert widget.built
    assert (widget.curve_count("map"), widget.curve_count("f1")) == (1, 1)
    assert widget.curve_count("val_loss") == 0
