"""File analysis: every frame of a video file / frame folder through the pipeline, in order, nothing dropped.

:func:`analyze_video` is the deterministic path used by ``livenessapp analyze``: it runs the very same
:class:`~livenessapp.pipeline.Pipeline` stages as the live engine, tracking on a helper thread a few frames
ahead of inference (results identical to running both stages on one thread), and sums the run up in a
:class:`VideoAnalysis`.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from livenessapp.pipeline import Pipeline
from livenessapp.results import EngineConfig, EngineError, StepResult, WindowResult
from livenessapp.sources import FrameSource, open_source

__all__ = ["VideoAnalysis", "analyze_video"]


@dataclass
class VideoAnalysis:
    path: str
    frames: int
    frames_with_face: int
    windows: list[WindowResult]
    threshold: float
    fps: float
    wall_s: float
    tracking_ms: list[float] = field(default_factory=list)
    errors: list[EngineError] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        """Mean of the window scores (Eq. 18), None without a window."""
        if not self.windows:
            return None
        return float(np.mean([w.score for w in self.windows]))

    @property
    def live(self) -> bool | None:
        s = self.score
        return None if s is None else bool(s >= self.threshold)

    @property
    def fusion_rule(self) -> str | None:
        return self.windows[0].fusion.rule if self.windows else None

    @property
    def fused_live(self) -> bool | None:
        """The fused (network + parallax cue) decision for the whole video: live when at least half of its
        windows were judged live under the engine's fusion rule; None without a window."""
        if not self.windows:
            return None
        return bool(2 * sum(bool(w.live) for w in self.windows) >= len(self.windows))

    @property
    def realtime_factor(self) -> float:
        """Video duration / processing time (> 1 = faster than real time)."""
        return (self.frames / self.fps) / self.wall_s if self.wall_s > 0 and self.fps else 0.0


class _Failure:
    """An exception of the analysis' tracking thread, re-raised on the caller's thread."""

    def __init__(self, exc: BaseException):
        self.exc = exc


_END = object()


def _tracked_frames(pipe: Pipeline, source: FrameSource, max_frames: int | None, concurrent: bool):
    """Stage 1 (:meth:`Pipeline.track`) over every frame of ``source`` in order; with ``concurrent`` on a
    helper thread, a few frames ahead of the caller (who runs stage 2), so that face tracking and inference
    use two cores. Nothing is dropped either way."""

    def frames():
        for n, frame in enumerate(source, 1):
            yield frame
            if max_frames is not None and n >= max_frames:
                return

    if not concurrent:
        for frame in frames():
            yield pipe.track(frame)
        return
    handover: queue.Queue = queue.Queue(maxsize=8)
    stop = threading.Event()

    def put(item) -> None:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                handover.put(item, timeout=0.1)
                return

    def run() -> None:
        try:
            for frame in frames():
                if stop.is_set():
                    return
                put(pipe.track(frame))
        except BaseException as exc:  # handed to the caller's thread
            put(_Failure(exc))
        finally:
            put(_END)

    thread = threading.Thread(target=run, name="liveness-analyze-tracking", daemon=True)
    thread.start()
    try:
        while True:
            item = handover.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def analyze_video(
    model,
    path: str | FrameSource,
    config: EngineConfig | None = None,
    max_frames: int | None = None,
    on_step: Callable[[StepResult], None] | None = None,
    concurrent: bool = True,
) -> VideoAnalysis:
    """Every frame of a video file / frame folder through the pipeline, in order, nothing dropped.

    Deterministic: the same file and model give the same windows, with or without ``concurrent`` (face
    tracking on a helper thread a few frames ahead of inference; ``on_step`` is called on the caller's
    thread either way). Raises :class:`~livenessapp.sources.SourceError` when the input cannot be opened."""
    cfg = config or EngineConfig(keep_images=False)
    source = open_source(path) if not isinstance(path, FrameSource) else path
    pipe = Pipeline(model, cfg)
    pipe.capture_fps = source.fps
    windows: list[WindowResult] = []
    errors: list[EngineError] = []
    tracking: list[float] = []
    frames = with_face = 0
    t0 = time.perf_counter()
    tracked = _tracked_frames(pipe, source, max_frames, concurrent)
    try:
        for item in tracked:
            res = pipe.infer(item)
            frames += 1
            tracking.append(res.frame.tracking_ms)
            if res.frame.box is not None:
                with_face += 1
            if res.window is not None:
                windows.append(res.window)
            if res.error is not None:
                errors.append(res.error)
            if on_step is not None:
                on_step(res)
    finally:
        tracked.close()
        pipe.close()
        source.close()
    return VideoAnalysis(
        path=str(getattr(source, "path", path)),
        frames=frames,
        frames_with_face=with_face,
        windows=windows,
        threshold=pipe.threshold,
        fps=source.fps,
        wall_s=time.perf_counter() - t0,
        tracking_ms=tracking,
        errors=errors,
        problems=list(source.problems),
    )
