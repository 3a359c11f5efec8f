"""Training on from a trained model: the starting model, its labels and the lineage.

`core.engine.fit` uses these when a run starts from a model file (`TrainConfig.init_from`)
or from an in-memory result (`start_from`, the GUI's "Train more").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from core.checkpoint import ModelMeta, load_model, short_digest
from core.config import TrainConfig
from core.errors import ConfigError, DataError

if TYPE_CHECKING:
    from core.engine import TrainResult


@dataclass
class StartingModel:
    """The trained model a run starts from."""

    state: dict[str, torch.Tensor]
    meta: ModelMeta
    origin: dict  # {"path", "weights_sha256"} for the lineage


def starting_model(
    config: TrainConfig, start_from: TrainResult | None, path: str | None
) -> StartingModel | None:
    """The model to start from (`start_from`, else `config.init_from`), or None for a new one."""
    if start_from is not None:
        state = {
            k: v.detach().to("cpu", copy=True) for k, v in start_from.model.state_dict().items()
        }
        meta = start_from.meta
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
