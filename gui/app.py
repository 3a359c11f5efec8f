"""Entry point: `marquee` opens the window; `marquee <subcommand>` runs the CLI without Qt."""

from __future__ import annotations

import multiprocessing
import os
import sys

from core.base.runtime import configure_threading
from gui.qt_libs import missing_for_x11

CLI_FLAGS = frozenset({"--help", "-h", "--version"})
SELF_TEST_FLAG = "--self-test"


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # first: PyInstaller child processes stop here
    configure_threading()  # before anything imports torch: OpenMP reads it once, at load
    args = sys.argv[1:] if argv is None else list(argv)
    from core.cli import main as cli  # light (argparse); no Qt and no torch on this path

    if args and (args[0] in cli.SUBCOMMANDS or args[0] in CLI_FLAGS):
        return cli.main(args)
    if SELF_TEST_FLAG in args:
        return self_test(args)
    return run_gui(args)


# --------------------------------------------------------------------------- packaging hook
def self_test(args: list[str]) -> int:
    """The packaged build's smoke test: offscreen window, brief training, one prediction."""
    from gui.self_test import main as run_self_test

    return run_self_test(args)


# --------------------------------------------------------------------------- GUI
def missing_display() -> bool:
    """True on Linux/BSD with no X11 or Wayland display, where Qt would abort the process."""
    if sys.platform in ("win32", "darwin") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(args: list[str]) -> int:
    if missing_display():
        print(
            "marquee: error: no display found, so the window cannot open. Use the command line "
            "('marquee --help', e.g. 'marquee train --sample'), or set QT_QPA_PLATFORM=offscreen.",
            file=sys.stderr,
        )
        return 2
    missing = missing_for_x11()
    if missing:
        print(
            "marquee: error: Qt's X11 plugin cannot load: system libraries are missing. "
            f"Install them (Debian/Ubuntu): sudo apt-get install {' '.join(missing)}",
            file=sys.stderr,
        )
        return 2
    from PySide6.QtWidgets import QApplication

    from gui.errors import ErrorHandler, setup_logging
    from gui.main_window import MainWindow
    from gui.theme import apply_theme

    log_file = setup_logging()
    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    app.setApplicationName("Marquee")
    app.setApplicationDisplayName("Marquee")
    app.setOrganizationName("Marquee")
    app.setDesktopFileName("marquee")
    apply_theme(app)
    handler = ErrorHandler()
    handler.install()
    window = MainWindow()
    handler.set_parent_widget(window)
    window.show()
    import logging

    logging.getLogger("marquee").info("started; log file %s", log_file)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
