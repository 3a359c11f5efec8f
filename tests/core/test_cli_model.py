"""`marquee explain` and `marquee thresholds`, run in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli.main import SUBCOMMANDS, main
from core.modelfile.checkpoint import read_meta, weights_digest

LABELS = ["Action", "Romance", "Crime"]


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def poster(data_dir: Path) -> Path:
    return sorted((data_dir / "val").glob("*.jpg"))[0]


@pytest.fixture
def model_copy(model_path: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(model_path, tmp_path / "model.safetensors"))


def test_new_commands_are_listed() -> None:
    assert {"explain", "thresholds"} <= set(SUBCOMMANDS)


# ------------------------------------------------------------------ explain
def test_explain_one_label_writes_an_overlay_of_the_image_size(
    capsys, model_path: Path, poster: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cam.png"
    code, stdout, _ = run_cli(
        capsys, "explain", model_path, poster, "--label", "Crime", "--out", out
    )
    assert code == 0, stdout
    assert "Crime" in stdout and str(out) in stdout
    with Image.open(out) as written, Image.open(poster) as original:
        assert written.format == "PNG" and written.size == original.size
        assert np.asarray(written.convert("RGB")).tobytes() != np.asarray(original).tobytes()


def test_explain_all_writes_one_file_per_label(
    capsys, model_path: Path, poster: Path, tmp_path: Path
) -> None:
    code, stdout, _ = run_cli(
        capsys, "explain", model_path, poster, "--all", "--out", tmp_path / "cam.png", "--json"
    )
    assert code == 0
    document = json.loads(stdout)
    assert [e["label"] for e in document["explanations"]] == LABELS
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"cam-{label}.png" for label in LABELS
    )
    assert all(0 <= e["probability"] <= 1 for e in document["explanations"])


def test_explain_without_a_label_explains_the_top_one(
    capsys, model_path: Path, poster: Path, tmp_path: Path
) -> None:
    code, stdout, _ = run_cli(
        capsys, "explain", model_path, poster, "--out", tmp_path / "top.png", "--json"
    )
    assert code == 0
    (only,) = json.loads(stdout)["explanations"]
    _, all_out, _ = run_cli(
        capsys, "explain", model_path, poster, "--all", "--out", tmp_path / "a.png", "--json"
    )
    everything = json.loads(all_out)["explanations"]
    assert only["label"] == max(everything, key=lambda e: e["probability"])["label"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--label", "Western"], "'Western' is not one of the model's labels"),
        (["--alpha", "2"], "--alpha must be between 0 and 1"),
    ],
)
def test_explain_user_errors_are_one_line(
    capsys, model_path: Path, poster: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    code, _, err = run_cli(
        capsys, "explain", model_path, poster, "--out", tmp_path / "x.png", *extra
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err


def test_explain_an_unreadable_image(capsys, model_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    code, _, err = run_cli(capsys, "explain", model_path, bad, "--out", tmp_path / "x.png")
    assert code == 2 and "bad.jpg" in err


# ------------------------------------------------------------------ thresholds
def test_thresholds_shows_the_current_values(capsys, model_copy: Path) -> None:
    code, stdout, _ = run_cli(capsys, "thresholds", model_copy, "--json")
    assert code == 0
    document = json.loads(stdout)
    assert list(document["thresholds"]) == LABELS
    assert document["edited"] is False
    assert list(document["thresholds"].values()) == read_meta(model_copy).thresholds


def test_thresholds_set_rewrites_the_metadata_only(capsys, model_copy: Path) -> None:
    digest = weights_digest(model_copy)
    tuned = read_meta(model_copy).thresholds
    code, stdout, _ = run_cli(capsys, "thresholds", model_copy, "--set", "Action=0.4", "Crime:0.65")
    assert code == 0 and "(edited)" in stdout
    meta = read_meta(model_copy)
    assert meta.thresholds == [0.4, tuned[1], 0.65]
    assert meta.tuned_thresholds == tuned
    assert weights_digest(model_copy) == digest

    code, stdout, _ = run_cli(capsys, "thresholds", model_copy, "--reset", "--json")
    assert code == 0 and json.loads(stdout)["edited"] is False
    assert read_meta(model_copy).thresholds == tuned


def test_thresholds_set_an_unknown_label_is_exit_2_and_changes_nothing(
    capsys, model_copy: Path
) -> None:
    before = model_copy.read_bytes()
    code, _, err = run_cli(capsys, "thresholds", model_copy, "--set", "Western=0.3")
    assert code == 2 and "Action, Romance, Crime" in err
    assert model_copy.read_bytes() == before
