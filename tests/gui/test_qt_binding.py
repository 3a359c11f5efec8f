"""The Qt binding keeps Python's reference counts: a leak on None aborts a long session."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def test_calls_returning_nothing_keep_none_referenced() -> None:
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        obj.setObjectName("poster")
    # A few references may come or go with the interpreter's own bookkeeping; a leak
    # per call (PySide6 6.12.0) loses a thousand.
    assert abs(sys.getrefcount(None) - before) < 100
