"""core.training.loop.fit: events, strategies, the embedding cache, stopping, repeatability."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch

from core.base.config import TrainConfig
from core.base.errors import BackboneUnavailable, Cancelled, ConfigError
from core.data.datasets import Dataset
from core.model.classifier import MultiLabelClassifier
from core.training import continuing
from core.training import loop as engine
from core.training.events import (
    EpochEnded,
    Event,
    PreparingData,
    StepEnded,
    TrainingFinished,
    TrainingStarted,
)
from core.training.steps import make_optimizer

BATCH = 8


def tiny_config(**overrides) -> TrainConfig:
    base = TrainConfig(epochs=2, image_size=32, batch_size=BATCH, lr=1e-2, num_threads=1)
    return replace(base, **overrides)


def of_type(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def backbone_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts backbone forward passes (batch sizes) of models that fit() builds (on torch:
    the frozen embedding pass would otherwise run on ONNX Runtime)."""
    monkeypatch.setenv("MARQUEE_EMBED_RUNTIME", "torch")
    calls: list[int] = []
    real_create = continuing.create_model

    def counting_create(*args, **kwargs):
        model = real_create(*args, **kwargs)
        model.backbone.register_forward_hook(
            lambda module, inputs, output: calls.append(len(output))
        )
        return model

    monkeypatch.setattr(continuing, "create_model", counting_create)
    return calls


def test_fit_reports_the_whole_run_in_order(dataset: Dataset) -> None:
    events: list[Event] = []
    result = engine.fit(tiny_config(epochs=2, log_every=1), dataset, events.append)

    steps_per_epoch = math.ceil(len(dataset.train) / BATCH)
    assert isinstance(events[-1], TrainingFinished)
    started = of_type(events, TrainingStarted)
    assert len(started) == 1
    assert started[0].steps_per_epoch == steps_per_epoch
    assert started[0].total_steps == 2 * steps_per_epoch
    assert started[0].label_names == tuple(dataset.label_names)
    assert (started[0].n_train, started[0].n_val) == (len(dataset.train), len(dataset.val))
    assert events.index(started[0]) < events.index(of_type(events, StepEnded)[0])

    steps = of_type(events, StepEnded)
    assert [s.step for s in steps] == list(range(1, 2 * steps_per_epoch + 1))
    assert [s.epoch for s in steps] == [1] * steps_per_epoch + [2] * steps_per_epoch
    assert all(math.isfinite(s.loss) and s.images_per_s > 0 for s in steps)

    epochs = of_type(events, EpochEnded)
    assert [e.epoch for e in epochs] == [1, 2]
    for epoch in epochs:
        assert set(epoch.metrics) == {"map", "f1_micro", "f1_macro"}
        assert [p.name for p in epoch.per_label] == dataset.label_names
        assert all(p.support > 0 for p in epoch.per_label)
    assert sum(e.is_best for e in epochs) >= 1

    finished = events[-1]
    assert finished.epochs_run == 2
    assert finished.stopped_early is False
    assert result.history == epochs
    assert result.stopped_early is False
    assert len(result.meta.thresholds) == len(dataset.label_names)
    assert all(0 < t < 1 for t in result.meta.thresholds)
    assert result.meta.label_names == dataset.label_names
    assert {"map", "f1_micro", "f1_macro", "loss", "best_epoch"} <= set(result.meta.metrics)


def test_frozen_backbone_embeds_each_image_once(
    dataset: Dataset, backbone_calls: list[int]
) -> None:
    events: list[Event] = []
    engine.fit(tiny_config(strategy="freeze", augment=False, epochs=3), dataset, events.append)
    embedding_batches = math.ceil(len(dataset.train) / BATCH) + math.ceil(len(dataset.val) / BATCH)
    assert len(backbone_calls) == embedding_batches  # not growing with the 3 epochs
    assert sum(backbone_calls) == len(dataset.train) + len(dataset.val)
    assert any(isinstance(e, PreparingData) and e.stage == "embed" for e in events)


def test_frozen_backbone_with_augmentation_skips_the_cache(
    dataset: Dataset, backbone_calls: list[int]
) -> None:
    engine.fit(tiny_config(strategy="freeze", augment=True, epochs=2), dataset)
    per_epoch = math.ceil(len(dataset.train) / BATCH) + math.ceil(len(dataset.val) / BATCH)
    assert len(backbone_calls) == 2 * per_epoch


