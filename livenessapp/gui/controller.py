"""What the windows need from the engine, in one small class: open / start / stop / reset a run.

:class:`RunOptions` is what the controls set; :class:`EngineController` builds the engine of
``livenessapp.engine`` for them and registers the :class:`~livenessapp.gui.bridge.EngineBridge` as its
listener. Everything heavy (capture, tracking, inference) runs in the engine's threads; the controller's
methods only start and stop them, so they are safe to call from the GUI thread.

Tests (and tools) may pass any object with the same methods (``open``, ``start``, ``stop``, ``reset``,
``close``, ``info``) to the windows instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from livenessapp.paths import DEMO_CLIP, default_model_path

__all__ = ["EngineController", "RunInfo", "RunOptions", "parse_source", "source_label"]


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


class EngineController:
    """Owns one engine run at a time (see the module docstring)."""

    def __init__(self, bridge):
        self.bridge = bridge
        self.engine = None
        self.options: RunOptions | None = None
        self.info = RunInfo()

    @property
    def running(self) -> bool:
        return self.engine is not None and bool(getattr(self.engine, "running", True))

    def open(self, options: RunOptions) -> RunInfo:
        """Load the model and open the source (raises with a readable message on failure); not started."""
        from livenessapp.gui import engine_glue

        self.close()
        self.options = options
        self.engine, self.info = engine_glue.build_engine(options, self.bridge)
        return self.info

    def start(self) -> None:
        if self.engine is None:
            raise RuntimeError("no engine: open() first")
        from livenessapp.gui import engine_glue

        engine_glue.start(self.engine)

    def stop(self) -> None:
        if self.engine is not None:
            from livenessapp.gui import engine_glue

            engine_glue.stop(self.engine)

    def reset(self) -> None:
        """Restart the frame buffer and the score smoothing (new person in kiosk mode)."""
        if self.engine is not None:
            from livenessapp.gui import engine_glue

            engine_glue.reset(self.engine)

    def set_threshold(self, threshold: float) -> None:
        if self.engine is not None:
            from livenessapp.gui import engine_glue

            engine_glue.set_threshold(self.engine, threshold)

    def set_smoothing(self, newest_weight: float) -> None:
        if self.engine is not None:
            from livenessapp.gui import engine_glue

            engine_glue.set_smoothing(self.engine, newest_weight)

    def set_fusion_rule(self, rule: str) -> None:
        """How the parallax cue joins the network's score; applied from the next window."""
        if self.options is not None:
            self.options.fusion_rule = rule
        if self.engine is not None:
            from livenessapp.gui import engine_glue

            engine_glue.set_fusion_rule(self.engine, rule)

    def close(self) -> None:
        if self.engine is not None:
            self.stop()
            self.engine = None
