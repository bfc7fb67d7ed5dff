"""The live video: the overlay painted on each frame (box, verdict, hints, recording) and its view.

:func:`paint_overlay` draws a :class:`FrameOverlay` onto the frame's QImage in its pixel coordinates;
:class:`VideoView` shows the latest annotated frame scaled to fit. Both only paint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from livenessapp.gui.theme import COLORS, draw_text, verdict_color
from livenessapp.verdict import Verdict

__all__ = ["HINT_TEXT", "FrameOverlay", "VideoView", "hint_text", "paint_overlay"]

HINT_TEXT = {
    "no_face": "no face",
    "face_covered": "face covered - remove mask",
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