def test_no_freeze_runs_the_backbone_every_step(
    dataset: Dataset, backbone_calls: list[int]
) -> None:
    events: list[Event] = []
    engine.fit(
        tiny_config(strategy="no_freeze", augment=False, epochs=2, log_every=1),
        dataset,
        events.append,
    )
    train_steps = len(of_type(events, StepEnded))
    val_batches = 2 * math.ceil(len(dataset.val) / BATCH)
    assert train_steps == 2 * math.ceil(len(dataset.train) / BATCH)
    assert len(backbone_calls) == train_steps + val_batches
    assert all(e.backbone_frozen is False for e in of_type(events, EpochEnded))


def test_freeze_unfreeze_trains_the_backbone_from_the_unfreeze_epoch(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    models: list[torch.nn.Module] = []
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    real_create = continuing.create_model

    def backbone_params() -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in models[0].backbone.named_parameters()}

    def capturing_create(*args, **kwargs):
        models.append(real_create(*args, **kwargs))
        snapshots[0] = backbone_params()
        return models[0]

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, EpochEnded):
            snapshots[event.epoch] = backbone_params()

    monkeypatch.setattr(continuing, "create_model", capturing_create)
    events: list[Event] = []
    config = tiny_config(strategy="freeze_unfreeze", unfreeze_epoch=2, epochs=2, augment=False)
    engine.fit(config, dataset, on_event)

    assert [e.backbone_frozen for e in of_type(events, EpochEnded)] == [True, False]
    unchanged = [k for k in snapshots[0] if torch.equal(snapshots[0][k], snapshots[1][k])]
    assert len(unchanged) == len(snapshots[0])  # epoch 1: frozen
    moved = [k for k in snapshots[1] if not torch.equal(snapshots[1][k], snapshots[2][k])]
    assert len(moved) > len(snapshots[1]) // 2  # epoch 2: the backbone trains


def test_freeze_unfreeze_default_unfreezes_after_a_third() -> None:
    assert TrainConfig(strategy="freeze_unfreeze", epochs=3).first_unfrozen_epoch == 2
    assert TrainConfig(strategy="freeze_unfreeze", epochs=9).first_unfrozen_epoch == 4
    assert TrainConfig(strategy="freeze").first_unfrozen_epoch is None


def stop_after(steps: int) -> tuple[list[Event], Callable[[], bool]]:
    events: list[Event] = []
    return events, lambda: len(of_type(events, StepEnded)) >= steps


@pytest.mark.parametrize(
    ("stop_at_step", "epochs_completed"),
    [(4, 1), (1, 0)],
    ids=["in-second-epoch", "before-first-epoch-ends"],
)
def test_stopping_ends_early_and_still_returns_a_model(
    dataset: Dataset, stop_at_step: int, epochs_completed: int
) -> None:
    events, should_stop = stop_after(stop_at_step)
    result = engine.fit(tiny_config(epochs=3, log_every=1), dataset, events.append, should_stop)
    assert len(of_type(events, StepEnded)) == stop_at_step
    assert len(result.history) == epochs_completed
    assert result.stopped_early is True
    finished = of_type(events, TrainingFinished)
    assert len(finished) == 1
    assert finished[0].stopped_early is True
    assert finished[0].epochs_run == epochs_completed
    assert result.meta.metrics["best_epoch"] == epochs_completed
    assert len(result.meta.thresholds) == len(dataset.label_names)
    out = result.model(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, len(dataset.label_names))


def test_stopping_while_decoding_raises_cancelled(dataset: Dataset) -> None:
    from core.data.decode import decoded_cache

    decoded_cache.clear()  # force a decode, where the first stop check happens
    events: list[Event] = []
    with pytest.raises(Cancelled, match="decoding"):
        engine.fit(tiny_config(), dataset, events.append, should_stop=lambda: True)
    assert not of_type(events, TrainingStarted)  # fit raises; no event reports a failure


def test_stopping_while_embedding_raises_cancelled(dataset: Dataset) -> None:
    """A stop between decoding and the first step is a cancellation, not a stopped model."""
    seen: list[Event] = []

    def stop_once_embedding() -> bool:
        return any(isinstance(e, PreparingData) and e.stage == "embed" for e in seen)

    with pytest.raises(Cancelled, match="while embedding"):
        engine.fit(tiny_config(augment=False), dataset, seen.append, stop_once_embedding)
    assert not of_type(seen, StepEnded)


def test_fit_restores_the_callers_torch_thread_count(dataset: Dataset) -> None:
    before = torch.get_num_threads()
    engine.fit(tiny_config(num_threads=1 if before > 1 else 2, epochs=1), dataset)
    assert torch.get_num_threads() == before


