"""A second load of a data set trusts the files the image cache decoded, unless they changed."""

from __future__ import annotations

import os

from core.data import image_check
from core.data.cached import load_split_images
from core.data.datasets import load_dataset
from tests.core.conftest import make_dataset_dir


def _checked_files(monkeypatch) -> list:
    checked: list = []
    original = image_check.check_image

    def counting(path):
        checked.append(path)
        return original(path)

    monkeypatch.setattr(image_check, "check_image", counting)
    return checked


def test_files_the_cache_decoded_are_not_decoded_again(tmp_path, marquee_home, monkeypatch):
    root = make_dataset_dir(tmp_path / "data", n_train=6, n_val=3)
    first = load_dataset(root)
    everything = [*first.train.paths, *first.val.paths]
    load_split_images(first.train.paths, 32)  # training decodes the training images only
    checked = _checked_files(monkeypatch)
    again = load_dataset(root)
    assert sorted(checked) == sorted(first.val.paths)  # never decoded: checked as before
    assert [*again.train.paths, *again.val.paths] == everything

    broken = first.train.paths[0]
    broken.write_bytes(broken.read_bytes()[:200])  # truncated since it was cached
    os.utime(broken, ns=(1, 1))
    checked.clear()
    third = load_dataset(root)
    assert broken in checked and broken not in third.train.paths
    assert any(broken.name in p.where for p in third.report.errors)


def test_without_the_cache_every_file_is_checked(tmp_path, marquee_home, monkeypatch):
    root = make_dataset_dir(tmp_path / "data", n_train=6, n_val=3)
    data = load_dataset(root)
    load_split_images(data.train.paths, 32)
    monkeypatch.setenv("MARQUEE_NO_IMAGE_CACHE", "1")
    checked = _checked_files(monkeypatch)
    load_dataset(root)
    assert len(checked) == len(data.train) + len(data.val)
