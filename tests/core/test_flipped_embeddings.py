"""A frozen run's second go reads every embedding back (mirrored ones for flip TTA too) and
builds no ONNX Runtime session."""

from __future__ import annotations

import torch

from core.base.config import TrainConfig
from core.training import embedding
from core.training.loop import fit


def test_a_second_frozen_run_with_tta_embeds_nothing(dataset, marquee_home, monkeypatch):
    config = TrainConfig(epochs=1, image_size=64, batch_size=8, strategy="freeze", tta=True)
    first = fit(config, dataset)
    calls: list[int] = []
    original = embedding.run_embedder

    def counting(session, images, rows=None):
        calls.append(len(images))
        return original(session, images, rows)

    sessions: list[int] = []
    original_session = embedding.onnx_embedder

    def counting_session(*args, **kwargs):
        sessions.append(1)
        return original_session(*args, **kwargs)

    monkeypatch.setattr(embedding, "run_embedder", counting)
    monkeypatch.setattr(embedding, "onnx_embedder", counting_session)
    second = fit(config, dataset)
    assert calls == []  # plain and mirrored embeddings all came from the cache
    assert sessions == []  # so no ONNX Runtime session was built either
    assert second.meta.metrics["map"] == first.meta.metrics["map"]
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
