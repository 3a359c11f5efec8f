"""A model file is checked before the ONNX graph cache is asked for its graph, and the
cache is keyed by everything that shapes the graph: a file whose metadata disagrees with
its weights is refused warm as it is cold."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from core.base.errors import ModelFileError
from core.inference.onnx_cache import file_graph_key
from core.modelfile.checkpoint import _rewrite_meta, read_meta


def _copy_with(model_path: Path, folder: Path, name: str, **changes) -> Path:
    path = folder / f"{name}.safetensors"
    shutil.copyfile(model_path, path)
    meta = read_meta(path)
    config = {**meta.config, **changes.pop("config", {})}
    _rewrite_meta(path, dataclasses.replace(meta, config=config, **changes))
    return path


@pytest.fixture
def warm_cache(model_path: Path) -> Path:
    from core.inference.predictor import Predictor

    predictor = Predictor.from_file(model_path, device="cpu", runtime="onnx")
    assert predictor.runtime == "onnx"  # its graph is now in the cache
    return model_path


@pytest.mark.parametrize(
    "changes",
    [
        {"config": {"multi_stage": True}},
        {"backbone": "resnet18"},
        {"config": {"head": "mlp", "head_hidden": 16}},
    ],
    ids=["multi-stage", "other-backbone", "other-head"],
)
def test_a_file_whose_metadata_disagrees_with_its_weights_is_refused_with_a_warm_cache(
    warm_cache: Path, tmp_path: Path, changes: dict
) -> None:
    from core.inference.predictor import Predictor
    from core.serving.runtime import load_runtime

    lying = _copy_with(warm_cache, tmp_path, "lying", **changes)
    with pytest.raises(ModelFileError):
        Predictor.from_file(lying, device="cpu")
    with pytest.raises(ModelFileError):
        load_runtime(lying, "cpu", "auto")


def test_the_graph_key_holds_what_shapes_the_graph(model_path: Path, tmp_path: Path) -> None:
    meta = read_meta(model_path)
    key = file_graph_key(model_path, meta, tta=False)
    for changed in (
        dataclasses.replace(meta, backbone="resnet18"),
        dataclasses.replace(meta, config={**meta.config, "multi_stage": True}),
        dataclasses.replace(meta, config={**meta.config, "head": "mlp"}),
        dataclasses.replace(meta, label_names=[*meta.label_names, "Extra"]),
    ):
        assert file_graph_key(model_path, changed, tta=False) != key
    edited = dataclasses.replace(meta, thresholds=[0.3] * len(meta.thresholds))
    assert file_graph_key(model_path, edited, tta=False) == key  # thresholds: outside