def test_same_seed_gives_the_same_run(dataset: Dataset) -> None:
    config = tiny_config(strategy="no_freeze", augment=True, epochs=1, seed=7)
    first = engine.fit(config, dataset)
    second = engine.fit(config, dataset)
    assert first.history[0].train_loss == second.history[0].train_loss
    assert first.history[0].metrics == second.history[0].metrics
    assert first.meta.thresholds == second.meta.thresholds
    other = engine.fit(replace(config, seed=8), dataset)
    assert other.history[0].train_loss != first.history[0].train_loss


def test_balance_weights_rare_labels(dataset: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    weights: list[torch.Tensor | None] = []
    real_loss = torch.nn.BCEWithLogitsLoss

    def recording_loss(*args, pos_weight=None, **kwargs):
        weights.append(pos_weight)
        return real_loss(*args, pos_weight=pos_weight, **kwargs)

    monkeypatch.setattr(torch.nn, "BCEWithLogitsLoss", recording_loss)
    result = engine.fit(tiny_config(balance=True, epochs=1), dataset)
    assert len(weights) == 1 and weights[0] is not None
    positives = torch.from_numpy(dataset.train.labels).sum(0)
    expected = (len(dataset.train) - positives) / positives
    torch.testing.assert_close(weights[0], expected)
    assert math.isfinite(result.history[0].train_loss)


def test_unknown_backbone_raises_a_typed_error_and_emits_nothing(dataset: Dataset) -> None:
    events: list[Event] = []
    with pytest.raises(BackboneUnavailable, match="no_such_net"):
        engine.fit(tiny_config(backbone="no_such_net"), dataset, events.append)
    assert events == []


def test_invalid_config_raises_config_error(dataset: Dataset) -> None:
    events: list[Event] = []
    with pytest.raises(ConfigError, match="epochs"):
        engine.fit(tiny_config(epochs=0), dataset, events.append)
    assert events == []


def test_a_run_of_exactly_four_steps_trains(dataset: Dataset) -> None:
    """OneCycleLR used to divide by zero when 25% warm-up came to exactly one step."""
    events: list[Event] = []
    engine.fit(tiny_config(batch_size=6, epochs=1, log_every=1), dataset, events.append)
    assert len(of_type(events, StepEnded)) == 4


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_every_short_schedule_steps_cleanly(schedule: str) -> None:
    class TinyBackbone(torch.nn.Linear):
        num_features = 4

    model = MultiLabelClassifier(TinyBackbone(4, 4), num_labels=2)
    for total_steps in range(1, 41):
        config = tiny_config(schedule=schedule)
        optimizer, scheduler = make_optimizer(model, config, total_steps)
        for _ in range(total_steps):
            optimizer.step()
            scheduler.step()
        assert all(math.isfinite(g["lr"]) for g in optimizer.param_groups)


def test_frozen_embeddings_on_onnx_runtime_match_torch(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch, marquee_home
) -> None:
    from core.training import embedding

    seen: dict[str, torch.Tensor] = {}
    real = embedding.embed_splits

    def keep(model, train, val, setup, progress=None) -> None:
        real(model, train, val, setup, progress)
        seen[embedding._runtime(setup)] = torch.cat([train.features, val.features, val.flipped])

    monkeypatch.setattr(engine, "embed_splits", keep)
    config = tiny_config(strategy="freeze", augment=False, epochs=1, tta=True)
    engine.fit(config, dataset)
    assert list(marquee_home.rglob("onnx/*.onnx"))  # the backbone's graph, kept for next time
    monkeypatch.setenv("MARQUEE_EMBED_RUNTIME", "torch")
    engine.fit(config, dataset)
    assert set(seen) == {"onnx", "torch"}
    torch.testing.assert_close(seen["onnx"], seen["torch"], atol=1e-4, rtol=1e-4)


def test_the_loss_is_read_at_the_log_interval_and_at_each_epochs_end(dataset: Dataset) -> None:
    events: list[Event] = []
    config = tiny_config(batch_size=2, epochs=2, log_every=5)
    engine.fit(config, dataset, events.append)
    per_epoch = math.ceil(len(dataset.train) / 2)
    in_epoch = sorted({*range(5, per_epoch + 1, 5), per_epoch})  # counted within each epoch
    expected = in_epoch + [per_epoch + step for step in in_epoch]
    steps = of_type(events, StepEnded)
    assert [s.step for s in steps] == expected
    assert [s.epoch for s in steps] == [1 if s <= per_epoch else 2 for s in expected]
    assert all(math.isfinite(s.loss) and s.images_per_s > 0 for s in steps)
    epochs = of_type(events, EpochEnded)
    # the epoch's loss is the mean over its steps, read once at its end
    assert all(math.isfinite(e.train_loss) and e.train_loss > 0 for e in epochs)
