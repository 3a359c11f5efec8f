"""The engine under torchrun: `core.engine`'s trainer, with DDP for the training steps.

Only what must differ is overridden: each rank holds its own shard of the training images
(and, on ranks other than 0, one validation image, as the engine wants a val split); a
training forward pass goes through a DistributedDataParallel wrapper (the head alone while
the backbone is frozen, the whole model once it trains), so gradients are averaged across
ranks; the stop flag is rank 0's, all-reduced once per step; events come from rank 0 only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.config import TrainConfig
from core.datasets import Dataset
from core.distributed import shard_indices
from core.engine import EventSink, TrainResult, _Trainer, torch_threads
from core.events import TrainingStarted


@dataclass
class DistributedOutcome:
    result: TrainResult
    world: int
    backend: str
    global_batch: int
    shards: list[list[str]]  # the training images each rank read, by rank


def fit_distributed(
    config: TrainConfig,
    data: Dataset,
    rank: int,
    world: int,
    should_stop: Callable[[], bool],
    cuda: bool = False,
    on_event: EventSink | None = None,
) -> DistributedOutcome:
    """Run this rank's part of a DDP training (the process group is already up)."""
    per_rank = max(1, config.batch_size // world)
    local = replace(config, batch_size=per_rank)
    mine = shard_indices(len(data.train), rank, world, config.seed)
    val = data.val if rank == 0 else data.val.subset([0])
    part = replace(data, train=data.train.subset(mine), val=val)
    emit = (on_event or _printer()) if rank == 0 else (lambda event: None)
    with torch_threads(local.num_threads or 1):
        trainer = _DistributedTrainer(local, part, emit, should_stop, rank, world, data)
        result = trainer.run()
    result.meta.config.update(batch_size=per_rank * world, distributed_world_size=world)
    paths = [str(p) for p in part.train.paths]
    shards = [paths]
    if world > 1:
        shards = [None] * world
        dist.all_gather_object(shards, paths)
    backend = dist.get_backend() if world > 1 else "none"
    return DistributedOutcome(result, world, backend, per_rank * world, shards)


def _printer() -> EventSink:
    import argparse
    import sys

    from core.commands import _TrainProgress

    return _TrainProgress(argparse.Namespace(quiet=not sys.stderr.isatty(), json=False))


class _DistributedTrainer(_Trainer):
    def __init__(self, config, data, emit, stop, rank: int, world: int, full: Dataset) -> None:
        self.rank, self.world, self.full = rank, world, full
        self._local_stop = stop
        self._stepping = False
        self._ddp: dict[str, DistributedDataParallel] = {}
        super().__init__(config, data, emit, self._synced_stop)

    def _started_event(self) -> TrainingStarted:
        event = super()._started_event()
        return replace(event, n_train=len(self.full.train), n_val=len(self.full.val))

    # ---------------------------------------------------------------- the stop flag
    def _synced_stop(self) -> bool:
        """Rank 0 decides; during the training steps (the same count on every rank) the
        decision is all-reduced so that every rank stops at the same step."""
        local = self.rank == 0 and bool(self._local_stop())
        if self.world == 1 or not self._stepping:
            return local
        flag = torch.tensor([int(local)], device=self.device if self.device == "cuda" else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def _train_one_epoch(self, epoch: int, frozen: bool) -> float:
        self._stepping = True
        try:
            return super()._train_one_epoch(epoch, frozen)
        finally:
            self._stepping = False

    # ---------------------------------------------------------------- DDP forward
    def _forward(self, split: int, idx: torch.Tensor, frozen: bool, train: bool) -> torch.Tensor:
        if not train or self.world == 1:
            return super()._forward(split, idx, frozen, train)
        if frozen:  # only the head trains: route model.head through its DDP wrapper
            self.model.__dict__["head"] = self._wrapped("head", self.model.head)
            try:
                return super()._forward(split, idx, frozen, train)
            finally:
                del self.model.__dict__["head"]
        model = self.model
        self.model = self._wrapped("model", model)
        try:
            return super()._forward(split, idx, frozen, train)
        finally:
            self.model = model

    def _wrapped(self, key: str, module: nn.Module) -> DistributedDataParallel:
        if key not in self._ddp:
            ids = [torch.cuda.current_device()] if self.device == "cuda" else None
            self._ddp[key] = DistributedDataParallel(module, device_ids=ids)
        return self._ddp[key]
