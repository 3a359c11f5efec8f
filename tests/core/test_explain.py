"""core.inference.explain: Grad-CAM maps point at the label's motif; overlays; backbones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.base.errors import BackboneUnavailable, ImageDecodeError, UsageError
from core.inference.explain import (
    COLORMAP,
    TARGET_LAYERS,
    Explainer,
    colorize,
    overlay,
    target_layer_name,
)
from core.model.backbones import list_backbones
from core.model.classifier import create_model
from core.modelfile.checkpoint import ModelMeta

PX = 224  # lite0's last stage is 7 x 7 here: fine enough to tell quadrants apart
LABELS = ("Action", "Romance", "Crime", "Drama")
QUADRANT = {"Action": (0, 0), "Romance": (0, 1), "Crime": (1, 0), "Drama": (1, 1)}  # (row, col)
COLOUR = {
    "Action": (230, 30, 30),
    "Romance": (30, 210, 60),
    "Crime": (40, 60, 230),
    "Drama": (230, 200, 40),
}


def draw(labels: tuple[str, ...], rng: np.random.Generator) -> Image.Image:
    """Grey noise; each label paints a checkered square near the outer corner of its quadrant."""
    pixels = rng.integers(90, 150, size=(PX, PX, 3)).astype(np.uint8)
    side, margin = PX * 5 // 16, PX // 32
    yy, xx = np.mgrid[0:side, 0:side]
    dark = (yy // 4 + xx // 4) % 2 == 0
    for label in labels:
        row, col = QUADRANT[label]
        jitter = rng.integers(0, margin + 1, size=2)
        y0 = margin + jitter[0] if row == 0 else PX - margin - side - jitter[0]
        x0 = margin + jitter[1] if col == 0 else PX - margin - side - jitter[1]
        block = np.empty((side, side, 3), np.uint8)
        block[:] = COLOUR[label]
        block[dark] //= 3
        pixels[y0 : y0 + side, x0 : x0 + side] = block
    return Image.fromarray(pixels)


def quadrant_mass(heatmap: np.ndarray, label: str) -> float:
    """The share of the map's total mass inside `label`'s quadrant (chance: 0.25)."""
    half_h, half_w = heatmap.shape[0] // 2, heatmap.shape[1] // 2
    row, col = QUADRANT[label]
    part = heatmap[row * half_h : (row + 1) * half_h, col * half_w : (col + 1) * half_w]
    return float(part.sum() / max(heatmap.sum(), 1e-9))


def write_split(folder: Path, n: int, seed: int):
    from core.data.datasets import LabeledImages

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    paths, rows = [], []
    for i in range(n):
        labels = tuple(name for bit, name in enumerate(LABELS) if (i >> bit) & 1)  # all 16 sets
        path = folder / f"{i:03d}.png"
        draw(labels, rng).save(path)
        paths.append(path)
        rows.append([float(name in labels) for name in LABELS])
    return LabeledImages(paths, np.array(rows, np.float32), list(LABELS))


@pytest.fixture(scope="module")
def quadrant_explainer(tmp_path_factory: pytest.TempPathFactory) -> Explainer:
    """A frozen pretrained Lite0 with a head trained to find each label's quadrant motif."""
    from core.base.config import TrainConfig
    from core.data.datasets import Dataset, ValidationReport
    from core.training.loop import fit

    root = tmp_path_factory.mktemp("quadrants")
    data = Dataset(
        write_split(root / "train", 48, seed=1),
        write_split(root / "val", 16, seed=2),
        None,
        list(LABELS),
        ValidationReport(),
        "quadrants",
    )
    config = TrainConfig(epochs=8, image_size=PX, batch_size=8, lr=1e-2, num_threads=2)
    result = fit(config, data)
    assert result.meta.metrics["map"] > 0.9  # the head learned the task; else maps mean nothing
    return Explainer(result.model, result.meta)


def test_each_labels_map_concentrates_on_its_own_quadrant(quadrant_explainer: Explainer) -> None:
    rng = np.random.default_rng(7)
    for label in LABELS:
        masses = []
        for _ in range(6):
            # The label's motif plus a random mix of the others, on fresh noise.
            present = tuple(n for n in LABELS if n == label or rng.random() < 0.5)
            (explanation,) = quadrant_explainer.explain_labels(draw(present, rng), [label])
            masses.append(quadrant_mass(explanation.heatmap, label))
        assert np.mean(masses) > 0.5, (label, masses)  # chance is 0.25
        assert min(masses) > 0.3, (label, masses)


def test_maps_differ_between_labels_on_one_image(quadrant_explainer: Explainer) -> None:
    image = draw(LABELS, np.random.default_rng(3))  # every motif present at once
    explanations = quadrant_explainer.explain_all(image)
    assert [e.label for e in explanations] == list(LABELS)
    # mass[i, j]: the share of label i's map in label j's quadrant.
    mass = np.array([[quadrant_mass(e.heatmap, q) for q in LABELS] for e in explanations])
    for i in range(len(LABELS)):
        others = np.delete(mass[:, i], i)
        assert mass[i, i] > others.max(), mass  # each quadrant is hottest in its own map
    maps = [e.heatmap for e in explanations]
    for i in range(len(maps)):
        for j in range(i + 1, len(maps)):
            assert np.abs(maps[i] - maps[j]).mean() > 0.05, (LABELS[i], LABELS[j])


