"""One rank of a torchrun job as a `TrainingContext`: the same loop, with DDP around it.

- Data: each rank trains on its own disjoint, equal-sized shard of the training images
  (`shard_indices`); the main rank alone holds, embeds and evaluates the validation split.
- Batches: the config's batch size is the global one, split evenly over the ranks.
- Training passes run through a DistributedDataParallel wrapper (the head while the
  backbone is frozen, the whole model once it trains), so gradients are averaged.
- Stop: a rank that sees a stop (its flag: rank 0's STOP file or a signal) writes it to the
  job's key-value store, where every rank sees it at its next check in any phase; inside
  the training steps, which every rank runs equally often, the flag is also all-reduced so
  all ranks stop at the same step. A collective that fails because a stopped peer has left
  is a `Cancelled` too, never a hang or a traceback.
- Auto-tune runs on the main rank and its choice is broadcast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.base.config import TrainConfig
from core.base.errors import Cancelled
from core.data.datasets import Dataset
from core.training.context import StopFlag, TrainingContext

T = TypeVar("T")
STOP_KEY = "marquee/stop"


class DistributedContext(TrainingContext):
    """This process as rank `rank` of `world` (the process group is already up)."""

    def __init__(
        self,
        rank: int,
        world: int,
        should_stop: StopFlag,
        store: Any,
        *,
        cuda: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(should_stop)
        self.rank, self.world, self.store, self.cuda, self.seed = rank, world, store, cuda, seed
        self.backend = "nccl" if cuda else "gloo"
        self._wrapped: dict[int, DistributedDataParallel] = {}
        self._reason = ""

    # ------------------------------------------------------------------ stopping
    @property
    def stop_reason(self) -> str:
        return self._reason

    def stop_requested(self) -> bool:
        if not self._reason:
            flag = self._should_stop()
            if flag:
                self._reason = flag if isinstance(flag, str) else "stop"
                self.store.set(STOP_KEY, self._reason)  # every rank sees it at its next check
            else:
                self._reason = self._reason_in_store()
        return bool(self._reason)

    def _reason_in_store(self) -> str:
        try:
            if self.store.check([STOP_KEY]):
                return self.store.get(STOP_KEY).decode() or "stop"
        except RuntimeError:  # the store's host is gone: the job is over
            return "cancel"
        return ""

    def agree_to_stop(self) -> bool:
        flag = torch.tensor([int(self.stop_requested())], device=self._device())
        with self.collective():
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() and not self._reason:
            self._reason = self._reason_in_store() or "stop"  # a peer's stop, and why
        return bool(flag.item())

    @contextmanager
    def collective(self) -> Iterator[None]:
        """A collective that fails because a stopped rank left is a cancellation."""
        try:
            yield
        except RuntimeError as exc:  # gloo and nccl errors (DistBackendError) included
            self._reason = self._reason or self._reason_in_store()
            if self._reason:
                raise Cancelled("Stopped: another process of the job was stopped.") from exc
            raise

    # ------------------------------------------------------------------ data and model
    def local_config(self, config: TrainConfig) -> TrainConfig:
        return replace(config, batch_size=max(1, config.batch_size // self.world))

    def shard(self, data: Dataset) -> Dataset:
        mine = shard_indices(len(data.train), self.rank, self.world, self.seed)
        val = data.val if self.is_main else data.val.subset(np.arange(0))
        return replace(data, train=data.train.subset(mine), val=val)

    def for_training(self, module: nn.Module) -> nn.Module:
        key = id(module)
        if key not in self._wrapped:
            ids = [torch.cuda.current_device()] if self.cuda else None
            with self.collective():  # DDP broadcasts rank 0's weights here
                self._wrapped[key] = DistributedDataParallel(module, device_ids=ids)
        return self._wrapped[key]

    def from_main(self, value: T) -> T:
        box = [value]
        with self.collective():
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def run_config(self, config: dict) -> dict:
        per_rank = int(config["batch_size"])
        return {**config, "batch_size": per_rank * self.world, "distributed_world_size": self.world}

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, by rank."""
        values: list[Any] = [None] * self.world
        with self.collective():
            dist.all_gather_object(values, value)
        return values

    def _device(self) -> str:
        return "cuda" if self.cuda else "cpu"


def shard_indices(n: int, rank: int, world: int, seed: int) -> np.ndarray:
    """Rank's disjoint share of n items: equal sizes (n // world), seeded and interleaved."""
    order = np.random.default_rng(seed).permutation(n)
    per = n // world
    return np.sort(order[: per * world][rank::world])


def init_context(
    rank: int, world: int, should_stop: StopFlag, cuda: bool, store: Any, seed: int
) -> DistributedContext:
    """Join the process group through `store` and return this rank's context."""
    dist.init_process_group(
        "nccl" if cuda else "gloo",
        store=dist.PrefixStore("marquee-pg", store),
        rank=rank,
        world_size=world,
    )
    return DistributedContext(rank, world, should_stop, store, cuda=cuda, seed=seed)
