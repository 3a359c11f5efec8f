"""A new model's ONNX graph is exported in a child process, never in the app's own process
(the export holds Python's GIL for a second or more: the window would freeze)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.inference import onnx_export
from gui.graph_warmup import warm_graph_cache

pytestmark = pytest.mark.slow


def _new_model(model_file: Path, out: Path) -> Path:
    """`model_file` with other weights: a graph no cache holds yet."""
    import torch

    from core.modelfile.checkpoint import load_model, save_model

    model, meta = load_model(model_file)
    with torch.no_grad():
        model.head[1].weight.mul_(0.5)
    return save_model(out, model, meta)


def test_a_new_models_graph_is_exported_in_a_child_process(model_file, tmp_path, monkeypatch):
    from core.inference.predictor import Predictor

    model = _new_model(model_file, tmp_path / "new.safetensors")
    exported_here: list[Path] = []
    real_export = onnx_export.export_graph
    monkeypatch.setattr(
        onnx_export,
        "export_graph",
        lambda *a, **k: exported_here.append(a[-1]) or real_export(*a, **k),
    )
    assert warm_graph_cache(model)  # a child exported it
    predictor = Predictor.from_file(model)  # in this process: from the cache
    assert predictor.runtime == "onnx" and exported_here == []
    assert not warm_graph_cache(model)  # cached now: no second child
