"""The desktop window: live video with overlays, the depth inspector, the score panel, controls, recording.

Threads: the engine captures, tracks and scores in its own threads and calls the
:class:`~livenessapp.gui.bridge.EngineBridge`; the window's slots run in the GUI thread and only turn the
finished results into pictures (overlay on a QImage, depth panel, plot). The recorder is fed from the
bridge's frame tap in the engine's thread and encodes on a thread of its own, so recording neither drops
frames when the GUI is slow nor slows the GUI down.

The window's parts live in rooms of their own: :mod:`~livenessapp.gui.main_panels` builds the video, the
docks, the controls and the status bar; :mod:`~livenessapp.gui.main_actions` the shortcuts and menus;
:mod:`~livenessapp.gui.main_settings` restores and saves the controls and the layout;
:mod:`~livenessapp.gui.main_recording` records clips and snapshots (a mixin of :class:`MainWindow`);
:mod:`~livenessapp.gui.dialogs` holds the model card viewer. This module keeps what the controls do and
how the engine's results are shown.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from livenessapp import paths
from livenessapp.gui.adapter import (
    FrameInfo,
    WindowInfo,
    cue_rows,
    depth_title,
    frame_info,
    fusion_rule_label,
    overlay_detail,
    window_info,
)
from livenessapp.gui.bridge import EngineBridge
from livenessapp.gui.controller import EngineController
from livenessapp.gui.dialogs import ModelCardDialog
from livenessapp.gui.main_actions import build_actions
from livenessapp.gui.main_panels import build_panels
from livenessapp.gui.main_recording import RecordingMixin
from livenessapp.gui.main_settings import load_settings, save_settings
from livenessapp.gui.qtimage import bgr_to_qimage
from livenessapp.gui.run_options import RunInfo, RunOptions, source_label
from livenessapp.gui.settings import AppSettings
from livenessapp.gui.theme import verdict_color
from livenessapp.gui.video_view import FrameOverlay, paint_overlay
from livenessapp.parallax import FUSION_RULES
from livenessapp.recording import ClipRecorder, RecordedClip
from livenessapp.smoothing import ScoreSmoother, alpha_from_newest_weight
from livenessapp.verdict import Verdict, VerdictHysteresis

__all__ = ["MainWindow", "list_cameras"]

FACE_LOST_RESET_S = 1.0


def list_cameras(max_index: int = 4) -> list[int]:
    """Camera indices to offer without opening devices (opening is slow): the ``/dev/video*`` nodes on
    Linux (at most ``max_index``), else just camera 0 (a camera that fails to open gives a message)."""
    if sys.platform.startswith("linux"):
        nodes = Path("/dev").glob("video*")
        return sorted(int(p.name[5:]) for p in nodes if p.name[5:].isdigit())[:max_index]
    return [0]


class MainWindow(RecordingMixin, QMainWindow):
    """The desktop app's main window (see the module docstring).

    ``controller``: an :class:`EngineController`-like object (tests pass a fake); default: the real engine.
    """

    def __init__(self, settings: AppSettings | None = None, args=None, controller=None):
        super().__init__()
        self.settings = settings or AppSettings()
        self.args = args
        self.bridge = EngineBridge(self)
        self.controller = controller if controller is not None else EngineController(self.bridge)
        if getattr(self.controller, "bridge", None) is None:
            self.controller.bridge = self.bridge
        self.run_info = RunInfo()
        self.running = False
        self.recorder: ClipRecorder | None = None
        self.last_clip: RecordedClip | None = None
        self.last_frame: FrameInfo | None = None
        self.last_window: WindowInfo | None = None
        self.windows_received = 0
        self.last_stats = None
        self.last_error = ""
        self.current_score: float | None = None
        self.hysteresis = VerdictHysteresis(0.5, float(self.settings.get("hysteresis_margin")), 2)
        self.smoother = ScoreSmoother(alpha_from_newest_weight(self.settings.get("smoothing")))
        self._last_face_t: float | None = None
        self._frame_times: deque[float] = deque(maxlen=60)
        self.setWindowTitle("livenessapp")
        build_panels(self)  # the widgets: self.video, self.depth, self.plot, self.source_combo, ...
        build_actions(self)  # shortcuts and menus
        load_settings(self)
        self.bridge.frame_tap = self._record_tap
        self.bridge.connect_to(
            self._on_frame, self._on_window, self._on_error, self._on_source_end, self._on_stats
        )
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start(500)
        self._threshold_programmatic = False

    # ------------------------------------------------------------------------------------------- UI
    # the panels, docks and controls are built by main_panels.build_panels, the menus by main_actions
    def _clear_cues(self) -> None:
        """Empty meters (before the first window of a run), the thresholds already marked."""
        placeholder = WindowInfo(
            threshold=self.plot.threshold, parallax_threshold=self.plot.parallax_threshold
        )
        self.cues.set_rows(cue_rows(placeholder))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """The default size where the screen has room; ``run_gui`` shrinks it to fit a smaller screen
        (1280x800 included: the docks scale, the controls scroll)."""
        return QSize(1360, 860)

    # ------------------------------------------------------------------------------ settings & sources
    def _fill_sources(self) -> None:
        self.source_combo.clear()
        for idx in list_cameras():
            self.source_combo.addItem(f"Camera {idx}", str(idx))
        if paths.DEMO_CLIP.exists():
            self.source_combo.addItem("Demo clip", "demo")

    def _fill_models(self) -> None:
        self.model_combo.clear()
        for p in paths.list_models():
            self.model_combo.addItem(p.stem, str(p))

    def set_source(self, source: str) -> None:
        """Select ``source`` ("0", "demo" or a path) in the source list, adding it when new."""
        source = str(source)
        i = self.source_combo.findData(source)
        if i < 0:
            label = (
                "Demo clip"
                if source == "demo"
                else Path(source).name
                if not source.isdigit()
                else f"Camera {source}"
            )
            self.source_combo.addItem(label, source)
            i = self.source_combo.count() - 1
        self.source_combo.setCurrentIndex(i)
        self.settings.set("source", source)

    def set_model(self, model: str) -> None:
        if not model:
            return
        i = self.model_combo.findData(str(model))
        if i < 0:
            self.model_combo.addItem(Path(model).stem, str(model))
            i = self.model_combo.count() - 1
        self.model_combo.setCurrentIndex(i)

    @property
    def current_source(self) -> str:
        return str(self.source_combo.currentData() or "demo")

    @property
    def model_name(self) -> str:
        return Path(self.model_combo.currentData() or paths.default_model_path()).stem

    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 1000.0

    @property
    def fusion_rule(self) -> str:
        return str(self.fusion_combo.currentData() or "either_spoof")

    def set_fusion_rule(self, rule: str) -> None:
        """Select ``rule`` (one of :data:`~livenessapp.parallax.FUSION_RULES`) in the selector; as if the
        user picked it (saved, applied to a running engine)."""
        i = self.fusion_combo.findData(rule)
        if i < 0:
            raise ValueError(f"unknown fusion rule {rule!r}; expected one of {FUSION_RULES}")
        self.fusion_combo.setCurrentIndex(i)

    def _set_threshold_value(self, value: float) -> None:
        """Set the slider from code (not remembered as the user's choice for this model)."""
        self._threshold_programmatic = True
        try:
            self.threshold_slider.setValue(round(min(max(value, 0.0), 1.0) * 1000))
        finally:
            self._threshold_programmatic = False

    def run_options(self) -> RunOptions:
        return RunOptions(
            source=self.current_source,
            model=self.model_combo.currentData() or "",
            provider=self.provider_combo.currentText(),
            threshold=self.threshold,
            interval=self.interval_spin.value(),
            smoothing=self.smoothing_spin.value(),
            fusion_rule=self.fusion_rule,
            allow_unverified=bool(getattr(self.args, "allow_unverified", False)),
        )

    # ------------------------------------------------------------------------------------ run control
    @Slot()
    def toggle_running(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        """Open the model and the source and start; a message box (not a crash) when either fails."""
        if self.running:
            return True
        opts = self.run_options()
        self.video.set_message(f"Opening {source_label(opts.source)} …")
        try:
            info = self.controller.open(opts)
            self.run_info = info
            remembered = self.settings.threshold_for(self.model_name)  # the user's slider, per model
            explicit = getattr(self.args, "threshold", None) if self.args is not None else None
            if explicit is None:
                self._set_threshold_value(info.model_threshold if remembered is None else remembered)
            if hasattr(self.controller, "set_threshold"):
                self.controller.set_threshold(self.threshold)
            self.controller.start()
        except Exception as e:  # the app stays up and says what went wrong
            self.running = False
            self.start_button.setChecked(False)
            self.video.set_message("Not running: see the message")
            self._error_box("Cannot start", e)
            return False
        self.running = True
        self.start_button.setChecked(True)
        self.start_button.setText("Stop (Space)")
        self.provider_label.setText(f"in use: {info.provider or '–'}")
        self._reset_decision()
        self.plot.clear()
        self._clear_cues()
        self.reason_label.setText(f"rule: {fusion_rule_label(self.fusion_rule)}")
        note = "; ".join(info.extra.get("warnings", []))  # e.g. CUDA asked for but not available
        self.statusBar().showMessage(
            f"Running {source_label(opts.source)} with {self.model_name}" + (f" ({note})" if note else ""),
            8000,
        )
        return True

    def stop(self) -> None:
        if self.recorder is not None:
            self.toggle_recording()
        try:
            self.controller.stop()
        except Exception as e:
            self._error_box("Cannot stop cleanly", e)
        self.running = False
        self.start_button.setChecked(False)
        self.start_button.setText("Start (Space)")

    def _restart_if_running(self) -> None:
        self.settings.set("model", self.model_combo.currentData() or "")
        self.settings.set("provider", self.provider_combo.currentText())
        if self.running:
            self.stop()
            self.start()

    def _reset_decision(self) -> None:
        self.hysteresis.reset()
        self.smoother.reset()
        self.current_score = None

    @Slot()
    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a video",
            str(Path.home()),
            "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)",
        )
        if path:
            self.switch_source(path)

    @Slot()
    def open_demo(self) -> None:
        if not paths.DEMO_CLIP.exists():
            QMessageBox.warning(self, "No demo clip", f"The demo clip {paths.DEMO_CLIP} is missing.")
            return
        self.switch_source("demo")

    def switch_source(self, source: str) -> None:
        was_running = self.running
        if was_running:
            self.stop()
        self.set_source(source)
        self.start()

    @Slot()
    def show_model_card(self) -> None:
        ModelCardDialog(Path(self.model_combo.currentData() or paths.default_model_path()), self).exec()

    @Slot()
    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _threshold_changed(self, value: int) -> None:
        t = value / 1000.0
        self.threshold_label.setText(f"{t:.3f}")
        self.hysteresis.threshold = t
        self.plot.set_threshold(t)
        if self.last_window is None:
            self._clear_cues()
        if not getattr(self, "_threshold_programmatic", True):
            self.settings.set_threshold_for(self.model_name, t)  # the user's choice, per model
        if hasattr(self.controller, "set_threshold") and self.running:
            self.controller.set_threshold(t)

    def _fusion_rule_changed(self, _index: int) -> None:
        rule = self.fusion_rule
        self.settings.set("fusion_rule", rule)
        if not self.running:
            return  # the next start() builds the engine with it (RunOptions.fusion_rule)
        if hasattr(self.controller, "set_fusion_rule"):
            try:
                self.controller.set_fusion_rule(rule)
            except Exception as e:  # e.g. an engine without the rule: say so, keep running
                self._error_box("Cannot change the fusion rule", e)
                return
        self.statusBar().showMessage(f"Fusion rule: {fusion_rule_label(rule)} (from the next window)", 5000)

    def _smoothing_changed(self, value: float) -> None:
        self.smoother.alpha = alpha_from_newest_weight(value)
        self.settings.set("smoothing", float(value))
        if self.running and hasattr(self.controller, "set_smoothing"):
            self.controller.set_smoothing(float(value))

    @Slot()
    def reset_threshold(self) -> None:
        self.settings.set_threshold_for(self.model_name, None)
        self._set_threshold_value(self.run_info.model_threshold)

    def _set_colormap(self, name: str) -> None:
        self.depth.colormap = name
        if self.last_window is not None:
            self._show_depth(self.last_window)

    # -------------------------------------------------------------------------------- engine results
    @Slot(object)
    def _on_frame(self, event) -> None:
        info = event if isinstance(event, FrameInfo) else frame_info(event)
        if info.frame is None:
            return
        now = time.monotonic()
        self._frame_times.append(now)
        self.last_frame = info
        if info.box is not None:
            self._last_face_t = now
        elif self._last_face_t is not None and now - self._last_face_t > FACE_LOST_RESET_S:
            self._reset_decision()
            self._last_face_t = None
        image = bgr_to_qimage(info.frame)
        rec = ""
        if self.recorder is not None:
            rec = f"REC {self.recorder.label} {self.recorder.elapsed:.1f} s"
        nf = info.num_frames or self.run_info.num_frames
        paint_overlay(
            image,
            FrameOverlay(
                box=info.box,
                landmarks=info.landmarks,
                verdict=self.hysteresis.verdict,
                score=self.current_score,
                threshold=self.threshold,
                hint=info.hint,
                fill=info.fill if info.num_frames else nf,
                num_frames=nf,
                recording=rec,
                show_landmarks=bool(self.settings.get("show_landmarks")),
                detail=overlay_detail(self.last_window),
            ),
        )
        self.video.set_image(image)

    @Slot(object)
    def _on_window(self, event) -> None:
        w = event if isinstance(event, WindowInfo) else window_info(event)
        self.windows_received += 1
        self.last_window = w
        # the engine smooths (EngineConfig.smoothing); a stand-in without it is smoothed here
        smoothed = w.smoothed if w.smoothed is not None else self.smoother.update(w.score)
        self.current_score = smoothed
        verdict = self.hysteresis.update(smoothed, w.live)
        parallax = w.parallax_score if w.parallax_state == "ok" else None
        if w.parallax_threshold is not None:
            self.plot.set_parallax_threshold(w.parallax_threshold)
        self.plot.add(time.monotonic(), smoothed, w.p_live, w.depth_score, parallax)
        self._show_verdict(verdict, smoothed, w)
        self._show_depth(w)

    def _show_verdict(self, verdict: Verdict, smoothed: float | None, w: WindowInfo) -> None:
        c = verdict_color(verdict)
        text = {Verdict.LIVE: "LIVE", Verdict.SPOOF: "SPOOF", Verdict.UNKNOWN: "—"}[verdict]
        self.verdict_label.setText(text)
        self.verdict_label.setStyleSheet(f"color: {c.name()};")

        self.cues.set_rows(cue_rows(w, smoothed, self.threshold if w.threshold is None else w.threshold))
        rule = w.fusion_rule or self.fusion_rule
        text = f"rule: {fusion_rule_label(rule)}"
        if w.reason:
            text += f" · {w.reason}"
        self.reason_label.setText(text)

    def _show_depth(self, w: WindowInfo) -> None:
        if w.depth_single is None and w.depth_fusion is None:
            return
        self.depth.set_window(w.crops, w.depth_single, w.depth_fusion, w.masks, title=depth_title(w))

    @Slot(object)
    def _on_error(self, error) -> None:
        """Fatal engine errors (source lost, ...) stop the run with a message box; others go to the status
        bar (a NaN window, a failing listener: the engine carries on)."""
        message = str(error)
        kind = getattr(error, "kind", "")
        if kind == "reconnecting":  # a lost camera: the state stays in the status bar until it is back
            self.statusBar().showMessage(message)
        elif getattr(error, "fatal", isinstance(error, str)):
            self.stop()
            self._error_box("The engine stopped", message)
        else:
            self.statusBar().showMessage(message, 8000)

    @Slot(str)
    def _on_source_end(self, reason: str = "eof") -> None:
        if reason == "eof" and self.running:
            self.stop()
            self.statusBar().showMessage("End of the video", 5000)

    @Slot(object)
    def _on_stats(self, stats) -> None:
        self.last_stats = stats

    def _error_box(self, title: str, error) -> None:
        text = str(error) or type(error).__name__
        self.statusBar().showMessage(f"{title}: {text}", 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorBox")
        box.setModal(False)  # never block the event loop: the app stays up and responsive
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.show()
        self.last_error = text

    def _update_status(self) -> None:
        if getattr(self, "_recording_failure", None) is not None:
            self._recording_failure = None
            if self.recorder is not None:
                self.stop_recording()  # finish() raises the recorder's error: shown in a message box
        f = self.last_frame
        ts = list(self._frame_times)
        fps = (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 and ts[-1] > ts[0] else None
        if f is not None and f.fps is not None:
            fps = f.fps
        self.status_fps.setText(f"FPS {fps:.1f}" if fps else "FPS –")
        st = self.last_stats
        tm = f.tracking_ms if f is not None else None
        if st is not None and getattr(st, "tracking_ms", 0):
            tm = st.tracking_ms
        self.status_track.setText(f"tracking {tm:.1f} ms" if tm is not None else "tracking –")
        im = self.last_window.inference_ms if self.last_window is not None else None
        self.status_infer.setText(f"inference {im:.1f} ms" if im is not None else "inference –")
        dropped = f.dropped if f is not None else 0
        if st is not None:
            dropped = max(dropped, int(getattr(st, "dropped", 0)))
        self.status_drop.setText(f"dropped {dropped}")
        self.status_provider.setText(self.run_info.provider or "provider –")

    # ----------------------------------------------------------------------------------------- close
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.recorder is not None:
            self.stop_recording()
        with contextlib.suppress(Exception):
            self.controller.close()
        self.running = False
        save_settings(self)
        super().closeEvent(event)
