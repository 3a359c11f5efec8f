"""The embed phase: a frozen backbone's features for every image, computed once.

The plain embeddings of both splits go through the image cache (the next run reads them
back), and so do the mirrored validation images' with `tta`; with `feature_views` K the
training images are also embedded in K augmented views (random draws, not cached; on ONNX
Runtime too, where it runs: the augmentation is drawn on the uint8 images).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch

from core.data.cached import cached_embeddings, embedding_family
from core.model.classifier import MultiLabelClassifier
from core.model.embedder import onnx_embedder, run_embedder
from core.model.preprocess import normalize
from core.training.feature_views import view_augment
from core.training.steps import Setup, SplitData, model_inputs

Progress = Callable[[int, int], None]  # done, total


@torch.inference_mode()
def embed_splits(
    model: MultiLabelClassifier,
    train: SplitData,
    val: SplitData,
    setup: Setup,
    progress: Progress | None = None,
) -> None:
    """Fill `train.features` (views x N x D with feature views) and `val.features` (and
    `val.flipped` with TTA). Raises `Cancelled` between batches when a stop is asked for."""
    model.eval()
    family = _family(model, setup)
    session = _LazySession(model, setup, family) if _runtime(setup) == "onnx" else None
    views = setup.config.feature_views
    total = len(train) * (1 + views) + len(val) * (2 if setup.config.tta else 1)
    counter = _Counter(progress, total)
    for split in (train, val):
        if len(split) == 0:  # a rank without validation images under torchrun
            continue
        split.features = cached_embeddings(
            split.images,
            family,
            partial(_embed_batch, model, split, setup=setup, view=0, flip=False, ort=session),
            setup.config.batch_size,
            progress=lambda count, _total: counter.show(count),
        ).to(setup.device)
        counter.next_pass(len(split))
    extra = [
        _embed_all(model, train, setup, view, False, counter, session)
        for view in range(1, 1 + views)
    ]
    if setup.config.tta and len(val):  # mirrored validation images: cached like the plain ones
        val.flipped = cached_embeddings(
            val.images,
            f"{family}-flipped",
            lambda idx: _embed_batch(model, val, idx, setup, view=0, flip=True, ort=session),
            setup.config.batch_size,
            progress=lambda count, _total: counter.show(count),
        ).to(setup.device)
        counter.next_pass(len(val))
    if extra and train.features is not None:
        train.features = torch.stack([train.features, *extra])


class _Counter:
    """Progress over several passes: done counts every image embedded so far."""

    def __init__(self, callback: Progress | None, total: int) -> None:
        self.callback, self.total, self.before = callback, total, 0

    def show(self, count: int) -> None:
        if self.callback is not None:
            self.callback(self.before + count, self.total)

    def next_pass(self, count: int) -> None:
        self.before += count


def _family(model: MultiLabelClassifier, setup: Setup) -> str:
    kind = "multi-stage" if setup.config.multi_stage else "pooled"
    return embedding_family(
        model.backbone,
        setup.config.image_size,
        setup.mean,
        setup.std,
        setup.device,
        str(setup.amp_dtype),
        kind,
        _runtime(setup),
    )


def _runtime(setup: Setup) -> str:
    """ONNX Runtime embeds on the CPU (about 3x torch there); torch on GPUs.
    MARQUEE_EMBED_RUNTIME=torch forces torch (for comparisons)."""
    forced = os.environ.get("MARQUEE_EMBED_RUNTIME", "auto")
    return "onnx" if setup.device == "cpu" and forced != "torch" else "torch"


class _LazySession:
    """The backbone on ONNX Runtime, built when an image is first embedded: a run whose
    embeddings all come from the cache never loads ONNX Runtime or a session."""

    def __init__(self, model: MultiLabelClassifier, setup: Setup, family: str) -> None:
        self._args, self._session = (model, setup, family), None
        self._rows = 0  # the largest batch run so far: every later batch runs in its shape

    def get(self) -> Any:
        if self._session is None:
            model, setup, family = self._args
            threads = setup.config.num_threads or torch.get_num_threads()
            size = setup.config.image_size
            self._session = onnx_embedder(model, size, setup.mean, setup.std, family, threads)
        return self._session

    def run(self, images: torch.Tensor) -> torch.Tensor:
        """Embeddings of a uint8 batch, in one batch shape for the whole run (see
        `run_embedder`: each new shape grows ONNX Runtime's memory)."""
        self._rows = max(self._rows, len(images))
        return run_embedder(self.get(), images, self._rows)


def _embed_all(
    model: MultiLabelClassifier,
    split: SplitData,
    setup: Setup,
    view: int,
    flip: bool,
    counter: _Counter,
    ort: _LazySession | None = None,
) -> torch.Tensor:
    chunks, count = [], 0
    for idx in setup.batches(len(split), shuffle=False):
        chunks.append(_embed_batch(model, split, idx, setup, view, flip, ort).to(setup.device))
        count += len(idx)
        counter.show(count)
    counter.next_pass(count)
    return torch.cat(chunks)


def _embed_batch(
    model: MultiLabelClassifier,
    split: SplitData,
    idx: torch.Tensor,
    setup: Setup,
    view: int,
    flip: bool,
    ort: _LazySession | None = None,
) -> torch.Tensor:
    """One batch's embeddings, on ONNX Runtime when given (augmented views are drawn on the
    uint8 images and embedded there too), else on torch."""
    setup.context.check_stop("embedding images")
    if ort is not None:
        images = split.images[idx]
        if view > 0:
            images = augmented_images(images, setup.generator, setup.mean, setup.std)
        return ort.run(images.flip(-1) if flip else images)
    x = model_inputs(split, idx, setup, train=False)
    if view > 0:
        x = view_augment(x, setup.mean, setup.std, setup.generator)
    if flip:
        x = x.flip(-1)
    with setup.autocast():
        return model.embed(x).float()


def augmented_images(
    images: torch.Tensor,
    generator: torch.Generator,
    mean: Sequence[float],
    std: Sequence[float],
) -> torch.Tensor:
    """`view_augment` of a uint8 N x 3 x S x S batch, back in uint8 (for ONNX Runtime);
    `mean`/`std`: the backbone's normalisation, under which the augmentation is drawn."""
    x = view_augment(normalize(images, mean, std), mean, std, generator)
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (x * s + m).clamp(0, 1).mul(255).round().to(torch.uint8)
