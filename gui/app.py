"""Entry point: `marquee [FILE...]` opens the window (or hands FILEs to the one already open);
`marquee <subcommand>` runs the CLI without Qt.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.runtime import configure_threading
from gui.qt_libs import missing_for_x11

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from gui.single_instance import InstanceServer

CLI_FLAGS = frozenset({"--help", "-h", "--version"})
SELF_TEST_FLAG = "--self-test"
EXIT_WAIT_S = 120  # after the window closed: time for a stopped training to save its run


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # first: PyInstaller child processes stop here
    configure_threading()  # before anything imports torch: OpenMP reads it once, at load
    args = sys.argv[1:] if argv is None else list(argv)
    from core.cli import main as cli  # light (argparse); no Qt and no torch on this path

    if args and (args[0] in cli.SUBCOMMANDS or args[0] in CLI_FLAGS):
        return cli.main(args)
    typo = cli.unknown_command(args)
    if typo is not None:  # `marquee trian`: a mistyped command, not a file to open
        print(typo, file=sys.stderr)
        return 2
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


def display_error() -> str | None:
    """Why the window cannot open here (one line for stderr), or None."""
    if missing_display():
        return (
            "marquee: error: no display found, so the window cannot open. Use the command line "
            "('marquee --help', e.g. 'marquee train --sample'), or set QT_QPA_PLATFORM=offscreen."
        )
    missing = missing_for_x11()
    if missing:
        return (
            "marquee: error: Qt's X11 plugin cannot load: system libraries are missing. "
            f"Install them (Debian/Ubuntu): sudo apt-get install {' '.join(missing)}"
        )
    return None


def file_arguments(args: list[str]) -> list[Path]:
    """Posters, folders and model files named on the command line (`marquee FILE...`)."""
    return [Path(arg) for arg in args if not arg.startswith("-")]


def run_gui(args: list[str]) -> int:
    error = display_error()
    if error:
        print(error, file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    from gui.single_instance import InstanceServer, send_to_running

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *args])
    # A new QApplication has taken Qt's own options (-platform, -style...) out of arguments().
    paths = file_arguments(args if existing else app.arguments()[1:])
    if send_to_running(paths):
        return 0  # the running window has them
    server = InstanceServer(parent=app)
    server.listen()  # before the slow part, so a launch meanwhile finds this one
    return show_window(app, server, paths)


def show_window(app: QApplication, server: InstanceServer, paths: list[Path]) -> int:
    from core.model.export_process import export_in_child_processes
    from gui.errors import ErrorHandler, setup_logging
    from gui.interrupt import InterruptCloses
    from gui.main_window import MainWindow
    from gui.single_instance import FileOpenFilter
    from gui.theme import apply_theme

    log_file = setup_logging()
    app.setApplicationName("Marquee")
    app.setApplicationDisplayName("Marquee")
    app.setOrganizationName("Marquee")
    app.setDesktopFileName("marquee")
    apply_theme(app)
    handler = ErrorHandler()
    handler.install()
    export_in_child_processes()  # torch's ONNX exporter holds the GIL for seconds at a time
    window = MainWindow()
    handler.set_parent_widget(window)
    server.paths_received.connect(window.open_paths)
    file_open = FileOpenFilter(app)
    app.installEventFilter(file_open)
    file_open.paths_received.connect(window.open_paths)
    interrupt = InterruptCloses(window)  # Ctrl+C in the terminal closes the window
    app.aboutToQuit.connect(interrupt.uninstall)
    window.show()
    if paths:
        window.open_paths(paths)
    logging.getLogger("marquee").info("started; log file %s", log_file)
    code = app.exec()
    return finish_workers(code)


def finish_workers(code: int) -> int:
    """The window is gone: let the workers it asked to stop end (a stopped training saves
    its run first). One still running after EXIT_WAIT_S must not be destroyed mid-run (that
    aborts): the process ends without tearing it down."""
    from gui.thread_keeper import wait_for_retired

    if wait_for_retired(EXIT_WAIT_S * 1000):
        return code
    logging.getLogger("marquee").warning("a background task did not stop in time; exiting")
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
