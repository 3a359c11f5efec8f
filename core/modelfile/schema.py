"""The one schema of a model file's metadata document, checked field by field.

`validate(data)` returns the known fields, typed as `ModelMeta` expects them, or raises
`Invalid` saying which field is wrong and what it must be, in a few words. Nothing
here recurses into the document, and every list and dict has a size cap, so a hostile
header costs a bounded amount of time and produces a short message. Unknown fields
(written by a newer Marquee) are ignored.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, TypeGuard, cast

from core.base.config import HEADS, LOSSES, MAX_FEATURE_VIEWS, SCHEDULES, STRATEGIES, TrainConfig
from core.base.limits import MAX_LABEL_CHARS, MAX_LABELS, label_name_problem, label_names_problem

MAX_METRICS = 64
MAX_CONFIG_KEYS = 200
MAX_SHORT_TEXT = 100
MAX_LINEAGE = 1000
_PER_LABEL_NUMBERS = ("precision", "recall", "f1", "threshold")
_HEX = frozenset("0123456789abcdef")
# Every size in the stored training config, capped: `head_hidden` sizes a layer that is
# built before the weights are read, the others are shown and reused by "train more".
_CONFIG_RANGES = {
    "head_hidden": (8, 8192),
    "image_size": (16, 2048),
    "epochs": (1, 100_000),
    "batch_size": (1, 1 << 20),
    "feature_views": (0, MAX_FEATURE_VIEWS),
}
_CONFIG_CHOICES = {"head": HEADS, "strategy": STRATEGIES, "loss": LOSSES, "schedule": SCHEDULES}


class Invalid(Exception):
    """One field breaks the schema; the message names it."""


class NewerFormat(Exception):
    """The file was written by a newer Marquee (the format version is the argument)."""


def validate(data: dict, format_version: int) -> dict[str, Any]:
    """The known fields of `data`, checked; raises Invalid or NewerFormat."""
    version = data.get("format_version")
    if not _is_int(version) or version < 1:
        raise Invalid("missing format_version")
    if version > format_version:
        raise NewerFormat(version)
    names = _label_names(data.get("label_names"))
    clean: dict[str, Any] = {
        "format_version": version,
        "label_names": names,
        "backbone": _text(data.get("backbone"), "backbone"),
        "image_size": _integer(data.get("image_size"), "image_size", 16, 2048),
        "thresholds": _numbers(data.get("thresholds"), "thresholds", len(names), 0.0, 1.0),
        "mean": _numbers(data.get("mean"), "mean", 3, -10.0, 10.0),
        "std": _numbers(data.get("std"), "std", 3, 1e-6, 10.0),
        "metrics": _metrics(data.get("metrics", {})),
        "per_label": _per_label(data.get("per_label", [])),
        "config": _config(data.get("config", {})),
    }
    if data.get("tuned_thresholds") is not None:  # kept once thresholds were edited
        clean["tuned_thresholds"] = _numbers(
            data["tuned_thresholds"], "tuned_thresholds", len(names), 0.0, 1.0
        )
    clean["lineage"] = _lineage(data.get("lineage", []))
    if data.get("weights_sha256") is not None:
        clean["weights_sha256"] = _digest(data["weights_sha256"])
    for key in ("created", "app_version"):
        if key in data:
            clean[key] = _text(data[key], key)
    return clean


# ------------------------------------------------------------------ building blocks
def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: object, where: str, limit: int = MAX_SHORT_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{where} must be text of at most {limit} characters")
    return value


def _integer(value: object, where: str, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise Invalid(f"{where} must be an integer between {low} and {high}")
    return value


def _numbers(value: object, where: str, length: int, low: float, high: float) -> list[float]:
    ok = (
        isinstance(value, list)
        and len(value) == length
        and all(_is_number(v) and low <= v <= high for v in value)
    )
    if not ok:
        raise Invalid(f"{where} must be {length} numbers in [{low}, {high}]")
    return list(cast(list, value))


def _mapping(value: object, where: str, limit: int) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be a JSON dict")
    if len(value) > limit:
        raise Invalid(f"{where} has {len(value):,} entries (at most {limit})")
    return value


# ------------------------------------------------------------------ fields
def _lineage(value: object) -> list[dict[str, Any]]:
    """The training stages the model went through (train more, --init-from)."""
    if not isinstance(value, list) or not all(isinstance(stage, dict) for stage in value):
        raise Invalid("lineage must be a list of JSON objects")
    if len(value) > MAX_LINEAGE:
        raise Invalid(f"lineage has {len(value):,} stages (at most {MAX_LINEAGE})")
    return [_mapping(stage, "a lineage stage", MAX_CONFIG_KEYS) for stage in value]


def _label_names(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Invalid("label_names must be a non-empty list of names")
    problem = label_names_problem(value)
    if problem is not None:
        raise Invalid(f"label_names: {problem}")
    if len(set(value)) != len(value):
        raise Invalid("duplicate label names")
    return list(value)


def _metrics(value: object) -> dict[str, float | int | None]:
    metrics = _mapping(value, "metrics", MAX_METRICS)
    for key, number in metrics.items():
        if len(key) > MAX_SHORT_TEXT or not (number is None or _is_number(number)):
            raise Invalid("metrics must map short names to numbers or null")
    return dict(metrics)


def _per_label(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise Invalid("per_label must be a JSON list")
    if len(value) > MAX_LABELS:
        raise Invalid(f"per_label has {len(value):,} entries (at most {MAX_LABELS:,})")
    return [_label_entry(entry, i) for i, entry in enumerate(value, start=1)]


def _label_entry(entry: object, number: int) -> dict[str, Any]:
    where = f"per_label entry {number}"
    if not isinstance(entry, dict):
        raise Invalid(f"{where} must be a JSON dict")
    name = entry.get("name")
    if label_name_problem(name) is not None:
        raise Invalid(f"{where} needs a 'name' of at most {MAX_LABEL_CHARS} characters")
    ap = entry.get("ap")
    if not (ap is None or (_is_number(ap) and 0 <= ap <= 1)):
        raise Invalid(f"{where}: 'ap' must be a number in [0, 1] or null")
    for key in _PER_LABEL_NUMBERS:
        if not (_is_number(entry.get(key)) and 0 <= entry[key] <= 1):
            raise Invalid(f"{where}: '{key}' must be a number in [0, 1]")
    support = entry.get("support")
    if not _is_int(support) or support < 0:
        raise Invalid(f"{where}: 'support' must be a whole number")
    return {"name": name, "ap": ap, "support": support, **{k: entry[k] for k in _PER_LABEL_NUMBERS}}


# Types of the TrainConfig fields as JSON gives them back (annotations are strings here).
_CONFIG_TYPES = {
    "str": (str,),
    "Strategy": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
}


def _config(value: object) -> dict[str, Any]:
    config = _mapping(value, "config", MAX_CONFIG_KEYS)
    for field in fields(TrainConfig):
        if field.name not in config:
            continue
        item = config[field.name]
        kinds = str(field.type).split(" | ")
        if item is None and "None" in kinds:
            continue
        allowed = tuple(t for kind in kinds for t in _CONFIG_TYPES.get(kind, ()))
        bad_bool = isinstance(item, bool) and bool not in allowed
        too_long = isinstance(item, str) and len(item) > 5000  # paths
        if not isinstance(item, allowed) or bad_bool or too_long:
            raise Invalid(f"config.{field.name} must be {_describe(kinds)}")
    dropout = config.get("dropout", 0.0)
    if not (_is_number(dropout) and 0 <= dropout < 1):
        raise Invalid("config.dropout must be a number in [0, 1)")
    _config_values(config)
    return dict(config)


def _config_values(config: dict) -> None:
    """Sizes in range and names from the known choices (types are checked already)."""
    for key, (low, high) in _CONFIG_RANGES.items():
        if config.get(key) is not None:
            _integer(config[key], f"config.{key}", low, high)
    for key, choices in _CONFIG_CHOICES.items():
        if key in config and config[key] not in choices:
            raise Invalid(f"config.{key} must be one of {', '.join(choices)}")


def _digest(value: object) -> str:
    if not (isinstance(value, str) and len(value) == 64 and set(value) <= _HEX):
        raise Invalid("weights_sha256 must be 64 lowercase hex digits")
    return value


def _describe(kinds: list[str]) -> str:
    words = {"str": "text", "Strategy": "text", "bool": "true or false", "int": "an integer"}
    return " or ".join(words.get(kind, "a number" if kind == "float" else "null") for kind in kinds)
