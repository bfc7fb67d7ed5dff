"""The real-time liveness engine: capture -> face tracking -> streaming FAS-SGTD inference -> verdict.

Threading model
---------------
::

    capture thread --(mailbox, latest wins)--> tracking thread --(tracked mailbox)--> inference worker
    (source.read(), paces files               (frame checks, face mesh,               (encoder + pair graph
     at their frame rate)                      crop / mask of sampled frames)          on sampled frames,
                                                                                       temporal graph,
                                                                                       decision, listeners)

- The capture mailbox holds ONE frame. When the tracking thread is still busy with a frame and the camera
  delivers a new one, the waiting frame is replaced (dropped, counted in ``dropped``), never queued: the
  newest frame is always processed next, so latency cannot grow.
- Tracking (MediaPipe) and inference (onnxruntime) both release the GIL, so the two stages of
  :class:`Pipeline` run on two cores. The tracked mailbox (:class:`TrackedMailbox`) keeps the sampled
  frames in order (at most two waiting) and lets a newer frame replace a waiting frame that only moves the
  overlay; drops there are counted in ``dropped`` too.
- Inference is *streaming*: each sampled frame (every ``interval`` frames, from the model's metadata) is
  encoded once by the encoder graph, and the pair graph runs once on (previous sample, this sample); D_single,
  the pair output, mask, crop and landmarks are cached in a :class:`~livenessapp.buffer.FrameBuffer`;
  every new sample then runs only the small temporal graph on the Nf-1 cached pair outputs. The face mesh
  runs on sampled frames (and while no judgeable face is tracked); the frames in between carry the last
  box over (``FrameResult.carried``).
- Listeners are called from the inference worker thread (``on_frame`` for every processed frame,
  ``on_window`` for every scored window, ``on_stats`` about once a second, ``on_error`` for errors,
  ``on_end`` once when the run ends). A listener is any object with some of these methods (missing ones are
  skipped), e.g. the GUI's ``EngineBridge`` that re-emits them as Qt signals; or use
  :meth:`LivenessEngine.subscribe` with callables. Exceptions raised by listeners are caught (reported via
  ``on_error``) and never stop the worker.

Events are plain dataclasses: :class:`FrameResult`, :class:`WindowResult`, :class:`EngineStats`,
:class:`EngineError`; ``on_end`` receives the reason ("eof", "stopped" or "error").

:mod:`livenessapp.pipeline` has the two stages and the decision per window, :mod:`livenessapp.analysis`
the deterministic file path (:func:`analyze_video`, every frame, nothing dropped, used by ``livenessapp
analyze``), :mod:`livenessapp.mailboxes` the hand-overs between the threads and :mod:`livenessapp.results`
the settings and the events. Their public names are re-exported here (``from livenessapp.engine import
X`` keeps working).
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable

import numpy as np

from livenessapp.analysis import VideoAnalysis, analyze_video
from livenessapp.mailboxes import LatestMailbox, TrackedMailbox, TrackingFailure
from livenessapp.pipeline import Pipeline, TrackedFrame
from livenessapp.results import EngineConfig, EngineError, EngineStats, FrameResult, StepResult, WindowResult
from livenessapp.smoothing import ScoreSmoother
from livenessapp.sources import FrameSource, SourceError, SourceLost, open_source

__all__ = [
    "EngineConfig",
    "EngineError",
    "EngineStats",
    "FrameResult",
    "LatestMailbox",
    "LivenessEngine",
    "Pipeline",
    "ScoreSmoother",
    "StepResult",
    "TrackedFrame",
    "TrackedMailbox",
    "VideoAnalysis",
    "WindowResult",
    "analyze_video",
]


class _CallbackListener:
    def __init__(self, **callbacks):
        for name, fn in callbacks.items():
            if fn is not None:
                setattr(self, name, fn)


class LivenessEngine:
    """Capture thread + processing worker around a :class:`Pipeline` (see the module docstring).

    ``source``: a :class:`~livenessapp.sources.FrameSource` or a spec for
    :func:`~livenessapp.sources.open_source` (camera index, path, "demo"). Methods are safe to call from any
    thread (the GUI thread): ``start()``, ``stop()``, ``reset()``, ``set_threshold()``, ``set_smoothing()``,
    ``set_fusion_rule()``, ``add_listener()`` / ``subscribe()``, ``stats()``.
    """

    def __init__(self, model, source=None, config: EngineConfig | None = None, listener=None, tracker=None):
        self.model = model
        self.config = config or EngineConfig()
        self._source_spec = source
        self.source: FrameSource | None = source if isinstance(source, FrameSource) else None
        self._tracker = tracker
        self._listeners: list = []
        self._listeners_lock = threading.Lock()
        if listener is not None:
            self.add_listener(listener)
        self.mailbox = LatestMailbox()  # capture -> tracking
        self.tracked = TrackedMailbox()  # tracking -> inference
        self._lossless = False
        self._stop = threading.Event()
        self._capture_done = threading.Event()
        self._tracking_done = threading.Event()
        self._reset_requested = threading.Event()
        self._capture_thread: threading.Thread | None = None
        self._tracking_thread: threading.Thread | None = None
        self._worker_thread: threading.Thread | None = None
        self.pipeline: Pipeline | None = None
        self.end_reason: str | None = None
        self.frames_captured = 0
        self.frames_processed = 0
        self.windows: int = 0
        self.errors: deque[EngineError] = deque(maxlen=200)  # the latest; bounded for long runs
        self.state = "idle"  # "running", "reconnecting (attempt k, next in s)", "ended"
        self._recent = {k: deque(maxlen=30) for k in ("latency", "tracking", "encoder", "pair", "temporal")}
        self._threshold = self.config.threshold
        self._started_at = 0.0

    # -- listeners --------------------------------------------------------------------------------------
    def add_listener(self, listener) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener) -> None:
        with self._listeners_lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def subscribe(
        self,
        on_frame: Callable[[FrameResult], None] | None = None,
        on_window: Callable[[WindowResult], None] | None = None,
        on_stats: Callable[[EngineStats], None] | None = None,
        on_error: Callable[[EngineError], None] | None = None,
        on_end: Callable[[str], None] | None = None,
    ):
        """Register callables; returns the listener object (for :meth:`remove_listener`)."""
        listener = _CallbackListener(
            on_frame=on_frame, on_window=on_window, on_stats=on_stats, on_error=on_error, on_end=on_end
        )
        self.add_listener(listener)
        return listener

    def _emit(self, name: str, event) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            fn = getattr(listener, name, None)
            if fn is None:
                continue
            try:
                fn(event)
            except Exception as exc:  # a broken listener must not stop the engine
                if name != "on_error":
                    self._emit(
                        "on_error",
                        EngineError(
                            f"listener {name} failed: {exc!r}", kind="listener", detail=traceback.format_exc()
                        ),
                    )

    # -- control ----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while any of the run's threads is alive (capture may outlive the worker briefly)."""
        return any(
            t is not None and t.is_alive()
            for t in (self._capture_thread, self._tracking_thread, self._worker_thread)
        )

    @property
    def dropped(self) -> int:
        """Frames dropped so far by the two latest-wins hand-overs (live runs only)."""
        return self.mailbox.dropped + self.tracked.dropped

    @property
    def threshold(self) -> float:
        return float(self.model.meta.threshold if self._threshold is None else self._threshold)

    def set_threshold(self, threshold: float | None) -> None:
        """Override the model's threshold (None = back to the model's)."""
        self._threshold = None if threshold is None else float(threshold)
        if self.pipeline is not None:
            self.pipeline.threshold_override = self._threshold

    def set_smoothing(self, alpha: float, mode: str | None = None, window: int | None = None) -> None:
        self.config.smoothing = float(alpha)
        if mode is not None:
            self.config.smoothing_mode = mode
        if window is not None:
            self.config.smoothing_window = int(window)
        smoother = ScoreSmoother(
            self.config.smoothing, self.config.smoothing_mode, self.config.smoothing_window
        )
        if self.pipeline is not None:
            self.pipeline.smoother = smoother

    def set_fusion_rule(self, rule: str) -> None:
        from livenessapp.parallax import FUSION_RULES

        if rule not in FUSION_RULES:
            raise ValueError(f"unknown fusion rule {rule!r}; one of {FUSION_RULES}")
        self.config.fusion_rule = rule

    def reset(self) -> None:
        """Empty the frame buffer and restart tracking / smoothing (applied by the worker before its next
        frame)."""
        self._reset_requested.set()

    def open(self) -> FrameSource:
        """Open the source now (raises :class:`SourceError`) - done by :meth:`start` otherwise."""
        if self.source is None:
            self.source = open_source(self._source_spec, loop=self.config.loop)
        return self.source

    def start(self) -> None:
        if self._worker_thread is not None and self._worker_thread.is_alive():
            return
        if self.running:  # the previous run ended but a capture / tracking thread is still winding down
            self.stop()
            if self.running:
                raise RuntimeError(
                    "the previous run is still stopping (its source does not return); try again"
                )
        self.open()
        if self.pipeline is None:
            self.pipeline = Pipeline(self.model, self.config, tracker=self._tracker)
            self.pipeline.threshold_override = self._threshold
        self._stop.clear()
        self._capture_done.clear()
        self._tracking_done.clear()
        self.tracked.clear()
        self.mailbox.get(timeout=0)  # a frame left over from the previous run
        # A file read as fast as possible is processed frame by frame (back-pressure instead of dropping);
        # a camera or a file paced in real time drops stale frames (latest wins) to keep latency bounded.
        self._lossless = not self.config.realtime and not self.source.is_live
        self.end_reason = None
        self.state = "running"
        self._started_at = time.monotonic()
        self._capture_thread = threading.Thread(
            target=self._capture_loop, name="liveness-capture", daemon=True
        )
        self._tracking_thread = threading.Thread(
            target=self._tracking_loop, name="liveness-tracking", daemon=True
        )
        self._worker_thread = threading.Thread(target=self._worker_loop, name="liveness-worker", daemon=True)
        self._worker_thread.start()
        self._tracking_thread.start()
        self._capture_thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads and wait for them (up to ``timeout`` s each)."""
        self._stop.set()
        for t in (self._capture_thread, self._tracking_thread, self._worker_thread):
            if t is not None and t is not threading.current_thread():
                t.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the run ends (source exhausted or stopped); True if it did."""
        if self._worker_thread is None:
            return True
        self._worker_thread.join(timeout)
        return not self._worker_thread.is_alive()

    def close(self) -> None:
        self.stop()
        if self.pipeline is not None:
            self.pipeline.close()
            self.pipeline = None
        if self.source is not None:
            self.source.close()

    def __enter__(self) -> LivenessEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stats(self) -> EngineStats:
        pipe = self.pipeline
        src = self.source

        def mean(k):
            v = self._recent[k]
            return float(np.mean(v)) if v else 0.0

        return EngineStats(
            frames_captured=self.frames_captured,
            frames_processed=self.frames_processed,
            dropped=self.dropped,
            windows=self.windows,
            capture_fps=float(src.fps) if src is not None else 0.0,
            processing_fps=pipe._fps if pipe is not None else 0.0,
            latency_ms=mean("latency"),
            tracking_ms=mean("tracking"),
            encoder_ms=mean("encoder"),
            temporal_ms=mean("temporal"),
            provider=getattr(self.model, "provider", ""),
            pair_ms=mean("pair"),
            state=self.state,
        )

    def analyze_video(self, path, max_frames: int | None = None) -> VideoAnalysis:
        """The synchronous deterministic path with this engine's model and settings."""
        cfg = EngineConfig(**{**self.config.__dict__, "keep_images": False, "threshold": self._threshold})
        return analyze_video(self.model, path, cfg, max_frames=max_frames)

    # -- threads ----------------------------------------------------------------------------------------
    def _capture_loop(self) -> None:
        src = self.source
        pace = self.config.realtime and not src.is_live
        t_start = time.monotonic()
        ts0: float | None = None
        try:
            while not self._stop.is_set():
                try:
                    frame = src.read()
                except SourceLost as lost:
                    if not self._reconnect(src, lost):
                        raise
                    ts0 = None
                    continue
                if frame is None:
                    break
                if pace:
                    if ts0 is None or frame.discontinuity:
                        ts0, t_start = frame.timestamp_s, time.monotonic()
                    delay = t_start + (frame.timestamp_s - ts0) - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    frame.captured_at = time.monotonic()
                self.frames_captured += 1
                if self._lossless:
                    while not self.mailbox.wait_empty(0.05) and not self._stop.is_set():
                        pass
                self.mailbox.put(frame)
        except SourceError as exc:
            self._fatal(EngineError(str(exc), kind="source", fatal=True))
        except Exception as exc:  # pragma: no cover - unexpected driver errors
            self._fatal(
                EngineError(
                    f"capture failed: {exc!r}", kind="source", fatal=True, detail=traceback.format_exc()
                )
            )
        finally:
            self._capture_done.set()

    def _reconnect(self, src: FrameSource, lost: SourceLost) -> bool:
        """Reopen a lost live source on its back-off schedule, reporting every attempt (``on_error`` with
        kind "reconnecting", then "reconnected"). True once it is back or the engine is stopping; False when
        the source cannot reconnect or the attempts ran out (the caller turns ``lost`` into a fatal error)."""
        backoff = getattr(src, "backoff", None)
        if backoff is None:
            return False
        for attempt, delay in enumerate(backoff.delays(), 1):
            self.state = f"reconnecting (attempt {attempt}, next in {delay:.1f} s)"
            self._emit("on_error", EngineError(f"{lost} {src.name}: {self.state}", kind="reconnecting"))
            if self._stop.wait(delay):
                return True
            if src.reconnect():
                self.state = "running"
                self._emit("on_error", EngineError(f"{src.name} is back (reconnected)", kind="reconnected"))
                return True
        return False

    def _fatal(self, error: EngineError) -> None:
        self.errors.append(error)
        self.end_reason = "error"
        self._emit("on_error", error)
        self._stop.set()

    def _tracking_loop(self) -> None:
        """Stage 1 on the frames of the capture mailbox -> the tracked mailbox."""
        pipe = self.pipeline
        try:
            while not self._stop.is_set():
                frame = self.mailbox.get(timeout=0.05)
                if frame is None:
                    if self._capture_done.is_set() and len(self.mailbox) == 0:
                        break
                    continue
                if self._reset_requested.is_set():
                    self._reset_requested.clear()
                    pipe.request_reset()
                try:
                    item = pipe.track(frame)
                except Exception as exc:
                    pipe.request_reset()  # start afresh with the next frame
                    item = TrackingFailure(
                        EngineError(
                            f"processing frame {frame.index} failed: {exc!r}",
                            kind="internal",
                            frame_index=frame.index,
                            detail=traceback.format_exc(),
                        )
                    )
                if self._lossless:
                    while not self.tracked.wait_room(0.05) and not self._stop.is_set():
                        pass
                self.tracked.put(item, keep_all=self._lossless)
        finally:
            self._tracking_done.set()

    def _worker_loop(self) -> None:
        pipe = self.pipeline
        last_stats = time.monotonic()
        try:
            while not self._stop.is_set():
                item = self.tracked.get(timeout=0.05)
                if item is None:
                    if self._tracking_done.is_set() and len(self.tracked) == 0:
                        break
                    continue
                if isinstance(item, TrackingFailure):
                    self.errors.append(item.error)
                    self._emit("on_error", item.error)
                    pipe.buffer.reset()
                    pipe.smoother.reset()
                    continue
                pipe.dropped = self.dropped
                pipe.capture_fps = float(self.source.fps)
                try:
                    res = pipe.infer(item)
                except Exception as exc:
                    err = EngineError(
                        f"processing frame {item.frame.index} failed: {exc!r}",
                        kind="internal",
                        frame_index=item.frame.index,
                        detail=traceback.format_exc(),
                    )
                    self.errors.append(err)
                    self._emit("on_error", err)
                    pipe.buffer.reset()
                    continue
                self.frames_processed += 1
                self._recent["tracking"].append(res.frame.tracking_ms)
                if res.frame.sampled:
                    self._recent["encoder"].append(res.frame.encoder_ms)
                    if res.frame.pair_ms:
                        self._recent["pair"].append(res.frame.pair_ms)
                self._emit("on_frame", res.frame)
                if res.error is not None:
                    self.errors.append(res.error)
                    self._emit("on_error", res.error)
                if res.window is not None:
                    self.windows += 1
                    self._recent["latency"].append(res.window.latency_ms)
                    self._recent["temporal"].append(res.window.timings["temporal_ms"])
                    self._emit("on_window", res.window)
                now = time.monotonic()
                if now - last_stats >= self.config.stats_period_s:
                    last_stats = now
                    self._emit("on_stats", self.stats())
        finally:
            if self.end_reason is None:
                self.end_reason = "stopped" if self._stop.is_set() else "eof"
            self._stop.set()
            self.state = "ended"
            self._emit("on_stats", self.stats())
            self._emit("on_end", self.end_reason)
