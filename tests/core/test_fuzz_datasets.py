"""Hostile data sets: refused early, in one line, instead of running for minutes or guessing.

A label file listing a huge number of images that are not there stops after the first
MAX_MISSING misses; a metadata.csv that is a FIFO, a device or a link loop is refused
(never mistaken for label folders named `train` and `val`); a column named twice is
reported instead of becoming a label `Action.1`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from core.data import readers
from core.data.datasets import detect_format, load_dataset
from core.data.types import DataError
from tests.core.test_fuzz_inputs import assert_user_error, run_cli, tiny_image

ROWS = 20_000  # 20 times MAX_MISSING: enough to tell stopping early from reading it all


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every image name the readers look up, in order."""
    calls: list[str] = []
    real = readers.resolve_image

    def counting(name: str, folders: list[Path]) -> Path | None:
        calls.append(name)
        return real(name, folders)

    monkeypatch.setattr(readers, "resolve_image", counting)
    return calls


def _metadata(root: Path) -> Path:
    train = root / "train"
    train.mkdir(parents=True)
    rows = (f"tt{i:07d},{i % 2},{(i + 1) % 2}" for i in range(ROWS))
    (train / "metadata.csv").write_text("Id,Action,Crime\n" + "\n".join(rows) + "\n")
    return root


def _createml(root: Path) -> Path:
    root.mkdir()
    entries = [{"image": f"p{i}.jpg", "annotations": ["Drama"]} for i in range(ROWS)]
    (root / "labels.json").write_text(json.dumps(entries))
    return root


MISSING: dict[str, Callable[[Path], Path]] = {"metadata-csv": _metadata, "createml": _createml}


@pytest.mark.parametrize("case", list(MISSING))
def test_a_huge_list_of_missing_images_stops_early_with_a_summary(
    tmp_path: Path, resolved: list[str], case: str
) -> None:
    root = MISSING[case](tmp_path / "data")
    with pytest.raises(DataError, match="1,000 of the first 1,000 images listed are missing"):
        load_dataset(root)
    assert len(resolved) == readers.MAX_MISSING


def test_the_cli_refuses_a_huge_list_of_missing_images_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path
) -> None:
    root = _metadata(tmp_path / "data")
    code, _, err = run_cli(capsys, "evaluate", model_path, "--data", root)
    assert "20,000 listed" in assert_user_error(code, err)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


NOT_FILES: dict[str, Callable[[Path], None]] = {
    "fifo": _fifo,
    "dev-zero": _link("/dev/zero"),
    "link-loop": _link("metadata.csv"),
    "dangling-link": _link("nowhere.csv"),
}


def _label_folders_lookalike(root: Path, make: Callable[[Path], None]) -> Path:
    """train/ and val/ hold images, so without metadata.csv they look like label folders."""
    for split in ("train", "val"):
        for i in range(3):
            tiny_image(root / split / f"{split}{i}.jpg")
    make(root / "train" / "metadata.csv")
    return root


@pytest.mark.parametrize("case", list(NOT_FILES))
def test_a_metadata_csv_that_is_no_regular_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path, case: str
) -> None:
    root = _label_folders_lookalike(tmp_path / "data", NOT_FILES[case])
    with pytest.raises(DataError, match=r"train/metadata\.csv is not a regular file"):
        detect_format(root)
    code, _, err = run_cli(capsys, "evaluate", model_path, "--data", root)
    assert "not a regular file" in assert_user_error(code, err)


def test_a_val_metadata_csv_that_is_a_fifo_is_refused(make_data_dir, tmp_path: Path) -> None:
    root = make_data_dir(tmp_path / "data", 4, 4)
    (root / "val" / "metadata.csv").unlink()
    os.mkfifo(root / "val" / "metadata.csv")
    with pytest.raises(DataError, match=r"val/metadata\.csv is not a regular file"):
        load_dataset(root)


@pytest.mark.parametrize("header", ["Id,Genre,Action,Romance,Crime,Action", "Id,Id,Action"])
def test_a_column_named_twice_is_reported(make_data_dir, tmp_path: Path, header: str) -> None:
    root = make_data_dir(tmp_path / "data", 4, 4)
    csv = root / "train" / "metadata.csv"
    lines = csv.read_text().splitlines()
    width = header.count(",") + 1
    rows = [",".join((line.split(",") * 2)[:width]) for line in lines[1:]]
    csv.write_text("\n".join([header, *rows]) + "\n")
    repeated = "Action" if "Action,Romance" in header else "Id"
    with pytest.raises(DataError, match=f"names the column\\(s\\) {repeated} more than once"):
        load_dataset(root)
