"""The score panel's painting widgets: the live score plot and the cue meters.

:class:`ScorePlot` plots the last seconds of the score, p_live, the depth and parallax cues with their
thresholds; :class:`CueMeters` shows one bar per cue (:class:`~livenessapp.gui.adapter.CueRow`).
"""

from __future__ import annotations

import math
import time
from collections import deque

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from livenessapp.gui.theme import COLORS, draw_text

__all__ = ["CueMeters", "ScorePlot"]


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
