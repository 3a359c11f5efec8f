"""core.inference.predictor: paths, PIL images and folders; unreadable files; thresholds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.datasets import Dataset
from core.inference.predictor import Prediction, Predictor, expand_inputs


@pytest.fixture(scope="module")
def predictor(model_path: Path) -> Predictor:
    return Predictor.from_file(model_path, device="cpu")


def corrupt_jpeg(good: Path, target: Path) -> Path:
    """The first part of a real JPEG: the header parses, the pixel data stops short."""
    data = good.read_bytes()
    target.write_bytes(data[: len(data) // 3])
    return target


def test_predictor_exposes_labels_and_tuned_thresholds(predictor: Predictor) -> None:
    assert predictor.label_names == ["Action", "Romance", "Crime"]
    assert predictor.thresholds.shape == (3,)
    np.testing.assert_allclose(predictor.thresholds, predictor.meta.thresholds)


def test_paths_get_one_probability_per_label(predictor: Predictor, dataset: Dataset) -> None:
    paths = dataset.val.paths
    results = predictor.predict(paths, batch_size=5)
    assert [r.source for r in results] == [str(p) for p in paths]
    for result in results:
        assert result.ok and result.error is None
        assert result.probabilities.shape == (3,)
        assert ((result.probabilities >= 0) & (result.probabilities <= 1)).all()


def test_predictions_follow_the_labels(predictor: Predictor, dataset: Dataset) -> None:
    results = predictor.predict(dataset.val.paths)
    probs = np.stack([r.probabilities for r in results])
    truth = dataset.val.labels.astype(bool)
    assert probs[truth].mean() > probs[~truth].mean() + 0.1


def test_pil_images_match_their_files(predictor: Predictor, dataset: Dataset) -> None:
    paths = dataset.val.paths[:3]
    from_paths = predictor.predict(paths)
    images = [Image.open(p) for p in paths]
    try:
        from_images = predictor.predict(images)
    finally:
        for image in images:
            image.close()
    for a, b in zip(from_paths, from_images, strict=True):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
    in_memory = predictor.predict([Image.new("RGB", (40, 90), "red")])
    assert in_memory[0].source == "<image>"
    assert in_memory[0].probabilities.shape == (3,)


def test_corrupt_jpeg_gets_an_error_and_the_rest_are_predicted(
    predictor: Predictor, dataset: Dataset, tmp_path: Path
) -> None:
    good = dataset.val.paths[:3]
    bad = corrupt_jpeg(good[0], tmp_path / "broken.jpg")
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("these are not pixels")
    results = predictor.predict([good[0], bad, good[1], not_an_image, good[2]], batch_size=4)
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert "broken.jpg" in results[1].error
    assert "notes.jpg" in results[3].error
    assert results[1].probabilities is None
    alone = predictor.predict([good[1]])[0]
    np.testing.assert_allclose(results[2].probabilities, alone.probabilities, atol=1e-6)


def test_predict_honours_the_stop_flag(predictor: Predictor, dataset: Dataset) -> None:
    seen: list[tuple[int, int]] = []
    results = predictor.predict(
        dataset.val.paths,
        batch_size=4,
        progress=lambda done, total: seen.append((done, total)),
        should_stop=lambda: len(seen) >= 1,
    )
    assert len(results) == 4
    assert seen == [(4, len(dataset.val))]


def test_partial_results_arrive_per_batch(predictor: Predictor, dataset: Dataset) -> None:
    batches: list[list[Prediction]] = []
    results = predictor.predict(dataset.val.paths[:10], batch_size=4, on_partial=batches.append)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert [p.source for b in batches for p in b] == [r.source for r in results]


def test_a_batch_size_below_one_is_a_usage_error(predictor: Predictor, dataset: Dataset) -> None:
    from core.base.errors import UsageError

    with pytest.raises(UsageError, match="batch size"):
        predictor.predict(dataset.val.paths[:2], batch_size=0)


def test_expand_inputs_walks_folders_and_reports_what_it_skips(
    dataset: Dataset, tmp_path: Path
) -> None:
    folder = tmp_path / "posters"
    nested = folder / "more" / "deeper"
    nested.mkdir(parents=True)
    shutil.copy(dataset.val.paths[0], folder / "b.jpg")
    shutil.copy(dataset.val.paths[1], nested / "a.JPG")
    Image.new("RGB", (8, 8)).save(folder / "c.png")
    (folder / "readme.txt").write_text("not an image")
    notes = tmp_path / "notes.txt"
    notes.write_text("hi")
    empty = tmp_path / "empty"
    empty.mkdir()
    single = tmp_path / "single.jpg"
    shutil.copy(dataset.val.paths[2], single)

    images, skipped = expand_inputs([folder, single, notes, tmp_path / "missing.jpg", empty])
    assert images == [folder / "b.jpg", folder / "c.png", nested / "a.JPG", single]
    assert len(skipped) == 3
    assert any("notes.txt" in s and "not an image" in s for s in skipped)
    assert any("missing.jpg" in s and "not found" in s for s in skipped)
    assert any("empty" in s and "no images" in s for s in skipped)


def test_folder_predictions_via_expand_inputs(predictor: Predictor, data_dir: Path) -> None:
    images, skipped = expand_inputs([data_dir / "val"])
    assert skipped == []
    assert len(images) == len(list((data_dir / "val").glob("*.jpg")))
    results = predictor.predict(images)
    assert all(r.ok for r in results)
