"""The app's look: Fusion style with a dark palette, and the verdict colours every overlay uses.

The palette is a neutral dark grey, so the verdict colours (green LIVE, red SPOOF, grey UNKNOWN) and the
depth colormaps stay readable on top of it; text is near-white. Overlay text is drawn with a dark halo
(:func:`draw_text`) so it reads on any video background.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QApplication, QStyleFactory

from livenessapp.verdict import Verdict

__all__ = ["COLORS", "apply_dark_theme", "draw_text", "verdict_color"]

COLORS = {
    "live": QColor(46, 204, 113),
    "spoof": QColor(231, 76, 60),
    "unknown": QColor(160, 160, 160),
    "collecting": QColor(241, 196, 15),
    "accent": QColor(52, 152, 219),
    "threshold": QColor(241, 196, 15),
    "p_live": QColor(155, 89, 182),
    "depth": QColor(26, 188, 156),
    "parallax": QColor(100, 181, 246),
    "background": QColor(30, 30, 32),
}


def verdict_color(verdict: Verdict | str | None) -> QColor:
    v = Verdict(verdict) if verdict else Verdict.UNKNOWN
    return QColor(COLORS[v.value])


def apply_dark_theme(app: QApplication) -> None:
    """Fusion + a dark palette (disabled texts dimmed, links and highlights in the accent blue)."""
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    p = QPalette()
    window, base, text = QColor(37, 37, 40), QColor(25, 25, 27), QColor(230, 230, 230)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor(45, 45, 48),
        QPalette.ColorRole.ToolTipBase: QColor(50, 50, 54),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(140, 140, 140),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor(50, 50, 54),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 80, 80),
        QPalette.ColorRole.Link: COLORS["accent"],
        QPalette.ColorRole.Highlight: COLORS["accent"],
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Light: QColor(70, 70, 74),
        QPalette.ColorRole.Midlight: QColor(58, 58, 62),
        QPalette.ColorRole.Mid: QColor(45, 45, 48),
        QPalette.ColorRole.Dark: QColor(20, 20, 22),
        QPalette.ColorRole.Shadow: QColor(0, 0, 0),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    dim = QColor(120, 120, 120)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, dim)
    app.setPalette(p)


def draw_text(
    painter: QPainter,
    pos: QPointF,
    text: str,
    color: QColor,
    font: QFont | None = None,
    halo: QColor | None = None,
    align_right: bool = False,
) -> QRectF:
    """Text with a dark outline (halo) at baseline ``pos``; returns its bounding rect."""
    if font is not None:
        painter.setFont(font)
    metrics = painter.fontMetrics()
    width = metrics.horizontalAdvance(text)
    x = pos.x() - width if align_right else pos.x()
    path = QPainterPath()
    path.addText(QPointF(x, pos.y()), painter.font(), text)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    outline = max(2.0, painter.font().pointSizeF() / 5 if painter.font().pointSizeF() > 0 else 3.0)
    painter.strokePath(
        path,
        QPen(
            halo or QColor(0, 0, 0, 200),
            outline,
            Qt.PenStyle.SolidLine,
            Qt.PenCapStyle.RoundCap,
            Qt.PenJoinStyle.RoundJoin,
        ),
    )
    painter.fillPath(path, color)
    painter.restore()
    return QRectF(x, pos.y() - metrics.ascent(), width, metrics.height())
