"""The Linux system libraries Qt needs, and which Debian/Ubuntu packages provide them.

Plain Python with no Qt import: dev.py (on the system Python, before any venv exists)
installs them, and the app checks them before Qt's xcb plugin would abort the process.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

# What Qt itself links to.
QT_SYSTEM_LIBS = {
    "EGL": "libegl1",
    "GL": "libgl1",
    "xkbcommon": "libxkbcommon0",
    "fontconfig": "libfontconfig1",
    "dbus-1": "libdbus-1-3",
}
# What Qt's xcb (X11) platform plugin links to beyond those.
XCB_SYSTEM_LIBS = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-render-util": "libxcb-render-util0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def missing_packages(libs: dict[str, str]) -> list[str]:
    """The packages of `libs` whose library the dynamic loader cannot find."""
    if not sys.platform.startswith("linux"):
        return []
    return [package for lib, package in libs.items() if ctypes.util.find_library(lib) is None]


def missing_for_x11() -> list[str]:
    """Packages the xcb plugin needs that are missing, when the app is about to use it.

    Empty for a frozen build (it carries these libraries), on Wayland, with another
    QT_QPA_PLATFORM, and outside Linux.
    """
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    on_wayland = bool(os.environ.get("WAYLAND_DISPLAY")) and not platform
    if getattr(sys, "frozen", False) or on_wayland or platform not in ("", "xcb"):
        return []
    return missing_packages({**QT_SYSTEM_LIBS, **XCB_SYSTEM_LIBS})
