"""One weights digest: the same from a module, its state dict and its .safetensors file
(read without torch), and so one ONNX cache key for a model file and the same model in memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from core.base.digest import weights_digest
from core.inference.onnx_cache import cached_file_session, file_graph_key, graph_key
from core.model.graph import InferenceGraph
from core.modelfile.checkpoint import ModelMeta

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))


def _saved(model: nn.Module, path: Path) -> Path:
    model(torch.zeros(1, 3, 8, 8))  # materialise the lazy layer
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def test_a_file_digests_as_its_module_and_state_dict(tmp_path: Path) -> None:
    model = _model()
    path = _saved(model, tmp_path / "m.safetensors")
    assert weights_digest(path) == weights_digest(model) == weights_digest(model.state_dict())
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] += 1e-3
    assert weights_digest(model) != weights_digest(path)


def test_a_model_file_and_the_same_model_in_memory_share_one_graph_key(tmp_path: Path) -> None:
    model = _model()
    path = _saved(model, tmp_path / "m.safetensors")
    meta = ModelMeta("efficientnet_lite0", 8, ["a", "b"], [0.5, 0.5], MEAN, STD)
    graph = InferenceGraph(model, MEAN, STD, tta=True)
    assert file_graph_key(path, meta, True) == graph_key(graph, meta)
    assert file_graph_key(path, meta, False) != graph_key(graph, meta)


@pytest.mark.parametrize("header", [b"\xff" * 8, (5).to_bytes(8, "little") + b"[1,2]"])
def test_an_unreadable_tensor_table_gives_no_cached_graph(tmp_path: Path, header: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(header)
    meta = ModelMeta("efficientnet_lite0", 8, ["a", "b"], [0.5, 0.5], MEAN, STD)
    assert cached_file_session(path, meta, False) == (None, None)
