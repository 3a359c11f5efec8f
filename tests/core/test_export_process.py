"""The desktop app's ONNX exports run in a child process (torch's exporter holds the GIL for
seconds, which froze the window); errors come back as the same exception and message."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
import pytest
import torch

from core.model import export_process
from core.model.onnx_runtime import export_module


@pytest.fixture
def in_children():
    export_process.export_in_child_processes()
    yield
    export_process.export_in_child_processes(False)
    export_process._forget_pool()


def _no_export_here(*args, **kwargs):
    raise AssertionError("torch.onnx.export ran in the app's own process")


def test_the_app_exports_in_another_process(in_children, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.onnx, "export", _no_export_here)  # the parent's exporter only
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    out = tmp_path / "graph.onnx"
    export_module(module, torch.zeros(2, 3, 8, 8), out, "images", "features")
    onnx.checker.check_model(str(out))
    assert [i.name for i in onnx.load(str(out)).graph.input] == ["images"]


def test_without_a_window_the_export_stays_in_the_process(tmp_path: Path, monkeypatch) -> None:
    assert not export_process.exports_in_child_processes()  # the CLI and torchrun jobs
    monkeypatch.setattr(torch.onnx, "export", _no_export_here)
    with pytest.raises(AssertionError, match="own process"):
        export_module(torch.nn.ReLU(), torch.zeros(1, 3), tmp_path / "g.onnx", "x", "y")


def test_an_error_in_the_child_is_raised_as_the_same_error(in_children, tmp_path: Path) -> None:
    wrong = (torch.nn.Linear(4, 4), torch.zeros(1, 5), tmp_path / "g.onnx", "x", "y")
    with pytest.raises(RuntimeError) as in_child:
        export_module(*wrong)
    export_process.export_in_child_processes(False)
    with pytest.raises(RuntimeError) as here:
        export_module(*wrong)
    assert str(in_child.value) == str(here.value) and "shapes" in str(here.value)
    assert not (tmp_path / "g.onnx").exists()


def test_a_child_that_dies_is_an_error_not_a_hang(in_children, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ended early"):
        export_process.run_export(os._exit, 3)
    out = tmp_path / "after.onnx"  # the next export gets a new process
    export_module(torch.nn.ReLU(), torch.zeros(1, 3), out, "x", "y")
    onnx.checker.check_model(str(out))


def test_one_process_serves_the_exports_that_follow(in_children, tmp_path: Path) -> None:
    export_process.prestart()
    pids = [export_process._submit(os.getpid).result() for _ in range(2)]
    assert pids[0] == pids[1] != os.getpid()


def test_a_saved_models_graph_is_read_and_exported_by_the_export_process(
    in_children, tmp_path: Path, monkeypatch
) -> None:
    import core.modelfile.checkpoint as checkpoint
    from core.inference.warm import warm_graph_cache
    from core.model.classifier import create_model

    model = create_model("efficientnet_lite0", 3, pretrained=False)
    meta = checkpoint.ModelMeta(
        "efficientnet_lite0", 32, ["a", "b", "c"], [0.5] * 3, [0.5] * 3, [0.25] * 3
    )
    saved = checkpoint.save_model(tmp_path / "m.safetensors", model, meta)
    monkeypatch.setattr(checkpoint, "load_model", _no_export_here)  # the app's own process
    monkeypatch.setattr(torch.onnx, "export", _no_export_here)
    graph = warm_graph_cache(saved)
    assert graph is not None and graph.is_file()
    onnx.checker.check_model(str(graph))
