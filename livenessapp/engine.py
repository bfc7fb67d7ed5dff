"""The real-time liveness engine: capture -> face tracking -> streaming FAS-SGTD inference -> verdict.

Threading model
---------------
::

    capture thread  --(single-slot mailbox, latest wins)-->  processing worker  --> listeners
    (source.read(), paces files                              (tracking, encoder on sampled frames,
     at their frame rate)                                     temporal graph on the cached window)

- The mailbox holds ONE frame. When the worker is still busy with a frame and the camera delivers a new
  one, the waiting frame is replaced (dropped, counted in ``dropped``), never queued: the worker always
  processes the newest frame, so latency cannot grow.
- The worker is *streaming*: each sampled frame (every ``interval`` frames, from the model's metadata) is
  encoded once by the encoder graph; its features, D_single, mask, crop and landmarks are cached in a
  :class:`~livenessapp.buffer.FrameBuffer`; every new sample runs only the temporal graph on the cached
  window (Nf cached frames). The per-frame work is tracking plus, on sampled frames, one encoder pass.
- Listeners are called from the worker thread (``on_frame`` for every processed frame, ``on_window`` for
  every scored window, ``on_stats`` about once a second, ``on_error`` for errors, ``on_end`` once when the
  run ends). A listener is any object with some of these methods (missing ones are skipped), e.g. the GUI's
  ``EngineBridge`` that re-emits them as Qt signals; or use :meth:`LivenessEngine.subscribe` with callables.
  Exceptions raised by listeners are caught (reported via ``on_error``) and never stop the worker.

Events are plain dataclasses: :class:`FrameResult`, :class:`WindowResult`, :class:`EngineStats`,
:class:`EngineError`; ``on_end`` receives the reason ("eof", "stopped" or "error").

Decision (per window)
---------------------
``score`` is the graph's Eq. 18 score ``beta * p_live + (1 - beta) * depth score``; ``smoothed`` is its
exponential moving average ``s <- a * s + (1 - a) * score`` (``smoothing = a`` in [0, 1), 0 = off) or the
mean of the last ``smoothing_window`` scores (``smoothing_mode="window"``); both restart with a new track.
``network_live = smoothed >= threshold`` (the model's calibrated threshold unless overridden). The
parallax cue (:mod:`livenessapp.parallax`) runs on the window's landmarks and is fused with the network
(``fusion_rule``, default ``"either_spoof"``); ``live`` / ``verdict`` are the fused decision.

:func:`analyze_video` is the synchronous, deterministic path (every frame, nothing dropped) used by
``livenessapp analyze``; it runs the very same :class:`Pipeline` step as the worker.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livenessapp.buffer import FrameBuffer, SampledFrame
from livenessapp.face import crop_face, depth_label, normalise
from livenessapp.parallax import FusionDecision, ParallaxConfig, ParallaxCue, ParallaxResult, fuse
from livenessapp.sources import Frame, FrameSource, SourceError, open_source
from livenessapp.tracking import PrimaryFaceTracker, TrackerConfig

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
    "VideoAnalysis",
    "WindowResult",
    "analyze_video",
]


# --------------------------------------------------------------------------------------------------------
# Configuration and events
# --------------------------------------------------------------------------------------------------------
@dataclass
class EngineConfig:
    threshold: float | None = None  # None = the model's calibrated livenessapp.threshold
    interval: int | None = None  # sampling interval; None = the model's livenessapp.frame_interval
    smoothing: float = 0.5  # EMA weight of the previous smoothed score (0 = no smoothing)
    smoothing_mode: str = "ema"  # "ema" or "window"
    smoothing_window: int = 5  # windows averaged in "window" mode
    fusion_rule: str = "either_spoof"  # livenessapp.parallax.FUSION_RULES
    parallax: bool = True  # run the motion-parallax cue
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    realtime: bool = True  # pace file sources at their frame rate (cameras are real time anyway)
    loop: bool = False  # restart file sources at the end (when the engine opens the source itself)
    keep_images: bool = True  # FrameResult.frame / WindowResult.crops (analyze drops them)
    stats_period_s: float = 1.0


@dataclass
class FrameResult:
    """One processed frame (``on_frame``). ``frame`` is the BGR image (not copied: do not modify)."""

    index: int
    timestamp_s: float
    frame: np.ndarray | None
    box: tuple[float, float, float, float] | None
    landmarks: np.ndarray | None
    num_faces: int
    hint: str  # Hint.value: text for the user, "" when all is well
    hint_code: str  # Hint.name: "OK", "NO_FACE", "SEVERAL_FACES", "TOO_SMALL", "AT_EDGE"
    fill: int  # k of k / Nf
    num_frames: int  # Nf
    track_id: int
    sampled: bool  # this frame was encoded into the buffer
    fps: float  # processed frames per second
    capture_fps: float  # source frame rate (measured for cameras)
    dropped: int  # frames dropped by the latest-wins mailbox so far
    tracking_ms: float
    encoder_ms: float  # 0 unless sampled
    time: float = field(default_factory=time.monotonic)


@dataclass
class WindowResult:
    """One scored window of Nf sampled frames (``on_window``)."""

    index: int  # window counter of the run
    frame_index: int  # the newest frame of the window (the one whose arrival completed it)
    frame_indices: list[int]
    timestamp_s: float
    track_id: int
    crops: list[np.ndarray]  # Nf RGB uint8 crops (empty when keep_images=False)
    depth_single: np.ndarray  # [Nf, d, d] D_single per frame
    depth_fusion: np.ndarray  # [Nf-1, d, d] D_fusion per pair
    masks: np.ndarray  # [Nf, d, d]
    p_live: float
    depth_score: float | None  # the depth term of Eq. 18, recovered as (score - beta p_live) / (1 - beta)
    score: float  # Eq. 18 from the graph
    smoothed: float
    threshold: float
    network_live: bool  # smoothed >= threshold
    parallax: ParallaxResult | None
    fusion: FusionDecision
    live: bool  # the fused decision
    verdict: str  # "live" / "spoof" (the fused decision)
    timings: dict[str, float]  # tracking_ms, encoder_ms, temporal_ms, inference_ms, total_ms
    latency_ms: float  # capture of the newest frame -> this result
    time: float = field(default_factory=time.monotonic)

    @property
    def inference_ms(self) -> float:
        return self.timings.get("inference_ms", 0.0)

    def to_json(self) -> dict:
        """Plain-JSON summary (no images)."""
        par = self.parallax
        return {
            "window": self.index,
            "frame": self.frame_index,
            "t": round(self.timestamp_s, 3),
            "track": self.track_id,
            "score": _r(self.score),
            "p_live": _r(self.p_live),
            "depth_score": _r(self.depth_score),
            "smoothed": _r(self.smoothed),
            "threshold": _r(self.threshold),
            "network_live": self.network_live,
            "parallax": None
            if par is None
            else {"state": par.state, "score": _r(par.score), "threshold": _r(par.threshold)},
            "live": self.live,
            "verdict": self.verdict,
            "reason": self.fusion.reason,
            "latency_ms": _r(self.latency_ms, 2),
            "timings_ms": {k: _r(v, 2) for k, v in self.timings.items()},
        }


@dataclass
class EngineStats:
    """About once a second (``on_stats``)."""

    frames_captured: int
    frames_processed: int
    dropped: int
    windows: int
    capture_fps: float
    processing_fps: float
    latency_ms: float  # mean frame-to-verdict latency of the recent windows
    tracking_ms: float  # recent means
    encoder_ms: float
    temporal_ms: float
    provider: str
    time: float = field(default_factory=time.monotonic)


@dataclass
class EngineError:
    """An error in the engine (``on_error``); ``fatal`` errors end the run."""

    message: str
    kind: str = "error"  # "model_output" (NaN / inf), "source", "listener", "internal"
    frame_index: int | None = None
    fatal: bool = False
    detail: str = ""

    def __str__(self) -> str:
        return self.message


@dataclass
class StepResult:
    frame: FrameResult
    window: WindowResult | None = None
    error: EngineError | None = None


def _r(x, nd: int = 4):
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


# --------------------------------------------------------------------------------------------------------
# Score smoothing
# --------------------------------------------------------------------------------------------------------
class ScoreSmoother:
    """Exponential (``mode="ema"``, ``s <- a s + (1 - a) x``) or windowed mean (``mode="window"``)."""

    def __init__(self, alpha: float = 0.5, mode: str = "ema", window: int = 5):
        if mode not in ("ema", "window"):
            raise ValueError("smoothing mode must be 'ema' or 'window'")
        if not 0.0 <= alpha < 1.0:
            raise ValueError("smoothing must be in [0, 1)")
        self.alpha, self.mode = float(alpha), mode
        self._values: deque[float] = deque(maxlen=max(1, int(window)))
        self.value: float | None = None

    def reset(self) -> None:
        self._values.clear()
        self.value = None

    def update(self, x: float) -> float:
        x = float(x)
        if self.mode == "window":
            self._values.append(x)
            self.value = float(np.mean(self._values))
        else:
            self.value = x if self.value is None else self.alpha * self.value + (1.0 - self.alpha) * x
        return self.value


# --------------------------------------------------------------------------------------------------------
# The per-frame pipeline (single-threaded, deterministic)
# --------------------------------------------------------------------------------------------------------
class ModelOutputError(RuntimeError):
    pass


class Pipeline:
    """Tracking + streaming inference + decision for one frame at a time. Used by the engine's worker and
    by :func:`analyze_video`. Not thread-safe: one thread calls :meth:`step`."""

    def __init__(self, model, config: EngineConfig | None = None, tracker: PrimaryFaceTracker | None = None):
        self.model = model
        self.config = config or EngineConfig()
        meta = model.meta
        self.meta = meta
        self.interval = int(self.config.interval or meta.frame_interval)
        self.tracker = tracker or PrimaryFaceTracker(self.config.tracker)
        self.buffer = FrameBuffer(meta.num_frames, self.interval)
        self.parallax = ParallaxCue(ParallaxConfig(num_frames=meta.num_frames, frame_interval=self.interval))
        self.smoother = ScoreSmoother(
            self.config.smoothing, self.config.smoothing_mode, self.config.smoothing_window
        )
        self.threshold_override: float | None = self.config.threshold
        self.windows = 0
        self.dropped = 0  # set by the engine
        self.capture_fps = 0.0
        self._fps = 0.0
        self._last_step: float | None = None

    @property
    def threshold(self) -> float:
        return float(self.meta.threshold if self.threshold_override is None else self.threshold_override)

    def reset(self) -> None:
        """New person / new run: empty the buffer, restart the track and the smoothing."""
        self.tracker.reset()
        self.buffer.reset()
        self.parallax.reset()
        self.smoother.reset()

    def close(self) -> None:
        self.tracker.close()

    def step(self, frame: Frame) -> StepResult:
        now = time.perf_counter()
        if self._last_step is not None and now > self._last_step:
            inst = 1.0 / (now - self._last_step)
            self._fps = inst if self._fps == 0 else 0.9 * self._fps + 0.1 * inst
        self._last_step = now
        if frame.discontinuity:
            self.reset()
        image = frame.image_bgr
        t0 = time.perf_counter()
        tr = self.tracker.process(image)
        tracking_ms = 1e3 * (time.perf_counter() - t0)
        face = tr.face
        if face is None or tr.identity_changed or not tr.judgeable:
            self.buffer.reset()
            if face is None or tr.identity_changed:
                self.parallax.reset()
                self.smoother.reset()
        self.parallax.update(None if face is None else face.landmarks, None if face is None else face.size)

        window: WindowResult | None = None
        error: EngineError | None = None
        encoder_ms = 0.0
        sampled = False
        if face is not None and tr.judgeable and self.buffer.due(frame.index):
            try:
                sample, encoder_ms = self._encode(frame, face)
                self.buffer.push(sample)
                sampled = True
                if self.buffer.full:
                    window = self._score(frame, tr.track_id, tracking_ms, encoder_ms)
            except ModelOutputError as exc:
                self.buffer.reset()
                self.smoother.reset()
                error = EngineError(str(exc), kind="model_output", frame_index=frame.index)
        keep = self.config.keep_images
        fr = FrameResult(
            index=frame.index,
            timestamp_s=frame.timestamp_s,
            frame=image if keep else None,
            box=None if face is None else tuple(face.box),
            landmarks=None if face is None else face.landmarks,
            num_faces=tr.num_faces,
            hint=tr.hint.value,
            hint_code=tr.hint.name,
            fill=self.buffer.fill,
            num_frames=self.buffer.num_frames,
            track_id=tr.track_id,
            sampled=sampled,
            fps=self._fps,
            capture_fps=self.capture_fps,
            dropped=self.dropped,
            tracking_ms=tracking_ms,
            encoder_ms=encoder_ms,
        )
        return StepResult(fr, window, error)

    def _encode(self, frame: Frame, face) -> tuple[SampledFrame, float]:
        meta = self.meta
        crop, affine = crop_face(frame.image_bgr, face, meta.input_size, meta.crop_scale)
        _, mask = depth_label(face, affine, meta.input_size, meta.depth_size)
        x = normalise(crop, meta.mean, meta.std)[None]
        t0 = time.perf_counter()
        feats, ds = self.model.encode(x)
        encoder_ms = 1e3 * (time.perf_counter() - t0)
        if not (np.isfinite(ds).all() and all(np.isfinite(f).all() for f in feats)):
            raise ModelOutputError(
                f"the model's encoder returned NaN/inf on frame {frame.index}; the window was discarded"
            )
        sample = SampledFrame(
            frame_index=frame.index,
            timestamp_s=frame.timestamp_s,
            feats=tuple(f[0] for f in feats),
            depth_single=ds[0],
            mask=mask[None].astype(np.float32),
            crop=crop,
            landmarks=face.landmarks,
            box=tuple(face.box),
            captured_at=frame.captured_at,
        )
        return sample, encoder_ms

    def _score(self, frame: Frame, track_id: int, tracking_ms: float, encoder_ms: float) -> WindowResult:
        feats, ds, masks = self.buffer.stacked()
        t0 = time.perf_counter()
        out = self.model.temporal(feats, ds, masks)
        temporal_ms = 1e3 * (time.perf_counter() - t0)
        if not out.is_finite():
            raise ModelOutputError(
                f"the model's temporal graph returned NaN/inf on the window ending at frame {frame.index}; "
                "the window was discarded"
            )
        score = float(out.score[0])
        p_live = float(out.p_live[0])
        beta = self.meta.beta
        depth_score = (score - beta * p_live) / (1.0 - beta) if beta < 1.0 else None
        smoothed = self.smoother.update(score)
        threshold = self.threshold
        win = self.buffer.window()
        par = None
        if self.config.parallax:
            par = self.parallax.evaluate(
                [s.landmarks for s in win], face_size=win[-1].box[2] - win[-1].box[0]
            )
        rule = self.config.fusion_rule if self.config.parallax else "network"
        decision = fuse(smoothed, threshold, par, rule)
        self.windows += 1
        latency_ms = 1e3 * (time.monotonic() - frame.captured_at)
        return WindowResult(
            index=self.windows - 1,
            frame_index=frame.index,
            frame_indices=[s.frame_index for s in win],
            timestamp_s=frame.timestamp_s,
            track_id=track_id,
            crops=[s.crop for s in win] if self.config.keep_images else [],
            depth_single=ds[0, :, 0],
            depth_fusion=out.depth_fusion[0, :, 0],
            masks=masks[0, :, 0],
            p_live=p_live,
            depth_score=depth_score,
            score=score,
            smoothed=smoothed,
            threshold=threshold,
            network_live=bool(smoothed >= threshold),
            parallax=par,
            fusion=decision,
            live=bool(decision.is_live),
            verdict="live" if decision.is_live else "spoof",
            timings={
                "tracking_ms": tracking_ms,
                "encoder_ms": encoder_ms,
                "temporal_ms": temporal_ms,
                "inference_ms": encoder_ms + temporal_ms,
                "total_ms": tracking_ms + encoder_ms + temporal_ms,
            },
            latency_ms=latency_ms,
        )


# --------------------------------------------------------------------------------------------------------
# Synchronous analysis
# --------------------------------------------------------------------------------------------------------
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
    def realtime_factor(self) -> float:
        """Video duration / processing time (> 1 = faster than real time)."""
        return (self.frames / self.fps) / self.wall_s if self.wall_s > 0 and self.fps else 0.0


def analyze_video(
    model,
    path: str | FrameSource,
    config: EngineConfig | None = None,
    max_frames: int | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> VideoAnalysis:
    """Every frame of a video file / frame folder through the pipeline, in order, nothing dropped.

    Deterministic: the same file and model give the same windows. Raises :class:`SourceError` when the
    input cannot be opened."""
    cfg = config or EngineConfig(keep_images=False)
    source = open_source(path) if not isinstance(path, FrameSource) else path
    pipe = Pipeline(model, cfg)
    pipe.capture_fps = source.fps
    windows: list[WindowResult] = []
    errors: list[EngineError] = []
    tracking: list[float] = []
    frames = with_face = 0
    t0 = time.perf_counter()
    try:
        for frame in source:
            res = pipe.step(frame)
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
            if max_frames is not None and frames >= max_frames:
                break
    finally:
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


# --------------------------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------------------------
class LatestMailbox:
    """Single-slot, latest-wins hand-over between two threads. ``put`` replaces an unread item (counted in
    ``dropped``); ``get`` waits for an item."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._has = False
        self.dropped = 0
        self.put_count = 0

    def put(self, item) -> bool:
        """Store ``item``; True if an unread item was dropped to make room."""
        with self._cond:
            dropped = self._has
            if dropped:
                self.dropped += 1
            self._item, self._has = item, True
            self.put_count += 1
            self._cond.notify()
            return dropped

    def get(self, timeout: float | None = None):
        """The item, or None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._has and not self._cond.wait_for(lambda: self._has, timeout):
                return None
            item, self._item, self._has = self._item, None, False
            return item

    def __len__(self) -> int:
        with self._cond:
            return int(self._has)


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
        self.mailbox = LatestMailbox()
        self._stop = threading.Event()
        self._capture_done = threading.Event()
        self._reset_requested = threading.Event()
        self._capture_thread: threading.Thread | None = None
        self._worker_thread: threading.Thread | None = None
        self.pipeline: Pipeline | None = None
        self.end_reason: str | None = None
        self.frames_captured = 0
        self.frames_processed = 0
        self.windows: int = 0
        self.errors: list[EngineError] = []
        self._recent = {k: deque(maxlen=30) for k in ("latency", "tracking", "encoder", "temporal")}
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
        return self._worker_thread is not None and self._worker_thread.is_alive()

    @property
    def dropped(self) -> int:
        return self.mailbox.dropped

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
        if self.running:
            return
        self.open()
        if self.pipeline is None:
            self.pipeline = Pipeline(self.model, self.config, tracker=self._tracker)
            self.pipeline.threshold_override = self._threshold
        self._stop.clear()
        self._capture_done.clear()
        self.end_reason = None
        self._started_at = time.monotonic()
        self._capture_thread = threading.Thread(
            target=self._capture_loop, name="liveness-capture", daemon=True
        )
        self._worker_thread = threading.Thread(target=self._worker_loop, name="liveness-worker", daemon=True)
        self._worker_thread.start()
        self._capture_thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads and wait for them (up to ``timeout`` s each)."""
        self._stop.set()
        for t in (self._capture_thread, self._worker_thread):
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
            dropped=self.mailbox.dropped,
            windows=self.windows,
            capture_fps=float(src.fps) if src is not None else 0.0,
            processing_fps=pipe._fps if pipe is not None else 0.0,
            latency_ms=mean("latency"),
            tracking_ms=mean("tracking"),
            encoder_ms=mean("encoder"),
            temporal_ms=mean("temporal"),
            provider=getattr(self.model, "provider", ""),
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
                frame = src.read()
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

    def _fatal(self, error: EngineError) -> None:
        self.errors.append(error)
        self.end_reason = "error"
        self._emit("on_error", error)
        self._stop.set()

    def _worker_loop(self) -> None:
        pipe = self.pipeline
        last_stats = time.monotonic()
        try:
            while not self._stop.is_set():
                frame = self.mailbox.get(timeout=0.05)
                if frame is None:
                    if self._capture_done.is_set() and len(self.mailbox) == 0:
                        break
                    continue
                if self._reset_requested.is_set():
                    self._reset_requested.clear()
                    pipe.reset()
                pipe.dropped = self.mailbox.dropped
                pipe.capture_fps = float(self.source.fps)
                try:
                    res = pipe.step(frame)
                except Exception as exc:
                    err = EngineError(
                        f"processing frame {frame.index} failed: {exc!r}",
                        kind="internal",
                        frame_index=frame.index,
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
            self._emit("on_stats", self.stats())
            self._emit("on_end", self.end_reason)


def model_summary(model) -> dict:
    """Small JSON-able description used by the headless commands."""
    return {
        "model": Path(model.path).name,
        "provider": model.provider,
        "threshold": model.meta.threshold,
        "num_frames": model.meta.num_frames,
        "frame_interval": model.meta.frame_interval,
    }
