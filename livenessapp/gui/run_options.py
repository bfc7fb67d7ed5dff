"""What a run is asked for and what it reports, Qt-free: :class:`RunOptions`, :class:`RunInfo`, sources.

:class:`RunOptions` is what the controls set; :class:`RunInfo` is what the windows show once a run is
open. Both the controller (:mod:`livenessapp.gui.controller`) and the engine glue
(:mod:`livenessapp.gui.engine_glue`) use them, so they live here, below both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from livenessapp.paths import DEMO_CLIP, default_model_path

__all__ = ["RunInfo", "RunOptions", "parse_source", "source_label"]


@dataclass
class RunOptions:
    source: str = "demo"  # camera index "0", a video / frame-folder path, or "demo"
    model: str = ""  # full-graph .onnx path; "" = the default model
    provider: str = "auto"
    threshold: float | None = None  # None = the model's calibrated threshold
    interval: int = 0  # frame sampling interval; 0 = the model's frame_interval
    smoothing: float = 0.5
    fusion_rule: str = "either_spoof"  # livenessapp.parallax.FUSION_RULES
    loop: bool = True  # video files restart at the end (demo)
    realtime: bool = True  # video files play at their frame rate
    allow_unverified: bool = False  # run a model whose files do not match its model card (--allow-unverified)

    @property
    def model_path(self) -> Path:
        return Path(self.model).expanduser() if self.model else default_model_path()


@dataclass
class RunInfo:
    """What the windows show about a run once it is open."""

    provider: str = ""
    model_path: Path | None = None
    model_version: str = ""
    model_threshold: float = 0.5
    num_frames: int = 5
    frame_interval: int = 3
    source_name: str = ""
    fps: float = 30.0
    extra: dict = field(default_factory=dict)


def parse_source(source: str | int | None) -> int | str:
    """``"0"`` -> camera 0; ``"demo"`` / empty -> the bundled demo clip path; anything else: a path."""
    if source is None or str(source).strip() == "" or str(source).strip().lower() == "demo":
        return str(DEMO_CLIP)
    s = str(source).strip()
    if s.isdigit():
        return int(s)
    return os.fspath(Path(s).expanduser())


def source_label(source: str | int | None) -> str:
    """Short text for the sidecar's ``camera`` and the status bar: ``camera 0``, ``demo``, the file name."""
    parsed = parse_source(source)
    if isinstance(parsed, int):
        return f"camera {parsed}"
    if Path(parsed) == DEMO_CLIP:
        return "demo"
    return Path(parsed).name
