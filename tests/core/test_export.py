"""ONNX export: the graph matches torch, and the file carries labels, thresholds, normalisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.base.errors import ModelFileError, UsageError
from core.inference.onnx_export import export_onnx, read_onnx_metadata
from core.modelfile.checkpoint import load_model


@pytest.fixture(scope="module")
def onnx_file(model_path, tmp_path_factory):
    return export_onnx(model_path, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def test_onnx_takes_decoded_pixels_and_matches_torch_on_a_batch(model_path, onnx_file) -> None:
    import onnxruntime as ort

    model, meta = load_model(model_path)
    size = meta.image_size
    pixels = np.random.default_rng(0).integers(0, 256, (6, size, size, 3), dtype=np.uint8)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor(meta.mean).view(1, 3, 1, 1), torch.tensor(meta.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        expected = torch.sigmoid(model((x - mean) / std)).numpy()
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.type == "tensor(uint8)" and given.shape[1:] == [size, size, 3]
    [got] = session.run(None, {"images": pixels})
    assert got.shape == (6, len(meta.label_names))
    assert np.abs(got - expected).max() < 1e-4


def test_onnx_metadata_describes_the_model(model_path, onnx_file) -> None:
    _, meta = load_model(model_path)
    info = read_onnx_metadata(onnx_file)
    assert info["labels"] == meta.label_names
    assert info["thresholds"] == pytest.approx(meta.thresholds)
    assert info["mean"] == meta.mean and info["std"] == meta.std
    assert info["image_size"] == meta.image_size and info["backbone"] == meta.backbone


def test_onnx_runtime_serving_matches_torch_serving(model_path) -> None:
    from core.serving.runtime import load_runtime

    rng = np.random.default_rng(0)
    torch_rt, onnx_rt = (
        load_runtime(model_path, "cpu", "torch"),
        load_runtime(model_path, "cpu", "onnx"),
    )
    size = torch_rt.meta.image_size
    arrays = [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(4)]
    assert np.abs(torch_rt.run(arrays) - onnx_rt.run(arrays)).max() < 1e-4


def test_export_cli_and_errors(model_path, tmp_path, capsys) -> None:
    from core.cli.main import main

    out = tmp_path / "cli.onnx"
    assert main(["export", str(model_path), "--format", "onnx", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out) and out.is_file()
    with pytest.raises(UsageError):
        export_onnx(model_path, tmp_path / "model.txt")
    bad = tmp_path / "bad.safetensors"
    bad.write_text(json.dumps({"not": "a model"}))
    with pytest.raises(ModelFileError):
        export_onnx(bad, tmp_path / "bad.onnx")
    assert main(["export", str(bad)]) == 2
