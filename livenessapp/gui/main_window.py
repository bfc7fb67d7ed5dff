"""The desktop window: live video with overlays, the depth inspector, the score panel, controls, recording.

Threads: the engine captures, tracks and scores in its own threads and calls the
:class:`~livenessapp.gui.bridge.EngineBridge`; the window's slots run in the GUI thread and only turn the
finished results into pictures (overlay on a QImage, depth panel, plot). The recorder is fed from the
bridge's frame tap in the engine's thread and encodes on a thread of its own, so recording neither drops
frames when the GUI is slow nor slows the GUI down.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from datetime import datetime
from pathlib import Path

import cv2
from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QFont, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from livenessapp import paths
from livenessapp.gui.adapter import (
    FUSION_RULE_TEXT,
    FrameInfo,
    WindowInfo,
    cue_rows,
    frame_info,
    fusion_rule_label,
    parallax_state_text,
    window_info,
)
from livenessapp.gui.bridge import EngineBridge
from livenessapp.gui.controller import EngineController
from livenessapp.gui.qtimage import bgr_to_qimage
from livenessapp.gui.run_options import RunInfo, RunOptions, source_label
from livenessapp.gui.settings import AppSettings
from livenessapp.gui.theme import verdict_color
from livenessapp.gui.widgets import (
    CueMeters,
    DepthInspector,
    FrameOverlay,
    ScorePlot,
    VideoView,
    paint_overlay,
)
from livenessapp.parallax import FUSION_RULES, PARALLAX_THRESHOLD
from livenessapp.recording import LABELS, ClipRecorder, RecordedClip
from livenessapp.verdict import ScoreSmoother, Verdict, VerdictHysteresis

__all__ = ["MainWindow", "list_cameras"]

FACE_LOST_RESET_S = 1.0


def list_cameras(max_index: int = 4) -> list[int]:
    """Camera indices to offer without opening devices (opening is slow): the ``/dev/video*`` nodes on
    Linux (at most ``max_index``), else just camera 0 (a camera that fails to open gives a message)."""
    if sys.platform.startswith("linux"):
        nodes = Path("/dev").glob("video*")
        return sorted(int(p.name[5:]) for p in nodes if p.name[5:].isdigit())[:max_index]
    return [0]


class ModelCardDialog(QDialog):
    def __init__(self, model_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Model card: {model_path.stem}")
        self.resize(720, 640)
        card = model_path.with_suffix(".md")
        view = QTextBrowser(self)
        view.setOpenExternalLinks(True)
        if card.is_file():
            view.setMarkdown(card.read_text(encoding="utf-8"))
        else:
            view.setPlainText(f"No model card next to the model ({card.name} not found).")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(view)
        layout.addWidget(buttons)
        self.text = view


class MainWindow(QMainWindow):
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
        self.smoother = ScoreSmoother(float(self.settings.get("smoothing")))
        self._last_face_t: float | None = None
        self._frame_times: deque[float] = deque(maxlen=60)
        self._t0 = time.monotonic()
        self.setWindowTitle("livenessapp")
        self._build_ui()
        self._build_actions()
        self._load_settings()
        self.bridge.frame_tap = self._record_tap
        self.bridge.connect_to(
            self._on_frame, self._on_window, self._on_error, self._on_source_end, self._on_stats
        )
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start(500)
        self._threshold_programmatic = False

    # ------------------------------------------------------------------------------------------- UI
    def _build_ui(self) -> None:
        self.video = VideoView(self)
        self.setCentralWidget(self.video)

        self.depth = DepthInspector(self)
        self.save_panel_button = QPushButton("Save panel + frame (S)")
        self.save_panel_button.clicked.connect(lambda _checked=False: self.save_depth_panel())
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(["viridis", "magma"])
        self.colormap_combo.currentTextChanged.connect(self._set_colormap)
        depth_box = QWidget()
        dl = QVBoxLayout(depth_box)
        dl.setContentsMargins(4, 4, 4, 4)
        dl.addWidget(self.depth, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("colormap"))
        row.addWidget(self.colormap_combo)
        row.addStretch(1)
        row.addWidget(self.save_panel_button)
        dl.addLayout(row)
        self.depth_dock = self._dock("Depth inspector", depth_box, Qt.DockWidgetArea.RightDockWidgetArea)

        self.plot = ScorePlot(10.0, self)
        self.plot.set_parallax_threshold(PARALLAX_THRESHOLD)
        self.verdict_label = QLabel("—")
        big = QFont()
        big.setPixelSize(26)
        big.setBold(True)
        self.verdict_label.setFont(big)
        self.verdict_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cues = CueMeters(self)
        self.cues.setToolTip(
            "Bars: each cue in [0, 1]; the yellow tick is its threshold (live at or above it).\n"
            "parallax: how much of the head's motion between the window's frames is 3-D (face-shaped)\n"
            "parallax; a print or a flat screen moves as a plane. It needs some head turning to give a\n"
            "verdict, and a replayed video of a moving head carries real parallax (the network's job)."
        )
        self._clear_cues()
        self.reason_label = QLabel("")
        self.reason_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason_label.setWordWrap(True)
        score_box = QWidget()
        sl = QVBoxLayout(score_box)
        sl.setContentsMargins(4, 4, 4, 4)
        sl.addWidget(self.verdict_label)
        sl.addWidget(self.cues)
        sl.addWidget(self.reason_label)
        sl.addWidget(self.plot, 1)
        self.score_dock = self._dock("Score", score_box, Qt.DockWidgetArea.RightDockWidgetArea)

        controls = QScrollArea()  # scrolls where the screen is shorter than the controls
        controls.setWidget(self._build_controls())
        controls.setWidgetResizable(True)
        controls.setFrameShape(QFrame.Shape.NoFrame)
        controls.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        controls.setMinimumWidth(
            controls.widget().minimumSizeHint().width() + controls.verticalScrollBar().sizeHint().width()
        )
        self.controls_dock = self._dock("Controls", controls, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.status_fps = QLabel()
        self.status_track = QLabel()
        self.status_infer = QLabel()
        self.status_drop = QLabel()
        self.status_provider = QLabel()
        widest = {  # a long status message must not squeeze the figures (it is cut instead)
            self.status_provider: "tensorrt",
            self.status_fps: "FPS 999.9",
            self.status_track: "tracking 999.9 ms",
            self.status_infer: "inference 9999.9 ms",
            self.status_drop: "dropped 99999",
        }
        for w, sample in widest.items():
            w.setMinimumWidth(w.fontMetrics().horizontalAdvance(sample) + 6)
            self.statusBar().addPermanentWidget(w)
        self._update_status()

    def _clear_cues(self) -> None:
        """Empty meters (before the first window of a run), the thresholds already marked."""
        placeholder = WindowInfo(
            threshold=self.plot.threshold, parallax_threshold=self.plot.parallax_threshold
        )
        self.cues.set_rows(cue_rows(placeholder))

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_controls(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(4, 4, 4, 4)

        src = QGroupBox("Source")
        f = QFormLayout(src)
        self.source_combo = QComboBox()
        self.source_combo.setMinimumWidth(180)
        self._fill_sources()
        f.addRow(self.source_combo)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open file… (O)")
        self.open_button.clicked.connect(self.open_file)
        self.demo_button = QPushButton("Demo (D)")
        self.demo_button.clicked.connect(self.open_demo)
        row.addWidget(self.open_button)
        row.addWidget(self.demo_button)
        f.addRow(row)
        self.start_button = QPushButton("Start (Space)")
        self.start_button.setCheckable(True)
        self.start_button.clicked.connect(self.toggle_running)
        f.addRow(self.start_button)
        layout.addWidget(src)

        mdl = QGroupBox("Model")
        f = QFormLayout(mdl)
        self.model_combo = QComboBox()
        self._fill_models()
        self.model_combo.activated.connect(lambda _i: self._restart_if_running())
        f.addRow(self.model_combo)
        self.card_button = QPushButton("Model card…")
        self.card_button.clicked.connect(self.show_model_card)
        f.addRow(self.card_button)
        self.provider_combo = QComboBox()
        self.provider_combo.addItems(["auto", "cpu", "cuda", "tensorrt"])
        self.provider_combo.activated.connect(lambda _i: self._restart_if_running())
        f.addRow("provider", self.provider_combo)
        self.provider_label = QLabel("in use: –")
        f.addRow(self.provider_label)
        layout.addWidget(mdl)

        dec = QGroupBox("Decision")
        f = QFormLayout(dec)
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, 1000)
        self.threshold_slider.setValue(500)
        self.threshold_slider.valueChanged.connect(self._threshold_changed)
        self.threshold_label = QLabel("0.500")
        row = QHBoxLayout()
        row.addWidget(self.threshold_slider, 1)
        row.addWidget(self.threshold_label)
        f.addRow("threshold", row)
        self.calibrated_button = QPushButton("Reset to calibrated")
        self.calibrated_button.clicked.connect(self.reset_threshold)
        f.addRow(self.calibrated_button)
        self.fusion_combo = QComboBox()
        for i, rule in enumerate(FUSION_RULES):
            label, tip = FUSION_RULE_TEXT[rule]
            self.fusion_combo.addItem(label, rule)
            self.fusion_combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.fusion_combo.setToolTip(
            "How the motion-parallax cue joins the network's score:\n"
            + "\n".join(f"• {label}: {tip}" for label, tip in FUSION_RULE_TEXT.values())
        )
        self.fusion_combo.currentIndexChanged.connect(self._fusion_rule_changed)
        f.addRow("fusion", self.fusion_combo)
        self.interval_spin = QSpinBox()
        self.interval_spin.setRange(0, 15)
        self.interval_spin.setSpecialValueText("model default")
        self.interval_spin.setToolTip(
            "Take every n-th frame into the window (0 = the model's frame interval)"
        )
        self.interval_spin.valueChanged.connect(lambda v: self.settings.set("interval", v))
        self.interval_spin.editingFinished.connect(self._restart_if_running)
        f.addRow("sampling interval", self.interval_spin)
        self.smoothing_spin = QDoubleSpinBox()
        self.smoothing_spin.setRange(0.05, 1.0)
        self.smoothing_spin.setSingleStep(0.05)
        self.smoothing_spin.setToolTip("Weight of the newest window in the smoothed score (1 = no smoothing)")
        self.smoothing_spin.valueChanged.connect(self._smoothing_changed)
        f.addRow("smoothing", self.smoothing_spin)
        layout.addWidget(dec)

        rec = QGroupBox("Record for fine-tuning")
        f = QFormLayout(rec)
        self.label_combo = QComboBox()
        self.label_combo.addItems(list(LABELS))
        self.label_combo.currentTextChanged.connect(lambda t: self.settings.set("record_label", t))
        f.addRow("label", self.label_combo)
        self.record_button = QPushButton("Record (R)")
        self.record_button.setCheckable(True)
        self.record_button.clicked.connect(self.toggle_recording)
        f.addRow(self.record_button)
        self.captures_label = QLabel()
        self.captures_label.setWordWrap(True)
        self.captures_button = QPushButton("Captures folder…")
        self.captures_button.clicked.connect(self.choose_captures_dir)
        f.addRow(self.captures_label)
        f.addRow(self.captures_button)
        layout.addWidget(rec)
        layout.addStretch(1)
        return box

    def _build_actions(self) -> None:
        def action(text: str, shortcut, slot, checkable: bool = False) -> QAction:
            a = QAction(text, self)
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.triggered.connect(slot)
            a.setCheckable(checkable)
            self.addAction(a)
            return a

        self.act_start = action("Start / stop", Qt.Key.Key_Space, self.toggle_running)
        self.act_record = action("Record", Qt.Key.Key_R, self.toggle_recording)
        self.act_save = action(
            "Save depth panel", Qt.Key.Key_S, lambda _checked=False: self.save_depth_panel()
        )
        self.act_open = action("Open video file…", Qt.Key.Key_O, self.open_file)
        self.act_demo = action("Demo clip", Qt.Key.Key_D, self.open_demo)
        self.act_full = action("Full screen", Qt.Key.Key_F, self.toggle_full_screen)
        self.act_quit = action("Quit", QKeySequence.StandardKey.Quit, self.close)
        self.act_quit.setShortcut(QKeySequence("Ctrl+Q"))
        self.act_card = action("Model card…", QKeySequence(), self.show_model_card)
        menu = self.menuBar()
        m = menu.addMenu("&File")
        for a in (self.act_open, self.act_demo, self.act_save, self.act_record):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = menu.addMenu("&View")
        m.addAction(self.act_full)
        for dock in (self.controls_dock, self.depth_dock, self.score_dock):
            m.addAction(dock.toggleViewAction())
        m = menu.addMenu("&Run")
        m.addAction(self.act_start)
        m.addAction(self.act_card)
        # the buttons must not swallow Space (a focused QPushButton would click itself)
        for b in self.findChildren(QPushButton):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)

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

    def _load_settings(self) -> None:
        s, a = self.settings, self.args
        source = (getattr(a, "source", None) if a is not None else None) or s.get("source")
        if source:
            self.set_source(source)
        elif self.source_combo.count() == 0:
            self.set_source("demo")
        model = (getattr(a, "model", None) if a is not None else None) or s.get("model")
        self.set_model(model or str(paths.default_model_path()))
        provider = (getattr(a, "provider", None) if a is not None else None) or s.get("provider")
        self.provider_combo.setCurrentText(
            provider if provider in ("auto", "cpu", "cuda", "tensorrt") else "auto"
        )
        self.interval_spin.setValue(int(s.get("interval")))
        self.smoothing_spin.setValue(float(s.get("smoothing")))
        rule = getattr(a, "fusion_rule", None) if a is not None else None
        self.set_fusion_rule(rule if rule in FUSION_RULES else s.fusion_rule)
        self.label_combo.setCurrentText(str(s.get("record_label")))
        self.colormap_combo.setCurrentText(str(s.get("colormap")))
        self.captures_label.setText(str(s.get("captures_dir")))
        t = getattr(a, "threshold", None) if a is not None else None
        if t is None:
            t = s.threshold_for(self.model_name)
        if t is not None:
            self._set_threshold_value(float(t))
        geometry = s.qsettings.value("main/geometry")
        self.restored_geometry = geometry is not None and bool(self.restoreGeometry(geometry))
        state = s.qsettings.value("main/state")
        if state is not None:
            self.restoreState(state)

    def _save_settings(self) -> None:
        s = self.settings
        s.set("source", self.current_source)
        s.set("model", self.model_combo.currentData() or "")
        s.set("provider", self.provider_combo.currentText())
        s.set("interval", self.interval_spin.value())
        s.set("smoothing", self.smoothing_spin.value())
        s.set("fusion_rule", self.fusion_rule)
        s.set("record_label", self.label_combo.currentText())
        s.set("colormap", self.colormap_combo.currentText())
        s.set("captures_dir", self.captures_label.text())
        s.set("main/geometry", self.saveGeometry())
        s.set("main/state", self.saveState())
        s.sync()

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
        self.smoother.smoothing = float(value)
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
                detail=self._overlay_detail(),
            ),
        )
        self.video.set_image(image)

    def _overlay_detail(self) -> str:
        """The video's second line: why the fused decision differs from the network's, else the parallax
        cue's state."""
        w = self.last_window
        if w is None or w.parallax_state is None:
            return ""
        if w.live is not None and w.network_live is not None and w.live != w.network_live and w.reason:
            return w.reason
        state = parallax_state_text(w.parallax_state, w.parallax_score, w.parallax_threshold)
        value = (
            f" {w.parallax_score:.2f}" if w.parallax_state == "ok" and w.parallax_score is not None else ""
        )
        return f"parallax{value}: {state}"

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
        if w.inference_ms is not None:
            self._inference_ms = w.inference_ms

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
        title = f"window {w.index}"
        if w.score is not None:
            title += f"   score {w.score:.3f}"
        if w.p_live is not None:
            title += f"   p_live {w.p_live:.3f}"
        if w.depth_score is not None:
            title += f"   depth {w.depth_score:.3f}"
        if w.parallax_state == "ok" and w.parallax_score is not None:
            title += f"   parallax {w.parallax_score:.3f}"
        elif w.parallax_state is not None:
            title += "   parallax –"
        self.depth.set_window(w.crops, w.depth_single, w.depth_fusion, w.masks, title=title)

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

    # ------------------------------------------------------------------------------------- recording
    def _record_tap(self, event) -> None:
        """Called in the engine's thread for every frame (before coalescing): feed the recorder."""
        rec = self.recorder
        if rec is None:
            return
        frame = getattr(event, "frame", None)
        if frame is None and isinstance(event, dict):
            frame = event.get("frame")
        if frame is not None:
            try:
                rec.write(frame)
            except Exception as e:  # a full disk: stopped and reported by the GUI thread (_update_status)
                self._recording_failure = e

    @Slot()
    def toggle_recording(self) -> None:
        if self.recorder is None:
            self.start_recording()
        else:
            self.stop_recording()

    def start_recording(self) -> bool:
        if not self.running and not self.start():
            self.record_button.setChecked(False)
            return False
        try:
            self.recorder = ClipRecorder(
                self.captures_label.text(),
                self.label_combo.currentText(),
                camera=source_label(self.current_source),
                model_version=self.run_info.model_version,
                fps=self.run_info.fps or 30.0,
                extra={"model": self.model_name, "source": self.current_source},
            )
        except Exception as e:
            self.record_button.setChecked(False)
            self._error_box("Cannot record", e)
            return False
        self.record_button.setChecked(True)
        self.record_button.setText("Stop recording (R)")
        return True

    def stop_recording(self) -> RecordedClip | None:
        rec, self.recorder = self.recorder, None
        self.record_button.setChecked(False)
        self.record_button.setText("Record (R)")
        if rec is None:
            return None
        try:
            self.last_clip = rec.finish()
        except Exception as e:
            self._error_box("Recording failed", e)
            return None
        self.statusBar().showMessage(
            f"Saved {self.last_clip.video} ({self.last_clip.meta.frames} frames)", 8000
        )
        return self.last_clip

    @Slot()
    def choose_captures_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Captures folder", self.captures_label.text())
        if folder:
            self.captures_label.setText(folder)
            self.settings.set("captures_dir", folder)

    def save_depth_panel(self, folder: str | Path | None = None) -> list[Path]:
        """Save the depth panel and the current frame (raw and annotated) as PNG in the captures folder."""
        folder = Path(folder or self.captures_label.text()).expanduser() / "snapshots"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
        saved = []
        if self.depth.panel is not None:
            p = folder / f"{stamp}-depth.png"
            if self.depth.panel.save(str(p)):
                saved.append(p)
        if self.last_frame is not None and self.last_frame.frame is not None:
            p = folder / f"{stamp}-frame.png"
            if cv2.imwrite(str(p), self.last_frame.frame):
                saved.append(p)
        if self.video.image is not None:
            p = folder / f"{stamp}-annotated.png"
            if self.video.image.save(str(p)):
                saved.append(p)
        self.statusBar().showMessage(
            f"Saved {len(saved)} image(s) to {folder}" if saved else "Nothing to save yet", 6000
        )
        return saved

    # ----------------------------------------------------------------------------------------- close
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.recorder is not None:
            self.stop_recording()
        with contextlib.suppress(Exception):
            self.controller.close()
        self.running = False
        self._save_settings()
        super().closeEvent(event)
