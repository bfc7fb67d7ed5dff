"""The main window's panels: the video in the middle, the depth inspector and the score docks on the
right, the controls dock on the left and the status bar's figures.

:func:`build_panels` creates the widgets as attributes of the window (``window.video``, ``window.depth``,
``window.plot``, ``window.cues``, ``window.source_combo``, ``window.threshold_slider``, ... which the
window's slots and the tests use) and connects them to the window's slots. Only building happens here;
what the controls do stays in :mod:`livenessapp.gui.main_window`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from livenessapp.gui.adapter import FUSION_RULE_TEXT
from livenessapp.gui.depth_inspector import DepthInspector
from livenessapp.gui.score_panel import CueMeters, ScorePlot
from livenessapp.gui.video_view import VideoView
from livenessapp.parallax import FUSION_RULES, PARALLAX_THRESHOLD
from livenessapp.recording import LABELS

if TYPE_CHECKING:
    from livenessapp.gui.main_window import MainWindow

__all__ = ["add_dock", "build_controls", "build_panels"]


def build_panels(window: MainWindow) -> None:
    """The video (central), the depth inspector and score docks (right), the controls dock (left) and
    the status bar's figures, as attributes of ``window``."""
    window.video = VideoView(window)
    window.setCentralWidget(window.video)

    window.depth = DepthInspector(window)
    window.save_panel_button = QPushButton("Save panel + frame (S)")
    window.save_panel_button.clicked.connect(lambda _checked=False: window.save_depth_panel())
    window.colormap_combo = QComboBox()
    window.colormap_combo.addItems(["viridis", "magma"])
    window.colormap_combo.currentTextChanged.connect(window._set_colormap)
    depth_box = QWidget()
    dl = QVBoxLayout(depth_box)
    dl.setContentsMargins(4, 4, 4, 4)
    dl.addWidget(window.depth, 1)
    row = QHBoxLayout()
    row.addWidget(QLabel("colormap"))
    row.addWidget(window.colormap_combo)
    row.addStretch(1)
    row.addWidget(window.save_panel_button)
    dl.addLayout(row)
    window.depth_dock = add_dock(window, "Depth inspector", depth_box, Qt.DockWidgetArea.RightDockWidgetArea)

    window.plot = ScorePlot(10.0, window)
    window.plot.set_parallax_threshold(PARALLAX_THRESHOLD)
    window.verdict_label = QLabel("—")
    big = QFont()
    big.setPixelSize(26)
    big.setBold(True)
    window.verdict_label.setFont(big)
    window.verdict_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    window.cues = CueMeters(window)
    window.cues.setToolTip(
        "Bars: each cue in [0, 1]; the yellow tick is its threshold (live at or above it).\n"
        "parallax: how much of the head's motion between the window's frames is 3-D (face-shaped)\n"
        "parallax; a print or a flat screen moves as a plane. It needs some head turning to give a\n"
        "verdict, and a replayed video of a moving head carries real parallax (the network's job)."
    )
    window._clear_cues()
    window.reason_label = QLabel("")
    window.reason_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    window.reason_label.setWordWrap(True)
    score_box = QWidget()
    sl = QVBoxLayout(score_box)
    sl.setContentsMargins(4, 4, 4, 4)
    sl.addWidget(window.verdict_label)
    sl.addWidget(window.cues)
    sl.addWidget(window.reason_label)
    sl.addWidget(window.plot, 1)
    window.score_dock = add_dock(window, "Score", score_box, Qt.DockWidgetArea.RightDockWidgetArea)

    controls = QScrollArea()  # scrolls where the screen is shorter than the controls
    controls.setWidget(build_controls(window))
    controls.setWidgetResizable(True)
    controls.setFrameShape(QFrame.Shape.NoFrame)
    controls.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    controls.setMinimumWidth(
        controls.widget().minimumSizeHint().width() + controls.verticalScrollBar().sizeHint().width()
    )
    window.controls_dock = add_dock(window, "Controls", controls, Qt.DockWidgetArea.LeftDockWidgetArea)

    window.status_fps = QLabel()
    window.status_track = QLabel()
    window.status_infer = QLabel()
    window.status_drop = QLabel()
    window.status_provider = QLabel()
    widest = {  # a long status message must not squeeze the figures (it is cut instead)
        window.status_provider: "tensorrt",
        window.status_fps: "FPS 999.9",
        window.status_track: "tracking 999.9 ms",
        window.status_infer: "inference 9999.9 ms",
        window.status_drop: "dropped 99999",
    }
    for w, sample in widest.items():
        w.setMinimumWidth(w.fontMetrics().horizontalAdvance(sample) + 6)
        window.statusBar().addPermanentWidget(w)
    window._update_status()


