"""Every training option under a real 2-process gloo torchrun, and stops in every phase.

The matrix runs the CPU default recipe and each option once (tiny images, one epoch) in
one torchrun job; each result must be a model that predicts, trained on both ranks' shards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.inference.predictor import Predictor
from tests.core.workers.ddp_matrix import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "core" / "workers" / "ddp_matrix.py"


def torchrun(*args: str) -> list[str]:
    runner = Path(sys.executable).with_name("torchrun")
    command = [str(runner)] if runner.exists() else [sys.executable, "-m", "torch.distributed.run"]
    return [*command, "--standalone", "--nproc-per-node", "2", *args]


@pytest.mark.slow
def test_every_training_option_runs_under_two_gloo_processes(
    tmp_path: Path, data_dir: Path, marquee_home: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARQUEE_HOME": str(marquee_home)}
    done = subprocess.run(
        torchrun(str(WORKER), str(data_dir), str(tmp_path)),
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads((tmp_path / "matrix.json").read_text())
    assert sorted(report) == sorted(OPTIONS)
    poster = next((data_dir / "val").glob("*.jpg"))
    for name, run in report.items():
        config = run["config"]
        assert config["distributed_world_size"] == 2 and config["batch_size"] == 8, name
        assert run["train_images_per_rank"] == [12, 12], name  # 24 images, disjoint halves
        (prediction,) = Predictor.from_file(tmp_path / f"{name}.safetensors").predict([poster])
        assert prediction.ok and len(prediction.probabilities) == 3, name
    assert report["default"]["config"]["tta"] and report["default"]["config"]["multi_stage"]
    assert report["auto_tune"]["config"]["epochs"] in (5, 10, 20)  # the tuner's choice, shared
    assert report["feature_views"]["config"]["feature_views"] == 2
    assert report["no_freeze"]["config"]["strategy"] == "no_freeze"
    assert report["no_freeze_progressive"]["lineage"][-1]["epochs"] == 3
    lineage = report["init_from"]["lineage"]
    assert len(lineage) == 2 and lineage[-1]["init_from"]["path"].endswith("default.safetensors")


@pytest.mark.parametrize("phase", ["decoding", "embedding", "auto-tune", "training"])
def test_a_cancel_on_rank_0_in_any_phase_ends_every_rank(
    phase: str, tmp_path: Path, data_dir: Path
) -> None:
    import torch.multiprocessing as mp

    from tests.core.workers.stop_phase import run_rank

    results = mp.Manager().dict()
    mp.spawn(run_rank, args=(phase, str(data_dir), str(tmp_path / "store"), results), nprocs=2)
    assert "no-events" not in results
    for rank in (0, 1):
        outcome, reason, _seconds = results[rank]
        assert reason == "cancel", (phase, rank)
        # Before the first step nothing is kept; during training every rank leaves the loop at
        # the same agreed step (the entry then exits 130 without saving: the reason is cancel).
        expected = "returned" if phase == "training" else "cancelled"
        assert outcome == expected, (phase, rank)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_ranks(job: Path, out: Path, home: Path) -> list[subprocess.Popen]:
    port = str(_free_port())
    ranks = []
    for rank in (0, 1):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MARQUEE_HOME": str(home),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
        }
        command = [sys.executable, "-m", "core.distributed", str(job), "--out", str(out)]
        ranks.append(
            subprocess.Popen(
                [*command, "--device", "cpu"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return ranks


@pytest.mark.slow
@pytest.mark.parametrize("how", ["STOP file while decoding", "SIGINT while training"])
def test_the_job_entry_exits_130_on_every_rank_and_keeps_nothing(
    how: str, tmp_path: Path, dataset, marquee_home: Path
) -> None:
    import signal

    from core.base.config import TrainConfig
    from core.training.job import export_job

    config = TrainConfig(epochs=30, image_size=32, batch_size=8, strategy="no_freeze")
    job = export_job(tmp_path / "job", config, dataset)
    out = tmp_path / "runs"
    (out / "earlier").mkdir(parents=True)
    (out / "earlier" / "model.safetensors").write_bytes(b"the previous model")
    if how.startswith("STOP"):
        (job / "STOP").touch()
    ranks = _start_ranks(job, out, marquee_home)
    if how.startswith("SIGINT"):
        for line in ranks[0].stdout:  # rank 0 announces the training, then steps begin
            if line.startswith("training "):
                break
        ranks[0].send_signal(signal.SIGINT)
    codes = [rank.wait(timeout=300) for rank in ranks]
    errors = [rank.stderr.read() for rank in ranks]
    assert codes == [130, 130], errors
    assert all("marquee: cancelled" in text and "Traceback" not in text for text in errors)
    # The run is recorded as stopped, without a model; nothing else in the folder changed.
    runs = [p for p in out.iterdir() if p.is_dir() and p.name != "earlier"]
    assert all(not (run / "model.safetensors").exists() for run in runs)
    assert all(json.loads((run / "record.json").read_text())["status"] == "stopped" for run in runs)
    assert (out / "earlier" / "model.safetensors").read_bytes() == b"the previous model"
