"""Inference with a saved model: `Predictor.from_file(path).predict(images)`.

The predictor turns images into `Prediction`s (probabilities, or an error per image);
what counts as predicted at which threshold is decided by `PredictionSet`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from PIL import Image

from core.base.errors import ImageDecodeError, UsageError, shorten
from core.data.datasets import IMAGE_SUFFIXES
from core.data.decode import ImageSource
from core.inference.pipeline import InferencePipeline
from core.inference.predictions import Prediction, PredictionSet
from core.modelfile.checkpoint import ModelMeta

if TYPE_CHECKING:  # a cached ONNX graph predicts without torch
    from core.model.classifier import MultiLabelClassifier

__all__ = ["Prediction", "PredictionSet", "Predictor", "expand_inputs"]


class Predictor:
    """A trained model ready for inference: labels, tuned thresholds and batched prediction.

    Every probability comes from the model file's `InferencePipeline` (decode, resize,
    normalise, model, TTA, sigmoid), on torch or ONNX Runtime. Unreadable images never
    raise: each gets a `Prediction` with an error instead. Test-time augmentation (the
    average of an image's and its mirror image's probabilities) is used when the model
    file says so (`meta.config["tta"]`); `tta` overrides it.
    """

    def __init__(self, pipeline: InferencePipeline) -> None:
        self.pipeline = pipeline
        self.meta: ModelMeta = pipeline.meta

    @classmethod
    def for_model(
        cls,
        model: MultiLabelClassifier,
        meta: ModelMeta,
        device: str = "auto",
        tta: bool | None = None,
        runtime: str = "auto",
    ) -> Predictor:
        """A model in memory (one just trained)."""
        return cls(InferencePipeline.for_model(model, meta, device, tta, runtime))

    @classmethod
    def from_file(
        cls, path: str | Path, device: str = "auto", tta: bool | None = None, runtime: str = "auto"
    ) -> Predictor:
        """Load a .safetensors model file (raises ModelFileError with a clear message); on
        the CPU a graph cached by an earlier run starts without torch."""
        return cls(InferencePipeline.from_file(path, device, tta, runtime))

    @property
    def runtime(self) -> str:
        """What runs the model: "onnx" or "torch"."""
        return self.pipeline.runtime

    @property
    def device(self) -> str:
        return self.pipeline.device

    @property
    def tta(self) -> bool:
        return self.pipeline.tta

    @property
    def model(self) -> MultiLabelClassifier:
        return cast(MultiLabelClassifier, self.pipeline.model)  # what model files hold

    @property
    def label_names(self) -> list[str]:
        """The model's labels, in the order of every probability vector."""
        return list(self.meta.label_names)

    @property
    def thresholds(self) -> np.ndarray:
        """Per-label thresholds tuned on validation data when the model was trained."""
        return np.asarray(self.meta.thresholds, dtype=float)

    def new_set(self) -> PredictionSet:
        """An empty prediction set for this model's labels and tuned thresholds."""
        return PredictionSet(self.label_names, self.thresholds.tolist())

    def predict(
        self,
        items: Sequence[ImageSource],
        batch_size: int = 32,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_partial: Callable[[list[Prediction]], object] | None = None,
    ) -> list[Prediction]:
        """Predict paths or PIL images in batches; unreadable files get an error, not a crash.

        `on_partial` receives each batch's results as soon as they exist; `should_stop` is
        polled between batches (the results so far are returned).
        """
        if batch_size < 1:
            raise UsageError(f"the batch size must be at least 1, got {batch_size}")
        results: list[Prediction] = []
        for start in range(0, len(items), batch_size):
            if should_stop is not None and should_stop():
                break
            batch = self._predict_batch(items[start : start + batch_size])
            results.extend(batch)
            if on_partial is not None:
                on_partial(batch)
            if progress is not None:
                progress(len(results), len(items))
        return results

    def predict_arrays(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (N x labels) for decoded size x size RGB uint8 arrays (HWC)."""
        return self.pipeline.run(arrays)

    def _predict_batch(self, items: Sequence[ImageSource]) -> list[Prediction]:
        decoded = self.pipeline.decode_many(items)
        good = [i for i, d in enumerate(decoded) if isinstance(d, np.ndarray)]
        arrays = [d for d in decoded if isinstance(d, np.ndarray)]
        probs = self.pipeline.run(arrays) if arrays else np.zeros((0, 0))
        row = {i: n for n, i in enumerate(good)}
        return [
            Prediction(_describe(item), probs[row[i]] if i in row else None, _error(decoded[i]))
            for i, item in enumerate(items)
        ]


def _error(decoded: np.ndarray | ImageDecodeError) -> str | None:
    return str(decoded) if isinstance(decoded, ImageDecodeError) else None


def _describe(item: ImageSource) -> str:
    if isinstance(item, Image.Image):
        return getattr(item, "filename", "") or "<image>"
    return str(item)


def expand_inputs(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Image files from files and folders (recursively, sorted); messages for what was skipped."""
    images: list[Path] = []
    skipped: list[str] = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                found = sorted(p for p in path.rglob("*") if _is_image(p))
                if not found:
                    skipped.append(f"{path}: no images in this folder")
                images.extend(found)
            elif _is_image(path):
                images.append(path)
            elif not path.exists():
                skipped.append(f"{path}: file not found")
            else:
                skipped.append(f"{path}: not an image (expected {', '.join(IMAGE_SUFFIXES)})")
        except (OSError, ValueError) as exc:  # a name too long for the OS, a NUL byte...
            reason = getattr(exc, "strerror", None) or exc
            skipped.append(f"{shorten(str(path), 300)}: cannot be read ({reason})")
    return images, skipped


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
