"""The backbones Marquee can fine-tune, their normalisation, and how to build them.

Importing this module is cheap (no torch): the GUI lists backbones at start-up. Weights
come from a package that ships them (core.model.bundled), a local file, or a download into
the Hugging Face hub cache (core.model.downloads), which timm then loads from disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.base import limits
from core.base.errors import BackboneUnavailable, shorten
from core.model.bundled import BUNDLED, bundled_weights_path, load_bundled

if TYPE_CHECKING:
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
STYLE_NOTE = "best for unusual styles"


@dataclass(frozen=True)
class BackboneInfo:
    name: str  # the name users type (and timm's model name, with its weights tag)
    title: str
    default_image_size: int
    notes: str
    params_m: float = 0.0  # millions of parameters without the classifier
    patch: int = 0  # a vision transformer's patch size: image sizes are multiples of it
    # Per-channel mean and std (of 0..1 pixels) the weights were trained with (timm's
    # pretrained_cfg; a test checks they still agree).
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def bundled_weights(self) -> bool:
        """ImageNet weights come from a package (installed or not), never a download."""
        return self.name in BUNDLED

    @property
    def offline(self) -> bool:
        """True when pretrained weights are available without a download."""
        return bundled_weights_path(self.name) is not None

    @property
    def fixed_size(self) -> bool:
        """A vision transformer: built for one image size (its position embeddings)."""
        return self.patch > 0


_BACKBONES = (
    BackboneInfo(
        "efficientnet_lite0",
        "EfficientNet-Lite0",
        224,
        "fast on CPU; ImageNet weights included",
        3.4,
    ),
    BackboneInfo(
        "efficientnet_lite1",
        "EfficientNet-Lite1",
        240,
        "a little more accurate than Lite0; offline with marquee[lite2]",
        4.1,
    ),
    BackboneInfo(
        "efficientnet_lite2",
        "EfficientNet-Lite2",
        260,
        "Lite0's family, bigger; offline with marquee[lite2]",
        4.8,
    ),
    BackboneInfo("mobilenetv3_large_100", "MobileNetV3-Large", 224, "fastest", 4.2),
    BackboneInfo("resnet18", "ResNet-18", 224, "classic baseline", 11.2),
    BackboneInfo("efficientnet_b0", "EfficientNet-B0", 224, "accurate for its size", 4.0),
    BackboneInfo("resnet50", "ResNet-50", 224, "needs a GPU for fine-tuning", 23.5),
    BackboneInfo(
        "convnext_tiny",
        "ConvNeXt-Tiny",
        224,
        f"ImageNet-22k pretraining, {STYLE_NOTE} among CNNs; GPU advised",
        27.8,
    ),
    BackboneInfo(
        "vit_base_patch32_clip_224.openai",
        "CLIP ViT-B/32",
        224,
        f"OpenAI CLIP image tower (400M web images); {STYLE_NOTE}",
        87.5,
        patch=32,
        mean=CLIP_MEAN,
        std=CLIP_STD,
    ),
    BackboneInfo(
        "vit_base_patch16_siglip_224",
        "SigLIP ViT-B/16",
        224,
        f"SigLIP 2 image tower (WebLI); {STYLE_NOTE}, slowest",
        92.9,
        patch=16,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    ),
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


def needs_download(name: str, pretrained: bool, weights_file: str | Path | None) -> bool:
    """True when building this backbone fetches weights from the hub (or its cache)."""
    return pretrained and weights_file is None and not get_backbone_info(name).bundled_weights


def check_image_size(name: str, image_size: int | None) -> None:
    """A vision transformer cuts images into patches: the size must be a multiple of one."""
    info = get_backbone_info(name)
    if info.fixed_size and image_size is not None and image_size % info.patch:
        raise BackboneUnavailable(
            f"{info.title} cuts images into {info.patch}-pixel patches: choose an image "
            f"size that is a multiple of {info.patch} (not {image_size})."
        )


def create_backbone(
    name: str,
    *,
    pretrained: bool = True,
    weights_file: str | Path | None = None,
    image_size: int | None = None,
) -> nn.Module:
    """A timm feature extractor (pooled features, no classifier) with the requested weights.

    `weights_file` (a local state dict: .pth/.pt loaded with weights_only, or .safetensors)
    takes precedence over `pretrained`. Downloaded weights come through the hub cache
    (core.model.downloads.fetch_weights; call it first to see progress or cancel).
    `image_size` matters to vision transformers only (their position embeddings).
    """
    info = get_backbone_info(name)
    check_image_size(name, image_size)
    size = {"img_size": image_size} if info.fixed_size and image_size else {}
    if weights_file is not None:
        model = _create_timm(name, size)
        _load_local_weights(model, Path(weights_file))
    elif pretrained and info.bundled_weights:
        model = load_bundled(_create_timm(name, size), name)
    elif pretrained:
        from core.model.downloads import fetch_weights

        model = _create_timm(name, size, {"file": str(fetch_weights(name))})
    else:
        model = _create_timm(name, size)
    model.reset_classifier(0)  # type: ignore[operator]  # every timm model has one
    return model


def create_imagenet_classifier(name: str = "efficientnet_lite0") -> nn.Module:
    """A bundled backbone with its 1000-class ImageNet head (proves the weights are real)."""
    return load_bundled(_create_timm(name, {}), name)


def _create_timm(name: str, size: dict, overlay: dict | None = None) -> nn.Module:
    """timm's model; with `overlay` ({"file": path}) loaded from that local weights file."""
    import timm

    if overlay is None:
        return timm.create_model(name, pretrained=False, **size)
    return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **size)


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
