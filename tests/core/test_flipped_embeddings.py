"""With flip TTA a frozen run's second go reads the mirrored validation embeddings back too."""

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

    def counting(session, images):
        calls.append(len(images))
        return original(session, images)

    monkeypatch.setattr(embedding, "run_embedder", counting)
    second = fit(config, dataset)
    assert calls == []  # plain and mirrored embeddings all came from the cache
    assert second.meta.metrics["map"] == first.meta.metrics["map"]
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
