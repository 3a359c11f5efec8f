from __future__ import annotations

import subprocess
import sys

from PySide6.QtCore import Qt

from gui.settings import Preferences


def test_window_starts_with_four_pages(window, qtbot):
    assert window.windowTitle() == "Marquee"
    assert not window.windowIcon().isNull()
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == [
        "Data",
        "Train",
        "Predict",
        "Runs",
    ]
    assert window.pages.currentWidget() is window.data_page
    window.show_page(2)
    assert window.pages.currentWidget() is window.predict_page


def test_page_shortcuts_switch_pages(window, qtbot):
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.train_page
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.predict_page
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.runs_page


def test_every_visible_control_has_a_tooltip(window):
    from PySide6.QtWidgets import (
        QAbstractSpinBox,
        QCheckBox,
        QComboBox,
        QPushButton,
        QRadioButton,
        QSlider,
    )

    missing = []
    for page in (window.data_page, window.train_page, window.predict_page):
        for kind in (QPushButton, QCheckBox, QRadioButton, QAbstractSpinBox, QComboBox, QSlider):
            missing += [w for w in page.findChildren(kind) if not w.toolTip()]
    assert not [type(w).__name__ + ":" + getattr(w, "text", lambda: "")() for w in missing]


def test_preferences_persist_training_settings(window):
    form = window.train_page.form
    form.epochs.setValue(7)
    form.lr.setValue(0.01)
    window.prefs.set_train_config(form.config())
    window.close()
    again = Preferences().train_config()
    assert (again.epochs, again.lr) == (7, 0.01)


def test_cli_subcommand_does_not_import_qt():
    code = (
        "import sys; from gui.app import main; rc = main(['backbones']); "
        "print('QT' if 'PySide6' in sys.modules else 'NOQT', rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().endswith("NOQT 0"), out.stdout + out.stderr
    assert "efficientnet_lite0" in out.stdout


def test_no_display_gives_one_clear_line_instead_of_a_qt_abort(monkeypatch, capsys):
    from gui import app

    monkeypatch.setattr(app.sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)

    assert app.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("marquee: error: no display found") and err.count("\n") == 1


def test_missing_xcb_libraries_give_one_line_naming_the_packages(monkeypatch, capsys):
    from gui import app, qt_libs

    monkeypatch.setattr(qt_libs.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    for name in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    present = {"EGL", "GL", "xkbcommon", "fontconfig", "dbus-1", "xcb-cursor", "xcb-image"}
    monkeypatch.setattr(
        qt_libs.ctypes.util, "find_library", lambda name: name if name in present else None
    )

    assert app.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "libxcb-icccm4" in err and "libxcb-keysyms1" in err
    assert "libxcb-cursor0" not in err


def test_a_frozen_build_trusts_the_libraries_it_carries(monkeypatch):
    from gui import qt_libs

    monkeypatch.setattr(qt_libs.sys, "frozen", True, raising=False)
    monkeypatch.setattr(qt_libs.ctypes.util, "find_library", lambda name: None)
    assert qt_libs.missing_for_x11() == []
