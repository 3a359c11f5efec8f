"""core.model.backbones: registry, the bundled Lite0 weights, offline failures, local weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.model import backbones
from core.model.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    BackboneUnavailable,
    create_backbone,
    create_imagenet_classifier,
    list_backbones,
)
from core.model.preprocess import normalize


@pytest.fixture(scope="module")
def imagenet_lite0() -> torch.nn.Module:
    return create_imagenet_classifier().eval()


def _top1(model: torch.nn.Module, pixels: np.ndarray) -> int:
    image = Image.fromarray(pixels).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
    batch = torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0)
    with torch.inference_mode():
        logits = model(normalize(batch, IMAGENET_MEAN, IMAGENET_STD))
    return int(logits.argmax(dim=1))


def test_packaged_weights_are_offline_and_the_others_need_a_download() -> None:
    from core.model.bundled import bundled_weights_path

    infos = list_backbones()
    assert infos[0].name == "efficientnet_lite0"
    offline = {info.name: info.offline for info in infos}
    assert offline["efficientnet_lite0"] is True
    for lite in ("efficientnet_lite1", "efficientnet_lite2"):  # the marquee[lite2] extra
        assert offline[lite] is (bundled_weights_path(lite) is not None)
    assert not any(value for name, value in offline.items() if "lite" not in name)
    assert {"resnet18", "convnext_tiny", "vit_base_patch32_clip_224.openai"} <= set(offline)


def test_bundled_lite0_weights_recognise_a_cat(imagenet_lite0: torch.nn.Module) -> None:
    from skimage import data

    assert 281 <= _top1(imagenet_lite0, data.chelsea()) <= 285  # tabby ... Egyptian cat


def test_bundled_lite0_weights_recognise_espresso(imagenet_lite0: torch.nn.Module) -> None:
    from skimage import data

    assert _top1(imagenet_lite0, data.coffee()) == 967  # espresso


@pytest.mark.skipif(
    backbones.get_backbone_info("efficientnet_lite2").offline is False,
    reason="the marquee[lite2] extra is not installed",
)
def test_packaged_lite2_weights_map_like_lite0s_and_recognise_a_cat() -> None:
    from skimage import data

    model = create_imagenet_classifier("efficientnet_lite2").eval()
    image = Image.fromarray(data.chelsea()).resize((260, 260), Image.Resampling.BILINEAR)
    batch = torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0)
    with torch.inference_mode():
        top1 = int(model(normalize(batch, IMAGENET_MEAN, IMAGENET_STD)).argmax(dim=1))
    assert 281 <= top1 <= 285  # tabby ... Egyptian cat


def test_online_backbone_without_pretrained_needs_no_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.model import downloads

    def no_network(*args, **kwargs):
        raise AssertionError("nothing may be fetched for pretrained=False")

    monkeypatch.setattr(downloads, "fetch_weights", no_network)
    model = create_backbone("resnet18", pretrained=False)
    assert model.num_features == 512


@pytest.fixture(scope="module")
def resnet18_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    import timm

    torch.manual_seed(3)
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(state, path)
    return path, state


def test_local_weights_file_loads_into_the_backbone(resnet18_state: tuple[Path, dict]) -> None:
    path, saved = resnet18_state
    model = create_backbone("resnet18", weights_file=path)
    loaded = model.state_dict()
    assert not any(key.startswith("fc.") for key in loaded)  # classifier removed
    assert len(loaded) == len(saved) - 2
    for key, value in loaded.items():
        torch.testing.assert_close(value, saved[key], rtol=0, atol=0, msg=key)


def test_local_weights_in_a_training_checkpoint_dict_load(
    tmp_path: Path, resnet18_state: tuple[Path, dict]
) -> None:
    _, saved = resnet18_state
    path = tmp_path / "ckpt.pt"
    torch.save({"model": {f"module.{k}": v for k, v in saved.items()}, "epoch": 3}, path)
    model = create_backbone("resnet18", weights_file=path)
    weight = "conv1.weight"
    torch.testing.assert_close(model.state_dict()[weight], saved[weight], rtol=0, atol=0)


def test_local_safetensors_weights_load(tmp_path: Path, resnet18_state: tuple[Path, dict]) -> None:
    from safetensors.torch import save_file

    _, saved = resnet18_state
    path = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in saved.items()}, str(path))
    model = create_backbone("resnet18", weights_file=path)
    weight = "layer4.1.conv2.weight"
    torch.testing.assert_close(model.state_dict()[weight], saved[weight], rtol=0, atol=0)


def test_weights_for_another_architecture_are_refused(
    tmp_path: Path, resnet18_state: tuple[Path, dict]
) -> None:
    path, _ = resnet18_state
    with pytest.raises(BackboneUnavailable, match="match this architecture"):
        create_backbone("mobilenetv3_large_100", weights_file=path)


def test_missing_weights_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackboneUnavailable, match="not found"):
        create_backbone("resnet18", weights_file=tmp_path / "nope.pth")


def test_hostile_pickle_payload_is_live(tmp_path: Path, hostile_pickle: Callable) -> None:
    """Sanity check of the test payload itself: plain unpickling does run its code."""
    import pickle

    marker = tmp_path / "proof"
    pickle.loads(hostile_pickle(marker))
    assert marker.exists()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_hostile_pickle_weights_are_refused_without_running_code(
    tmp_path: Path, hostile_torch_file: Callable, suffix: str
) -> None:
    marker = tmp_path / "pwned"
    path = hostile_torch_file(tmp_path / f"weights{suffix}", marker)
    with pytest.raises(BackboneUnavailable, match="not a plain weights file"):
        create_backbone("resnet18", weights_file=path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_raw_hostile_pickle_weights_are_refused_without_running_code(
    tmp_path: Path, hostile_pickle: Callable
) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pt"
    path.write_bytes(hostile_pickle(marker))
    with pytest.raises(BackboneUnavailable):
        create_backbone("resnet18", weights_file=path)
    assert not marker.exists()


def test_unknown_backbone_names_the_choices() -> None:
    with pytest.raises(BackboneUnavailable, match="efficientnet_lite0"):
        create_backbone("resnet9000")