def test_heatmap_has_the_image_size_and_range(quadrant_explainer: Explainer) -> None:
    image = draw(("Crime",), np.random.default_rng(4)).resize((300, 180))
    explanation = quadrant_explainer.explain(image, "Crime")
    assert explanation.heatmap.shape == (180, 300)
    assert explanation.heatmap.dtype == np.float32
    assert explanation.heatmap.min() >= 0.0 and explanation.heatmap.max() == pytest.approx(1.0)
    small = quadrant_explainer.explain(image, 2, size=(40, 30))
    assert small.heatmap.shape == (30, 40) and small.label == "Crime"


def test_explaining_leaves_the_model_as_it_was(quadrant_explainer: Explainer) -> None:
    model = quadrant_explainer.model
    model.zero_grad(set_to_none=True)  # training left gradients behind
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quadrant_explainer.explain_all(draw(("Action",), np.random.default_rng(5)))
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    assert not quadrant_explainer.layer._forward_hooks  # the hook is gone again
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_unknown_label_and_unreadable_image_are_user_errors(
    quadrant_explainer: Explainer, tmp_path: Path
) -> None:
    image = draw(("Action",), np.random.default_rng(6))
    with pytest.raises(UsageError, match="Action, Romance, Crime, Drama"):
        quadrant_explainer.explain(image, "Western")
    with pytest.raises(UsageError):
        quadrant_explainer.explain(image, 4)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(ImageDecodeError, match=r"broken\.jpg"):
        quadrant_explainer.explain(broken, "Action")


# ------------------------------------------------------------------ every backbone
def test_every_listed_backbone_has_a_target_layer() -> None:
    assert set(TARGET_LAYERS) == {b.name for b in list_backbones()}
    with pytest.raises(BackboneUnavailable, match="not available"):
        target_layer_name("vit_base_patch16_224")


@pytest.mark.parametrize("backbone", sorted(TARGET_LAYERS))
def test_grad_cam_runs_on_every_backbone(backbone: str) -> None:
    torch.manual_seed(0)
    model = create_model(backbone, 2, pretrained=False, image_size=64)  # transformers: 64 px
    meta = ModelMeta(
        backbone=backbone,
        image_size=64,
        label_names=["a", "b"],
        thresholds=[0.5, 0.5],
        mean=[0.485, 0.456, 0.406],
        std=[0.229, 0.224, 0.225],
    )
    explainer = Explainer(model, meta)
    pixels = np.random.default_rng(0).integers(0, 255, size=(80, 96, 3), dtype=np.uint8)
    explanations = explainer.explain_all(Image.fromarray(pixels))
    assert [e.label for e in explanations] == ["a", "b"]
    for e in explanations:
        assert e.heatmap.shape == (80, 96)
        assert np.isfinite(e.heatmap).all()
        assert e.heatmap.min() >= 0.0 and e.heatmap.max() <= 1.0
        assert 0.0 <= e.probability <= 1.0
    assert any(e.heatmap.max() > 0 for e in explanations)


# ------------------------------------------------------------------ colours and overlays
def test_colormap_runs_cold_to_hot() -> None:
    assert COLORMAP.shape == (256, 3) and COLORMAP.dtype == np.uint8
    cold, hot = COLORMAP[0].astype(int), COLORMAP[-1].astype(int)
    assert cold[2] > cold[0]  # blue
    assert hot[0] > hot[2]  # red


def test_colorize_fades_cold_areas_and_overlay_blends() -> None:
    heat = np.zeros((10, 20), np.float32)
    heat[:, 10:] = 1.0
    rgba = np.asarray(colorize(heat, alpha=0.8))
    assert rgba.shape == (10, 20, 4)
    assert rgba[0, 0, 3] == 0 and rgba[0, 19, 3] == round(0.8 * 255)

    base = Image.new("RGB", (40, 20), (0, 255, 0))
    blended = np.asarray(overlay(base, heat, alpha=0.5)).astype(int)  # heat map is resized
    assert blended.shape == (20, 40, 3)
    hot, cold = blended[10, 39], blended[10, 0]
    assert hot[0] >= 60 and hot[1] <= 130  # half dark red, half green
    assert cold[1] >= 100 and cold[2] >= 50  # half dark blue, half green
    assert overlay(base, heat, alpha=0.0).tobytes() == base.tobytes()


def test_explain_top_picks_the_most_probable_label(quadrant_explainer: Explainer) -> None:
    image = draw(("Drama",), np.random.default_rng(8))
    top = quadrant_explainer.explain_top(image)
    everything = quadrant_explainer.explain_all(image)
    assert top.label == max(everything, key=lambda e: e.probability).label
    np.testing.assert_allclose(top.heatmap, everything[top.index].heatmap, atol=1e-5)
