"""`torchrun ... -m core.cli.torchrun JOB`: one process of a distributed training.

Joins the job's process group, runs `core.training.loop.fit` inside a `DistributedContext`, and
on rank 0 writes the run folder. Exit codes as the CLI's: 0 done, 2 bad input, 130
cancelled (SIGINT / SIGTERM, or a STOP file before the first training step).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.base.runtime import collect_rarely, configure_threading, usable_cores
from core.cli.console import expected_exit

STORE_TIMEOUT = timedelta(minutes=5)


def main(argv: list[str] | None = None) -> int:
    """One process of a distributed training (see the job folder's README)."""
    parser = argparse.ArgumentParser(prog="python -m core.cli.torchrun")
    parser.add_argument("job", type=Path, help="folder written by --export-job")
    parser.add_argument("--data-root", type=Path, help="where the manifest's images live")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    parser.add_argument("--epochs", type=int, help="override the job's epochs")
    parser.add_argument("--out", type=Path, help="folder for the run (default JOB/runs)")
    args = parser.parse_args(argv)
    configure_threading()  # before this worker imports torch (OpenMP reads it at load)
    collect_rarely()
    try:
        return _run(args)
    except (Exception, KeyboardInterrupt) as exc:
        code = expected_exit(exc)
        if code is None:
            raise  # a bug: the traceback is the report
        return code


class StopRequest:
    """This process's stop flag: 'stop' for a STOP file (keep the best model so far),
    'cancel' after SIGINT / SIGTERM (keep nothing); '' while neither happened."""

    def __init__(self, stop_file: Path) -> None:
        self.stop_file = stop_file
        self.signalled = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, *_: object) -> None:
        self.signalled = True

    def __call__(self) -> str:
        if self.signalled:
            return "cancel"
        return "stop" if self.stop_file.exists() else ""


def _run(args: argparse.Namespace) -> int:
    import torch

    from core.training.job import STOP_FILE, load_job

    config, dataset = load_job(args.job, args.data_root)
    config = replace(config, **_overrides(args))
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    cuda = config.device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if config.num_threads is None:
        config = replace(config, num_threads=max(1, usable_cores() // local_world))
    stop = StopRequest(args.job / STOP_FILE)
    context = _context(rank, world, stop, cuda, config.seed)
    try:
        return _train(args, config, dataset, context)
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _overrides(args: argparse.Namespace) -> dict:
    changes: dict = {}
    if args.device:
        changes["device"] = args.device
    if args.epochs:
        changes["epochs"] = args.epochs
    return changes


def _context(rank: int, world: int, stop: StopRequest, cuda: bool, seed: int) -> Any:
    from core.training.context import TrainingContext

    if world == 1:
        return TrainingContext(stop)
    from core.training.distributed import init_context

    return init_context(rank, world, stop, cuda, job_store(rank, world), seed)


def job_store(rank: int, world: int) -> Any:
    """The job's key-value store: torchrun's agent store where it offers one (it outlives
    every worker), else one hosted by rank 0; prefixed per restart of the job."""
    import torch.distributed as dist

    host, port = os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ["MASTER_PORT"])
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
    store = dist.TCPStore(
        host, port, world, is_master=rank == 0 and not agent, timeout=STORE_TIMEOUT
    )
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return dist.PrefixStore(f"marquee/{restart}", store)


def _train(args: argparse.Namespace, config: Any, dataset: Any, context: Any) -> int:
    from core.base.errors import Cancelled
    from core.cli.progress import TrainProgress
    from core.runs import RunStore, RunWriter, fan_out
    from core.training.loop import fit

    writer = None
    if context.is_main:  # rank 0 records the run (listed as running from now on)
        store = RunStore(args.out or args.job / "runs")
        writer = RunWriter.start(config, dataset, store=store, origin="torchrun")
    printer = TrainProgress(argparse.Namespace(quiet=not sys.stderr.isatty(), json=False))
    sink = fan_out(printer, writer.on_event if writer else None)
    try:
        with writer.recording() if writer else contextlib.nullcontext():
            result = fit(config, dataset, sink, context=context)
            if context.stop_reason == "cancel":
                raise Cancelled("Cancelled: nothing was saved.")
    finally:
        printer.close()
    shards = context.gather([str(p) for p in context.shard(dataset).train.paths])
    if result is not None and writer is not None:
        _save(writer, result, context, shards)
    return 0


def _save(writer: Any, result: Any, context: Any, shards: list[list[str]]) -> None:
    from core.base.files import write_text

    info = {
        "world_size": context.world,
        "backend": context.backend,
        "global_batch_size": result.meta.config["batch_size"],
        "train_images_per_rank": [len(s) for s in shards],
        "shards": shards,
    }
    write_text(writer.folder / "distributed.json", json.dumps(info, indent=2))
    record = writer.finish(result)
    print(f"model saved to {writer.folder / record.model_file}", flush=True)
    print(f"run {record.id} ({record.status})", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
