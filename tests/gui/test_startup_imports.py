"""The window opens before anything heavy loads: torch, timm and torchmetrics wait for a job."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("torch", "timm", "torchmetrics")

_BUILD_WINDOW = """
import json, sys
from PySide6.QtWidgets import QApplication
import gui.main_window
imported = [m for m in {heavy!r} if m in sys.modules]
app = QApplication([])
window = gui.main_window.MainWindow(restore_data=False)
window.show()
app.processEvents()
shown = [m for m in {heavy!r} if m in sys.modules]
window.close()
print(json.dumps({{"imported": imported, "shown": shown}}))
"""


def test_main_window_import_and_first_show_leave_torch_out(tmp_path):
    env = dict(os.environ, MARQUEE_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    code = _BUILD_WINDOW.format(heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {"imported": [], "shown": []}, loaded
