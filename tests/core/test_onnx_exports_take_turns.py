"""Two threads exporting ONNX graphs at once (the app: Predict loads a trained model while a
new training exports its backbone) both get a valid file: torch's exporter allows one export
per process at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import onnx
import torch

from core.model.onnx_runtime import export_module


def test_concurrent_exports_both_succeed(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = torch.nn.Sequential(*[torch.nn.Linear(64, 64) for _ in range(40)])
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def export(index: int) -> None:
        start.wait()
        try:
            export_module(module, torch.zeros(1, 64), tmp_path / f"{index}.onnx", "x", "y")
        except BaseException as exc:  # the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=export, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for index in range(4):
        onnx.checker.check_model(str(tmp_path / f"{index}.onnx"))
