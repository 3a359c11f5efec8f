"""Run records written through the real store, for the Runs page tests (no training)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.runs import DataIdentity, EpochRecord, RunRecord, RunStore

LABELS = ("Action", "Comedy", "Drama")


def write_run(
    store: RunStore,
    *,
    lr: float = 0.01,
    backbone: str = "efficientnet_lite0",
    aps: tuple[float, float, float] = (0.5, 0.6, 0.7),
    epochs: int = 3,
    model: Path | None = None,
    images: dict[str, str] | None = None,
    previous_epochs: int = 0,
    parent: str | None = None,
    started: str = "2026-04-12T13:30:00+00:00",
) -> RunRecord:
    """A finished run with a history, per-label APs and (optionally) a copy of `model`."""
    run_id = store.new_id()
    images = images if images is not None else {"a.jpg": "x", "b.jpg": "y"}
    history = tuple(
        EpochRecord(
            epoch=previous_epochs + e,
            train_loss=1.0 / e,
            val_loss=1.2 / e,
            map=0.5 + 0.05 * e,
            f1_micro=0.4 + 0.05 * e,
            f1_macro=0.3 + 0.05 * e,
        )
        for e in range(1, epochs + 1)
    )
    if model is not None:
        (store.folder(run_id) / "model.safetensors").write_bytes(model.read_bytes())
    record = RunRecord(
        id=run_id,
        started=started,
        status="finished",
        ended=started,
        wall_s=12.5,
        origin="cli",
        settings={
            "backbone": backbone,
            "strategy": "freeze",
            "epochs": epochs,
            "lr": lr,
            "image_size": 64,
        },
        labels=LABELS,
        data=DataIdentity(
            path="/data/posters",
            kind="folder",
            counts={"train": 10, "val": 4},
            labels_fingerprint=hashlib.md5(repr(sorted(images.items())).encode()).hexdigest(),
            files_fingerprint="b" * 32,
            images=images,
        ),
        history=history,
        metrics={"map": sum(aps) / 3, "f1_macro": 0.6, "f1_micro": 0.62},
        per_label=tuple({"name": n, "ap": ap} for n, ap in zip(LABELS, aps, strict=True)),
        thresholds=(0.5, 0.5, 0.5),
        model_file="model.safetensors" if model is not None else None,
        previous_epochs=previous_epochs,
        parent=parent,
    )
    return store.save_record(record)


def remember_last_open(store: RunStore, run: RunRecord) -> None:
    """The app's preference for the model last open in Predict: `run`'s (as after a restart)."""
    from gui.settings import Preferences

    prefs = Preferences()
    prefs.set_value("predict/model", str(store.folder(run.id) / "model.safetensors"))
    prefs.sync()


def unshown_window(qtbot):
    """A main window as a restart makes it (no data restored), not shown yet, closing freely."""
    from gui.main_window import MainWindow

    window = MainWindow(restore_data=False)
    window.confirm_close = lambda: True
    qtbot.addWidget(window)
    return window
