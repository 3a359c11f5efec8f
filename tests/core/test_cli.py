"""The `marquee` command line, run in-process: outputs, files, exit codes, error lines."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.cli import dispatch
from core.cli.main import main

LABELS = ["Action", "Romance", "Crime"]
ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("marquee: error:"), err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------ happy paths
def test_backbones_json_lists_offline_availability(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "backbones", "--json")
    assert code == 0
    rows = json.loads(out)
    offline = {row["name"]: row["offline"] for row in rows}
    assert offline["efficientnet_lite0"] is True
    assert offline["resnet18"] is False
    assert all({"name", "title", "offline", "notes"} <= set(row) for row in rows)
    clip = next(row for row in rows if row["name"] == "vit_base_patch32_clip_224.openai")
    assert clip["best_for_unusual_styles"] and clip["params_millions"] > 80
    assert clip["default_image_size"] == 224 and clip["weights"] in ("needs download", "downloaded")
    measured = [row for row in rows if row["cpu_embed_images_per_s"]]
    assert measured and all(row["cpu_measured"]["date"] for row in measured)


def test_backbones_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "backbones")
    assert code == 0
    lite0 = next(line for line in out.splitlines() if line.startswith("efficientnet_lite0"))
    assert "offline" in lite0
    assert "needs download" in next(line for line in out.splitlines() if "resnet18" in line)


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys)
    assert code == 0
    assert "train" in out and "predict" in out


def test_train_writes_the_model_and_prints_a_label_table(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, marquee_home: Path
) -> None:
    out_path = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        capsys,
        "train", "--data", data_dir, "--epochs", 1, "--image-size", 64,
        "--batch-size", 8, "--out", out_path, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert out_path.is_file()
    assert "Traceback" not in err
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("label"))
    assert "AP" in lines[header] and "F1" in lines[header] and "support" in lines[header]
    assert [lines[header + 1 + i].split()[0] for i in range(3)] == LABELS
    assert "epoch 1/1" in out
    assert f"model saved to {out_path}" in out
    runs = [p for p in (marquee_home / "data" / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1 and (runs[0] / "model.safetensors").is_file()
    assert f"run {runs[0].name} (finished)" in out


def test_predict_json_gives_one_probability_per_label(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path
) -> None:
    image = next((data_dir / "val").glob("*.jpg"))
    code, out, _ = run_cli(capsys, "predict", model_path, image, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["labels"] == LABELS
    assert len(document["thresholds"]) == 3
    (prediction,) = document["predictions"]
    assert prediction["file"] == str(image)
    assert prediction["error"] is None
    assert list(prediction["probabilities"]) == LABELS
    assert all(0 <= p <= 1 for p in prediction["probabilities"].values())
    assert set(prediction["labels"]) <= set(LABELS)


def test_predict_threshold_zero_and_one_select_all_and_nothing(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path
) -> None:
    image = next((data_dir / "val").glob("*.jpg"))
    _, out, _ = run_cli(capsys, "predict", model_path, image, "--json", "--threshold", 0)
    assert json.loads(out)["predictions"][0]["labels"] == LABELS
    _, out, _ = run_cli(capsys, "predict", model_path, image, "--json", "--threshold", 1)
    assert json.loads(out)["predictions"][0]["labels"] == []


def test_predict_folder_to_csv(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path, tmp_path: Path
) -> None:
    table = tmp_path / "out.csv"
    code, out, _ = run_cli(capsys, "predict", model_path, data_dir / "val", "--csv", table)
    assert code == 0
    with table.open(newline="") as handle:
        rows = list(csv.reader(handle))
    n_images = len(list((data_dir / "val").glob("*.jpg")))
    assert rows[0] == ["file", *LABELS, "predicted", "error"]
    assert len(rows) == 1 + n_images
    assert all(len(row) == 6 and row[5] == "" for row in rows[1:])
    assert all(0 <= float(value) <= 1 for row in rows[1:] for value in row[1:4])
    assert len(out.strip().splitlines()) == 1 + n_images  # the printed table too


def test_predict_warns_about_unreadable_images_and_goes_on(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path, tmp_path: Path
) -> None:
    good = next((data_dir / "val").glob("*.jpg"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good.read_bytes()[:200])
    code, out, err = run_cli(capsys, "predict", model_path, good, broken, "--json")
    assert code == 0
    assert "marquee: warning:" in err and "broken.jpg" in err
    ok = [p for p in json.loads(out)["predictions"] if p["error"] is None]
    assert [p["file"] for p in ok] == [str(good)]


def test_info_json(capsys: pytest.CaptureFixture[str], model_path: Path) -> None:
    code, out, _ = run_cli(capsys, "info", model_path, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["label_names"] == LABELS
    assert document["backbone"] == "efficientnet_lite0"
    assert document["image_size"] == 64
    assert "map" in document["metrics"]


def test_info_text(capsys: pytest.CaptureFixture[str], model_path: Path) -> None:
    code, out, _ = run_cli(capsys, "info", model_path)
    assert code == 0
    assert "efficientnet_lite0 at 64px" in out
    assert "Action, Romance, Crime" in out


def test_evaluate_json_has_map(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path
) -> None:
    code, out, _ = run_cli(capsys, "evaluate", model_path, "--data", data_dir, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["split"] == "val"
    assert document["images"] == len(list((data_dir / "val").glob("*.jpg")))
    assert 0 <= document["metrics"]["map"] <= 1
    assert [row["name"] for row in document["per_label"]] == LABELS


# ------------------------------------------------------------------ bad input: exit 2
def test_hostile_pickle_model_is_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    data_dir: Path,
    hostile_torch_file: Callable,
    hostile_pickle: Callable,
) -> None:
    marker = tmp_path / "pwned"
    image = next((data_dir / "val").glob("*.jpg"))
    evil_pt = hostile_torch_file(tmp_path / "evil.pt", marker)
    code, _, err = run_cli(capsys, "predict", evil_pt, image)
    assert code == 2
    assert "pickle" in assert_one_error_line(err)
    evil_st = tmp_path / "evil.safetensors"
    evil_st.write_bytes(hostile_pickle(marker))
    for command in (["info", evil_st], ["evaluate", evil_st, "--data", data_dir]):
        code, _, err = run_cli(capsys, *command)
        assert code == 2
        assert_one_error_line(err)
    assert not marker.exists()


def test_missing_model_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "predict", tmp_path / "nope.safetensors", tmp_path)
    assert code == 2
    assert "nope.safetensors" in assert_one_error_line(err)


def test_csv_without_label_columns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    table = tmp_path / "posters.csv"
    table.write_text("Id,Title\ntt1,Heat\ntt2,Alien\n")
    code, _, err = run_cli(capsys, "train", "--data", table, "--quiet")
    assert code == 2
    assert "no label columns" in assert_one_error_line(err)


def test_threshold_out_of_range(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path
) -> None:
    image = next((data_dir / "val").glob("*.jpg"))
    code, out, err = run_cli(capsys, "predict", model_path, image, "--threshold", 1.5)
    assert code == 2
    assert "--threshold" in assert_one_error_line(err)
    assert out == ""


def test_unknown_backbone(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, _, err = run_cli(capsys, "train", "--data", data_dir, "--backbone", "alexnet9")
    assert code == 2
    assert "alexnet9" in assert_one_error_line(err)


def test_data_path_that_does_not_exist(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "train", "--data", tmp_path / "nowhere", "--quiet")
    assert code == 2
    assert "nowhere" in assert_one_error_line(err)


def test_invalid_setting(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, _, err = run_cli(capsys, "train", "--data", data_dir, "--image-size", 8)
    assert code == 2
    assert "image size" in assert_one_error_line(err)


def test_unexpected_errors_exit_1_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, model_path: Path
) -> None:
    def broken(args) -> int:
        raise RuntimeError("boom")

    monkeypatch.delenv("MARQUEE_DEBUG", raising=False)
    monkeypatch.setitem(dispatch.HANDLERS, "info", broken)
    code, _, err = run_cli(capsys, "info", model_path)
    assert code == 1
    assert "marquee: unexpected error: RuntimeError: boom" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------ damaged data: warn, go on
def test_damaged_rows_and_images_are_named_in_warnings_and_training_goes_on(
    capsys: pytest.CaptureFixture[str], make_data_dir: Callable, tmp_path: Path
) -> None:
    root = make_data_dir(tmp_path / "data", n_train=12, n_val=6)
    train = root / "train"
    # A label value of 2: the loader reports the row as an error and skips it.
    first_id = (train / "metadata.csv").read_text().splitlines()[1].split(",")[0]
    with (train / "metadata.csv").open("a", newline="") as handle:
        csv.writer(handle).writerow([f"{first_id}b", "['Action']", 2, 0, 0])
    (train / f"{first_id}b.jpg").write_bytes((train / f"{first_id}.jpg").read_bytes())
    # A truncated JPEG: the image check drops it.
    victim = sorted(train.glob("*.jpg"))[3]
    victim.write_bytes(victim.read_bytes()[:300])
    model = tmp_path / "m.safetensors"

    code, out, err = run_cli(
        capsys,
        "train", "--data", root, "--epochs", 1, "--image-size", 32,
        "--batch-size", 8, "--out", model, "--quiet", "--json",
    )  # fmt: skip

    assert code == 0, err
    assert "marquee: error:" not in err and "Traceback" not in err
    row_warning = next(line for line in err.splitlines() if "row 14" in line)
    assert row_warning.startswith("marquee: warning: train/metadata.csv row 14")
    assert "'2'" in row_warning and "skipped" in row_warning
    image_warning = next(line for line in err.splitlines() if victim.name in line)
    assert image_warning.startswith(f"marquee: warning: train/{victim.name}")
    document = json.loads(out)  # stdout is one JSON document; progress went to stderr
    assert document["model"] == str(model) and model.is_file()
    assert {"map", "f1_micro", "f1_macro", "loss"} <= set(document["metrics"])
    assert [row["name"] for row in document["per_label"]] == LABELS
    assert document["stopped_early"] is False
    (started,) = [line for line in err.splitlines() if line.startswith("training ")]
    assert "on 11 train / 6 val images" in started  # 12 + 1 rows, less the 2 skipped


# ------------------------------------------------------------------ layering
def test_core_never_imports_qt() -> None:
    code = (
        "import core.cli.dispatch, core.training.loop, core.inference.predictor, sys; "
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'gui', 'pyqtgraph'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_predict_with_per_label_thresholds(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path
) -> None:
    image = next((data_dir / "val").glob("*.jpg"))
    spec = f"{LABELS[0]}=0,{LABELS[1]}=1"
    code, out, _ = run_cli(capsys, "predict", model_path, image, "--json", "--thresholds", spec)
    assert code == 0
    document = json.loads(out)
    assert document["threshold_mode"] == "custom"
    assert document["thresholds"][LABELS[0]] == 0 and document["thresholds"][LABELS[1]] == 1
    labels = document["predictions"][0]["labels"]
    assert LABELS[0] in labels and LABELS[1] not in labels


def test_predict_with_an_unknown_label_threshold_is_exit_2(
    capsys: pytest.CaptureFixture[str], model_path: Path, data_dir: Path
) -> None:
    image = next((data_dir / "val").glob("*.jpg"))
    code, _, err = run_cli(capsys, "predict", model_path, image, "--thresholds", "Horror=0.3")
    assert code == 2
    assert err.startswith("marquee: error:") and "Horror" in err and len(err.splitlines()) == 1


def test_a_cancelled_command_exits_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.base.errors import Cancelled
    from core.cli import dispatch

    def cancelled(_args):
        raise Cancelled("Download cancelled.")

    monkeypatch.setitem(dispatch.HANDLERS, "backbones", cancelled)
    code, _, err = run_cli(capsys, "backbones")
    assert code == 130 and err.strip() == "marquee: cancelled"


def test_a_bug_exits_1_with_a_pointer_to_the_log(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, marquee_home: Path
) -> None:
    from core.cli import dispatch

    def broken(_args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.delenv("MARQUEE_DEBUG", raising=False)
    monkeypatch.setitem(dispatch.HANDLERS, "backbones", broken)
    code, _, err = run_cli(capsys, "backbones")
    assert code == 1
    first, second = err.strip().splitlines()
    assert first == "marquee: unexpected error: ZeroDivisionError: division by zero"
    log_file = Path(second.split("details in ")[1].split(";")[0])
    assert "Traceback" in log_file.read_text() and "Traceback" not in err


def test_a_user_error_is_exit_2_even_when_it_is_not_a_value_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.base.errors import BackboneUnavailable
    from core.cli import dispatch

    def offline(_args):
        raise BackboneUnavailable("resnet18 needs a download.", "Use --weights FILE.")

    monkeypatch.setitem(dispatch.HANDLERS, "backbones", offline)
    code, _, err = run_cli(capsys, "backbones")
    assert code == 2
    assert assert_one_error_line(err).endswith("resnet18 needs a download. Use --weights FILE.")
