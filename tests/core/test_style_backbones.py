"""CLIP, SigLIP and ConvNeXt backbones with random weights (no network): each trains
(frozen embeddings), predicts, exports to ONNX with its own normalisation, and the ONNX
graph agrees with torch; Grad-CAM works on each (a token map for the transformers)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import main
from core.inference.onnx_export import read_onnx_metadata
from core.model.backbones import check_image_size, normalisation
from core.modelfile.checkpoint import read_meta

# name -> the smallest image size it takes (transformers: two patches a side)
STYLE_BACKBONES = {
    "vit_base_patch32_clip_224.openai": 64,
    "vit_base_patch16_siglip_224": 32,
    "convnext_tiny": 32,
}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.core.conftest import make_dataset_dir

    return make_dataset_dir(tmp_path_factory.mktemp("style-data"), n_train=8, n_val=6)


def test_each_backbone_has_its_own_normalisation() -> None:
    clip_mean, clip_std = normalisation("vit_base_patch32_clip_224.openai")
    assert clip_mean[0] == pytest.approx(0.48145466) and clip_std[2] == pytest.approx(0.27577711)
    assert normalisation("vit_base_patch16_siglip_224") == ((0.5,) * 3, (0.5,) * 3)
    assert normalisation("efficientnet_lite0")[0] == pytest.approx((0.485, 0.456, 0.406))


def test_the_recorded_normalisation_is_timms_pretrained_one() -> None:
    import timm

    from core.model.backbones import list_backbones

    for info in list_backbones():
        cfg = timm.models.get_pretrained_cfg(info.name)
        if info.bundled_weights or cfg is None:  # packaged Lite weights: ImageNet's
            continue
        assert info.mean == pytest.approx(cfg.mean) and info.std == pytest.approx(cfg.std)


def test_a_transformer_refuses_a_size_that_is_not_a_multiple_of_its_patch() -> None:
    from core.base.errors import BackboneUnavailable

    with pytest.raises(BackboneUnavailable, match="multiple of 32"):
        check_image_size("vit_base_patch32_clip_224.openai", 48)
    check_image_size("convnext_tiny", 48)  # a CNN takes any size


@pytest.fixture(scope="module")
def trained(small_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """train(name): a model file trained once per backbone for this module (frozen, 1 epoch)."""
    models: dict[str, Path] = {}

    def train(name: str) -> Path:
        # The frozen path embeds on torch here: ONNX Runtime's copy of an 88M-parameter
        # backbone costs an export the test does not need (export is tested below).
        os.environ["MARQUEE_EMBED_RUNTIME"] = "torch"
        if name not in models:
            size = STYLE_BACKBONES[name]
            out = tmp_path_factory.mktemp("style-model") / "m.safetensors"
            args = ["train", "--data", str(small_data), "--backbone", name, "--no-pretrained"]
            args += ["--epochs", "1", "--image-size", str(size), "--batch-size", "8", "--quiet"]
            assert main([*args, "--strategy", "freeze", "--out", str(out)]) == 0
            models[name] = out
        return models[name]

    yield train
    os.environ.pop("MARQUEE_EMBED_RUNTIME", None)


@pytest.mark.parametrize("name", list(STYLE_BACKBONES))
def test_train_predict_export_parity(
    name: str, trained, small_data: Path, tmp_path: Path, capsys
) -> None:
    import onnxruntime as ort

    from core.inference.predictor import Predictor

    size = STYLE_BACKBONES[name]
    model = trained(name)
    meta = read_meta(model)
    mean, std = normalisation(name)
    assert (meta.backbone, meta.image_size) == (name, size)
    assert meta.mean == pytest.approx(list(mean)) and meta.std == pytest.approx(list(std))

    capsys.readouterr()
    assert (
        main(["predict", str(model), str(small_data / "val"), "--runtime", "torch", "--json"]) == 0
    )
    predicted = json.loads(capsys.readouterr().out)
    assert len(predicted["predictions"]) == 6

    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(model), "--out", str(onnx_path)]) == 0
    info = read_onnx_metadata(onnx_path)
    assert info["mean"] == pytest.approx(list(mean)) and info["std"] == pytest.approx(list(std))
    pixels = np.random.default_rng(0).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    [from_onnx] = session.run(None, {"images": pixels})
    from_torch = Predictor.from_file(model, runtime="torch").predict_arrays(list(pixels))
    assert np.abs(from_onnx - from_torch).max() < 1e-4


@pytest.mark.parametrize("name", ["vit_base_patch16_siglip_224", "convnext_tiny"])
def test_grad_cam_covers_the_image(name: str, trained, small_data: Path) -> None:
    from core.inference.explain import Explainer

    image = next((small_data / "val").glob("*.jpg"))
    explanations = Explainer.from_file(trained(name)).explain_all(image, size=(40, 40))
    heats = np.stack([e.heatmap for e in explanations])
    assert heats.shape == (3, 40, 40) and np.isfinite(heats).all()
    assert heats.min() >= 0.0 and heats.max() == pytest.approx(1.0)  # some label lights up
