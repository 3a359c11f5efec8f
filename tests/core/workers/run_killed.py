"""A run written by real core.runs code in its own process, paused at a chosen point so
the test can SIGKILL it there: `python run_killed.py RUNS_ROOT DATA_DIR POINT`.

Points: started, epoch, model-saved (the model is in place, the record not yet final),
record-temp (the final record's temp file written, not yet renamed), index-temp (the
index's temp file written, not yet renamed), retention (the run is final, retention
running). The model itself is a few bytes (the kill is about the files, not torch).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import core.modelfile.checkpoint as checkpoint
from core.base.files import replacing
from core.data.datasets import load_dataset
from core.runs import RunStore, RunWriter
from core.runs import writer as writer_module
from core.training.events import EpochEnded, LabelMetrics, TrainingStarted

root, data, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]


def pause(where: str) -> None:
    if where == point:
        print("READY", flush=True)
        time.sleep(600)


real_fsync = os.fsync


def fsync(fd: int) -> None:
    real_fsync(fd)
    name = os.readlink(f"/proc/self/fd/{fd}")
    if ".record.json." in name and '"finished"' in Path(name).read_text():
        pause("record-temp")
    if ".index.json." in name and '"finished"' in Path(name).read_text():
        pause("index-temp")


def save_model(path: Path, model: object, meta: object) -> Path:
    with replacing(Path(path), "the model") as tmp:
        tmp.write_bytes(b"weights" * 1000)
    return Path(path)


os.fsync = fsync
writer_module.after_model_saved = lambda path: pause("model-saved")
checkpoint.save_model = save_model  # type: ignore[assignment]
store = RunStore(root)
original_retention = store.apply_retention


def apply_retention(policy=None):  # type: ignore[no-untyped-def]
    pause("retention")
    return original_retention(policy)


store.apply_retention = apply_retention  # type: ignore[method-assign]
dataset = load_dataset(data)
writer = RunWriter.start({"backbone": "efficientnet_lite0", "epochs": 2}, dataset, store=store)
pause("started")
writer.on_event(TrainingStarted({"epochs": 2}, ("Action",), 24, 12, "cpu", "CPU", 3, 6))
labels = (LabelMetrics("Action", 0.9, 1.0, 1.0, 1.0, 4),)
writer.on_event(EpochEnded(1, 2, 0.5, 0.4, {"map": 0.9}, labels, True, 0.1))
pause("epoch")
meta = SimpleNamespace(
    config={"epochs": 2}, label_names=["Action"], metrics={"map": 0.9},
    per_label=[{"name": "Action", "ap": 0.9}], thresholds=[0.5],
)  # fmt: skip
writer.finish(SimpleNamespace(model=None, meta=meta, stopped_early=False))
print("DONE", flush=True)
