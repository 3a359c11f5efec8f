"""Marquee's desktop app: a PySide6 window over `core` (which never imports Qt)."""
