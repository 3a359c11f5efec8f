"""Training settings, shared by the CLI, the GUI and the model file (no heavy imports)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Literal

from core.base.errors import ConfigError

Strategy = Literal["freeze", "freeze_unfreeze", "no_freeze"]
STRATEGIES: tuple[Strategy, ...] = ("freeze", "freeze_unfreeze", "no_freeze")
DEVICES = ("auto", "cpu", "cuda", "mps")
SCHEDULES = ("onecycle", "cosine")
LOSSES = ("bce", "asl")
HEADS = ("linear", "mlp")
MAX_FEATURE_VIEWS = 16
MAX_BATCH_SIZE = 65_536
MAX_SEED = 2**63 - 1  # torch and NumPy take seeds of up to 64 bits


@dataclass
class TrainConfig:
    """Hyperparameters of one training run. Defaults suit the sample posters on a CPU."""

    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    weights_file: str | None = None  # local state dict for the backbone, loaded safely
    strategy: Strategy = "freeze"
    unfreeze_epoch: int | None = None  # freeze_unfreeze: first unfrozen epoch (1-based)
    epochs: int = 5
    batch_size: int = 32
    image_size: int = 224
    lr: float = 1e-2  # head LR; high because a frozen backbone makes this a linear probe
    backbone_lr_factor: float = 0.05  # backbone LR = lr * factor once unfrozen
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    dropout: float = 0.2
    balance: bool = False  # BCE pos_weight from label frequencies
    augment: bool | None = None  # None: on unless the backbone is frozen throughout
    device: str = "auto"
    seed: int = 0
    num_threads: int | None = None  # torch intra-op threads; None leaves one core free
    init_from: str | None = None  # a model file to start from (same backbone and labels)
    # Accuracy options (the numbers behind each: docs/benchmarks.md, Accuracy recipes).
    loss: str = "bce"  # "bce" (with pos_weight when balance) or "asl" (asymmetric loss)
    asl_gamma_neg: float = 4.0
    asl_gamma_pos: float = 0.0
    asl_clip: float = 0.05
    head: str = "linear"  # "linear" (dropout + linear) or "mlp" (one hidden layer)
    head_hidden: int = 512
    multi_stage: bool = False  # also pool the stride-16 stage and concatenate it
    feature_views: int = 0  # frozen + cached: augmented views per training image (embedded once)
    auto_tune: bool = False  # frozen + cached: sweep head lr / weight decay / epochs first
    tta: bool = False  # flip average at evaluation and prediction (kept in the model file)

    def validate(self) -> None:
        """Raise ConfigError with a plain message for settings that cannot work."""
        self._validate_numbers()
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.epochs < 1:
            raise ConfigError("epochs must be at least 1")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"batch size must be between 1 and {MAX_BATCH_SIZE:,}")
        if not 32 <= self.image_size <= 1024:
            raise ConfigError("image size must be between 32 and 1024 pixels")
        if not 0 < self.lr < 10:
            raise ConfigError("learning rate must be a positive number below 10")
        if not 0 <= self.dropout < 1:
            raise ConfigError("dropout must be in [0, 1)")
        self._validate_accuracy_options()

    def _validate_numbers(self) -> None:
        """Every float finite (NaN passes most comparisons' negations), sizes in range."""
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                name = "learning rate" if item.name == "lr" else item.name.replace("_", " ")
                raise ConfigError(f"{name} must be a finite number, got {value}")
        if not 0 <= self.weight_decay <= 1:
            raise ConfigError("weight decay must be between 0 and 1")
        if not -MAX_SEED <= self.seed <= MAX_SEED:
            raise ConfigError(f"the seed must be between {-MAX_SEED} and {MAX_SEED}")

    def _validate_accuracy_options(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)}")
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {', '.join(HEADS)}")
        if not 8 <= self.head_hidden <= 8192:
            raise ConfigError("the MLP head's hidden size must be between 8 and 8192")
        if not 0 <= self.feature_views <= MAX_FEATURE_VIEWS:
            raise ConfigError(f"feature views must be between 0 and {MAX_FEATURE_VIEWS}")
        if min(self.asl_gamma_neg, self.asl_gamma_pos) < 0 or not 0 <= self.asl_clip < 1:
            raise ConfigError("ASL gammas must be >= 0 and its clip in [0, 1)")
        cached = self.strategy == "freeze" and not self.use_augmentation
        if self.auto_tune and not cached:
            raise ConfigError(
                "Auto-tune works on cached embeddings: it needs the frozen backbone strategy "
                "without image augmentation.",
                "Choose 'freeze' (and no --augment), or turn auto-tune off.",
            )

    @property
    def caches_features(self) -> bool:
        """True when a frozen backbone's embeddings are computed once (no pixel augmentation)."""
        return self.strategy != "no_freeze" and not self.use_augmentation

    @property
    def use_augmentation(self) -> bool:
        if self.augment is not None:
            return self.augment
        return self.strategy != "freeze"

    @property
    def first_unfrozen_epoch(self) -> int | None:
        """1-based epoch from which the backbone trains, or None if it never does."""
        if self.strategy == "no_freeze":
            return 1
        if self.strategy == "freeze":
            return None
        if self.unfreeze_epoch is not None:
            return max(1, self.unfreeze_epoch)
        return max(2, self.epochs // 3 + 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Build from a dict, ignoring unknown keys (files from newer versions)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
