"""Cluster jobs: the export, and a real 2-process gloo run under torchrun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.base.config import TrainConfig
from core.base.errors import OutputError
from core.training.distributed import shard_indices
from core.training.job import export_job, load_job

ROOT = Path(__file__).resolve().parents[2]
CONFIG = TrainConfig(epochs=2, image_size=64, batch_size=16, num_threads=1)


@pytest.fixture
def posters():
    """A small subset of the sample posters (96 train, 40 val)."""
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data

    full = load_dataset(ensure_sample_data())
    return replace(full, train=full.train.subset(np.arange(96)), val=full.val.subset(np.arange(40)))


def test_shards_are_disjoint_equal_and_seeded() -> None:
    shards = [shard_indices(101, rank, 4, seed=3) for rank in range(4)]
    assert {len(s) for s in shards} == {25}
    assert len(set(np.concatenate(shards).tolist())) == 100
    assert np.array_equal(shards[1], shard_indices(101, 1, 4, seed=3))


def test_export_writes_a_self_contained_job(tmp_path, posters) -> None:
    folder = export_job(tmp_path / "job", CONFIG, posters)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "job.json", "manifest.csv"]
    readme = (folder / "README.md").read_text()
    assert (
        f"torchrun --standalone --nnodes 1 --nproc-per-node gpu -m core.distributed {folder}"
        in (readme)
    )
    assert "--nnodes 2 --nproc-per-node 8 --rdzv-backend c10d" in readme
    manifest = (folder / "manifest.csv").read_text().splitlines()
    assert manifest[0] == "split,path," + ",".join(posters.label_names)
    assert all(not Path(line.split(",")[1]).is_absolute() for line in manifest[1:])
    # The data moved: --data-root points the job at the new place.
    moved = tmp_path / "elsewhere"
    shutil.copytree(json.loads((folder / "job.json").read_text())["data_root"], moved)
    config, dataset = load_job(folder, data_root=moved)
    assert config == CONFIG
    assert [p.name for p in dataset.train.paths] == [p.name for p in posters.train.paths]
    assert all(p.is_file() and moved in p.parents for p in dataset.val.paths)
    assert np.array_equal(dataset.train.labels, posters.train.labels)
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(OutputError, match="is a file"):
        export_job(tmp_path / "a-file", CONFIG, posters)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        export_job(tmp_path / "busy", CONFIG, posters)


def test_the_cli_exports_a_job_instead_of_training(tmp_path, capsys) -> None:
    from core.cli.main import main

    code = main(["train", "--sample", "--epochs", "1", "--export-job", str(tmp_path / "j")])
    assert code == 0
    assert "cluster job written" in capsys.readouterr().out
    config, dataset = load_job(tmp_path / "j")
    assert config.epochs == 1 and len(dataset.train) == 400
    assert not list((tmp_path / "j").glob("runs"))  # nothing was trained


def _stop_worker(rank: int, world: int, store_file: str, results) -> None:
    import torch.distributed as dist

    from core.training.distributed import DistributedContext

    store = dist.FileStore(store_file, world)
    dist.init_process_group("gloo", store=dist.PrefixStore("pg", store), rank=rank, world_size=2)
    # In the training steps: rank 0's flags decide; every rank agrees at the same step.
    flags = iter(["", "stop"] if rank == 0 else ["", ""])
    steps = DistributedContext(rank, world, lambda: next(flags), dist.PrefixStore("a", store))
    seen = [steps.agree_to_stop(), steps.agree_to_stop(), steps.stop_reason]
    # In a phase without collectives (decoding): rank 0 cancels, rank 1 finds it in the store.
    own = "cancel" if rank == 0 else ""
    decoding = DistributedContext(rank, world, lambda: own, dist.PrefixStore("b", store))
    if rank == 0:
        decoding.stop_requested()
    dist.barrier()
    seen += [decoding.stop_requested(), decoding.stop_reason]
    results[rank] = seen
    dist.destroy_process_group()


def test_a_stop_on_rank_0_reaches_every_rank_in_every_phase(tmp_path) -> None:
    import torch.multiprocessing as mp

    results = mp.Manager().dict()
    mp.spawn(_stop_worker, args=(2, str(tmp_path / "store"), results), nprocs=2)
    assert results[0] == [False, True, "stop", True, "cancel"]
    assert results[1] == [False, True, "stop", True, "cancel"]


@pytest.mark.slow
def test_the_readmes_torchrun_line_trains_the_default_recipe(
    tmp_path, posters, marquee_home
) -> None:
    from core.inference.predictor import Predictor
    from core.training.loop import fit
    from core.training.recipes import recipe_config

    default = recipe_config("cpu", epochs=2, image_size=64, batch_size=16, num_threads=1)
    assert default.tta and default.multi_stage  # the recipe that used to crash under DDP
    job = export_job(tmp_path / "job", default, posters)
    torchrun = Path(sys.executable).with_name("torchrun")
    command = (
        [str(torchrun)] if torchrun.exists() else [sys.executable, "-m", "torch.distributed.run"]
    )
    command += ["--standalone", "--nproc-per-node", "2", "-m", "core.distributed", str(job)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARQUEE_HOME": str(marquee_home)}
    done = subprocess.run(
        [*command, "--device", "cpu"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("epoch ") == 2  # rank 0 alone reports
    (run,) = [p for p in (job / "runs").iterdir() if p.is_dir()]
    record = json.loads((run / "record.json").read_text())  # rank 0 recorded the run
    assert record["status"] == "finished" and record["origin"] == "torchrun"
    assert len(record["history"]) == 2
    info = json.loads((run / "distributed.json").read_text())
    assert info["world_size"] == 2 and info["backend"] == "gloo"
    assert info["global_batch_size"] == 16
    first, second = (set(paths) for paths in info["shards"])
    assert len(first) == len(second) == 48 and not first & second

    predictor = Predictor.from_file(run / "model.safetensors")
    (prediction,) = predictor.predict([posters.val.paths[0]])
    assert prediction.ok and prediction.probabilities.shape == (len(posters.label_names),)

    ddp_map = json.loads((run / "metrics.json").read_text())["final"]["map"]
    single = fit(replace(default, num_threads=2), posters)  # same global batch, one process
    assert abs(ddp_map - single.meta.metrics["map"]) < 0.1, (ddp_map, single.meta.metrics)
