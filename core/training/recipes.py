"""Named training recipes and the device-aware default (measured in bench/bench_quality.py).

"baseline" is the original linear probe (TrainConfig's plain defaults). "cpu" keeps the
backbone frozen and its embeddings cached, with the improvements that paid in
bench/bench_quality.py. "gpu" fine-tunes (freeze, then unfreeze) with augmentation and
more epochs, which a GPU makes affordable. "auto" picks cpu or gpu by the device.
Every field stays overridable: callers apply the user's explicit choices on top.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from core.base.config import TrainConfig
from core.base.errors import ConfigError

RECIPE_NAMES = ("auto", "cpu", "gpu", "baseline")

_RECIPES: dict[str, dict] = {
    "baseline": {},
    "cpu": {
        "strategy": "freeze",
        "multi_stage": True,
        "tta": True,
    },
    "gpu": {
        "strategy": "freeze_unfreeze",
        "augment": True,
        "epochs": 15,
        "lr": 3e-3,
        "tta": True,
    },
}

_WHY = {
    "cpu": "Recommended for your CPU: frozen backbone with cached embeddings (seconds per "
    "epoch), {details}.",
    "gpu": "Recommended for your GPU: freeze, then fine-tune the whole network with "
    "augmentation for {epochs} epochs, flip test-time augmentation.",
    "baseline": "Baseline: the plain linear probe (frozen backbone, linear head, BCE).",
}


@dataclass(frozen=True)
class Recommendation:
    recipe: str  # "cpu" | "gpu" | "baseline"
    config: TrainConfig
    reason: str  # one sentence for people: what the recipe is and why


def recipe_for_device(device: str) -> str:
    """'gpu' for cuda/mps, else 'cpu'."""
    return "gpu" if device in ("cuda", "mps") else "cpu"


def recipe_config(name: str, **overrides: object) -> TrainConfig:
    """The recipe's TrainConfig with `overrides` (explicit user choices) on top."""
    if name not in _RECIPES:
        raise ConfigError(f"unknown recipe '{name}'; use one of {', '.join(RECIPE_NAMES)}")
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise ConfigError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
    return TrainConfig(**{**_RECIPES[name], **overrides})


def follows_recipe(name: str, config: TrainConfig) -> bool:
    """Whether `config` still trains the way the recipe's description says (the same
    strategy and augmentation); head, loss and epochs may differ."""
    if name not in _RECIPES:
        return False
    recipe = recipe_config(name)
    same_strategy = config.strategy == recipe.strategy
    return same_strategy and config.use_augmentation == recipe.use_augmentation


def recommend(device: str, **overrides: object) -> Recommendation:
    """The recipe for a resolved device ("cpu", "cuda", "mps"), explained."""
    name = recipe_for_device(device)
    config = recipe_config(name, **overrides)
    return Recommendation(name, config, describe(name, config))


def describe(name: str, config: TrainConfig) -> str:
    """One sentence on what the recipe does (see `follows_recipe` for when it applies)."""
    if name == "gpu":
        return _WHY["gpu"].format(epochs=config.epochs)
    if name == "cpu":
        parts = [f"{config.head} head"]
        if config.multi_stage:
            parts.append("two-stage features")
        if config.loss == "asl":
            parts.append("asymmetric loss")
        if config.feature_views:
            parts.append(f"{config.feature_views} augmented view(s) per image")
        if config.auto_tune:
            parts.append("auto-tuned head")
        if config.tta:
            parts.append("flip test-time augmentation")
        return _WHY["cpu"].format(details=", ".join(parts))
    return _WHY["baseline"]


def describe_settings(config: TrainConfig) -> str:
    """The settings in words, for a run that does not follow its recipe."""
    backbone = {
        "freeze": "frozen backbone",
        "freeze_unfreeze": "frozen, then fine-tuned backbone",
        "no_freeze": "fine-tuned backbone",
    }[config.strategy]
    parts = [backbone, f"{config.head} head", f"{config.loss} loss"]
    if config.use_augmentation:
        parts.append("augmentation")
    if config.tta:
        parts.append("flip test-time augmentation")
    return f"Training with your settings: {', '.join(parts)}."
