"""Kiosk mode (``livenessapp --kiosk``): full screen, one instruction, a progress ring, PASS / FAIL.

The decisions are made by the Qt-free :class:`~livenessapp.kiosk.KioskMachine`; this window feeds it the
engine's events (through the bridge), ticks it from a timer, paints its :class:`~livenessapp.kiosk.KioskView`
and writes one audit line per decision (:class:`~livenessapp.kiosk.AuditLog`, fsync'd per line, no images
unless ``kiosk/save_images`` is set). On every reset (next person) the engine's buffer restarts. The engine
fuses the network with the motion-parallax cue by the desktop app's saved rule (setting ``fusion_rule``).
Exit: Ctrl+Shift+Q (Esc does nothing on purpose: a kiosk user must not close it).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QImage,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPen,
    QShortcut,
)
from PySide6.QtWidgets import QWidget

from livenessapp.gui.adapter import FrameInfo, WindowInfo, frame_info, window_info
from livenessapp.gui.bridge import EngineBridge
from livenessapp.gui.controller import EngineController
from livenessapp.gui.qtimage import bgr_to_qimage
from livenessapp.gui.run_options import RunInfo, RunOptions
from livenessapp.gui.settings import AppSettings
from livenessapp.gui.theme import COLORS, draw_text
from livenessapp.kiosk import (
    AuditLog,
    AuditLogError,
    KioskConfig,
    KioskMachine,
    KioskOutcome,
    KioskState,
    file_sha256,
)

__all__ = ["KioskWindow"]


class KioskWindow(QWidget):
    """The kiosk screen (see the module docstring). ``controller``: as for the main window."""

    def __init__(
        self, settings: AppSettings | None = None, args=None, controller=None, audit_path: str | None = None
    ):
        super().__init__()
        self.settings = settings or AppSettings()
        self.args = args
        self.bridge = EngineBridge(self)
        self.controller = controller if controller is not None else EngineController(self.bridge)
        if getattr(self.controller, "bridge", None) is None:
            self.controller.bridge = self.bridge
        s = self.settings
        self.machine = KioskMachine(
            KioskConfig(
                threshold=0.5,
                decision_windows=int(s.get("kiosk/decision_windows")),
                decision_timeout_s=float(s.get("kiosk/decision_timeout_s")),
                result_s=float(s.get("kiosk/result_s")),
            )
        )
        self.audit_path = Path(audit_path or s.get("kiosk/audit_log")).expanduser()
        self.audit: AuditLog | None = None
        self.audit_records: list[dict] = []
        self.run_info = RunInfo()
        self.image: QImage | None = None
        self.last_frame: FrameInfo | None = None
        self.error: str = ""
        self.audit_error: str = ""  # the last audit line could not be written (shown until one is)
        self.running = False
        self._closing = False
        self.setWindowTitle("livenessapp kiosk")
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.setMinimumSize(640, 480)
        quit_sc = QShortcut(QKeySequence("Ctrl+Shift+Q"), self)
        quit_sc.setContext(Qt.ShortcutContext.ApplicationShortcut)
        quit_sc.activated.connect(self.close)
        self.bridge.connect_to(self._on_frame, self._on_window, self._on_error, self._on_source_end)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(100)

    # ---------------------------------------------------------------------------------------- running
    def start(self) -> bool:
        a = self.args
        opts = RunOptions(
            source=(getattr(a, "source", None) if a is not None else None)
            or self.settings.get("source")
            or "demo",
            model=(getattr(a, "model", None) if a is not None else None) or self.settings.get("model") or "",
            provider=(getattr(a, "provider", None) if a is not None else None) or "auto",
            threshold=getattr(a, "threshold", None) if a is not None else None,
            interval=int(self.settings.get("interval")),
            smoothing=float(self.settings.get("smoothing")),
            fusion_rule=self.settings.fusion_rule,
            allow_unverified=bool(getattr(a, "allow_unverified", False)) if a is not None else False,
        )
        try:
            self.run_info = self.controller.open(opts)
            threshold = opts.threshold if opts.threshold is not None else self.run_info.model_threshold
            self.machine.config.threshold = float(threshold)
            if hasattr(self.controller, "set_threshold"):
                self.controller.set_threshold(float(threshold))
            model_path = self.run_info.model_path or opts.model_path
            sha = self.run_info.extra.get("sha256") or (
                file_sha256(model_path) if model_path and Path(model_path).is_file() else ""
            )
            self.audit = AuditLog(
                self.audit_path,
                model_sha256=sha,
                model_name=Path(model_path).name if model_path else "",
                save_images=bool(self.settings.get("kiosk/save_images")),
                extra={
                    "model_version": self.run_info.model_version,
                    "model_card": self.run_info.extra.get("model_card", "unchecked"),
                },
            )
            self.controller.start()
            self.machine.reset(time.monotonic())
        except Exception as e:
            self.error = f"Cannot start: {e}"
            if not self._closing:
                QTimer.singleShot(5000, self._retry)
            self.running = False
            self.update()
            return False
        self.error = ""
        self.running = True
        self.update()
        return True

    def _handle(self, events) -> None:
        for ev in events:
            if ev.kind == "decision" and self.audit is not None:
                image = self.last_frame.frame if self.last_frame is not None else None
                try:
                    rec = self.audit.append(ev, threshold=self.machine.config.threshold, image_bgr=image)
                except AuditLogError as e:  # a full disk: the operator must see it, the kiosk goes on
                    self.audit_error = f"Audit log not written: {e}"
                else:
                    self.audit_error = ""
                    self.audit_records.append(rec)
            elif ev.kind == "reset":
                with contextlib.suppress(Exception):
                    self.controller.reset()
        if events:
            self.update()

    @Slot(object)
    def _on_frame(self, event) -> None:
        f = event if isinstance(event, FrameInfo) else frame_info(event)
        if f.frame is None:
            return
        self.last_frame = f
        self.image = bgr_to_qimage(f.frame)
        fill = f.fill / f.num_frames if f.num_frames else 0.0
        self._handle(self.machine.on_frame(time.monotonic(), f.box is not None, fill))
        self.update()

    @Slot(object)
    def _on_window(self, event) -> None:
        w = event if isinstance(event, WindowInfo) else window_info(event)
        score = w.score if w.score is not None else w.smoothed
        if score is not None:
            self._handle(self.machine.on_window(time.monotonic(), score, w.live))
        self.update()

    @Slot(object)
    def _on_error(self, error) -> None:
        kind = getattr(error, "kind", "")
        if kind == "reconnecting":
            self.error = "Camera lost - reconnecting"
            self.update()
        elif kind == "reconnected":
            self.error = ""
            self.update()
        elif getattr(error, "fatal", isinstance(error, str)):
            self.error = str(error)
            self.update()

    @Slot(str)
    def _on_source_end(self, reason: str = "eof") -> None:
        """The run ended by itself (camera lost, a file without looping): a kiosk never stops on its own,
        so it tries again every few seconds, showing the error meanwhile."""
        if reason == "stopped" or self._closing:
            return
        self.running = False
        QTimer.singleShot(3000, self._retry)

    def _retry(self) -> None:
        if not self._closing and not self.running:
            self.start()

    def _tick(self) -> None:
        self._handle(self.machine.tick(time.monotonic()))
        self.update()

    # ---------------------------------------------------------------------------------------- painting
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(12, 12, 14))
        view = self.machine.view()
        unit = min(w, h) / 100.0
        # camera preview, centred in a square-ish area, dimmed behind the ring
        ring_r = 30 * unit
        centre = QPointF(w / 2, h * 0.47)
        if self.image is not None and not self.image.isNull():
            iw, ih = self.image.width(), self.image.height()
            s = (2 * ring_r - 4 * unit) / min(iw, ih)
            target = QRectF(centre.x() - iw * s / 2, centre.y() - ih * s / 2, iw * s, ih * s)
            p.save()
            clip = QRectF(
                centre.x() - ring_r + 2 * unit,
                centre.y() - ring_r + 2 * unit,
                2 * ring_r - 4 * unit,
                2 * ring_r - 4 * unit,
            )
            path = QPainterPath()
            path.addEllipse(clip)
            p.setClipPath(path)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(target, self.image)
            if view.state is KioskState.RESULT:
                p.fillRect(target, QColor(0, 0, 0, 150))
            p.restore()
        # ring
        ring_rect = QRectF(centre.x() - ring_r, centre.y() - ring_r, 2 * ring_r, 2 * ring_r)
        p.setPen(QPen(QColor(60, 60, 64), 2.2 * unit))
        p.drawEllipse(ring_rect)
        if view.state is KioskState.RESULT:
            color = {KioskOutcome.PASS: COLORS["live"], KioskOutcome.FAIL: COLORS["spoof"]}.get(
                view.outcome, COLORS["unknown"]
            )
            p.setPen(QPen(color, 2.2 * unit))
            p.drawEllipse(ring_rect)
        elif view.state is KioskState.COLLECTING and view.progress > 0:
            p.setPen(QPen(COLORS["accent"], 2.2 * unit, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            p.drawArc(ring_rect, 90 * 16, -round(view.progress * 360 * 16))
        # texts
        font = QFont()
        font.setBold(True)
        if view.state is KioskState.RESULT and view.outcome in (KioskOutcome.PASS, KioskOutcome.FAIL):
            color = COLORS["live"] if view.outcome is KioskOutcome.PASS else COLORS["spoof"]
            font.setPixelSize(max(12, int(16 * unit)))
            p.setFont(font)
            text = view.outcome.value
            tw = p.fontMetrics().horizontalAdvance(text)
            draw_text(p, QPointF(centre.x() - tw / 2, centre.y() + 5 * unit), text, color)
            if view.confidence is not None:
                font.setPixelSize(max(10, int(4.5 * unit)))
                p.setFont(font)
                sub = f"confidence {view.confidence * 100:.0f} %"
                tw = p.fontMetrics().horizontalAdvance(sub)
                draw_text(p, QPointF(centre.x() - tw / 2, centre.y() + 14 * unit), sub, QColor(235, 235, 235))
        elif view.state is KioskState.COLLECTING:
            font.setPixelSize(max(10, int(5 * unit)))
            p.setFont(font)
            pct = f"{view.progress * 100:.0f} %"
            tw = p.fontMetrics().horizontalAdvance(pct)
            draw_text(p, QPointF(centre.x() - tw / 2, centre.y() + ring_r + 8 * unit), pct, COLORS["accent"])
        font.setPixelSize(max(12, int(5.5 * unit)))
        p.setFont(font)
        problem = self.error or self.audit_error
        instr = problem or view.instruction
        fm = p.fontMetrics()
        while fm.horizontalAdvance(instr) > w * 0.92 and font.pixelSize() > 10:
            font.setPixelSize(font.pixelSize() - 2)
            p.setFont(font)
            fm = p.fontMetrics()
        tw = fm.horizontalAdvance(instr)
        color = COLORS["spoof"] if problem else QColor(240, 240, 240)
        draw_text(p, QPointF((w - tw) / 2, h * 0.09 + fm.ascent()), instr, color)
        small = QFont()
        small.setPixelSize(max(9, int(1.8 * unit)))
        p.setFont(small)
        p.setPen(QColor(110, 110, 110))
        p.drawText(
            QRectF(0, h - 4 * unit, w - 2 * unit, 3 * unit),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            "livenessapp kiosk · Ctrl+Shift+Q to exit",
        )
        p.end()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self._closing = True
        self.timer.stop()
        with contextlib.suppress(Exception):
            self.controller.close()
        super().closeEvent(event)
