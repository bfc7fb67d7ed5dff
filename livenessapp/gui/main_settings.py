"""The main window's persistence: which controls are restored from and saved to :class:`AppSettings`.

:func:`load_settings` runs once when the window is built (command-line arguments win over saved
values); :func:`save_settings` when it closes. The window's geometry and its dock layout are kept under
``main/geometry`` and ``main/state``. The keys and their defaults are in :mod:`livenessapp.gui.settings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livenessapp import paths
from livenessapp.parallax import FUSION_RULES

if TYPE_CHECKING:
    from livenessapp.gui.main_window import MainWindow

__all__ = ["load_settings", "save_settings"]


def load_settings(window: MainWindow) -> None:
    """Fill the controls from the command line (``window.args``) first, else the saved settings; restore
    the window's geometry and dock layout (``window.restored_geometry`` says whether there was one)."""
    s, a = window.settings, window.args
    source = (getattr(a, "source", None) if a is not None else None) or s.get("source")
    if source:
        window.set_source(source)
    elif window.source_combo.count() == 0:
        window.set_source("demo")
    model = (getattr(a, "model", None) if a is not None else None) or s.get("model")
    window.set_model(model or str(paths.default_model_path()))
    provider = (getattr(a, "provider", None) if a is not None else None) or s.get("provider")
    window.provider_combo.setCurrentText(
        provider if provider in ("auto", "cpu", "cuda", "tensorrt") else "auto"
    )
    window.interval_spin.setValue(int(s.get("interval")))
    window.smoothing_spin.setValue(float(s.get("smoothing")))
    rule = getattr(a, "fusion_rule", None) if a is not None else None
    window.set_fusion_rule(rule if rule in FUSION_RULES else s.fusion_rule)
    window.label_combo.setCurrentText(str(s.get("record_label")))
    window.colormap_combo.setCurrentText(str(s.get("colormap")))
    window.captures_label.setText(str(s.get("captures_dir")))
    t = getattr(a, "threshold", None) if a is not None else None
    if t is None:
        t = s.threshold_for(window.model_name)
    if t is not None:
        window._set_threshold_value(float(t))
    geometry = s.qsettings.value("main/geometry")
    window.restored_geometry = geometry is not None and bool(window.restoreGeometry(geometry))
    state = s.qsettings.value("main/state")
    if state is not None:
        window.restoreState(state)


def save_settings(window: MainWindow) -> None:
    """Save the controls, the geometry and the dock layout (on close)."""
    s = window.settings
    s.set("source", window.current_source)
    s.set("model", window.model_combo.currentData() or "")
    s.set("provider", window.provider_combo.currentText())
    s.set("interval", window.interval_spin.value())
    s.set("smoothing", window.smoothing_spin.value())
    s.set("fusion_rule", window.fusion_rule)
    s.set("record_label", window.label_combo.currentText())
    s.set("colormap", window.colormap_combo.currentText())
    s.set("captures_dir", window.captures_label.text())
    s.set("main/geometry", window.saveGeometry())
    s.set("main/state", window.saveState())
    s.sync()
