"""The classifier: a pretrained backbone plus a multi-label head (linear or MLP).

With `multi_stage` the embedding is the backbone's pooled features concatenated with the
pooled output of the stage before the last one (more spatial detail for small objects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.model.backbones import create_backbone
from core.model.heads import StageTap, build_head, stage_tap


class MultiLabelClassifier(nn.Module):
    """Backbone features -> head, one logit per label."""

    def __init__(
        self,
        backbone: nn.Module,
        num_labels: int,
        dropout: float = 0.2,
        *,
        head: str = "linear",
        hidden: int = 512,
        multi_stage: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        # timm's MobileNetV3 pools 960 channels then widens them to 1280 (head_hidden_size).
        width = getattr(backbone, "head_hidden_size", None) or backbone.num_features
        self._tap: StageTap | None = None
        if multi_stage:
            found = stage_tap(backbone)
            if found is not None:
                self._tap = StageTap(found[0])
                width += found[1]
        self.embedding_size = width
        self.head = build_head(head, width, num_labels, dropout, hidden)

    @property
    def num_labels(self) -> int:
        return self.head[-1].out_features

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """What the head sees: pooled backbone features (plus the tapped stage's)."""
        if self._tap is None:
            return self.backbone(images)
        pooled, stage = self._tap(self.backbone, images)
        return torch.cat([pooled, stage.to(pooled.dtype)], dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(images))

    def set_backbone_trainable(self, trainable: bool) -> None:
        """Freeze or unfreeze the backbone's weights."""
        for param in self.backbone.parameters():
            param.requires_grad_(trainable)


def head_options(config: dict[str, Any] | None) -> dict[str, Any]:
    """create_model's head keywords from a (stored) training config; old files: linear."""
    config = config or {}
    return {
        "dropout": float(config.get("dropout", 0.2)),
        "head": str(config.get("head", "linear")),
        "hidden": int(config.get("head_hidden", 512)),
        "multi_stage": bool(config.get("multi_stage", False)),
    }


def create_model(
    backbone: str,
    num_labels: int,
    *,
    pretrained: bool = True,
    weights_file: str | Path | None = None,
    dropout: float = 0.2,
    head: str = "linear",
    hidden: int = 512,
    multi_stage: bool = False,
    image_size: int | None = None,
) -> MultiLabelClassifier:
    """The classifier; `image_size` builds a vision transformer for that size."""
    return MultiLabelClassifier(
        create_backbone(
            backbone, pretrained=pretrained, weights_file=weights_file, image_size=image_size
        ),
        num_labels,
        dropout,
        head=head,
        hidden=hidden,
        multi_stage=multi_stage,
    )
