"""An added poster is copied into the data set's managed folder: deleting the folder it
came from keeps it in training; one that is a validation image is added with a warning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.base.errors import OutputError
from core.cli.main import main
from core.data import added_images
from core.data.datasets import load_dataset
from core.data.fixes import FixLog


def test_an_added_poster_stays_when_its_folder_is_deleted(make_data_dir, tmp_path, capsys):
    root = make_data_dir(tmp_path / "data", 6, 3)
    downloads = make_data_dir(tmp_path / "downloads", 2, 1) / "train"
    image = sorted(downloads.glob("*.jpg"))[0]
    code = main(["fixes", str(root), "--add", str(image), "--with-labels", "Romance", "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []
    shutil.rmtree(tmp_path / "downloads")
    dataset = load_dataset(root)
    assert len(dataset.train) == 7 and dataset.fixes_applied == 1
    assert dataset.train.labels[-1].tolist() == [0, 1, 0]
    kept = dataset.train.paths[-1]
    assert kept.parent == added_images.managed_folder(FixLog.for_dataset(root))


def test_adding_a_validation_image_warns_of_the_leak(make_data_dir, tmp_path, capsys):
    root = make_data_dir(tmp_path / "data", 6, 3)
    val_image = sorted((root / "val").glob("*.jpg"))[0]
    copy = tmp_path / "phone" / "poster.jpg"
    copy.parent.mkdir()
    shutil.copyfile(val_image, copy)
    assert main(["fixes", str(root), "--add", str(copy), "--with-labels", "Crime"]) == 0
    err = capsys.readouterr().err
    assert f"val/{val_image.name}" in err and "leak" in err


def test_nothing_is_recorded_when_the_copy_cannot_be_made(make_data_dir, tmp_path, monkeypatch):
    root = make_data_dir(tmp_path / "data", 6, 3)
    image = sorted((make_data_dir(tmp_path / "more", 2, 1) / "train").glob("*.jpg"))[0]

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(added_images.shutil, "copyfile", full_disk)
    log = FixLog.for_dataset(root)
    with pytest.raises(OutputError, match="No space left"):
        added_images.add_images(log, [Path(image)], ("Action",), "train")
    assert log.decisions == []
