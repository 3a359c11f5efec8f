"""Classifier heads and the multi-stage feature tap.

Heads are `nn.Sequential`s whose last layer is the output Linear; the linear head keeps
the original layout (Dropout, Linear) so older model files load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


def build_head(
    kind: str, in_features: int, num_labels: int, dropout: float = 0.2, hidden: int = 512
) -> nn.Sequential:
    """ "linear": dropout + linear; "mlp": dropout, linear, GELU, dropout, linear."""
    if kind == "linear":
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_labels))
    if kind == "mlp":
        return nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(in_features, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_labels),
        )
    raise ValueError(f"unknown head {kind!r}")


def stage_tap(backbone: nn.Module) -> tuple[nn.Module, int] | None:
    """The module whose output is the stage before the last one (timm's feature_info), and
    its channel count: for EfficientNet the stride-16 blocks, for ResNet layer3."""
    info = getattr(backbone, "feature_info", None)
    if not info or len(info) < 2:
        return None
    entry = info[-2]
    module = backbone.get_submodule(entry["module"])
    return module, int(entry["num_chs"])


class StageTap:
    """Captures one module's output during a forward pass and returns it average-pooled."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, forward: callable, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        captured: list[torch.Tensor] = []
        handle = self.module.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            pooled = forward(x)
        finally:
            handle.remove()
        stage = captured[0]
        # A CNN stage is N x C x h x w; a vision transformer block's tokens are N x T x C.
        return pooled, stage.mean(dim=1) if stage.dim() == 3 else stage.mean(dim=(2, 3))
