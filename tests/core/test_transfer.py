"""On tiny data: the print sample set (a second style shift) and the training speed-ups
(channels-last, foreach AdamW, progressive resizing) and their switch."""

from __future__ import annotations

import copy
import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.base.config import TrainConfig
from core.data.datasets import Dataset
from core.data.samples_hard import CONCEPTS
from core.data.samples_print import generate_print_data, hatch, photograph
from core.training import loop as engine
from core.training.speed import ENV, SpeedOptions, epoch_image_size, speed_options

ALL = SpeedOptions(channels_last=True, foreach=True, progressive=True, frozen_bn=True)
NONE = SpeedOptions(channels_last=False, foreach=False, progressive=False, frozen_bn=False)


# ----------------------------------------------------------------------------- print set
def _rows(split_dir: Path) -> list[dict[str, str]]:
    with (split_dir / "metadata.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_print_set_is_deterministic_in_the_seed_layout(tmp_path: Path) -> None:
    a = generate_print_data(tmp_path / "a", n_train=6, n_val=4)
    b = generate_print_data(tmp_path / "b", n_train=6, n_val=4)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 6 + 4 + 2
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert list(_rows(a / "train")[0])[2:] == list(CONCEPTS)
    assert all(1 <= sum(int(r[c]) for c in CONCEPTS) <= 3 for r in _rows(a / "val"))


def test_validation_prints_look_photographed_unlike_training_posters(tmp_path: Path) -> None:
    root = generate_print_data(tmp_path / "p", n_train=4, n_val=4)

    def spread(split: str) -> float:
        images = [np.asarray(Image.open(p), np.float32) for p in (root / split).glob("*.jpg")]
        return float(np.mean([np.percentile(i, 99) - np.percentile(i, 1) for i in images]))

    # Ink on paper, light and blur: a narrower tonal range than the drawn posters.
    assert spread("val") < spread("train") - 20


def test_photograph_lifts_black_and_hatching_keeps_fewer_ink_pixels() -> None:
    rng = np.random.default_rng(0)
    black = photograph(Image.new("RGB", (128, 128)), rng)
    centre = np.asarray(black, np.float32)[40:88, 40:88]
    assert centre.mean() > 25  # printed black is the paper seen through ink
    solid = Image.new("RGBA", (40, 40), (200, 30, 30, 255))
    hatched = np.asarray(hatch(solid, rng))
    coverage = (hatched[..., 3] > 127).mean()
    assert 0.2 < coverage < 0.9  # lines, not a fill, not nothing
    assert hatched[..., 0].max() < 200  # the ink is darker than the fill


def test_cli_and_ensure_know_the_print_variant() -> None:
    from core.cli.main import build_parser
    from core.data.samples import SAMPLE_VARIANTS

    assert "print" in SAMPLE_VARIANTS
    assert build_parser().parse_args(["train", "--sample", "print"]).sample == "print"


# ----------------------------------------------------------------------------- speed-ups
@pytest.mark.parametrize(
    ("value", "device", "expected"),
    [
        (None, "cpu", SpeedOptions()),
        ("default", "cpu", replace(ALL, progressive=False)),
        ("all", "cpu", ALL),
        ("none", "cpu", NONE),
        ("channels_last, progressive", "cpu", replace(ALL, foreach=False, frozen_bn=False)),
        ("all", "mps", replace(ALL, channels_last=False, foreach=False)),
        ("frozen_bn", "cuda", replace(NONE, frozen_bn=True)),
        ("bogus", "cpu", NONE),
    ],
)
def test_speed_options_follow_the_environment(
    value: str | None, device: str, expected: SpeedOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    assert speed_options(device) == expected


def test_progressive_sizes_shrink_only_the_first_third_of_unfrozen_epochs() -> None:
    def sizes(options: SpeedOptions = ALL, **changes: object) -> list[int]:
        config = TrainConfig(image_size=128, **changes)
        return [epoch_image_size(config, e, options) for e in range(1, config.epochs + 1)]

    assert sizes(strategy="no_freeze", epochs=3) == [96, 128, 128]
    assert sizes(strategy="no_freeze", epochs=6) == [96, 96, 128, 128, 128, 128]
    assert sizes(strategy="no_freeze", epochs=2) == [128, 128]  # never all small
    assert (
        sizes(strategy="freeze_unfreeze", epochs=6, unfreeze_epoch=3) == [128, 128, 96] + [128] * 3
    )
    assert sizes(strategy="freeze", epochs=3) == [128] * 3
    assert sizes(NONE, strategy="no_freeze", epochs=3) == [128] * 3


def test_no_freeze_trains_small_first_evaluates_full_size_in_channels_last(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "all")
    seen: list[tuple[bool, int]] = []
    layouts: list[bool] = []
    original = engine.initial_model

    def recording(*args: object, **kwargs: object) -> torch.nn.Module:
        model = original(*args, **kwargs)
        model.backbone.register_forward_pre_hook(
            lambda module, inputs: seen.append((module.training, inputs[0].shape[-1]))
        )
        model.backbone.conv_stem.register_forward_pre_hook(
            lambda module, inputs: layouts.append(
                module.weight.is_contiguous(memory_format=torch.channels_last)
            )
        )
        return model

    monkeypatch.setattr(engine, "initial_model", recording)
    config = TrainConfig(
        strategy="no_freeze", epochs=3, image_size=64, batch_size=8, device="cpu", num_threads=1
    )
    result = engine.fit(config, dataset)
    train_widths = [w for training, w in seen if training]
    steps = -(-len(dataset.train) // 8)
    assert train_widths == [32] * steps + [64] * (2 * steps)
    assert {w for training, w in seen if not training} == {64}
    assert layouts and all(layouts)  # trained and evaluated channels-last
    weight = result.model.backbone.conv_stem.weight
    assert weight.is_contiguous()  # handed back in the layout a loaded model file has


def test_the_plain_path_is_still_there_when_speedups_are_off(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "none")
    config = TrainConfig(
        strategy="no_freeze", epochs=1, image_size=32, batch_size=8, device="cpu", num_threads=1
    )
    result = engine.fit(config, dataset)
    weight = result.model.backbone.conv_stem.weight
    assert weight.is_contiguous() and not weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(("speedups", "stats_move"), [("default", False), ("none", True)])
def test_fine_tuning_keeps_the_backbones_batchnorm_statistics_by_default(
    speedups: str, stats_move: bool, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, speedups)
    before: list[torch.nn.Module] = []
    original = engine.initial_model

    def recording(*args: object, **kwargs: object) -> torch.nn.Module:
        model = original(*args, **kwargs)
        before.append(copy.deepcopy(model.backbone.bn1))
        return model

    monkeypatch.setattr(engine, "initial_model", recording)
    config = TrainConfig(
        strategy="no_freeze", epochs=1, image_size=32, batch_size=8, device="cpu", num_threads=1
    )
    after = engine.fit(config, dataset).model
    bn_before, bn_after = before[0], after.backbone.bn1
    assert torch.equal(bn_before.running_mean, bn_after.running_mean) is not stats_move
    assert not torch.equal(bn_before.weight, bn_after.weight)  # scale and shift still train


# ----------------------------------------------------------------------------- views on ONNX
def test_augmented_views_for_onnx_runtime_stay_uint8_seeded_and_changed() -> None:
    from core.model.backbones import normalisation
    from core.training.embedding import augmented_images

    mean, std = normalisation("efficientnet_lite0")
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    a = augmented_images(images, torch.Generator().manual_seed(1), mean, std)
    b = augmented_images(images, torch.Generator().manual_seed(1), mean, std)
    assert a.dtype == torch.uint8 and a.shape == images.shape
    assert torch.equal(a, b) and not torch.equal(a, images)
