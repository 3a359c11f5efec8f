"""The classifier: a pretrained backbone plus a dropout + linear multi-label head."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.backbones import create_backbone


class MultiLabelClassifier(nn.Module):
    """Backbone features -> dropout -> linear, one logit per label."""

    def __init__(self, backbone: nn.Module, num_labels: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = backbone
        # timm's MobileNetV3 pools 960 channels then widens them to 1280 (head_hidden_size).
        width = getattr(backbone, "head_hidden_size", None) or backbone.num_features
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_labels))

    @property
    def num_labels(self) -> int:
        return self.head[1].out_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))

    def set_backbone_trainable(self, trainable: bool) -> None:
        """Freeze or unfreeze the backbone's weights."""
        for param in self.backbone.parameters():
            param.requires_grad_(trainable)


def create_model(
    backbone: str,
    num_labels: int,
    *,
    pretrained: bool = True,
    weights_file: str | Path | None = None,
    dropout: float = 0.2,
) -> MultiLabelClassifier:
    return MultiLabelClassifier(
        create_backbone(backbone, pretrained=pretrained, weights_file=weights_file),
        num_labels,
        dropout,
    )
