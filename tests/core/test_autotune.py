"""Auto-tune's trials run on the training loop's own steps: the sweep's choices, its stop
check and that it picks what it picked when it had a loop of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from core.base.config import TrainConfig
from core.base.errors import Cancelled
from core.data.datasets import load_dataset
from core.data.samples import generate_sample_data
from core.training import loop as engine
from core.training.autotune import TuneGrid, tune_head

# What auto-tune chose on this small sample set when its trials had a training loop of
# their own (lr, weight decay, epochs); its trials now run `train_one_epoch`/`evaluate`.
SAMPLE_CHOICES = {
    "linear": (0.03, 0.01, 20),
    "views_mlp_asl": (0.003, 0.1, 20),
}
SAMPLE_CONFIGS = {
    "linear": {},
    "views_mlp_asl": {
        "feature_views": 2,
        "multi_stage": True,
        "head": "mlp",
        "head_hidden": 32,
        "loss": "asl",
    },
}


def test_the_tuner_picks_the_learning_rate_that_learns() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(120, 6, generator=gen)
    y = (x[:, :3] > 0).float()  # each label is one feature's sign
    grid = TuneGrid(lrs=(1e-7, 1e-1), weight_decays=(1e-4,), epochs=(5,))
    choice = tune_head(x, y, lambda: nn.Linear(6, 3), TrainConfig(batch_size=16), grid=grid)
    assert choice.lr == 1e-1
    assert len(choice.trials) == 2 and choice.score > 0.9


def test_a_stop_ends_the_sweep_inside_a_trial() -> None:
    x, y = torch.randn(64, 4), (torch.rand(64, 2) > 0.5).float()
    steps = []

    def make_head() -> nn.Module:
        head = nn.Linear(4, 2)
        head.register_forward_hook(lambda *_: steps.append(1))
        return head

    with pytest.raises(Cancelled):
        tune_head(x, y, make_head, TrainConfig(batch_size=8), should_stop=lambda: len(steps) >= 3)
    assert len(steps) == 3  # the fourth step of the first trial never ran


@pytest.mark.parametrize("name", sorted(SAMPLE_CHOICES))
def test_auto_tune_picks_what_it_picked_before_on_the_sample_set(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = _sample_set(tmp_path_factory)
    config = TrainConfig(
        auto_tune=True, image_size=64, num_threads=1, device="cpu", **SAMPLE_CONFIGS[name]
    )
    result = engine.fit(config, load_dataset(root))
    chosen = result.meta.config
    assert (chosen["lr"], chosen["weight_decay"], chosen["epochs"]) == SAMPLE_CHOICES[name]


def _sample_set(factory: pytest.TempPathFactory) -> Path:
    root = factory.getbasetemp() / "autotune-sample-set"
    if not root.exists():
        generate_sample_data(root, n_train=80, n_val=40)
    return root
