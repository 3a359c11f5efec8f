"""Where a training runs: `TrainingContext` is this process alone; `DistributedContext`
(core.training.distributed) is one rank of a torchrun job. The loop asks the context, never
the process group, so every option runs the same code locally and under DDP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

from core.base.config import TrainConfig
from core.base.errors import Cancelled
from core.data.datasets import Dataset

T = TypeVar("T")
StopFlag = Callable[[], bool | str]  # truthy: stop; a string names why ("stop", "cancel")


class TrainingContext:
    """A training in this process: the data as given, one stop flag, every write allowed."""

    rank = 0
    world = 1
    backend = "none"

    def __init__(self, should_stop: StopFlag | None = None) -> None:
        self._should_stop = should_stop or (lambda: False)

    @property
    def is_main(self) -> bool:
        """The process that evaluates, reports events and writes files."""
        return self.rank == 0

    # ------------------------------------------------------------------ stopping
    def stop_requested(self) -> bool:
        """Whether a stop was asked for (anywhere in the job); cheap, no collective."""
        return bool(self._should_stop())

    @property
    def stop_reason(self) -> str:
        """Why a stop was asked for ("stop", "cancel", ...), or "" while none was."""
        flag = self._should_stop()
        return flag if isinstance(flag, str) else ("stop" if flag else "")

    def check_stop(self, phase: str) -> None:
        """Raise `Cancelled` when a stop was asked for; `phase` completes 'Stopped while ...'."""
        if self.stop_requested():
            raise Cancelled(f"Stopped while {phase}.")

    def agree_to_stop(self) -> bool:
        """The stop decision at a point every process reaches equally often (a training step)."""
        return self.stop_requested()

    # ------------------------------------------------------------------ data and model
    def local_config(self, config: TrainConfig) -> TrainConfig:
        """The config this process trains with (its share of the global batch)."""
        return config

    def shard(self, data: Dataset) -> Dataset:
        """This process's part of the data: all of it here."""
        return data

    def for_training(self, module: nn.Module) -> nn.Module:
        """The module to run a training forward pass through (a DDP wrapper under torchrun)."""
        return module

    def from_main(self, value: T) -> T:
        """The main process's `value`, on every process (e.g. auto-tune's choice)."""
        return value

    def gather(self, value: T) -> list[T]:
        """Every process's `value`, by rank."""
        return [value]

    def run_config(self, config: dict) -> dict:
        """The training config as the model file records it."""
        return config
