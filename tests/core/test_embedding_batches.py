"""The embed phase runs ONNX Runtime in one batch shape: each new shape (a short last
batch, a smaller validation split) grew its memory arena, by up to 80 MB at 160 px, and
the padded rows never change the real embeddings."""

from __future__ import annotations

from typing import Any

import torch

from core.base.config import TrainConfig
from core.model.embedder import run_embedder
from core.training import embedding
from core.training.loop import fit


class _ShapeRecorder:
    """An ONNX Runtime session that remembers the batch size of every run."""

    def __init__(self, session: Any) -> None:
        self.session, self.sizes = session, []

    def run(self, names: Any, feeds: dict) -> Any:
        self.sizes.append(len(feeds["images"]))
        return self.session.run(names, feeds)


def test_every_embedding_batch_runs_in_the_first_batch_shape(dataset, monkeypatch):
    """...and the padded rows leave the real embeddings exactly as they were."""
    sessions: list[_ShapeRecorder] = []
    real = embedding.onnx_embedder

    def recording(*args: Any, **kwargs: Any) -> _ShapeRecorder:
        sessions.append(_ShapeRecorder(real(*args, **kwargs)))
        return sessions[-1]

    monkeypatch.setattr(embedding, "onnx_embedder", recording)
    # 24 training and 12 validation images in batches of 10: short batches of 4 and 2
    config = TrainConfig(epochs=1, image_size=64, batch_size=10, strategy="freeze", tta=True)
    fit(config, dataset)
    assert len(sessions) == 1
    assert sessions[0].sizes == [10] * 7  # train 3 batches, validation 2, mirrored 2
    images = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    alone = run_embedder(sessions[0].session, images)
    padded = run_embedder(sessions[0].session, images, rows=10)
    assert padded.shape == alone.shape == (3, alone.shape[1])
    assert torch.equal(padded, alone)
