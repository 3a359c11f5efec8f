"""What the training engine reports while it runs.

Every event is a frozen dataclass holding plain Python data (no tensors), so it can
cross thread boundaries, be logged, or be turned into JSON without surprises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.model.downloads import DownloadProgress


@dataclass(frozen=True)
class LabelMetrics:
    """Validation metrics for one label. `ap` is None when the label has no positives."""

    name: str
    ap: float | None
    precision: float
    recall: float
    f1: float
    support: int
    threshold: float = 0.5


@dataclass(frozen=True)
class PreparingData:
    """Data is being prepared: images decoded into the on-disk image cache, embeddings
    computed, or auto-tune trials run (`stage`)."""

    stage: str  # "decode" | "embed" | "tune" (auto-tune trials, done / total)
    done: int
    total: int


@dataclass(frozen=True)
class TrainingStarted:
    """The data is ready and the first step is about to run; sizes and device are known."""

    config: dict
    label_names: tuple[str, ...]
    n_train: int
    n_val: int
    device: str  # "cpu", "cuda", "mps"
    device_name: str  # human readable, e.g. "NVIDIA H200" or "CPU (2 cores)"
    steps_per_epoch: int
    total_steps: int
    previous_epochs: int = 0  # epochs the starting model already had (train more): plots go on


@dataclass(frozen=True)
class StepEnded:
    """One optimiser step: the batch loss, learning rate and smoothed throughput."""

    epoch: int  # 1-based
    step: int  # 1-based, global over the run
    total_steps: int
    loss: float
    lr: float
    images_per_s: float
    elapsed_s: float


@dataclass(frozen=True)
class EpochEnded:
    """One epoch trained and evaluated on the validation split."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float
    val_loss: float
    metrics: dict[str, float]  # map, f1_micro, f1_macro (threshold 0.5)
    per_label: tuple[LabelMetrics, ...]
    is_best: bool
    seconds: float
    backbone_frozen: bool = True


@dataclass(frozen=True)
class TrainingFinished:
    """The run ended (finished or stopped) and the best epoch's model was kept.

    Failures are never events: `fit` raises them (see core.base.errors).
    """

    best_epoch: int
    epochs_run: int
    stopped_early: bool
    metrics: dict[str, float]  # best epoch's metrics, F1 at the tuned thresholds
    per_label: tuple[LabelMetrics, ...] = field(default_factory=tuple)
    seconds: float = 0.0


Event = (
    DownloadProgress | PreparingData | TrainingStarted | StepEnded | EpochEnded | TrainingFinished
)
