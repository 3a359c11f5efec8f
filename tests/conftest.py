"""Test-wide isolation: offscreen Qt, and every Marquee file location under tmp_path."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def marquee_home(tmp_path, monkeypatch):
    """Settings, caches, runs and logs go to a fresh folder for every test."""
    home = tmp_path / "marquee-home"
    monkeypatch.setenv("MARQUEE_HOME", str(home))
    return home
