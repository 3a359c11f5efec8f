"""Lay out and build Marquee's Debian package from the one-folder bundle.

    stage(bundle, root, version)  ->  root/opt/marquee/..., /usr/bin/marquee, the desktop
                                      entry, hicolor icons, the MIME type, DEBIAN/
    build(root, out_dir)          ->  marquee_<version>_<arch>.deb (dpkg-deb)

Plain Python plus Pillow (icon sizes): the tests stage a tiny fake bundle without a build.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_info as info

sys.path.insert(0, str(info.ROOT))  # gui.qt_libs is plain Python (no Qt import)
from gui.qt_libs import QT_SYSTEM_LIBS

PACKAGE = "marquee"
INSTALL_DIR = Path("opt") / PACKAGE
LINUX_FILES = info.ROOT / "packaging" / "linux"
DESKTOP_FILE = info.ROOT / "packaging" / "marquee.desktop"
ICON = info.ROOT / "resources" / "marquee.png"  # 256 px, drawn by tools/make_icons.py
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
# Placeholder address: set the real one before publishing the package.
MAINTAINER = "Marquee developers <marquee@example.org>"
# The bundle carries Python, torch and Qt's xcb libraries; the system gives glibc (torch's
# wheels need 2.28) and the libraries Qt itself links to (same package names on Ubuntu).
DEPENDS = ", ".join(["libc6 (>= 2.28)", *QT_SYSTEM_LIBS.values()])
# Measured on a 374 MB slice of the bundle, 2 busy cores: gzip -6 75.8% in 33 s, zstd -12
# 69.8% in 32 s, zstd -19 68.5% in 335 s, xz -6 67.9% in 320 s. zstd -12 keeps the build
# (and CI) minutes shorter for 2% more bytes; xz is for dpkg older than 1.21.18 (Debian 11).
COMPRESSION = {"zstd": 12, "xz": 6, "gzip": 6}
DEFAULT_COMPRESSION = "zstd"

# The caches that make the menu entry, the icon and "Open with" appear at once. Each tool
# may be missing (a server, a minimal container), and none of them may fail the install.
_SCRIPT = """#!/bin/sh
# {purpose}
set -e
refresh_caches() {{
    root="${{DPKG_ROOT:-}}"
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$root/usr/share/applications" || true
    fi
    if command -v update-mime-database >/dev/null 2>&1; then
        update-mime-database "$root/usr/share/mime" || true
    fi
    # Only where the hicolor theme is installed: a cache made here would outlive the package.
    if command -v gtk-update-icon-cache >/dev/null 2>&1 \\
        && [ -f "$root/usr/share/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -f "$root/usr/share/icons/hicolor" || true
    fi
}}
case "$1" in
    {events}) refresh_caches ;;
esac
exit 0
"""
SCRIPTS = {
    "postinst": ("Marquee is installed: show it in menus and file managers.", "configure"),
    "postrm": (
        "Marquee's files are gone: drop it from the caches (users' runs, models and caches "
        "under their home folders are theirs and stay).",
        "remove|purge|abort-install|abort-upgrade",
    ),
}


def deb_version(version: str) -> str:
    """Debian orders 1.0~rc1 before 1.0; PEP 440's 1.0rc1 must be spelled that way."""
    return re.sub(r"(?<=\d)\.?(a|b|rc|dev)(\d*)", r"~\1\2", version)


def deb_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf"}.get(machine, machine)


def tree_kib(path: Path) -> int:
    """Installed-Size: KiB of the files, as dpkg counts it (links count as links)."""
    total = 0
    for root, _dirs, names in os.walk(path):
        total += sum(os.lstat(os.path.join(root, n)).st_size for n in names)
    return -(-total // 1024)


def _put(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _copy_bundle(bundle: Path, target: Path) -> None:
    # Hard links: staging a 4.5 GB bundle costs no copy when build/ and dist/ share a disk.
    try:
        shutil.copytree(bundle, target, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(bundle, target, symlinks=True)


def _stage_icons(usr_share: Path) -> None:
    with Image.open(ICON) as image:
        source = image.convert("RGBA")
        for size in ICON_SIZES:
            out = usr_share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{PACKAGE}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            source.resize((size, size), Image.Resampling.LANCZOS).save(out, optimize=True)
            out.chmod(0o644)


def control_text(version: str, arch: str, installed_kib: int) -> str:
    fields = {
        "Package": PACKAGE,
        "Version": deb_version(version),
        "Architecture": arch,
        "Maintainer": MAINTAINER,
        "Installed-Size": str(installed_kib),
        "Depends": DEPENDS,
        "Section": "science",
        "Priority": "optional",
        "Description": "Multi-label image classifier for movie posters\n"
        " Train a genre classifier on movie posters and predict genres for new ones,\n"
        " on the desktop (PyTorch, Qt) or from the command line. Self-contained:\n"
        " it brings its own Python, PyTorch (with CUDA) and Qt.",
    }
    return "".join(f"{key}: {value}\n" for key, value in fields.items())


def _stage_control(root: Path, version: str, arch: str) -> None:
    debian = root / "DEBIAN"
    debian.mkdir(mode=0o755, exist_ok=True)
    debian.chmod(0o755)  # dpkg-deb refuses a control folder outside 0755..0775
    installed = tree_kib(root) - tree_kib(debian)
    _put(debian / "control", control_text(version, arch, installed))
    for name, (purpose, events) in SCRIPTS.items():
        _put(debian / name, _SCRIPT.format(purpose=purpose, events=events), 0o755)


def stage(bundle: Path, root: Path, version: str, arch: str | None = None) -> Path:
    """Lay out the package under `root` (replaced if present) from the bundle folder."""
    shutil.rmtree(root, ignore_errors=True)
    (root / INSTALL_DIR).parent.mkdir(parents=True)
    _copy_bundle(bundle, root / INSTALL_DIR)
    usr = root / "usr"
    (usr / "bin").mkdir(parents=True)
    # The bootloader finds its folder through /proc/self/exe, so a symlink is enough.
    (usr / "bin" / PACKAGE).symlink_to(Path("/") / INSTALL_DIR / info.APP_NAME)
    share = usr / "share"
    _put(share / "applications" / f"{PACKAGE}.desktop", DESKTOP_FILE.read_text("utf-8"))
    _put(share / "mime" / "packages" / f"{PACKAGE}.xml", (LINUX_FILES / "mime.xml").read_text())
    _stage_icons(share)
    for folder in (root / "opt", usr, *usr.rglob("*")):
        if folder.is_dir() and not folder.is_symlink():
            folder.chmod(0o755)  # whatever the umask, installed folders are world-readable
    _stage_control(root, version, arch or deb_arch())
    return root


def build(root: Path, out_dir: Path, compression: str = DEFAULT_COMPRESSION) -> tuple[Path, float]:
    """dpkg-deb the staged root (files owned by root); the .deb and the seconds it took."""
    control = (root / "DEBIAN" / "control").read_text(encoding="utf-8")
    fields = dict(re.findall(r"^(\w[\w-]*): (.*)$", control, re.MULTILINE))
    out = out_dir / f"{PACKAGE}_{fields['Version']}_{fields['Architecture']}.deb"
    cmd = ["dpkg-deb", "--root-owner-group", f"-Z{compression}"]
    cmd += [f"-z{COMPRESSION[compression]}", "--build", str(root), str(out)]
    print("+", " ".join(cmd), flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    return out, time.perf_counter() - started
