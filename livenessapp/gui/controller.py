"""What the windows need from the engine, in one small class: open / start / stop / reset a run.

:class:`~livenessapp.gui.run_options.RunOptions` is what the controls set; :class:`EngineController`
builds the engine of ``livenessapp.engine`` for them (through :mod:`livenessapp.gui.engine_glue`) and
registers the :class:`~livenessapp.gui.bridge.EngineBridge` as its listener. Everything heavy (capture, tracking, inference) runs in the engine's threads; the controller's
methods only start and stop them, so they are safe to call from the GUI thread.

Tests (and tools) may pass any object with the same methods (``open``, ``start``, ``stop``, ``reset``,
``close``, ``info``) to the windows instead.
"""

from __future__ import annotations

from livenessapp.gui import engine_glue

# RunOptions / RunInfo / parse_source / source_label live in run_options (below this module and
# engine_glue); they stay importable from here.
from livenessapp.gui.run_options import RunInfo, RunOptions, parse_source, source_label

__all__ = ["EngineController", "RunInfo", "RunOptions", "parse_source", "source_label"]


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
        self.close()
        self.options = options
        self.engine, self.info = engine_glue.build_engine(options, self.bridge)
        return self.info

    def start(self) -> None:
        if self.engine is None:
            raise RuntimeError("no engine: open() first")
        engine_glue.start(self.engine)

    def stop(self) -> None:
        if self.engine is not None:
            engine_glue.stop(self.engine)

    def reset(self) -> None:
        """Restart the frame buffer and the score smoothing (new person in kiosk mode)."""
        if self.engine is not None:
            engine_glue.reset(self.engine)

    def set_threshold(self, threshold: float) -> None:
        if self.engine is not None:
            engine_glue.set_threshold(self.engine, threshold)

    def set_smoothing(self, newest_weight: float) -> None:
        if self.engine is not None:
            engine_glue.set_smoothing(self.engine, newest_weight)

    def set_fusion_rule(self, rule: str) -> None:
        """How the parallax cue joins the network's score; applied from the next window."""
        if self.options is not None:
            self.options.fusion_rule = rule
        if self.engine is not None:
            engine_glue.set_fusion_rule(self.engine, rule)

    def close(self) -> None:
        if self.engine is not None:
            self.stop()
            self.engine = None
