"""The look: Fusion style, one accent colour, palette-based style sheet, drawn icons.

Text colours always come from the palette (light or dark); only the accent and the
series colours of plots are fixed, chosen to read well on both backgrounds.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

from gui.resources import resource_path

ACCENT = "#5b5bd6"
ACCENT_HOVER = "#4c4cc4"
SECOND = "#e8833a"  # validation series, warnings
THIRD = "#22a38a"  # F1 series
DANGER = "#d64545"

_STYLE = """
QListWidget#nav { border: none; background: transparent; outline: 0; font-size: 10.5pt; }
QListWidget#nav::item { padding: 9px 10px; margin: 2px 0; border-radius: 8px; }
QListWidget#nav::item:selected { background: ACCENT; color: white; }
QListWidget#nav::item:hover:!selected { background: palette(midlight); }
QFrame#navPanel { background: palette(alternate-base); border-right: 1px solid palette(mid); }
QFrame#card { background: palette(base); border: 1px solid palette(mid); border-radius: 10px; }
QFrame#card[selected="true"] { border: 2px solid ACCENT; }
QFrame#dropArea { border: 2px solid transparent; border-radius: 12px; }
QFrame#dropArea[empty="true"] { border: 2px dashed palette(mid); }
QFrame#dropArea[dragging="true"] { border: 2px dashed ACCENT; }
QLabel#pageTitle { font-size: 17pt; font-weight: 600; }
QLabel#cardTitle { font-size: 11pt; font-weight: 600; }
QLabel#statValue { font-size: 19pt; font-weight: 600; color: ACCENT; }
QLabel#appName { font-size: 14pt; font-weight: 700; }
QPushButton { background: palette(button); border: 1px solid palette(mid); border-radius: 6px;
              padding: 6px 14px; min-height: 20px; }
QPushButton:hover { border-color: ACCENT; }
QPushButton:pressed { background: palette(midlight); }
QPushButton:checked { border: 2px solid ACCENT; padding: 5px 13px; }
QPushButton:disabled { color: palette(mid); }
QPushButton#primary { background: ACCENT; color: white; border: none; border-radius: 6px;
                      padding: 7px 18px; font-weight: 600; }
QPushButton#primary:hover { background: ACCENT_HOVER; }
QPushButton#primary:disabled { background: palette(mid); color: palette(window); }
QPushButton#danger { background: DANGER; color: white; border: none; border-radius: 6px;
                     padding: 7px 18px; font-weight: 600; }
QPushButton#danger:disabled { background: palette(mid); color: palette(window); }
QProgressBar { border: 1px solid palette(mid); border-radius: 6px; text-align: center;
               background: palette(base); min-height: 20px; }
QProgressBar::chunk { background: ACCENT; border-radius: 5px; }
QSlider::groove:horizontal { height: 6px; background: palette(mid); border-radius: 3px; }
QSlider::sub-page:horizontal { background: ACCENT; border-radius: 3px; }
QSlider::handle:horizontal { background: palette(base); border: 2px solid ACCENT;
                             width: 14px; margin: -6px 0; border-radius: 9px; }
QListWidget#reviewList::item { padding: 5px 6px; border-bottom: 1px solid palette(midlight); }
QListWidget#reviewList::item:selected { background: ACCENT; color: white; }
QTabWidget::pane { border: 1px solid palette(mid); border-radius: 8px; top: -1px; }
QTabBar::tab { padding: 6px 14px; }
QToolTip { padding: 4px; }
QCheckBox::indicator { width: 16px; height: 16px; border: 1px solid palette(mid);
                       border-radius: 4px; background: palette(base); }
