#!/usr/bin/env python3
"""One-command developer entry point: sets up .venv, then runs the app, the tests or a build.

    python3 dev.py run      # set up, then open Marquee on the bundled sample posters
    python3 dev.py test     # set up, then lint, type-check and run the whole test suite
    python3 dev.py build    # set up, then build the PyInstaller bundle (packaging/build.py)

Needs only Python 3.11+. Set-up is skipped when pyproject.toml has not changed since
the last successful one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
# The tested torch pair; a newer release is never pulled in by accident.
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]
sys.path.insert(0, str(ROOT))  # gui.qt_libs is plain Python: usable before the venv exists
from gui.qt_libs import QT_SYSTEM_LIBS, XCB_SYSTEM_LIBS, missing_packages  # noqa: E402


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def run(*cmd: str | Path, **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)


def ensure_qt_system_libs(libs: dict[str, str] = QT_SYSTEM_LIBS) -> None:
    missing = missing_packages(libs)
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", *missing)
    else:
        print(f"warning: Qt may need these system packages: {' '.join(missing)}", file=sys.stderr)


def setup(extras: str = "dev") -> Path:
    """Create .venv and install Marquee (editable) with the given extras, once per change."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on the system Python
        sys.exit("Marquee needs Python 3.11 or newer.")
    ensure_qt_system_libs()
    python = venv_python()
    stamp = VENV / f".marquee-setup-{extras}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    if not python.exists():
        run(sys.executable, "-m", "venv", VENV)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run(*pip, "--upgrade", "pip")
    run(*pip, *TORCH)
    run(*pip, "-e", f".[{extras}]")
    stamp.write_text(digest)
    return python


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    rest = argv[1:]
    if command == "run":
        python = setup("dev")
        ensure_qt_system_libs(XCB_SYSTEM_LIBS)  # a desktop session uses Qt's xcb plugin
        return subprocess.call([str(python), "-m", "gui", *rest], cwd=ROOT)
    if command == "test":
        python = setup("dev")
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        run(python, "-m", "ruff", "format", "--check", ".")
        run(python, "-m", "ruff", "check", ".")
        run(VENV / ("Scripts" if os.name == "nt" else "bin") / "lint-imports", env=env)
        run(python, "-m", "mypy")  # core and gui: pyproject.toml's [tool.mypy] files, settings
        return subprocess.call([str(python), "-m", "pytest", "-q", *rest], cwd=ROOT, env=env)
    if command == "build":
        python = setup("dev,packaging")
        ensure_qt_system_libs(XCB_SYSTEM_LIBS)
        return subprocess.call([str(python), "packaging/build.py", *rest], cwd=ROOT)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