def add_dock(window: MainWindow, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    """A movable, floatable dock named after ``title`` (its object name keeps the saved layout)."""
    dock = QDockWidget(title, window)
    dock.setObjectName(title.replace(" ", "_"))
    dock.setWidget(widget)
    dock.setFeatures(
        QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
    )
    window.addDockWidget(area, dock)
    return dock


def build_controls(window: MainWindow) -> QWidget:
    """The controls dock's content: source, model, decision and recording boxes."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)

    src = QGroupBox("Source")
    f = QFormLayout(src)
    window.source_combo = QComboBox()
    window.source_combo.setMinimumWidth(180)
    window._fill_sources()
    f.addRow(window.source_combo)
    row = QHBoxLayout()
    window.open_button = QPushButton("Open file… (O)")
    window.open_button.clicked.connect(window.open_file)
    window.demo_button = QPushButton("Demo (D)")
    window.demo_button.clicked.connect(window.open_demo)
    row.addWidget(window.open_button)
    row.addWidget(window.demo_button)
    f.addRow(row)
    window.start_button = QPushButton("Start (Space)")
    window.start_button.setCheckable(True)
    window.start_button.clicked.connect(window.toggle_running)
    f.addRow(window.start_button)
    layout.addWidget(src)

    mdl = QGroupBox("Model")
    f = QFormLayout(mdl)
    window.model_combo = QComboBox()
    window._fill_models()
    window.model_combo.activated.connect(lambda _i: window._restart_if_running())
    f.addRow(window.model_combo)
    window.card_button = QPushButton("Model card…")
    window.card_button.clicked.connect(window.show_model_card)
    f.addRow(window.card_button)
    window.provider_combo = QComboBox()
    window.provider_combo.addItems(["auto", "cpu", "cuda", "tensorrt"])
    window.provider_combo.activated.connect(lambda _i: window._restart_if_running())
    f.addRow("provider", window.provider_combo)
    window.provider_label = QLabel("in use: –")
    f.addRow(window.provider_label)
    layout.addWidget(mdl)

    dec = QGroupBox("Decision")
    f = QFormLayout(dec)
    window.threshold_slider = QSlider(Qt.Orientation.Horizontal)
    window.threshold_slider.setRange(0, 1000)
    window.threshold_slider.setValue(500)
    window.threshold_slider.valueChanged.connect(window._threshold_changed)
    window.threshold_label = QLabel("0.500")
    row = QHBoxLayout()
    row.addWidget(window.threshold_slider, 1)
    row.addWidget(window.threshold_label)
    f.addRow("threshold", row)
    window.calibrated_button = QPushButton("Reset to calibrated")
    window.calibrated_button.clicked.connect(window.reset_threshold)
    f.addRow(window.calibrated_button)
    window.fusion_combo = QComboBox()
    for i, rule in enumerate(FUSION_RULES):
        label, tip = FUSION_RULE_TEXT[rule]
        window.fusion_combo.addItem(label, rule)
        window.fusion_combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
    window.fusion_combo.setToolTip(
        "How the motion-parallax cue joins the network's score:\n"
        + "\n".join(f"• {label}: {tip}" for label, tip in FUSION_RULE_TEXT.values())
    )
    window.fusion_combo.currentIndexChanged.connect(window._fusion_rule_changed)
    f.addRow("fusion", window.fusion_combo)
    window.interval_spin = QSpinBox()
    window.interval_spin.setRange(0, 15)
    window.interval_spin.setSpecialValueText("model default")
    window.interval_spin.setToolTip("Take every n-th frame into the window (0 = the model's frame interval)")
    window.interval_spin.valueChanged.connect(lambda v: window.settings.set("interval", v))
    window.interval_spin.editingFinished.connect(window._restart_if_running)
    f.addRow("sampling interval", window.interval_spin)
    window.smoothing_spin = QDoubleSpinBox()
    window.smoothing_spin.setRange(0.05, 1.0)
    window.smoothing_spin.setSingleStep(0.05)
    window.smoothing_spin.setToolTip("Weight of the newest window in the smoothed score (1 = no smoothing)")
    window.smoothing_spin.valueChanged.connect(window._smoothing_changed)
    f.addRow("smoothing", window.smoothing_spin)
    layout.addWidget(dec)

    rec = QGroupBox("Record for fine-tuning")
    f = QFormLayout(rec)
    window.label_combo = QComboBox()
    window.label_combo.addItems(list(LABELS))
    window.label_combo.currentTextChanged.connect(lambda t: window.settings.set("record_label", t))
    f.addRow("label", window.label_combo)
    window.record_button = QPushButton("Record (R)")
    window.record_button.setCheckable(True)
    window.record_button.clicked.connect(window.toggle_recording)
    f.addRow(window.record_button)
    window.captures_label = QLabel()
    window.captures_label.setWordWrap(True)
    window.captures_button = QPushButton("Captures folder…")
    window.captures_button.clicked.connect(window.choose_captures_dir)
    f.addRow(window.captures_label)
    f.addRow(window.captures_button)
    layout.addWidget(rec)
    layout.addStretch(1)
    return box
