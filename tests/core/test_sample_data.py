from __future__ import annotations

import ast
import csv
import functools
from pathlib import Path

import pytest
from PIL import Image

from core.data import samples as sample_data
from core.data.samples import COMPLETE_MARKER, GENRES, ensure_sample_data, generate_sample_data


def _read_rows(split_dir: Path) -> list[dict[str, str]]:
    with (split_dir / "metadata.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def full_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default-size sample set, generated once for this module (about a second)."""
    return ensure_sample_data(tmp_path_factory.mktemp("cache") / "sample")


@pytest.fixture
def small_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ensure_sample_data generate a tiny set, for the tests of its bookkeeping."""
    small = functools.partial(generate_sample_data, n_train=6, n_val=3)
    monkeypatch.setattr(sample_data, "generate_sample_data", small)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = generate_sample_data(tmp_path / "a", n_train=8, n_val=4)
    second = generate_sample_data(tmp_path / "b", n_train=8, n_val=4)
    assert _all_files(first) == _all_files(second)
    other_seed = generate_sample_data(tmp_path / "c", n_train=8, n_val=4, seed=7)
    assert _all_files(first) != _all_files(other_seed)


def test_layout_counts_and_images(tmp_path: Path) -> None:
    root = generate_sample_data(tmp_path / "s", n_train=10, n_val=5)
    for split, count in (("train", 10), ("val", 5)):
        rows = _read_rows(root / split)
        assert len(rows) == count
        assert list(rows[0]) == ["Id", "Genre", *GENRES]
        assert rows[0]["Id"] == "sample_0001"
        assert len(list((root / split).glob("*.jpg"))) == count
        with Image.open(root / split / f"{rows[-1]['Id']}.jpg") as image:
            assert image.format == "JPEG"
            assert image.mode == "RGB"
            assert image.size == (128, 128)


def test_labels_are_consistent_and_one_to_three(tmp_path: Path) -> None:
    root = generate_sample_data(tmp_path / "s", n_train=40, n_val=20)
    for split in ("train", "val"):
        rows = _read_rows(root / split)
        for row in rows:
            flagged = [g for g in GENRES if row[g] == "1"]
            assert all(row[g] in ("0", "1") for g in GENRES)
            assert 1 <= len(flagged) <= 3
            assert ast.literal_eval(row["Genre"]) == flagged
        for genre in GENRES:
            assert any(row[genre] == "1" for row in rows), (split, genre)


def test_default_set_has_every_genre_in_a_healthy_share(full_sample: Path) -> None:
    for split, count in (("train", 400), ("val", 120)):
        rows = _read_rows(full_sample / split)
        assert len(rows) == count
        for genre in GENRES:
            share = sum(row[genre] == "1" for row in rows) / count
            assert share >= 0.2, (split, genre, share)


def test_ensure_reuses_a_complete_copy(full_sample: Path) -> None:
    assert (full_sample / COMPLETE_MARKER).is_file()
    probe = full_sample / "train" / "sample_0001.jpg"
    before = (probe.stat().st_mtime_ns, full_sample.stat().st_mtime_ns)
    assert ensure_sample_data(full_sample) == full_sample
    assert (probe.stat().st_mtime_ns, full_sample.stat().st_mtime_ns) == before


def test_ensure_defaults_to_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_generator: None
) -> None:
    monkeypatch.setenv("MARQUEE_HOME", str(tmp_path))
    root = ensure_sample_data()
    assert root == tmp_path / "cache" / "sample-posters-v1"
    assert len(_read_rows(root / "train")) == 6


def test_leftover_temp_and_unmarked_folder_do_not_fool_it(
    tmp_path: Path, small_generator: None
) -> None:
    root = tmp_path / "sample"
    leftover = tmp_path / ".sample.tmp-999-deadbeef"
    (leftover / "train").mkdir(parents=True)
    (leftover / "train" / "metadata.csv").write_text("Id,Genre\n", encoding="utf-8")
    (root / "train").mkdir(parents=True)  # a half folder without the marker
    (root / "train" / "junk.jpg").write_bytes(b"partial")

    assert ensure_sample_data(root) == root
    assert (root / COMPLETE_MARKER).is_file()
    assert not (root / "train" / "junk.jpg").exists()
    assert len(_read_rows(root / "train")) == 6
    assert len(_read_rows(root / "val")) == 3
    # A recent temp folder may belong to a live process, so it is left alone.
    assert leftover.exists()


def test_interrupted_generation_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_generator: None
) -> None:
    real_render = sample_data.render_poster
    calls = 0

    def failing_render(*args: object, **kwargs: object) -> Image.Image:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise KeyboardInterrupt
        return real_render(*args, **kwargs)

    monkeypatch.setattr(sample_data, "render_poster", failing_render)
    root = tmp_path / "sample"
    with pytest.raises(KeyboardInterrupt):
        ensure_sample_data(root)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(sample_data, "render_poster", real_render)
    assert (ensure_sample_data(root) / COMPLETE_MARKER).is_file()
