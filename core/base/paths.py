"""Where Marquee keeps its files (platformdirs), overridable for tests and portable use.

Set MARQUEE_HOME to put every location under one folder (tests do this via tmp_path).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Marquee"


def _root_override() -> Path | None:
    home = os.environ.get("MARQUEE_HOME")
    return Path(home) if home else None


def _location(kind: str) -> Path:
    override = _root_override()
    if override is not None:
        path = override / kind
    else:
        getter = {
            "cache": platformdirs.user_cache_path,
            "data": platformdirs.user_data_path,
            "log": platformdirs.user_log_path,
            "config": platformdirs.user_config_path,
        }[kind]
        path = getter(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Regenerable files: the sample posters, decoded-image caches."""
    return _location("cache")


def data_dir() -> Path:
    """User data worth keeping: downloaded data sets, training runs."""
    return _location("data")


def log_dir() -> Path:
    return _location("log")


def config_dir() -> Path:
    return _location("config")


def runs_dir() -> Path:
    path = data_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path
