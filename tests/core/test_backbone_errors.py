"""Backbone creation reports what really went wrong: only download failures say "download".

A timm error that is not about the network (a checkpoint that does not fit, a bug) must
not be dressed up as "the download failed"; an unexpected error while looking in the
hub cache is not silently swallowed.
"""

from __future__ import annotations

import pytest

from core.base.errors import BackboneUnavailable
from core.model import backbones


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    """Make pretrained resnet18 creation raise `error` (as timm would, mid-download)."""
    import timm

    def install(error: BaseException) -> None:
        def failing(*_args: object, **_kwargs: object) -> None:
            raise error

        monkeypatch.setattr(backbones, "hub_reachable", lambda *a, **k: True)
        monkeypatch.setattr(backbones, "_cached_weights_overlay", lambda name: None)
        monkeypatch.setattr(timm, "create_model", failing)

    return install


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("connection reset by peer"), TimeoutError("read timed out")],
    ids=["reset", "timeout"],
)
def test_network_errors_are_a_failed_download(hub, error: BaseException) -> None:
    hub(error)
    with pytest.raises(BackboneUnavailable, match="download failed"):
        backbones.create_backbone("resnet18", pretrained=True)


@pytest.mark.parametrize(
    "error",
    [RuntimeError("size mismatch for fc.weight"), KeyError("conv1.weight"), TypeError("bug")],
    ids=["size-mismatch", "missing-key", "bug"],
)
def test_other_timm_errors_are_not_called_a_failed_download(hub, error: BaseException) -> None:
    hub(error)
    with pytest.raises(type(error)):
        backbones.create_backbone("resnet18", pretrained=True)


def test_the_hub_cache_lookup_swallows_only_expected_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import huggingface_hub

    def unreadable(*_args: object, **_kwargs: object) -> None:
        raise PermissionError("cache folder not readable")

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", unreadable)
    assert backbones._cached_weights_overlay("resnet18") is None
    assert backbones._cached_weights_overlay("no_such_model_xyz") is None

    def buggy(*_args: object, **_kwargs: object) -> None:
        raise TypeError("an unexpected bug")

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", buggy)
    with pytest.raises(TypeError):
        backbones._cached_weights_overlay("resnet18")
