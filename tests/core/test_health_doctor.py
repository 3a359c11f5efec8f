"""`run_doctor` and the data-health command lines, end to end (frozen Lite0, small sets)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.base.errors import Cancelled
from core.cli.main import main
from core.data.datasets import load_dataset
from core.data.fixes import Decision, FixLog
from core.health.doctor import DoctorOptions, run_doctor
from core.health.planted import plant_problems

TINY = DoctorOptions(image_size=64, folds=3)


def run_cli(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def planted_sample(tmp_path_factory: pytest.TempPathFactory):
    """The sample posters with 8% of training rows given one flipped label and 20 val
    images, resized and re-encoded, copied into train."""
    from core.data.samples import ensure_sample_data

    work = tmp_path_factory.mktemp("health")
    sample = ensure_sample_data(work / "sample")
    return plant_problems(sample, work / "planted", seed=0)


def test_doctor_finds_the_planted_label_flips_and_leaks(planted_sample) -> None:
    report = run_doctor(load_dataset(planted_sample.root))
    k = len(planted_sample.flips)
    assert k == 32
    hits = sum((i.file, i.label) in planted_sample.flips for i in report.label_issues[:k])
    assert hits / k >= 0.5
    found = {frozenset(d.files) for d in report.duplicates}
    true = found & planted_sample.leaks
    assert len(true) / len(found) >= 0.8 and len(true) / len(planted_sample.leaks) >= 0.9
    assert all(d.cross_split for d in report.duplicates if frozenset(d.files) in true)


def test_doctor_finds_slightly_cropped_copies(planted_sample, tmp_path: Path) -> None:
    """Copies trimmed by up to 5% at each edge (then resized and re-encoded): the plain
    thumbnail misses most, the crop-aligned check of nearest neighbours finds them."""
    clean = planted_sample.root.parent / "sample"
    cropped = plant_problems(clean, tmp_path / "cropped", 0.0, seed=3, crop=0.05)
    report = run_doctor(load_dataset(cropped.root))
    found = {frozenset(d.files) for d in report.duplicates}
    true = found & cropped.leaks
    assert len(true) / len(found) >= 0.8 and len(true) / len(cropped.leaks) >= 0.9


@pytest.fixture
def tiny_with_problems(make_data_dir, tmp_path: Path) -> Path:
    """A tiny seed-layout set plus a blank stray and an exact copy of a val image in train."""
    root = make_data_dir(tmp_path / "data", 30, 12)
    Image.new("RGB", (64, 64), "white").save(root / "train" / "blank.jpg")
    val = root / "val"
    first_val = sorted(val.glob("*.jpg"))[0]
    (root / "train" / "copy.jpg").write_bytes(first_val.read_bytes())
    with (root / "train" / "metadata.csv").open("a", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["blank", "['Action']", 1, 0, 0])
        writer.writerow(["copy", "['Action']", 1, 0, 0])
    return root


def test_doctor_reports_exact_leaks_and_strays(tiny_with_problems: Path) -> None:
    stages: set[str] = set()
    report = run_doctor(load_dataset(tiny_with_problems), TINY, lambda s, d, t: stages.add(s))
    exact = [d for d in report.duplicates if d.exact]
    assert len(exact) == 1 and exact[0].cross_split and "train/copy.jpg" in exact[0].files
    assert report.outliers and report.outliers[0].file == "train/blank.jpg"
    assert stages >= {"decode", "embed", "folds", "neighbours"}
    assert report.summary["images"] == 44 and report.summary["leaks"] >= 1
    assert report.summary["combine"] == "stacked"


def test_doctor_stops_when_asked(tiny_with_problems: Path) -> None:
    with pytest.raises(Cancelled):
        run_doctor(load_dataset(tiny_with_problems), TINY, should_stop=lambda: True)


def test_doctor_cli_json_accept_and_undo(tiny_with_problems: Path, capsys, tmp_path) -> None:
    out_file = tmp_path / "report.json"
    code, out, err = run_cli(
        capsys, "doctor", tiny_with_problems, "--json", "--out", out_file, "--folds", "3"
    )
    assert code == 0, err
    document = json.loads(out)
    assert set(document) >= {"label_issues", "duplicates", "outliers", "summary"}
    assert json.loads(out_file.read_text())["summary"]["images"] == 44
    code, out, err = run_cli(capsys, "fixes", tiny_with_problems, "--accept", out_file, "--json")
    assert code == 0, err
    recorded = json.loads(out)["recorded"]
    assert recorded >= 1  # at least the leak's training copy is dropped
    assert "train/copy.jpg" in FixLog.for_dataset(tiny_with_problems).dropped()
    assert len(load_dataset(tiny_with_problems).train) < 32
    code, out, _ = run_cli(capsys, "fixes", tiny_with_problems, "--undo", recorded, "--json")
    assert code == 0 and len(json.loads(out)["decisions"]) == 0
    assert len(load_dataset(tiny_with_problems).train) == 32


def test_doctor_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(capsys, "doctor", tmp_path / "missing")
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    code, _, err = run_cli(capsys, "doctor", tmp_path, "--folds", "1")
    assert code == 2 and "--folds" in err


def test_fixes_cli_export_and_write_back(tiny_with_problems: Path, capsys, tmp_path) -> None:
    FixLog.for_dataset(tiny_with_problems).record(Decision("drop", "train/blank.jpg"))
    code, _, err = run_cli(capsys, "fixes", tiny_with_problems, "--export", tmp_path / "out")
    assert code == 0, err
    assert len(load_dataset(tmp_path / "out").train) == 31
    code, out, err = run_cli(capsys, "fixes", tiny_with_problems, "--write-back", "--json")
    assert code == 0, err
    written = json.loads(out)["written"]
    assert any(w["removed"] == 1 for w in written)
    assert all(Path(w["backup"]).is_file() for w in written)
    assert len(load_dataset(tiny_with_problems, fixes=False).train) == 31


def test_suggest_ranks_unlabelled_images(model_path: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(5):
        pixels = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"u{i}.jpg")
    (folder / "broken.jpg").write_bytes(b"not an image")
    code, out, err = run_cli(capsys, "suggest", model_path, folder, "--json", "--top", "3")
    assert code == 0, err
    items = json.loads(out)["suggestions"]
    assert len(items) == 3
    assert [s["score"] for s in items] == sorted((s["score"] for s in items), reverse=True)
    assert set(items[0]["probabilities"]) == {"Action", "Romance", "Crime"}
    assert "broken.jpg" in err
    code, _, err = run_cli(capsys, "suggest", model_path, tmp_path / "nothing")
    assert code == 2


def test_fixes_cli_adds_labelled_images_and_refuses_bad_ones(
    tiny_with_problems: Path, capsys, tmp_path
) -> None:
    data = load_dataset(tiny_with_problems)
    new = tmp_path / "new.jpg"
    Image.new("RGB", (40, 60), (200, 40, 40)).save(new)
    first, second = data.label_names[:2]
    code, out, err = run_cli(
        capsys, "fixes", tiny_with_problems, "--add", new, "--with-labels", f"{first},{second}",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["recorded"] == 1
    reloaded = load_dataset(tiny_with_problems)
    assert len(reloaded.train) == len(data.train) + 1
    row = reloaded.train.labels[reloaded.train.paths.index(new.resolve())]
    assert {n for n, v in zip(reloaded.label_names, row, strict=True) if v} == {first, second}

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    code, _, err = run_cli(capsys, "fixes", tiny_with_problems, "--add", broken)
    assert code == 2 and "broken.jpg" in err and "nothing was added" in err
    code, _, err = run_cli(
        capsys, "fixes", tiny_with_problems, "--add", new, "--with-labels", "Polka"
    )
    assert code == 2 and "Polka" in err and first in err
    assert len(FixLog.for_dataset(tiny_with_problems).decisions) == 1  # only the good one
