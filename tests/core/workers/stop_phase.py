"""A spawned rank that trains until rank 0 cancels in a given phase; records the outcome."""

from __future__ import annotations

import time
from pathlib import Path

STAGE_OF_PHASE = {"decoding": "decode", "embedding": "embed", "auto-tune": "tune"}


def run_rank(rank: int, phase: str, data_dir: str, store_file: str, results) -> None:
    import torch.distributed as dist

    from core.base.config import TrainConfig
    from core.base.errors import Cancelled
    from core.data.datasets import load_dataset
    from core.training.distributed import DistributedContext
    from core.training.events import PreparingData, StepEnded
    from core.training.loop import fit

    store = dist.FileStore(store_file, 2)
    dist.init_process_group("gloo", store=dist.PrefixStore("pg", store), rank=rank, world_size=2)
    seen: list[object] = []

    def rank0_flag() -> str:  # cancels once the phase has reported progress
        if rank != 0:
            return ""
        if phase == "training":
            return "cancel" if any(isinstance(e, StepEnded) for e in seen) else ""
        stage = STAGE_OF_PHASE[phase]
        return "cancel" if any(getattr(e, "stage", "") == stage for e in seen) else ""

    context = DistributedContext(rank, 2, rank0_flag, dist.PrefixStore("stop", store))
    config = TrainConfig(
        epochs=3, image_size=32, batch_size=4, num_threads=1, auto_tune=phase == "auto-tune"
    )
    started = time.monotonic()
    try:
        fit(config, load_dataset(Path(data_dir)), seen.append, context=context)
        outcome = "returned"
    except Cancelled:
        outcome = "cancelled"
    results[rank] = (outcome, context.stop_reason, time.monotonic() - started)
    if not any(isinstance(e, PreparingData) for e in seen) and rank == 0:
        results["no-events"] = True
