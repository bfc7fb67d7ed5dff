"""The depth inspector: the paper's Figure 7 panel for one window (face crops, D_single, D_fusion).

:func:`render_depth_panel` paints the panel into a QImage (also saved by "Save panel + frame");
:class:`DepthInspector` shows it scaled to the widget.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from livenessapp.gui.colormap import apply_colormap, lut
from livenessapp.gui.qtimage import rgb_to_qimage
from livenessapp.gui.theme import COLORS

__all__ = ["DepthInspector", "render_depth_panel"]


def _as_maps(maps, count: int | None = None) -> list[np.ndarray]:
    if maps is None:
        return []
    arr = (
        [np.asarray(m, dtype=np.float32) for m in maps]
        if isinstance(maps, (list, tuple))
        else list(np.asarray(maps, np.float32))
    )
    out = [np.squeeze(m) for m in arr]
    return out[:count] if count else out


def _mask_outline(mask: np.ndarray, size: int) -> list[QPolygonF]:
    """Contours of a {0,1} mask upscaled to ``size`` px, as polygons."""
    m = cv2.resize((np.squeeze(mask) > 0.5).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [
        QPolygonF([QPointF(float(x) + 0.5, float(y) + 0.5) for x, y in c[:, 0]])
        for c in contours
        if len(c) > 2
    ]


def render_depth_panel(
    crops: list[np.ndarray] | None,
    depth_single,
    depth_fusion,
    masks=None,
    *,
    tile: int = 112,
    colormap: str = "viridis",
    title: str = "",
) -> QImage:
    """The paper's Figure 7 layout for one window: a row of face crops (RGB uint8), a row of D_single
    (Nf maps) and a row of D_fusion (Nf - 1 maps, D_fusion(t) under frame t of the pair t, t+1), depth in
    [0, 1] through the colormap, the face-mask outline on every map, and a colour scale bar on the right."""
    singles = _as_maps(depth_single)
    fusions = _as_maps(depth_fusion)
    mask_list = _as_maps(masks)
    crops = list(crops or [])
    cols = max(len(singles), len(fusions) + 1, len(crops), 1)
    label_w, bar_w, pad, title_h = 78, 64, 6, 24 if title else 6
    rows = [("face", crops), ("D_single", singles), ("D_fusion", fusions)]
    width = label_w + cols * (tile + pad) + bar_w
    height = title_h + len(rows) * (tile + pad) + 18
    img = QImage(width, height, QImage.Format.Format_RGB32)
    img.fill(COLORS["background"])
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    font = QFont()
    font.setPixelSize(13)
    p.setFont(font)
    p.setPen(QColor(220, 220, 220))
    if title:
        p.drawText(
            QRectF(pad, 2, width - 2 * pad, title_h - 2),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            title,
        )
    for r, (name, items) in enumerate(rows):
        y = title_h + r * (tile + pad)
        p.setPen(QColor(220, 220, 220))
        p.drawText(
            QRectF(0, y, label_w - 6, tile), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name
        )
        for c in range(cols):
            x = label_w + c * (tile + pad)
            target = QRectF(x, y, tile, tile)
            if c >= len(items):
                p.setPen(QPen(QColor(70, 70, 74), 1, Qt.PenStyle.DotLine))
                p.drawRect(target.adjusted(0.5, 0.5, -0.5, -0.5))
                continue
            item = items[c]
            if name == "face":
                rgb = cv2.resize(
                    np.asarray(item, np.uint8)[..., :3], (tile, tile), interpolation=cv2.INTER_AREA
                )
            else:
                m = cv2.resize(item, (tile, tile), interpolation=cv2.INTER_LINEAR)
                rgb = apply_colormap(m, colormap)
            p.drawImage(target, rgb_to_qimage(rgb))
            if name != "face" and c < len(mask_list):
                p.save()
                p.translate(x, y)
                p.setPen(QPen(QColor(255, 255, 255, 190), 1.2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                for poly in _mask_outline(mask_list[c], tile):
                    p.drawPolygon(poly)
                p.restore()
    # column captions
    p.setPen(QColor(170, 170, 170))
    yb = title_h + len(rows) * (tile + pad)
    for c in range(cols):
        x = label_w + c * (tile + pad)
        p.drawText(QRectF(x, yb - 2, tile, 16), Qt.AlignmentFlag.AlignHCenter, f"t={c}")
    # scale bar
    bx, by, bh = width - bar_w + 10, title_h, len(rows) * (tile + pad) - pad
    grad = np.repeat(lut(colormap)[::-1][:, None, :], 14, axis=1)
    p.drawImage(QRectF(bx, by, 14, bh), rgb_to_qimage(grad))
    p.setPen(QColor(220, 220, 220))
    for v in (1.0, 0.5, 0.0):
        yy = by + (1 - v) * bh
        p.drawLine(QPointF(bx + 14, yy), QPointF(bx + 18, yy))
        p.drawText(
            QRectF(bx + 20, yy - 8, 40, 16),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{v:g}",
        )
    p.save()
    p.translate(bx + 46, by + bh / 2)
    p.rotate(-90)
    p.drawText(QRectF(-bh / 2, -8, bh, 16), Qt.AlignmentFlag.AlignCenter, "depth (1 = nearest)")
    p.restore()
    p.end()
    return img


class DepthInspector(QWidget):
    """Shows :func:`render_depth_panel` for the current window, scaled to the widget."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.colormap = "viridis"
        self.panel: QImage | None = None
        self.windows_shown = 0
        self.setMinimumSize(300, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(500, 330)  # the right-hand column's width: leaves the video ~580 px at 1400 px

    def set_window(self, crops, depth_single, depth_fusion, masks=None, title: str = "") -> None:
        self.panel = render_depth_panel(
            crops, depth_single, depth_fusion, masks, colormap=self.colormap, title=title
        )
        self.windows_shown += 1
        self.update()

    def clear(self) -> None:
        self.panel = None
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), COLORS["background"])
        if self.panel is None:
            p.setPen(QColor(170, 170, 170))
            p.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Depth maps appear here once the first window is scored",
            )
        else:
            pw, ph = self.panel.width(), self.panel.height()
            s = min(self.width() / pw, self.height() / ph)
            target = QRectF((self.width() - pw * s) / 2, (self.height() - ph * s) / 2, pw * s, ph * s)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(target, self.panel)
        p.end()
