"""The desktop window's painting widgets: live video with overlays, the score plot, the depth inspector.

All of them only paint: they receive finished numbers and arrays (from the engine, through the bridge) and
draw them with QPainter. No tracking, no inference here.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from livenessapp.gui.colormap import apply_colormap, lut
from livenessapp.gui.qtimage import rgb_to_qimage
from livenessapp.gui.theme import COLORS, draw_text, verdict_color
from livenessapp.verdict import Verdict

__all__ = [
    "CueMeters",
    "DepthInspector",
    "FrameOverlay",
    "ScorePlot",
    "VideoView",
    "paint_overlay",
    "render_depth_panel",
]

HINT_TEXT = {
    "no_face": "no face",
    "too_small": "move closer",
    "too_far": "move closer",
    "move_closer": "move closer",
    "multiple_faces": "several faces",
    "several_faces": "several faces",
    "too_close": "move back",
    "off_center": "centre your face",
    "at_edge": "move to the centre",
    # frame quality (livenessapp.quality.Quality)
    "too_dark": "too dark - add light",
    "overexposed": "overexposed - avoid bright light",
    "blank": "lens covered?",
    "frame_too_small": "camera resolution too low",
}


def hint_text(hint: str | None) -> str:
    """The on-screen words for an engine hint code (unknown codes shown with underscores as spaces)."""
    if not hint or hint in ("ok", "none"):
        return ""
    return HINT_TEXT.get(hint, hint.replace("_", " "))


# ---------------------------------------------------------------------------------------------- overlays
@dataclass
class FrameOverlay:
    """What is drawn on top of one video frame."""

    box: tuple[float, float, float, float] | None = None
    landmarks: np.ndarray | None = None
    verdict: Verdict = Verdict.UNKNOWN
    score: float | None = None
    threshold: float | None = None
    hint: str = ""
    fill: int = 0
    num_frames: int = 0
    recording: str = ""  # e.g. "REC live 3.2 s"
    show_landmarks: bool = False
    detail: str = ""  # a smaller second line under the verdict (e.g. the parallax cue's state)


def paint_overlay(image: QImage, ov: FrameOverlay) -> QImage:
    """Paint the overlay onto ``image`` in place (its pixel coordinates = the frame's) and return it."""
    if image.format() not in (
        QImage.Format.Format_RGB888,
        QImage.Format.Format_RGB32,
        QImage.Format.Format_ARGB32,
    ):
        image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    unit = max(1.0, min(w, h) / 480.0)  # scale strokes and fonts with the frame size
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    font = QFont()
    font.setPixelSize(int(20 * unit))
    font.setBold(True)
    painter.setFont(font)
    collecting = ov.num_frames > 0 and ov.fill < ov.num_frames
    color = verdict_color(ov.verdict)
    if ov.show_landmarks and ov.landmarks is not None and len(ov.landmarks):
        painter.setPen(QPen(QColor(255, 255, 255, 110), 1.2 * unit))
        pts = [QPointF(float(x), float(y)) for x, y in np.asarray(ov.landmarks)[:, :2][::3]]
        painter.drawPoints(QPolygonF(pts))
    if ov.box is not None:
        x0, y0, x1, y1 = ov.box
        painter.setPen(QPen(color, 3 * unit))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(x0, y0, x1 - x0, y1 - y0), 6 * unit, 6 * unit)
        label = ov.verdict.value.upper() if ov.verdict.is_decided else ("…" if collecting else "?")
        if ov.score is not None and math.isfinite(ov.score):
            label += f"  {ov.score:.2f}"
        draw_text(painter, QPointF(x0, max(y0 - 8 * unit, 22 * unit)), label, color)
    # top-left: collecting / verdict line
    y = 30 * unit
    if collecting:
        draw_text(
            painter,
            QPointF(12 * unit, y),
            f"collecting {ov.fill}/{ov.num_frames} frames",
            COLORS["collecting"],
        )
        y += 28 * unit
    elif ov.verdict.is_decided:
        thr = f" (threshold {ov.threshold:.2f})" if ov.threshold is not None else ""
        s = f"{ov.score:.2f}" if ov.score is not None else "-"
        draw_text(painter, QPointF(12 * unit, y), f"{ov.verdict.value.upper()}  score {s}{thr}", color)
        y += 28 * unit
        if ov.detail:
            small = QFont(font)
            small.setPixelSize(int(16 * unit))
            small.setBold(False)
            painter.setFont(small)
            draw_text(painter, QPointF(12 * unit, y - 4 * unit), ov.detail, QColor(235, 235, 235))
            painter.setFont(font)
            y += 22 * unit
    text = hint_text(ov.hint)
    if text:
        big = QFont(font)
        big.setPixelSize(int(30 * unit))
        painter.setFont(big)
        tw = painter.fontMetrics().horizontalAdvance(text)
        draw_text(painter, QPointF((w - tw) / 2, h - 24 * unit), text, QColor(255, 255, 255))
        painter.setFont(font)
    if ov.recording:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(231, 76, 60))
        painter.drawEllipse(QPointF(w - 22 * unit, 24 * unit), 8 * unit, 8 * unit)
        draw_text(
            painter, QPointF(w - 36 * unit, 31 * unit), ov.recording, QColor(255, 255, 255), align_right=True
        )
    painter.end()
    return image


