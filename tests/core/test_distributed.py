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

from core.config import TrainConfig
from core.distributed import export_job, load_job, shard_indices
from core.errors import OutputError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = TrainConfig(epochs=2, image_size=64, batch_size=16, num_threads=1)


@pytest.fixture
def posters():
    """A small subset of the sample posters (96 train, 40 val)."""
    from core.datasets import load_dataset
    from core.sample_data import ensure_sample_data

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
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        export_job(tmp_path / "busy", CONFIG, posters)


def test_the_cli_exports_a_job_instead_of_training(tmp_path, capsys) -> None:
    from core.cli import main

    code = main(["train", "--sample", "--epochs", "1", "--export-job", str(tmp_path / "j")])
    assert code == 0
    assert "cluster job written" in capsys.readouterr().out
    config, dataset = load_job(tmp_path / "j")
    assert config.epochs == 1 and len(dataset.train) == 400
    assert not list((tmp_path / "j").glob("runs"))  # nothing was trained


def _stop_worker(rank: int, world: int, store_file: str, results) -> None:
    import torch.distributed as dist

    from core.distributed_engine import _DistributedTrainer

    dist.init_process_group("gloo", init_method=f"file://{store_file}", rank=rank, world_size=2)
    trainer = object.__new__(_DistributedTrainer)  # only the stop flag's state
    trainer.rank, trainer.world, trainer.device, trainer._stepping = rank, world, "cpu", True
    seen = []
    for stop_on_rank0 in (False, True, False):
        trainer._local_stop = lambda s=stop_on_rank0: s  # rank 1's own flag never counts
        seen.append(trainer._synced_stop())
    trainer._stepping = False  # while preparing, each rank keeps its own answer
    trainer._local_stop = lambda: True
    seen.append(trainer._synced_stop())
    results[rank] = seen
    dist.destroy_process_group()


def test_a_stop_on_rank_0_reaches_every_rank(tmp_path) -> None:
    import torch.multiprocessing as mp

    results = mp.Manager().dict()
    mp.spawn(_stop_worker, args=(2, str(tmp_path / "store"), results), nprocs=2)
    assert results[0] == [False, True, False, True]
    assert results[1] == [False, True, False, False]


@pytest.mark.slow
def test_torchrun_with_two_gloo_processes(tmp_path, posters, marquee_home) -> None:
    from core.engine import fit
    from core.predictor import Predictor

    job = export_job(tmp_path / "job", CONFIG, posters)
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
    (run,) = list((job / "runs").iterdir())
    info = json.loads((run / "distributed.json").read_text())
    assert info["world_size"] == 2 and info["backend"] == "gloo"
    assert info["global_batch_size"] == 16
    first, second = (set(paths) for paths in info["shards"])
    assert len(first) == len(second) == 48 and not first & second

    predictor = Predictor.from_file(run / "model.safetensors")
    (prediction,) = predictor.predict([posters.val.paths[0]])
    assert prediction.ok and prediction.probabilities.shape == (len(posters.label_names),)

    ddp_map = json.loads((run / "metrics.json").read_text())["final"]["map"]
    single = fit(replace(CONFIG, num_threads=2), posters)  # same global batch, one process
    assert abs(ddp_map - single.meta.metrics["map"]) < 0.1, (ddp_map, single.meta.metrics)
