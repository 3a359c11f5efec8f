"""Training on from a trained model: the starting model, its labels and the lineage.

`core.training.loop.fit` uses these when a run starts from a model file
(`TrainConfig.init_from`) or from an in-memory result (`start_from`, the GUI's "Train more").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core.base.config import TrainConfig
from core.base.errors import ConfigError, DataError
from core.model.classifier import MultiLabelClassifier, create_model, head_options
from core.modelfile.checkpoint import ModelMeta, load_model, short_digest


@dataclass
class StartingModel:
    """The trained model a run starts from."""

    state: dict[str, torch.Tensor]
    meta: ModelMeta
    origin: dict  # {"path", "weights_sha256"} for the lineage


def starting_model(
    config: TrainConfig, start_from: tuple[nn.Module, ModelMeta] | None, path: str | None
) -> StartingModel | None:
    """The model to start from (`start_from`: a model in memory and its metadata, else
    `config.init_from`), or None for a new one."""
    if start_from is not None:
        model, meta = start_from
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    elif config.init_from:
        model, meta = load_model(config.init_from)
        state, path = model.state_dict(), str(Path(config.init_from).resolve())
    else:
        return None
    if meta.backbone != config.backbone:
        raise ConfigError(
            f"The starting model uses the backbone {meta.backbone}, not {config.backbone}: "
            f"continue with the backbone {meta.backbone}, or train a new model."
        )
    return StartingModel(state, meta, {"path": path, "weights_sha256": short_digest(state)})


def initial_model(
    config: TrainConfig, labels: list[str], parent: StartingModel | None
) -> MultiLabelClassifier:
    """A new model (backbone weights per the config, a fresh head), or the parent's weights
    with its head's rows in the data's label order."""
    if parent is None:
        return create_model(
            config.backbone,
            len(labels),
            pretrained=config.pretrained,
            weights_file=config.weights_file,
            image_size=config.image_size,
            **head_options(config.to_dict()),
        )
    where = parent.origin["path"] or "The model to train on"
    state = head_in_data_order(parent.state, parent.meta.label_names, labels, where)
    model = create_model(  # the parent's head: its weights must fit
        config.backbone,
        len(labels),
        pretrained=False,
        image_size=parent.meta.image_size,
        **head_options(parent.meta.config),
    )
    model.load_state_dict(state)
    return model


def lineage_of(meta: ModelMeta) -> list[dict]:
    """A model's stages; models from before lineage was recorded count as one stage."""
    if meta.lineage:
        return [dict(stage) for stage in meta.lineage]
    config = meta.config or {}
    return [
        {
            "epochs": config.get("epochs"),
            "best_epoch": meta.metrics.get("best_epoch"),
            "strategy": config.get("strategy"),
            "init_from": None,
        }
    ]


def head_in_data_order(
    state: dict[str, torch.Tensor], model_labels: list[str], data_labels: list[str], where: str
) -> dict[str, torch.Tensor]:
    """The parent's weights with its head rows reordered to the data's label order."""
    if set(model_labels) != set(data_labels) or len(model_labels) != len(data_labels):
        missing = [n for n in model_labels if n not in data_labels]
        extra = [n for n in data_labels if n not in model_labels]
        details = "; ".join(
            part
            for part in (
                f"not in the data: {', '.join(missing)}" if missing else "",
                f"not in the model: {', '.join(extra)}" if extra else "",
            )
            if part
        )
        raise DataError(
            f"{where} was trained on the labels {', '.join(model_labels)}, but the data has "
            f"{', '.join(data_labels)} ({details or 'repeated labels'}). Training on from a "
            "model needs the same labels; train a new model for other labels."
        )
    order = torch.tensor([model_labels.index(n) for n in data_labels])
    state = dict(state)
    last = max(  # the head's output layer: its rows are the labels (linear or MLP head)
        (key for key in state if key.startswith("head.") and key.endswith(".weight")),
        key=lambda key: int(key.split(".")[1]),
    )
    for key in (last, last.replace(".weight", ".bias")):
        state[key] = state[key][order].clone()
    return state
