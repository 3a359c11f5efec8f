"""Persisted preferences in an INI file under core.base.paths.config_dir().

Keeping the file under config_dir() (not Qt's default location) means MARQUEE_HOME
isolates preferences too, which the tests rely on.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSettings

from core.base.config import TrainConfig
from core.base.errors import ConfigError
from core.base.paths import config_dir

SETTINGS_FILE = "marquee.ini"
# How a data source was read (CsvImportDialog.options()); remembered with the source.
_SOURCE_OPTIONS = ("label_column", "delimiter", "images_dir", "prefer_onehot")
_LABELS_KEY = "data/chosen_labels"  # JSON: {data set key: [label, ...]}
_MAX_REMEMBERED = 50  # data sets whose label choice is kept, the most recent ones
_TRAIN_KEYS = (
    "backbone",
    "strategy",
    "epochs",
    "batch_size",
    "image_size",
    "lr",
    "balance",
    "weight_decay",
    "head",
    "loss",
    "feature_views",
    "multi_stage",
    "auto_tune",
    "tta",
)


class Preferences:
    """Typed access to the few values Marquee remembers between sessions."""

    def __init__(self) -> None:
        self._qs = QSettings(str(config_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)

    def value(self, key: str, default: Any = None, kind: type | None = None) -> Any:
        if kind is None:
            return self._qs.value(key, default)
        raw = self._qs.value(key, default)
        if raw is None:
            return default
        try:
            if kind is bool and isinstance(raw, str):
                return raw.lower() in ("1", "true", "yes")
            return kind(raw)
        except (TypeError, ValueError):
            return default

    def set_value(self, key: str, value: Any) -> None:
        self._qs.setValue(key, value)

    def sync(self) -> None:
        self._qs.sync()

    def data_source(self) -> dict:
        """The last data source: kind in sample|movie|folder|csv|createml, path, and the
        options it was read with (load_dataset keyword arguments: CSV columns, images_dir,
        prefer_onehot)."""
        try:
            options = json.loads(self.value("data/options", "{}", str))
        except json.JSONDecodeError:
            options = {}
        known = (
            {k: v for k, v in options.items() if k in _SOURCE_OPTIONS}
            if isinstance(options, dict)
            else {}
        )
        return {
            "kind": self.value("data/kind", "sample", str),
            "path": self.value("data/path", "", str),
            "options": known,
        }

    def set_data_source(self, kind: str, path: str = "", options: dict | None = None) -> None:
        self.set_value("data/kind", kind)
        self.set_value("data/path", path)
        kept = {k: v for k, v in (options or {}).items() if k in _SOURCE_OPTIONS and v is not None}
        self.set_value("data/options", json.dumps(kept))

    def chosen_labels(self, dataset_key: str) -> list[str] | None:
        """The labels last ticked for this data set (None: never chosen)."""
        names = self._label_choices().get(dataset_key)
        if isinstance(names, list) and all(isinstance(n, str) for n in names) and names:
            return names
        return None

    def set_chosen_labels(self, dataset_key: str, names: list[str]) -> None:
        choices = self._label_choices()
        choices.pop(dataset_key, None)
        choices[dataset_key] = list(names)
        kept = dict(list(choices.items())[-_MAX_REMEMBERED:])
        self.set_value(_LABELS_KEY, json.dumps(kept))

    def _label_choices(self) -> dict:
        try:
            choices = json.loads(self.value(_LABELS_KEY, "{}", str))
        except ValueError:
            return {}
        return choices if isinstance(choices, dict) else {}

    def train_config(self) -> TrainConfig:
        defaults = TrainConfig()
        values = {
            key: self.value(f"train/{key}", getattr(defaults, key), type(getattr(defaults, key)))
            for key in _TRAIN_KEYS
        }
        config = TrainConfig.from_dict({**defaults.to_dict(), **values})
        try:
            config.validate()
        except ConfigError:
            return defaults
        return config

    def has_train_config(self) -> bool:
        """True once the user has started a training (their settings are remembered)."""
        return self._qs.contains("train/strategy")

    def set_train_config(self, config: TrainConfig) -> None:
        for key in _TRAIN_KEYS:
            self.set_value(f"train/{key}", getattr(config, key))

    def tracking(self) -> tuple[str, str]:
        """(TensorBoard folder, MLflow tracking URI) the app also logs trainings to; "" is off."""
        return (
            self.value("tracking/tensorboard_dir", "", str),
            self.value("tracking/mlflow_uri", "", str),
        )

    def set_tracking(self, tensorboard_dir: str, mlflow_uri: str) -> None:
        self.set_value("tracking/tensorboard_dir", tensorboard_dir.strip())
        self.set_value("tracking/mlflow_uri", mlflow_uri.strip())
