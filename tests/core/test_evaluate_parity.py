"""Training's `evaluate` scores through the inference graph: its validation probabilities
(flip TTA included) are what the saved model predicts for the same images."""

from __future__ import annotations

import numpy as np
import torch

from core.base.config import TrainConfig
from core.data.cached import load_split_images
from core.inference.predictor import Predictor
from core.training.context import TrainingContext
from core.training.head_training import head_setup
from core.training.loop import fit
from core.training.steps import SplitData, evaluate


def test_evaluation_probabilities_are_the_predictors(dataset) -> None:
    config = TrainConfig(
        epochs=1,
        image_size=48,
        batch_size=8,
        num_threads=1,
        tta=True,
        strategy="no_freeze",
        augment=False,
    )
    result = fit(config, dataset)
    assert result is not None
    paths, labels = dataset.val.paths, dataset.val.labels
    images = load_split_images(paths, config.image_size)
    split = SplitData(images, torch.from_numpy(np.asarray(labels, dtype=np.float32)))
    setup = head_setup(result.model, config, TrainingContext(), steps=1)
    probs = evaluate(result.model, split, setup, list(dataset.label_names), frozen=False).probs

    predictor = Predictor.for_model(result.model, result.meta, device="cpu", runtime="torch")
    assert predictor.tta
    predicted = np.stack([p.probabilities for p in predictor.predict(paths)])
    assert np.abs(probs - predicted).max() <= 1e-4
    plain = Predictor.for_model(result.model, result.meta, device="cpu", tta=False)
    without = np.stack([p.probabilities for p in plain.predict(paths, batch_size=8)])
    assert np.abs(without - probs).max() > 1e-3  # the flip average really is in there
