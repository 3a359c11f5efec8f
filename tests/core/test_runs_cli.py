"""`marquee runs ...` as a new user meets it: three trainings, list, compare, prune; a
rerun that reproduces its metrics on the CPU and refuses changed data; TensorBoard and
MLflow logs written by `marquee train`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.cli.main import main

TINY = ["--epochs", "1", "--image-size", "64", "--batch-size", "8", "--quiet"]


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _train(capsys, data: Path, *extra: object) -> str:
    code, out, err = cli(capsys, "train", "--data", data, *TINY, *extra)
    assert code == 0, err
    (line,) = [line for line in out.splitlines() if line.startswith("run ") and "(" in line]
    return line.split()[1]


@pytest.mark.slow
def test_three_trainings_list_compare_and_prune(
    capsys, data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow's local store puts artifacts in ./mlruns
    board, store = tmp_path / "tb", f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = _train(capsys, data_dir, "--lr", "0.01", "--tensorboard", board)
    second = _train(capsys, data_dir, "--lr", "0.05", "--mlflow", store)
    third = _train(capsys, data_dir, "--head", "mlp")

    code, out, _ = cli(capsys, "runs", "list", "--json")
    listed = json.loads(out)["runs"]
    assert [r["id"] for r in listed] == [third, second, first]
    assert all(r["status"] == "finished" and r["map"] is not None for r in listed)
    code, out, _ = cli(capsys, "runs", "list")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["id", "date", "data"]

    code, out, err = cli(capsys, "runs", "compare", first, second, third)
    assert code == 0, err
    assert "lr: 0.01 | 0.05 | 0.01" in out and "head: linear | linear | mlp" in out
    assert "data: the same" in out
    assert out.count("Action") == 1 and "map" in out
    code, out, _ = cli(capsys, "runs", "compare", first, "latest", "--json")
    document = json.loads(out)
    assert set(document["settings"]) == {"head"}
    assert len(document["per_label_deltas"]["Action"]) == 2

    _check_tensorboard(board / first)
    _check_mlflow(store, second)

    code, out, _ = cli(capsys, "runs", "prune", "--keep", "1", "--yes", "--json")
    removed = json.loads(out)
    assert set(removed["removed"]) == {first, second} and removed["bytes_freed"] > 1_000_000
    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert [r["id"] for r in json.loads(out)["runs"]] == [third]


def _check_tensorboard(folder: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert "epoch/map" in scalars and "train/loss_step" in scalars and "ap/Crime" in scalars
    (epoch,) = events.Scalars("epoch/map")
    assert epoch.step == 1 and 0 <= epoch.value <= 1


def _check_mlflow(uri: str, run_name: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("marquee").experiment_id])
    assert run.info.run_name == run_name and run.info.status == "FINISHED"
    assert run.data.params["lr"] == "0.05" and run.data.params["backbone"] == "efficientnet_lite0"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "map")] == [1]
    assert run.data.tags["marquee.data_fingerprint"]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert names == {"model.safetensors", "metrics.json"}


@pytest.mark.slow
def test_rerun_reproduces_the_metrics_and_refuses_changed_data(
    capsys, data_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    source = _train(capsys, data, "--epochs", "2")
    code, out, err = cli(capsys, "runs", "rerun", source, "--quiet", "--json")
    assert code == 0, err
    document = json.loads(out)
    for key in ("map", "f1_micro", "f1_macro", "loss"):
        assert document["metrics"][key] == pytest.approx(document["source_metrics"][key], abs=1e-6)
    code, out, _ = cli(capsys, "runs", "show", document["run"], "--json")
    assert json.loads(out)["rerun_of"] == source

    metadata = data / "train" / "metadata.csv"
    lines = metadata.read_text().splitlines()
    metadata.write_text("\n".join(lines[:-2]) + "\n")  # two images fewer
    code, out, err = cli(capsys, "runs", "rerun", source)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "2 removed" in err and "--anyway" in err


def test_runs_commands_name_what_is_wrong(capsys) -> None:
    code, _, err = cli(capsys, "runs", "show", "latest")
    assert code == 2 and "no runs yet" in err.lower()
    with pytest.raises(SystemExit) as exit_:
        cli(capsys, "runs", "prune")
    assert exit_.value.code == 2 and "--keep" in capsys.readouterr().err
    code, out, _ = cli(capsys, "runs", "retention", "--keep", "5", "--no-disk-cap", "--json")
    assert json.loads(out) == {
        "enabled": True, "keep_last": 5, "keep_best_per_dataset": True, "max_disk_gb": None
    }  # fmt: skip
