"""Settings that persist between runs (QSettings), with typed accessors and defaults.

Where they live: the platform's usual place for organisation ``livenessapp`` / application ``livenessapp``
(``~/.config/livenessapp/livenessapp.conf`` on Linux), or the INI file named by the environment variable
``LIVENESSAPP_SETTINGS`` (tests and kiosk images point it at a file of their own), or ``path`` given here.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

from livenessapp.recording import DEFAULT_CAPTURES_DIR

__all__ = ["AppSettings", "SETTINGS_ENV"]

SETTINGS_ENV = "LIVENESSAPP_SETTINGS"

_DEFAULTS: dict[str, object] = {
    "source": "",  # "" = first camera, else the demo clip
    "model": "",  # "" = paths.default_model_path()
    "provider": "auto",
    "interval": 0,  # frame sampling interval; 0 = the model's frame_interval
    "smoothing": 0.5,  # EMA weight of the newest window score (1 = none)
    "hysteresis_margin": 0.03,
    "fusion_rule": "either_spoof",  # livenessapp.parallax.FUSION_RULES: how the parallax cue joins the network
    "captures_dir": str(DEFAULT_CAPTURES_DIR),
    "record_label": "live",
    "colormap": "viridis",
    "show_landmarks": False,
    "kiosk/decision_windows": 3,
    "kiosk/decision_timeout_s": 12.0,
    "kiosk/result_s": 5.0,
    "kiosk/audit_log": str(Path.home() / "livenessapp-audit" / "kiosk.jsonl"),
    "kiosk/save_images": False,
}


class AppSettings:
    """Typed view of the app's QSettings (see the module docstring)."""

    def __init__(self, path: str | os.PathLike | None = None):
        path = path or os.environ.get(SETTINGS_ENV)
        if path:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.qsettings = QSettings(str(Path(path).expanduser()), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, "livenessapp", "livenessapp"
            )

    @property
    def file_name(self) -> str:
        return self.qsettings.fileName()

    def get(self, key: str, default=None):
        fallback = _DEFAULTS.get(key) if default is None else default
        value = self.qsettings.value(key, fallback)
        if fallback is None or value is None:
            return value
        try:
            if isinstance(fallback, bool):
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
            if isinstance(fallback, int):
                return int(float(value))
            if isinstance(fallback, float):
                return float(value)
        except (TypeError, ValueError):
            return fallback
        return str(value) if isinstance(fallback, str) else value

    @property
    def fusion_rule(self) -> str:
        """The saved fusion rule, or the default when the file holds an unknown one."""
        from livenessapp.parallax import FUSION_RULES

        rule = str(self.get("fusion_rule"))
        return rule if rule in FUSION_RULES else str(_DEFAULTS["fusion_rule"])

    def set(self, key: str, value) -> None:
        self.qsettings.setValue(key, value)

    def sync(self) -> None:
        self.qsettings.sync()

    # thresholds are remembered per model (the calibrated threshold differs between models)
    def threshold_for(self, model_name: str) -> float | None:
        value = self.qsettings.value(f"threshold/{model_name}")
        try:
            return None if value is None else float(value)
        except (TypeError, ValueError):
            return None

    def set_threshold_for(self, model_name: str, value: float | None) -> None:
        if value is None:
            self.qsettings.remove(f"threshold/{model_name}")
        else:
            self.qsettings.setValue(f"threshold/{model_name}", float(value))
