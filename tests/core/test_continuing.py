"""Training on from a model: train_more (in memory), TrainConfig.init_from and --init-from."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from core.base.config import TrainConfig
from core.base.errors import ConfigError, DataError
from core.data.datasets import Dataset, LabeledImages
from core.modelfile.checkpoint import read_meta, save_model, short_digest
from core.training import loop as engine
from core.training.events import Event, TrainingStarted

TINY_LR = 1e-7  # the head barely moves: what comes out shows what went in


def tiny(**overrides) -> TrainConfig:
    base = TrainConfig(epochs=1, image_size=64, batch_size=8, lr=1e-2, num_threads=1)
    return replace(base, **overrides)


def relabel(data: Dataset, names: list[str], order: list[int] | None = None) -> Dataset:
    """The same images with other label names, or with the label columns reordered."""

    def split(s: LabeledImages) -> LabeledImages:
        labels = s.labels if order is None else s.labels[:, order]
        return LabeledImages(list(s.paths), labels, list(names))

    return replace(data, train=split(data.train), val=split(data.val), label_names=list(names))


def head(model) -> tuple[torch.Tensor, torch.Tensor]:
    return model.head[1].weight.detach(), model.head[1].bias.detach()


def test_train_more_continues_from_the_result_and_records_the_lineage(trained, dataset) -> None:
    parent = trained.result
    digest = short_digest(parent.model)
    events: list[Event] = []
    more = engine.train_more(
        parent, dataset, 1, events.append, source="/runs/a/model.safetensors", lr=TINY_LR
    )
    weight, bias = head(more.model)
    torch.testing.assert_close(weight, head(parent.model)[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(bias, head(parent.model)[1], atol=1e-4, rtol=0)
    assert short_digest(parent.model) == digest  # the parent is left as it was

    (started,) = [e for e in events if isinstance(e, TrainingStarted)]
    assert started.previous_epochs == 2  # the fixture trained 2 epochs: plots go on from there
    first, second = more.meta.lineage
    assert first == {
        "epochs": 2,
        "best_epoch": parent.meta.metrics["best_epoch"],
        "strategy": "freeze",
        "init_from": None,
    }
    assert second["epochs"] == 1 and second["strategy"] == "freeze"
    assert second["init_from"] == {"path": "/runs/a/model.safetensors", "weights_sha256": digest}
    assert more.meta.config["epochs"] == 1 and more.meta.config["lr"] == TINY_LR


def test_a_fresh_head_is_not_the_parents(trained, dataset) -> None:
    fresh = engine.fit(tiny(lr=TINY_LR), dataset)
    assert not torch.allclose(head(fresh.model)[0], head(trained.result.model)[0], atol=1e-2)
    assert fresh.meta.lineage == [
        {
            "epochs": 1,
            "best_epoch": fresh.meta.metrics["best_epoch"],
            "strategy": "freeze",
            "init_from": None,
        }
    ]


def test_init_from_a_file_with_labels_in_another_order(trained, dataset, model_path: Path) -> None:
    # The same labels, columns reordered: the head's rows follow their labels.
    order = [2, 0, 1]
    names = [dataset.label_names[i] for i in order]
    shuffled = relabel(dataset, names, order)
    result = engine.fit(tiny(init_from=str(model_path), lr=TINY_LR), shuffled)
    assert result.meta.label_names == names
    parent_weight = head(trained.result.model)[0]
    torch.testing.assert_close(head(result.model)[0], parent_weight[order], atol=1e-4, rtol=0)
    stage = result.meta.lineage[-1]
    assert stage["init_from"]["path"] == str(model_path.resolve())
    assert stage["init_from"]["weights_sha256"] == short_digest(model_path)


def test_other_labels_get_one_clear_error(dataset, model_path: Path) -> None:
    other = relabel(dataset, ["Action", "Romance", "Western"])
    with pytest.raises(DataError) as info:
        engine.fit(tiny(init_from=str(model_path)), other)
    message = str(info.value)
    assert "Action, Romance, Crime" in message
    assert "not in the data: Crime" in message and "not in the model: Western" in message


def test_another_backbone_is_refused(dataset, model_path: Path) -> None:
    with pytest.raises(ConfigError, match="efficientnet_lite0"):
        engine.fit(tiny(init_from=str(model_path), backbone="resnet18"), dataset)


def test_lineage_survives_the_model_file(trained, dataset, tmp_path: Path) -> None:
    more = engine.train_more(trained.result, dataset, 1)
    path = save_model(tmp_path / "more.safetensors", more.model, more.meta)
    assert read_meta(path).lineage == more.meta.lineage
    again = engine.fit(tiny(init_from=str(path)), dataset)
    assert [s["epochs"] for s in again.meta.lineage] == [2, 1, 1]


def test_cli_init_from(
    capsys: pytest.CaptureFixture[str], data_dir: Path, model_path: Path, tmp_path: Path
) -> None:
    from core.cli.main import main

    out = tmp_path / "more.safetensors"
    code = main(
        [
            "train",
            "--data",
            str(data_dir),
            "--init-from",
            str(model_path),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--out",
            str(out),
            "--quiet",
            "--json",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    meta = read_meta(out)
    assert meta.image_size == 64 and meta.backbone == "efficientnet_lite0"  # from the model
    # The CPU recipe's two-stage head would not fit the model's weights: its head is kept.
    assert meta.config["multi_stage"] is False and meta.config["head"] == "linear"
    assert [s["epochs"] for s in document["lineage"]] == [2, 1]
    assert document["lineage"][-1]["init_from"]["path"] == str(model_path.resolve())


def test_cli_init_from_with_other_labels_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path
) -> None:
    from PIL import Image

    from core.cli.main import main

    rng = np.random.default_rng(0)
    for label in ("Western", "Noir"):
        folder = tmp_path / "data" / label
        folder.mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 255, size=(64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.jpg")
    code = main(
        [
            "train",
            "--data",
            str(tmp_path / "data"),
            "--init-from",
            str(model_path),
            "--epochs",
            "1",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    error_lines = [line for line in err.splitlines() if line.startswith("marquee: error:")]
    assert len(error_lines) == 1 and "Action, Romance, Crime" in error_lines[0]
    assert "Western" in error_lines[0]
