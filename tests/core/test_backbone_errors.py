"""Backbone creation reports what really went wrong: only network failures say "download".

A timm error that is not about the network (a checkpoint that does not fit, a bug) must
not be dressed up as a failed download; an unexpected error while looking in the hub
cache is not silently swallowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.base.errors import BackboneUnavailable
from core.model import backbones, downloads


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("connection reset by peer"), TimeoutError("read timed out")],
    ids=["reset", "timeout"],
)
def test_network_errors_are_a_failed_download(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    import huggingface_hub

    def failing(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", failing)
    with pytest.raises(downloads.HubUnreachable, match="Cannot download the weights"):
        backbones.create_backbone("resnet18", pretrained=True)


@pytest.mark.parametrize(
    "error",
    [RuntimeError("size mismatch for fc.weight"), KeyError("conv1.weight"), TypeError("bug")],
    ids=["size-mismatch", "missing-key", "bug"],
)
def test_other_timm_errors_are_not_called_a_failed_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: BaseException
) -> None:
    import timm

    def failing(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(downloads, "fetch_weights", lambda name: tmp_path / "cached.safetensors")
    monkeypatch.setattr(timm, "create_model", failing)
    with pytest.raises(type(error)):
        backbones.create_backbone("resnet18", pretrained=True)


def test_a_bug_in_the_hub_cache_lookup_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def buggy(*_args: object, **_kwargs: object) -> None:
        raise TypeError("an unexpected bug")

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", buggy)
    with pytest.raises(TypeError):
        downloads.cached_weights("resnet18")


def test_a_backbone_without_hub_weights_says_how_to_train_it() -> None:
    with pytest.raises(BackboneUnavailable, match="--no-pretrained"):
        downloads.fetch_weights("efficientnet_lite1")  # timm keeps no hub weights for it
