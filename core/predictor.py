"""Inference with a saved model: `Predictor.from_file(path).predict(images)`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.checkpoint import ModelMeta, load_model
from core.datasets import IMAGE_SUFFIXES
from core.device import resolve_device
from core.errors import shorten
from core.model import MultiLabelClassifier
from core.transforms import ImageDecodeError, ImageSource, load_rgb, normalize


@dataclass(frozen=True)
class Prediction:
    """One image's result: probabilities per label, or the reason it could not be read."""

    source: str
    probabilities: np.ndarray | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.probabilities is not None

    def predicted(self, thresholds: float | np.ndarray) -> np.ndarray:
        """Boolean mask of labels at or above the threshold(s)."""
        if self.probabilities is None:
            return np.zeros(0, dtype=bool)
        return self.probabilities >= np.asarray(thresholds)


class Predictor:
    def __init__(self, model: MultiLabelClassifier, meta: ModelMeta, device: str = "auto") -> None:
        self.device, _ = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.meta = meta

    @classmethod
    def from_file(cls, path: str | Path, device: str = "auto") -> Predictor:
        """Load a .safetensors model file (raises ModelFileError with a clear message)."""
        model, meta = load_model(path)
        return cls(model, meta, device)

    @property
    def label_names(self) -> list[str]:
        return list(self.meta.label_names)

    @property
    def thresholds(self) -> np.ndarray:
        """Per-label thresholds tuned on validation data when the model was trained."""
        return np.asarray(self.meta.thresholds, dtype=float)

    def predict(
        self,
        items: Sequence[ImageSource],
        batch_size: int = 32,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Prediction]:
        """Predict paths or PIL images in batches; unreadable files get an error, not a crash."""
        results: list[Prediction] = []
        for start in range(0, len(items), batch_size):
            if should_stop is not None and should_stop():
                break
            results.extend(self._predict_batch(items[start : start + batch_size]))
            if progress is not None:
                progress(len(results), len(items))
        return results

    def _predict_batch(self, items: Sequence[ImageSource]) -> list[Prediction]:
        arrays: dict[int, np.ndarray] = {}
        errors: dict[int, str] = {}
        for i, item in enumerate(items):
            try:
                arrays[i] = load_rgb(item, self.meta.image_size)
            except ImageDecodeError as exc:
                errors[i] = str(exc)
        probs = self._run_model(list(arrays.values())) if arrays else np.zeros((0, 0))
        row = dict(zip(arrays, range(len(arrays)), strict=True))
        return [
            Prediction(_describe(item), probs[row[i]] if i in row else None, errors.get(i))
            for i, item in enumerate(items)
        ]

    @torch.inference_mode()
    def _run_model(self, arrays: list[np.ndarray]) -> np.ndarray:
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).to(self.device)
        logits = self.model(normalize(batch, self.meta.mean, self.meta.std))
        return torch.sigmoid(logits.float()).cpu().numpy()


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
