"""The accuracy mechanisms behind the recipes, on tiny data: ASL, feature views, the tuner, TTA,
the multi-stage / MLP head, recipes and the hard sample set."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from core.base.config import TrainConfig
from core.base.errors import ConfigError
from core.data.datasets import Dataset
from core.data.samples_hard import CONCEPTS, generate_hard_data
from core.inference.predictor import Predictor
from core.modelfile.checkpoint import load_model, save_model
from core.training import loop as engine
from core.training.autotune import tune_head
from core.training.feature_views import gather_views, sample_views, view_augment
from core.training.losses import AsymmetricLoss, make_criterion
from core.training.recipes import recipe_config, recommend

BATCH = 8


def tiny_config(**overrides) -> TrainConfig:
    base = TrainConfig(epochs=2, image_size=32, batch_size=BATCH, lr=1e-2, num_threads=1)
    return replace(base, **overrides)


# ----------------------------------------------------------------------------- ASL
def test_asl_with_zero_gammas_and_no_clip_is_bce() -> None:
    logits = torch.randn(6, 4, requires_grad=True)
    targets = (torch.rand(6, 4) > 0.5).float()
    asl = AsymmetricLoss(gamma_neg=0, gamma_pos=0, clip=0)(logits, targets)
    (grad_asl,) = torch.autograd.grad(asl, logits)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, targets)
    (grad_bce,) = torch.autograd.grad(bce, logits)
    assert asl.item() == pytest.approx(bce.item(), rel=1e-5)
    assert torch.allclose(grad_asl, grad_bce, atol=1e-6)


def test_asl_gradients_match_the_hand_derivation() -> None:
    # One positive (gamma_pos=1) and one negative (gamma_neg=2), no clip, summed by hand.
    z = torch.tensor([[0.3, -0.4]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0]])
    loss = AsymmetricLoss(gamma_neg=2, gamma_pos=1, clip=0)(z, y) * 2  # mean over 2 elements
    loss.backward()
    p = torch.sigmoid(z.detach())[0]
    # positive: L = -(1-p) log p  ->  dL/dz = p(1-p) log p - (1-p)^2
    pos = p[0] * (1 - p[0]) * torch.log(p[0]) - (1 - p[0]) ** 2
    # negative: L = -p^2 log(1-p)  ->  dL/dz = -2 p^2 (1-p) log(1-p) + p^3
    neg = -2 * p[1] ** 2 * (1 - p[1]) * torch.log(1 - p[1]) + p[1] ** 3
    assert torch.allclose(z.grad[0], torch.stack([pos, neg]), atol=1e-6)


def test_asl_clip_silences_easy_negatives() -> None:
    z = torch.tensor([[-4.0]], requires_grad=True)  # p = 0.018 < clip
    loss = AsymmetricLoss(gamma_neg=4, clip=0.05)(z, torch.zeros(1, 1))
    loss.backward()
    assert loss.item() == 0.0 and z.grad.abs().item() == 0.0


def test_make_criterion_follows_the_config() -> None:
    assert isinstance(make_criterion(TrainConfig(loss="asl")), AsymmetricLoss)
    assert isinstance(make_criterion(TrainConfig()), nn.BCEWithLogitsLoss)
    with pytest.raises(ConfigError):
        TrainConfig(loss="focal").validate()


# ----------------------------------------------------------------------------- views
def test_view_sampling_is_seeded_in_range_and_uses_every_view() -> None:
    a = sample_views(500, 3, torch.Generator().manual_seed(0))
    b = sample_views(500, 3, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 2
    assert set(a.tolist()) == {0, 1, 2}
    views = torch.arange(3 * 4 * 2, dtype=torch.float32).view(3, 4, 2)
    choice = torch.tensor([2, 0, 1, 2])
    picked = gather_views(views, choice, torch.tensor([0, 2]))
    assert torch.equal(picked, torch.stack([views[2, 0], views[1, 2]]))


def test_view_augment_keeps_shape_and_changes_pixels() -> None:
    x = torch.randn(4, 3, 32, 32)
    y = view_augment(x, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), torch.Generator().manual_seed(1))
    assert y.shape == x.shape and torch.isfinite(y).all() and not torch.allclose(x, y)


def test_feature_views_embed_k_plus_one_views_once_and_resample_each_epoch(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen: list[torch.Tensor] = []
    real = engine.sample_views

    def spy(n: int, views: int, generator: torch.Generator) -> torch.Tensor:
        chosen.append(real(n, views, generator))
        return chosen[-1]

    monkeypatch.setattr(engine, "sample_views", spy)
    embedded: list[torch.Tensor] = []
    real_embed = engine.embed_splits

    def keep_features(model, train, val, setup, progress=None) -> None:
        real_embed(model, train, val, setup, progress)
        embedded.append(train.features)

    monkeypatch.setattr(engine, "embed_splits", keep_features)
    engine.fit(tiny_config(feature_views=2, epochs=3), dataset)
    (features,) = embedded  # embedded once, before the first epoch
    assert features.shape[:2] == (3, len(dataset.train))
    assert len(chosen) == 3  # one draw of views per epoch
    assert all(len(c) == len(dataset.train) and c.max() <= 2 for c in chosen)


# ----------------------------------------------------------------------------- tuner
def test_the_tuner_picks_the_learning_rate_that_learns() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(120, 6, generator=gen)
    y = (x[:, :3] > 0).float()  # each label is one feature's sign
    choice = tune_head(
        x,
        y,
        lambda: nn.Linear(6, 3),
        nn.BCEWithLogitsLoss,
        TrainConfig(batch_size=16),
        lrs=(1e-7, 1e-1),
        weight_decays=(1e-4,),
        epochs=(5,),
    )
    assert choice.lr == 1e-1
    assert len(choice.trials) == 2 and choice.score > 0.9


def test_auto_tune_records_its_choice_in_the_model_config(dataset: Dataset) -> None:
    events: list = []
    result = engine.fit(tiny_config(auto_tune=True), dataset, events.append)
    config = result.meta.config
    assert config["auto_tune"] is True
    assert config["lr"] in (3e-3, 1e-2, 3e-2) and config["epochs"] in (5, 10, 20)
    assert len(result.history) == config["epochs"]
    assert any(getattr(e, "stage", "") == "tune" for e in events)


def test_auto_tune_needs_cached_embeddings() -> None:
    with pytest.raises(ConfigError, match="Auto-tune"):
        TrainConfig(auto_tune=True, strategy="no_freeze").validate()


# ----------------------------------------------------------------------------- TTA + heads
def _poster(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))


def test_tta_is_stored_in_the_model_file_and_averages_the_flip(
    dataset: Dataset, tmp_path: Path
) -> None:
    result = engine.fit(tiny_config(tta=True, epochs=1), dataset)
    path = save_model(tmp_path / "tta.safetensors", result.model, result.meta)
    predictor = Predictor.from_file(path, device="cpu")
    assert predictor.tta is True
    image = _poster(3)
    mirrored = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    plain = Predictor.for_model(*load_model(path), device="cpu", tta=False)
    expected = (
        plain.predict([image])[0].probabilities + plain.predict([mirrored])[0].probabilities
    ) / 2
    got = predictor.predict([image])[0].probabilities
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, plain.predict([image])[0].probabilities, atol=1e-7)


def test_mlp_head_with_two_stage_features_round_trips(dataset: Dataset, tmp_path: Path) -> None:
    config = tiny_config(head="mlp", multi_stage=True, loss="asl", epochs=1, head_hidden=32)
    result = engine.fit(config, dataset)
    assert result.model.embedding_size > result.model.backbone.num_features
    path = save_model(tmp_path / "mlp.safetensors", result.model, result.meta)
    model, _ = load_model(path)
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        assert torch.allclose(model(x), result.model.eval()(x), atol=1e-5)


# ----------------------------------------------------------------------------- recipes
def test_recipes_follow_the_device_and_every_choice_overrides() -> None:
    assert recommend("cpu").recipe == "cpu" and recommend("cuda").recipe == "gpu"
    assert "CPU" in recommend("cpu").reason and "GPU" in recommend("mps").reason
    assert recipe_config("cpu", head="linear").head == "linear"
    baseline = recipe_config("baseline")
    assert baseline == TrainConfig()
    # An explicit choice of the tuner is the user's: a recipe never drops it.
    assert recipe_config("cpu", epochs=3, auto_tune=True).auto_tune is True
    recipe_config("gpu").validate()
    recipe_config("cpu").validate()


# ----------------------------------------------------------------------------- hard set
def _rows(split_dir: Path) -> list[dict[str, str]]:
    with (split_dir / "metadata.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_hard_sample_set_is_deterministic_with_many_labels(tmp_path: Path) -> None:
    a = generate_hard_data(tmp_path / "a", n_train=12, n_val=6)
    b = generate_hard_data(tmp_path / "b", n_train=12, n_val=6)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert len(CONCEPTS) >= 8
    header = list(_rows(a / "train")[0])
    assert header[2:] == list(CONCEPTS)
    assert len(_rows(a / "train")) == 12 and len(_rows(a / "val")) == 6


# ----------------------------------------------------------------------------- CLI
def test_cli_sample_takes_an_optional_variant_and_recipes_resolve() -> None:
    from core.cli.main import build_parser
    from core.cli.train_command import _train_config

    parser = build_parser()
    assert parser.parse_args(["train", "--sample"]).sample == "normal"
    assert parser.parse_args(["train", "--sample", "hard"]).sample == "hard"
    assert parser.parse_args(["evaluate", "m.safetensors", "--sample", "hard"]).sample == "hard"
    args = parser.parse_args(["train", "--sample", "--device", "cpu", "--lr", "0.003"])
    config, recipe = _train_config(args)
    assert (
        recipe == "cpu"
        and config.lr == 0.003
        and config
        == replace(recipe_config("cpu"), lr=0.003, device="cpu", num_threads=config.num_threads)
    )
    args = parser.parse_args(["train", "--recipe", "baseline", "--tta", "--feature-views", "1"])
    config, recipe = _train_config(args)
    assert recipe == "baseline" and config.tta and config.feature_views == 1


def test_a_run_that_leaves_its_recipe_is_not_described_as_the_recommendation() -> None:
    from core.training.recipes import describe_settings, follows_recipe

    assert follows_recipe("cpu", recipe_config("cpu", epochs=3, head="mlp"))
    custom = recipe_config("cpu", strategy="no_freeze")
    assert not follows_recipe("cpu", custom)
    text = describe_settings(custom)
    assert "fine-tuned backbone" in text and "Recommended" not in text
