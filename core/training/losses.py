"""Multi-label losses: BCE (optionally with pos_weight) and the asymmetric loss (ASL).

ASL (Ridnik et al., "Asymmetric Loss For Multi-Label Classification", ICCV 2021) focuses
the loss on hard examples separately for positives (gamma_pos) and negatives (gamma_neg),
and shifts negative probabilities down by `clip` so that very easy negatives (and some
mislabelled ones) contribute nothing. With both gammas 0 and clip 0 it is exactly BCE.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.base.config import TrainConfig


class AsymmetricLoss(nn.Module):
    """ASL averaged over every (image, label) element, like BCEWithLogitsLoss' mean."""

    def __init__(
        self,
        gamma_neg: float = 4.0,
        gamma_pos: float = 0.0,
        clip: float = 0.05,
        pos_weight: torch.Tensor | None = None,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps
        self.pos_weight: torch.Tensor | None
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(logits)
        log_p = F.logsigmoid(logits)
        if self.clip > 0:  # probability shifting: p_m = max(p - clip, 0)
            p_neg = (p - self.clip).clamp(min=0)
            log_not_p = torch.log((1 - p_neg).clamp(min=self.eps))
        else:
            p_neg, log_not_p = p, F.logsigmoid(-logits)
        loss_pos = log_p if self.gamma_pos == 0 else (1 - p).pow(self.gamma_pos) * log_p
        loss_neg = log_not_p if self.gamma_neg == 0 else p_neg.pow(self.gamma_neg) * log_not_p
        if self.pos_weight is not None:
            loss_pos = loss_pos * self.pos_weight
        return -(targets * loss_pos + (1 - targets) * loss_neg).mean()


def make_criterion(config: TrainConfig, pos_weight: torch.Tensor | None = None) -> nn.Module:
    """The training loss the config asks for."""
    if config.loss == "asl":
        return AsymmetricLoss(
            config.asl_gamma_neg, config.asl_gamma_pos, config.asl_clip, pos_weight=pos_weight
        )
    return nn.BCEWithLogitsLoss(pos_weight=pos_weight)


def pos_weight(config: TrainConfig, labels: np.ndarray, device: str) -> torch.Tensor | None:
    """BCE's pos_weight from label frequencies when `config.balance` (capped at 100)."""
    if not config.balance:
        return None
    targets = torch.as_tensor(np.asarray(labels, dtype=np.float32))
    positives = targets.sum(0).clamp(min=1)
    return ((len(targets) - positives) / positives).clamp(max=100).to(device)