class VideoView(QWidget):
    """Shows the latest annotated frame, scaled to fit with its aspect ratio kept."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._message = "No source: press Space to start"
        self.frames_shown = 0
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(800, 600)

    @property
    def image(self) -> QImage | None:
        return self._image

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        if image is not None:
            self.frames_shown += 1
        self.update()

    def set_message(self, text: str) -> None:
        self._message = text
        self.update()

    def target_rect(self) -> QRectF:
        if self._image is None or self._image.isNull():
            return QRectF(self.rect())
        iw, ih = self._image.width(), self._image.height()
        s = min(self.width() / iw, self.height() / ih)
        return QRectF((self.width() - iw * s) / 2, (self.height() - ih * s) / 2, iw * s, ih * s)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.fillRect(self.rect(), COLORS["background"])
        if self._image is not None and not self._image.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(self.target_rect(), self._image)
        elif self._message:
            painter.setPen(QColor(200, 200, 200))
            f = QFont()
            f.setPixelSize(18)
            painter.setFont(f)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._message)
        painter.end()


# -------------------------------------------------------------------------------------------- score plot
class ScorePlot(QWidget):
    """Live plot of the last ``span_s`` seconds: score (Eq. 18, smoothed), p_live, the depth score and the
    motion-parallax score (gaps where the cue has no verdict), with the network's threshold (dashed) and the
    parallax cue's own threshold (dotted, in its colour). Painted with QPainter; ``add`` takes a monotonic
    time in seconds."""

    SERIES = (
        (1, "score", 2.5, Qt.PenStyle.SolidLine),
        (2, "p_live", 1.5, Qt.PenStyle.SolidLine),
        (3, "depth", 1.5, Qt.PenStyle.DashLine),
        (4, "parallax", 2.0, Qt.PenStyle.SolidLine),
    )

    def __init__(self, span_s: float = 10.0, parent: QWidget | None = None):
        super().__init__(parent)
        self.span_s = float(span_s)
        self.threshold: float | None = 0.5
        self.parallax_threshold: float | None = None
        self.points: deque[tuple[float, float | None, float | None, float | None, float | None]] = deque(
            maxlen=2000
        )
        self.setMinimumSize(260, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(380, 180)

    def clear(self) -> None:
        self.points.clear()
        self.update()

    def set_threshold(self, threshold: float | None) -> None:
        self.threshold = threshold
        self.update()

    def set_parallax_threshold(self, threshold: float | None) -> None:
        self.parallax_threshold = threshold
        self.update()

    def add(
        self,
        t: float | None,
        score: float | None,
        p_live: float | None = None,
        depth: float | None = None,
        parallax: float | None = None,
    ) -> None:
        t = time.monotonic() if t is None else float(t)
        self.points.append((t, score, p_live, depth, parallax))
        while self.points and self.points[0][0] < t - self.span_s - 1.0:
            self.points.popleft()
        self.update()

    @staticmethod
    def _color(name: str) -> QColor:
        return QColor(235, 235, 235) if name == "score" else COLORS[name]

    def _legend(self) -> list[tuple[str, QColor, float, Qt.PenStyle]]:
        """Series and threshold lines (the thresholds' values are written on their lines)."""
        items = [(name, self._color(name), width, style) for _, name, width, style in self.SERIES]
        if self.threshold is not None:
            items.append(("threshold", COLORS["threshold"], 1.5, Qt.PenStyle.DashLine))
        if self.parallax_threshold is not None:
            items.append(("parallax thr.", COLORS["parallax"], 1.2, Qt.PenStyle.DotLine))
        return items

    def _legend_layout(self, metrics, x0: float, width: float) -> tuple[list[tuple[float, int]], int]:
        """(x, row) of every legend item, flowing onto a new row when the widget is narrow; rows used."""
        places, x, row = [], x0, 0
        for name, *_ in self._legend():
            w = 24 + metrics.horizontalAdvance(name)
            if x > x0 and x + w > x0 + width:
                x, row = x0, row + 1
            places.append((x, row))
            x += w + 8
        return places, row + 1

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.fillRect(self.rect(), COLORS["background"])
        font = QFont()
        font.setPixelSize(11)
        p.setFont(font)
        left, right, bottom, row_h = 30, 8, 16, 15
        places, rows = self._legend_layout(p.fontMetrics(), left + 4, self.width() - left - right - 4)
        top = 6 + rows * row_h
        plot = QRectF(left, top, max(10, self.width() - left - right), max(10, self.height() - top - bottom))
        p.setPen(QPen(QColor(70, 70, 74), 1))
        for v in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = plot.bottom() - v * plot.height()
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        p.setPen(QColor(170, 170, 170))
        for v in (0.0, 0.5, 1.0):
            y = plot.bottom() - v * plot.height()
            p.drawText(
                QRectF(0, y - 7, left - 4, 14),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{v:g}",
            )
        p.drawText(
            QRectF(plot.left(), plot.bottom() + 1, plot.width(), bottom),
            Qt.AlignmentFlag.AlignLeft,
            f"-{self.span_s:g} s",
        )
        p.drawText(
            QRectF(plot.left(), plot.bottom() + 1, plot.width(), bottom), Qt.AlignmentFlag.AlignRight, "now"
        )
        thresholds = [
            (value, color, width, style)
            for value, color, width, style in (
                (self.threshold, COLORS["threshold"], 1.5, Qt.PenStyle.DashLine),
                (self.parallax_threshold, COLORS["parallax"], 1.2, Qt.PenStyle.DotLine),
            )
            if value is not None
        ]
        for value, color, width, style in thresholds:
            y = plot.bottom() - min(max(value, 0.0), 1.0) * plot.height()
            p.setPen(QPen(color, width, style))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        now = self.points[-1][0] if self.points else 0.0
        p.save()
        p.setClipRect(plot.adjusted(-2, -2, 2, 2))
        for idx, name, width, style in self.SERIES:
            path = QPainterPath()
            started = False
            dots = []
            for pt in self.points:
                v = pt[idx]
                if v is None or not math.isfinite(v):
                    started = False
                    continue
                x = plot.right() - (now - pt[0]) / self.span_s * plot.width()
                y = plot.bottom() - min(max(v, 0.0), 1.0) * plot.height()
                if started:
                    path.lineTo(x, y)
                else:
                    path.moveTo(x, y)
                    started = True
                dots.append(QPointF(x, y))
            color = self._color(name)
            p.setPen(QPen(color, width, style))
            p.drawPath(path)
            if name == "parallax" and dots:  # the cue is often intermittent: a dot per window stays visible
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(color)
                for d in dots:
                    p.drawEllipse(d, 2.2, 2.2)
                p.setBrush(Qt.BrushStyle.NoBrush)
        p.restore()
        label_font = QFont(font)
        label_font.setPixelSize(10)
        for value, color, *_ in thresholds:  # the value just above its line, at the left end
            y = plot.bottom() - min(max(value, 0.0), 1.0) * plot.height()
            draw_text(p, QPointF(plot.left() + 4, y - 3), f"{value:.2f}", color, label_font)
        p.setFont(font)
        for (name, color, width, style), (x, row) in zip(self._legend(), places, strict=True):
            y = 10 + row * row_h
            p.setPen(QPen(color, width, style))
            p.drawLine(QPointF(x, y), QPointF(x + 16, y))
            p.setPen(QColor(210, 210, 210))
            p.drawText(QPointF(x + 20, y + 4), name)
        p.end()


# -------------------------------------------------------------------------------------------- cue meters
class CueMeters(QWidget):
    """One row per cue (:class:`~livenessapp.gui.adapter.CueRow`): name, a bar of the value in [0, 1] with
    its threshold as a tick, the value, and a note (the parallax cue's state, the raw score). The value (and
    a state note) is green when the cue is on the live side of its threshold, red when not."""

    ROW_H = 22

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(260)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(380, max(1, len(self.rows)) * self.ROW_H + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return self.sizeHint()

    def set_rows(self, rows) -> None:
        resized = len(rows) != len(self.rows)
        self.rows = list(rows)
        self.setAccessibleDescription(self.text())
        if resized:
            self.setFixedHeight(self.sizeHint().height())
            self.updateGeometry()
        self.update()

    def row(self, key: str):
        return next((r for r in self.rows if r.key == key), None)

    def text(self) -> str:
        """The rows as plain text, one per line (e.g. ``parallax 0.34 non-planar (3-D)``)."""
        return "\n".join(
            f"{r.label} {'–' if r.value is None else f'{r.value:.2f}'}" + (f" {r.note}" if r.note else "")
            for r in self.rows
        )

    @staticmethod
    def _color(key: str) -> QColor:
        return {
            "score": QColor(235, 235, 235),
            "p_live": COLORS["p_live"],
            "depth": COLORS["depth"],
            "parallax": COLORS["parallax"],
            "fused": QColor(230, 126, 34),
        }.get(key, COLORS["accent"])

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        font = QFont()
        font.setPixelSize(12)
        p.setFont(font)
        fm = p.fontMetrics()
        label_w = max([fm.horizontalAdvance(r.label) for r in self.rows] + [40]) + 8
        value_w = fm.horizontalAdvance("0.000") + 8
        note_w = min(max([fm.horizontalAdvance(r.note) for r in self.rows] + [0]) + 6, self.width() // 3)
        bar_w = max(40, self.width() - label_w - value_w - note_w - 12)
        for i, r in enumerate(self.rows):
            y = 2 + i * self.ROW_H
            mid = y + self.ROW_H / 2
            p.setPen(QColor(210, 210, 210))
            p.drawText(
                QRectF(0, y, label_w - 6, self.ROW_H),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                r.label,
            )
            bar = QRectF(label_w, mid - 5, bar_w, 10)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(55, 55, 60))
            p.drawRoundedRect(bar, 3, 3)
            if r.value is not None and math.isfinite(r.value):
                fill = QRectF(bar.left(), bar.top(), bar.width() * min(max(r.value, 0.0), 1.0), bar.height())
                p.setBrush(self._color(r.key))
                p.drawRoundedRect(fill, 3, 3)
            p.setBrush(Qt.BrushStyle.NoBrush)
            if r.threshold is not None and math.isfinite(r.threshold):
                tx = bar.left() + bar.width() * min(max(r.threshold, 0.0), 1.0)
                p.setPen(QPen(COLORS["threshold"], 2))
                p.drawLine(QPointF(tx, bar.top() - 3), QPointF(tx, bar.bottom() + 3))
            verdict_color = {True: COLORS["live"], False: COLORS["spoof"]}.get(
                r.passed, QColor(235, 235, 235)
            )
            p.setPen(verdict_color)
            p.drawText(
                QRectF(bar.right() + 4, y, value_w, self.ROW_H),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                "–" if r.value is None else f"{r.value:.3f}",
            )
            if r.note:
                # a state (the parallax cue's) reads in the verdict colour; a remark ("raw 0.52") in grey
                p.setPen(
                    verdict_color
                    if r.key in ("parallax", "fused") and r.passed is not None
                    else QColor(170, 170, 170)
                )
                note_rect = QRectF(
                    bar.right() + 4 + value_w, y, self.width() - bar.right() - 4 - value_w, self.ROW_H
                )
                p.drawText(
                    note_rect,
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    fm.elidedText(r.note, Qt.TextElideMode.ElideRight, int(note_rect.width())),
                )
        p.end()


# ------------------------------------------------------------------------------------- depth inspector
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
