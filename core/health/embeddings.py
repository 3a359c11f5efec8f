"""Every image of a data set (train, val, test) through the training loop's embed phase.

The frozen backbone and its embedding cache are the training's own (`embed_splits`), so a
data set that was trained on (or checked before) is not embedded again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.base.config import TrainConfig
from core.data.cached import load_split_images
from core.data.datasets import Dataset
from core.data.fixes import dataset_folder, relative_file
from core.data.types import SPLITS
from core.model.classifier import MultiLabelClassifier
from core.training.context import TrainingContext
from core.training.continuing import initial_model
from core.training.embedding import embed_splits
from core.training.head_training import head_setup
from core.training.recipes import recipe_config
from core.training.steps import SplitData

Progress = Callable[[str, int, int], None]  # stage, done, total


@dataclass(frozen=True)
class ImageRef:
    """One image of the data set: its name (relative to the data set), split and row."""

    file: str
    split: str
    row: int
    path: Path


@dataclass
class Embedded:
    """A data set's images with their labels and frozen embeddings, in one order."""

    refs: list[ImageRef]
    targets: np.ndarray  # N x labels, 0/1
    label_names: list[str]
    features: torch.Tensor  # N x D, the plain view
    flipped: torch.Tensor | None  # N x D, mirrored (when asked for)
    images: Any  # N x 3 x S x S uint8 reader (the image cache), for perceptual hashes
    digests: list[str] | None  # content hashes from the image cache, where it is on
    model: MultiLabelClassifier
    context: TrainingContext
    config: TrainConfig

    def __len__(self) -> int:
        return len(self.refs)


def doctor_config(image_size: int = 224, flip: bool = False, **overrides: object) -> TrainConfig:
    """The CPU recipe's settings (frozen backbone, two-stage features), as training uses."""
    return recipe_config("cpu", image_size=image_size, tta=flip, device="cpu", **overrides)


def image_refs(dataset: Dataset) -> list[ImageRef]:
    """Every image of the data set, train first, with its name relative to the data set."""
    base = dataset_folder(Path(dataset.root)) if dataset.root is not None else Path.cwd()
    refs = []
    for split in SPLITS:
        part = getattr(dataset, split)
        if part is None:
            continue
        refs += [ImageRef(relative_file(p, base), split, i, p) for i, p in enumerate(part.paths)]
    return refs


def all_targets(dataset: Dataset) -> np.ndarray:
    parts = [getattr(dataset, s) for s in SPLITS if getattr(dataset, s) is not None]
    return np.concatenate([p.labels for p in parts]).astype(np.float32)


def embed_dataset(
    dataset: Dataset,
    config: TrainConfig,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Embedded:
    """Decode (image cache) and embed every image; `config.tta` also embeds mirrored ones.

    Raises `Cancelled` between batches once `should_stop()` is true.
    """
    context = TrainingContext(should_stop)
    refs, targets = image_refs(dataset), all_targets(dataset)
    model = initial_model(config, list(dataset.label_names), None).eval()
    images = load_split_images(
        [r.path for r in refs],
        config.image_size,
        progress=lambda done, total: _show(progress, "decode", done, total),
        should_stop=context.stop_requested,
    )
    split = SplitData(images, torch.from_numpy(targets))
    empty = SplitData(images, torch.zeros((0, targets.shape[1])))
    setup = head_setup(model, config, context, steps=1)
    embed_splits(model, empty, split, setup, progress=lambda d, t: _show(progress, "embed", d, t))
    assert split.features is not None
    return Embedded(
        refs,
        targets,
        list(dataset.label_names),
        split.features.float(),
        split.flipped.float() if split.flipped is not None else None,
        images,
        getattr(images, "digests", None),
        model,
        context,
        config,
    )


def _show(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)