QCheckBox::indicator:hover { border-color: ACCENT; }
QCheckBox::indicator:checked { background: ACCENT; border-color: ACCENT; image: url(CHECK); }
QCheckBox::indicator:disabled { background: palette(window); }
"""


def style_sheet() -> str:
    check = resource_path("check.png").as_posix()
    return (
        _STYLE.replace("CHECK", check)
        .replace("ACCENT_HOVER", ACCENT_HOVER)
        .replace("ACCENT", ACCENT)
        .replace("DANGER", DANGER)
    )


def apply_theme(app: QApplication, dark: bool | None = None) -> None:
    """Fusion + accent; `dark` forces a dark palette (screenshots), None follows the system."""
    app.setStyle("Fusion")
    if dark is None:
        palette = app.palette()
    elif dark:
        palette = dark_palette()
    else:
        palette = app.style().standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("white"))
    palette.setColor(QPalette.ColorRole.Link, QColor(ACCENT))
    app.setPalette(palette)
    app.setStyleSheet(style_sheet())
    app.setWindowIcon(app_icon())


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = QPalette.ColorRole
    colours = {
        roles.Window: "#1f2023",
        roles.WindowText: "#e6e6e9",
        roles.Base: "#17181a",
        roles.AlternateBase: "#26272b",
        roles.Text: "#e6e6e9",
        roles.Button: "#2b2c30",
        roles.ButtonText: "#e6e6e9",
        roles.ToolTipBase: "#2b2c30",
        roles.ToolTipText: "#e6e6e9",
        roles.PlaceholderText: "#8b8c94",
        roles.Light: "#4a4b52",
        roles.Midlight: "#323338",
        roles.Mid: "#5a5b63",
        roles.Dark: "#111214",
        roles.Shadow: "#000000",
        roles.BrightText: "#ffffff",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor("#77787e"))
    return palette


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` moved a fraction `t` of the way towards `b`."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def text_tint(
    widget: QWidget, t: float, role: QPalette.ColorRole = QPalette.ColorRole.Base
) -> QColor:
    """The background colour tinted towards the text colour (t=0: background, 1: text)."""
    pal = widget.palette()
    return mix(pal.color(role), pal.color(QPalette.ColorRole.Text), t)


def muted_colour(widget: QWidget) -> QColor:
    """Secondary text: between text and background, so it works light or dark."""
    return text_tint(widget, 0.6, QPalette.ColorRole.Window)


def set_muted(widget: QWidget) -> None:
    pal = widget.palette()
    pal.setColor(QPalette.ColorRole.WindowText, muted_colour(widget))
    widget.setPalette(pal)


def app_icon() -> QIcon:
    path = resource_path("marquee.png")
    if path.is_file():
        return QIcon(str(path))
    return QIcon(_draw(64, QColor(ACCENT), _marquee_glyph))


def nav_icon(kind: str, colour: QColor) -> QIcon:
    """Line icons for the navigation list; white variant for the selected row."""
    painter_fn = {
        "data": _data_glyph,
        "train": _train_glyph,
        "predict": _predict_glyph,
        "runs": _runs_glyph,
    }[kind]
    icon = QIcon()
    icon.addPixmap(_draw(48, colour, painter_fn), QIcon.Mode.Normal)
    icon.addPixmap(_draw(48, QColor("white"), painter_fn), QIcon.Mode.Selected)
    return icon


def _draw(size: int, colour: QColor, glyph) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / 24, size / 24)
    pen = QPen(colour, 1.8)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    glyph(painter, colour)
    painter.end()
    return pixmap


def _data_glyph(p: QPainter, colour: QColor) -> None:
    for x, y in ((3, 3), (13, 3), (3, 13), (13, 13)):
        p.drawRoundedRect(QRectF(x, y, 8, 8), 1.6, 1.6)


def _train_glyph(p: QPainter, colour: QColor) -> None:
    p.drawLine(QPointF(3, 3), QPointF(3, 21))
    p.drawLine(QPointF(3, 21), QPointF(21, 21))
    path = QPainterPath(QPointF(6, 7))
    path.cubicTo(QPointF(9, 15), QPointF(12, 17), QPointF(20, 18))
    p.drawPath(path)


def _predict_glyph(p: QPainter, colour: QColor) -> None:
    path = QPainterPath(QPointF(3, 4))
    for x, y in ((12, 4), (21, 13), (13, 21), (3, 11)):
        path.lineTo(QPointF(x, y))
    path.closeSubpath()
    p.drawPath(path)
    p.drawEllipse(QPointF(8, 9), 1.6, 1.6)


def _runs_glyph(p: QPainter, colour: QColor) -> None:
    """A list of runs: three rows, each a dot (its colour in a comparison) and a line."""
    for y in (5, 12, 19):
        p.drawEllipse(QPointF(5, y), 1.6, 1.6)
        p.drawLine(QPointF(10, y), QPointF(21, y))


def _marquee_glyph(p: QPainter, colour: QColor) -> None:
    p.setBrush(colour)
    p.drawRoundedRect(QRectF(1, 1, 22, 22), 5, 5)
    p.setPen(QPen(QColor("white"), 2.2))
    path = QPainterPath(QPointF(6, 17))
    for x, y in ((6, 7), (12, 13), (18, 7), (18, 17)):
        path.lineTo(QPointF(x, y))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(path)
