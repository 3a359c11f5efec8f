"""A torchrun worker: every training option once under DDP, in one process group.

    torchrun --standalone --nproc-per-node 2 tests/core/workers/ddp_matrix.py DATA OUT [NAME...]

Rank 0 saves each option's model to OUT/<name>.safetensors and writes OUT/matrix.json
(per option: the model's config and how many training images each rank used).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from core.base.runtime import configure_threading  # noqa: E402

configure_threading()

import torch.distributed as dist  # noqa: E402

from core.cli.torchrun import job_store  # noqa: E402
from core.data.datasets import load_dataset  # noqa: E402
from core.modelfile.checkpoint import save_model  # noqa: E402
from core.training.distributed import init_context  # noqa: E402
from core.training.loop import fit  # noqa: E402
from core.training.recipes import recipe_config  # noqa: E402
from core.training.speed import ENV  # noqa: E402

BASE = {"epochs": 1, "image_size": 32, "batch_size": 8, "num_threads": 1, "device": "cpu"}
OPTIONS: dict[str, dict] = {
    "default": {},  # the CPU recipe: two-stage features + flip TTA
    "freeze_unfreeze": {"strategy": "freeze_unfreeze", "epochs": 2, "tta": False},
    "no_freeze": {"strategy": "no_freeze", "tta": False, "multi_stage": False},
    # Speed-ups (core.training.speed): channels-last, foreach AdamW and frozen BatchNorm are
    # on by default;
    # this one also trains its first epoch at 32 px (progressive resizing, set in main()).
    "no_freeze_progressive": {
        "strategy": "no_freeze",
        "epochs": 3,
        "image_size": 64,
        "tta": False,
        "multi_stage": False,
    },
    "augment": {"augment": True},
    "feature_views": {"feature_views": 2},
    "auto_tune": {"auto_tune": True},
    "mlp_head": {"head": "mlp", "head_hidden": 16},
    "asl": {"loss": "asl"},
    "balance": {"balance": True},
    "init_from": {},  # starts from the "default" model
}


def main(data: str, out: str, names: list[str]) -> None:
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    context = init_context(rank, world, lambda: False, False, job_store(rank, world), seed=0)
    dataset = load_dataset(Path(data))
    report: dict[str, dict] = {}
    for name in names or list(OPTIONS):
        os.environ[ENV] = "all" if name == "no_freeze_progressive" else "default"
        config = recipe_config("cpu", **{**BASE, **OPTIONS[name]})
        if name == "init_from":
            config = replace(config, init_from=str(Path(out) / "default.safetensors"))
        result = fit(config, dataset, context=context)
        if result is not None:
            save_model(Path(out) / f"{name}.safetensors", result.model, result.meta)
            report[name] = {"config": result.meta.config, "lineage": result.meta.lineage}
        used = context.gather(len(context.shard(dataset).train))  # also: the model is saved
        if result is not None:
            report[name]["train_images_per_rank"] = used
    if rank == 0:
        (Path(out) / "matrix.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
