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

Decision (per window)
---------------------
``score`` is the graph's Eq. 18 score ``beta * p_live + (1 - beta) * depth score``; ``smoothed`` is its
exponential moving average ``s <- a * s + (1 - a) * score`` (``smoothing = a`` in [0, 1), 0 = off) or the
mean of the last ``smoothing_window`` scores (``smoothing_mode="window"``); both restart with a new track.
``network_live = smoothed >= threshold`` (the model's calibrated threshold unless overridden). The
parallax cue (:mod:`livenessapp.parallax`) runs on the window's landmarks and is fused with the network
(``fusion_rule``, default ``"either_spoof"``); ``live`` / ``verdict`` are the fused decision.

:func:`analyze_video` is the deterministic path (every frame, nothing dropped) used by ``livenessapp
analyze``; it runs the very same :class:`Pipeline` stages as the engine, tracking on a helper thread a
few frames ahead of inference (results identical to running both stages on one thread).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livenessapp.buffer import FrameBuffer, SampleClock, SampledFrame
from livenessapp.face import crop_face, depth_label, normalise
from livenessapp.parallax import (
    FusionDecision,
    ParallaxConfig,
    ParallaxCue,
    ParallaxResult,
    estimate_parallax,
    fuse,
)
from livenessapp.quality import FrameCheck, check_frame
from livenessapp.sources import Frame, FrameSource, SourceError, SourceLost, open_source
from livenessapp.tracking import PrimaryFaceTracker, TrackerConfig, TrackResult, min_face_px_for_model

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
    realtime: bool = True  # pace file sources at their frame rate; False: every frame, as fast as possible
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
    hint: str  # Hint.value / Quality.value: text for the user, "" when all is well
    hint_code: str  # Hint.name ("OK", "NO_FACE", "SEVERAL_FACES", "TOO_SMALL", "AT_EDGE") or a Quality name
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
    quality: tuple[str, ...] = ()  # livenessapp.quality.Quality names of the frame's problems
    carried: bool = False  # no face mesh on this frame: box / landmarks of the last meshed frame
    pair_ms: float = 0.0  # pair graph, 0 unless sampled (and not the first sample of a track)


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
    timings: dict[str, float]  # tracking_ms, encoder_ms, pair_ms, temporal_ms, inference_ms, total_ms
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
    pair_ms: float = 0.0
    state: str = "running"  # LivenessEngine.state: "running", "reconnecting (attempt k, next in s)", ...


@dataclass
class EngineError:
    """An error in the engine (``on_error``); ``fatal`` errors end the run."""

    message: str
    # "model_output" (NaN / inf), "source", "listener", "internal"; notices (never fatal):
    # "reconnecting" (a lost camera, with the attempt and the wait), "reconnected"
    kind: str = "error"
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


@dataclass
class PreparedSample:
    """A sampled frame made ready for the network by the tracking stage."""

    image: np.ndarray  # [1, 3, S, S] normalised float32 (the encoder's input)
    crop: np.ndarray  # RGB uint8 [S, S, 3]
    mask: np.ndarray  # [1, d, d] float32
    landmarks: np.ndarray
    box: tuple[float, float, float, float]
    noise_px: float  # the parallax cue's jitter estimate at this frame (taken here: deterministic)


@dataclass
class TrackedFrame:
    """The tracking stage's result for one frame (:meth:`Pipeline.track`), the inference stage's input
    (:meth:`Pipeline.infer`). The resets apply before the sample."""

    frame: Frame
    track: TrackResult
    tracking_ms: float
    check: FrameCheck
    sample: PreparedSample | None = None
    reset_all: bool = False  # discontinuity / reset request: empty the ring and restart the smoothing
    reset_buffer: bool = False  # no judgeable face / a new face: empty the ring
    reset_track: bool = False  # no face / a new face: restart the smoothing

    @property
    def droppable(self) -> bool:
        """A live run may skip this frame in the inference stage (it only moves the overlay; its resets are
        handed on, see :meth:`absorb`)."""
        return self.sample is None

    def absorb(self, dropped: TrackedFrame) -> None:
        """Take over the resets of an earlier frame that is dropped, so that they still happen in order.
        Dropping a sampled frame also empties the ring: the next sample must not pair with the one before
        the gap (a pair spanning two intervals would make an unevenly spaced window)."""
        self.reset_all |= dropped.reset_all
        self.reset_buffer |= dropped.reset_buffer or dropped.sample is not None
        self.reset_track |= dropped.reset_track


class Pipeline:
    """Tracking + streaming inference + decision for one frame at a time, in two stages that two threads
    may run (frames in order through each):

    - :meth:`track` (stage 1): frame checks, face mesh (on sampled frames and while no judgeable face is
      tracked; carried over in between), the parallax cue's history, which frames are sampled, crop, depth
      mask and normalised input of a sampled frame;
    - :meth:`infer` (stage 2): encoder + pair graph on a sampled frame (cached in the ring), temporal graph
      on a full window, smoothing, parallax + fusion, the events.

    :meth:`step` runs both on one thread. Each stage's state is touched by its own method only, so
    ``infer(track(frame))`` gives the same results whether or not the stages run concurrently."""

    def __init__(self, model, config: EngineConfig | None = None, tracker: PrimaryFaceTracker | None = None):
        self.model = model
        self.config = config or EngineConfig()
        meta = model.meta
        self.meta = meta
        self.interval = int(self.config.interval or meta.frame_interval)
        # stage 1
        floor = min_face_px_for_model(meta.input_size, meta.crop_scale)
        if self.config.tracker.min_face_px < floor:  # a smaller face would be upsampled > 2x for the network
            tracker_cfg = dataclasses.replace(self.config.tracker, min_face_px=floor)
            self.config = dataclasses.replace(self.config, tracker=tracker_cfg)
        self.tracker = tracker or PrimaryFaceTracker(self.config.tracker)
        self.clock = SampleClock(self.interval)
        self.parallax = ParallaxCue(ParallaxConfig(num_frames=meta.num_frames, frame_interval=self.interval))
        self._last_mesh_index: int | None = None
        self._reset_pending = False
        # stage 2
        self.buffer = FrameBuffer(meta.num_frames)
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
        """New person / new run: empty the buffer, restart the track and the smoothing (now; for the
        single-threaded use, see :meth:`request_reset` otherwise)."""
        self._reset_tracking()
        self._reset_pending = False
        self.buffer.reset()
        self.smoother.reset()

    def request_reset(self) -> None:
        """Thread-safe :meth:`reset`: the next frame through :meth:`track` resets both stages in order."""
        self._reset_pending = True

    def _reset_tracking(self) -> None:
        self.tracker.reset()
        self.parallax.reset()
        self.clock.reset()
        self._last_mesh_index = None

    def close(self) -> None:
        self.tracker.close()

    def step(self, frame: Frame) -> StepResult:
        """Both stages on this thread."""
        return self.infer(self.track(frame))

    # -- stage 1 ----------------------------------------------------------------------------------------
    def _may_carry(self, frame_index: int) -> bool:
        """May the mesh skip this frame? Only between samples, at most ``carry_frames`` frames after the
        last meshed one (the tracker also wants a judgeable face whose box region has not changed)."""
        return (
            self._last_mesh_index is not None
            and 0 < frame_index - self._last_mesh_index <= self.config.tracker.carry_frames
            and not self.clock.due(frame_index)
        )

    def track(self, frame: Frame) -> TrackedFrame:
        """Stage 1 (see the class docstring)."""
        reset_all = frame.discontinuity or self._reset_pending
        if reset_all:
            self._reset_pending = False
            self._reset_tracking()
        check = check_frame(frame.image_bgr)  # grayscale -> BGR, huge -> downscaled, dark / overexposed
        if check.image is not frame.image_bgr:
            frame = dataclasses.replace(frame, image_bgr=check.image)
        t0 = time.perf_counter()
        tr = self.tracker.process(frame.image_bgr, may_carry=self._may_carry(frame.index))
        carried = tr.carried
        if not carried:
            self._last_mesh_index = frame.index
        tracking_ms = 1e3 * (time.perf_counter() - t0)
        face = tr.face
        reset_buffer = face is None or tr.identity_changed or not tr.judgeable
        reset_track = face is None or tr.identity_changed
        if reset_buffer:
            self.clock.reset()
        if reset_track:
            self.parallax.reset()
        # The cue's history gets the landmarks of meshed frames only (a carried copy would look like a
        # perfectly still face to its jitter estimate).
        self.parallax.update(
            None if face is None or carried else face.landmarks, None if face is None else face.size
        )
        sample = None
        if face is not None and tr.judgeable and self.clock.due(frame.index):
            sample = self._prepare(frame, face)
            self.clock.mark(frame.index)
        return TrackedFrame(frame, tr, tracking_ms, check, sample, reset_all, reset_buffer, reset_track)

    def _prepare(self, frame: Frame, face) -> PreparedSample:
        meta = self.meta
        crop, affine = crop_face(frame.image_bgr, face, meta.input_size, meta.crop_scale)
        _, mask = depth_label(face, affine, meta.input_size, meta.depth_size)
        return PreparedSample(
            image=normalise(crop, meta.mean, meta.std)[None],
            crop=crop,
            mask=mask[None].astype(np.float32),
            landmarks=face.landmarks,
            box=tuple(face.box),
            noise_px=self.parallax.noise_px(face.box[2] - face.box[0]),
        )

    # -- stage 2 ----------------------------------------------------------------------------------------
    def infer(self, tracked: TrackedFrame) -> StepResult:
        """Stage 2 (see the class docstring)."""
        now = time.perf_counter()
        if self._last_step is not None and now > self._last_step:
            inst = 1.0 / (now - self._last_step)
            self._fps = inst if self._fps == 0 else 0.9 * self._fps + 0.1 * inst
        self._last_step = now
        frame, tr = tracked.frame, tracked.track
        if tracked.reset_all or tracked.reset_buffer:
            self.buffer.reset()
        if tracked.reset_all or tracked.reset_track:
            self.smoother.reset()
        window: WindowResult | None = None
        error: EngineError | None = None
        encoder_ms = pair_ms = 0.0
        sampled = False
        if tracked.sample is not None:
            try:
                sample, encoder_ms, pair_ms = self._encode(frame, tracked.sample)
                self.buffer.push(sample)
                sampled = True
                if self.buffer.full:
                    window = self._score(tracked, encoder_ms, pair_ms)
            except ModelOutputError as exc:
                self.buffer.reset()
                self.smoother.reset()
                error = EngineError(str(exc), kind="model_output", frame_index=frame.index)
        face = tr.face
        check = tracked.check
        keep = self.config.keep_images
        hint, hint_code = tr.hint.value, tr.hint.name
        if check.issue is not None and (face is None or hint_code == "OK"):  # why no face / what to fix
            hint, hint_code = check.issue.value, check.issue.name
        fr = FrameResult(
            index=frame.index,
            timestamp_s=frame.timestamp_s,
            frame=frame.image_bgr if keep else None,
            box=None if face is None else tuple(face.box),
            landmarks=None if face is None else face.landmarks,
            num_faces=tr.num_faces,
            hint=hint,
            hint_code=hint_code,
            fill=self.buffer.fill,
            num_frames=self.buffer.num_frames,
            track_id=tr.track_id,
            sampled=sampled,
            fps=self._fps,
            capture_fps=self.capture_fps,
            dropped=self.dropped,
            tracking_ms=tracked.tracking_ms,
            encoder_ms=encoder_ms,
            quality=tuple(q.name for q in check.issues),
            carried=tr.carried,
            pair_ms=pair_ms,
        )
        return StepResult(fr, window, error)

    def _encode(self, frame: Frame, prepared: PreparedSample) -> tuple[SampledFrame, float, float]:
        """Encoder on the new sample, then the pair graph on (previous sample, new sample): both cached."""
        t0 = time.perf_counter()
        feats, ds = self.model.encode(prepared.image)
        encoder_ms = 1e3 * (time.perf_counter() - t0)
        if not (np.isfinite(ds).all() and all(np.isfinite(f).all() for f in feats)):
            raise ModelOutputError(
                f"the model's encoder returned NaN/inf on frame {frame.index}; the window was discarded"
            )
        prev = self.buffer.last
        pair, pair_ms = None, 0.0
        if prev is not None:
            t0 = time.perf_counter()
            pair = self.model.pair(tuple(f[None] for f in prev.feats), feats)[0]
            pair_ms = 1e3 * (time.perf_counter() - t0)
            if not np.isfinite(pair).all():
                raise ModelOutputError(
                    f"the model's pair graph returned NaN/inf on frame {frame.index}; the window was discarded"
                )
            prev.feats = ()  # only the newest sample's features are needed (for the next pair)
        sample = SampledFrame(
            frame_index=frame.index,
            timestamp_s=frame.timestamp_s,
            feats=tuple(f[0] for f in feats),
            depth_single=ds[0],
            mask=prepared.mask,
            crop=prepared.crop,
            landmarks=prepared.landmarks,
            box=prepared.box,
            captured_at=frame.captured_at,
            pair=pair,
        )
        return sample, encoder_ms, pair_ms

    def _score(self, tracked: TrackedFrame, encoder_ms: float, pair_ms: float) -> WindowResult:
        frame = tracked.frame
        pairs, ds, masks = self.buffer.stacked()
        t0 = time.perf_counter()
        out = self.model.temporal(pairs, ds, masks)
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
            par = estimate_parallax(
                [s.landmarks for s in win],
                win[-1].box[2] - win[-1].box[0],
                self.parallax.config,
                noise_px=tracked.sample.noise_px,
            )
        rule = self.config.fusion_rule if self.config.parallax else "network"
        decision = fuse(smoothed, threshold, par, rule)
        self.windows += 1
        latency_ms = 1e3 * (time.monotonic() - frame.captured_at)
        tracking_ms = tracked.tracking_ms
        return WindowResult(
            index=self.windows - 1,
            frame_index=frame.index,
            frame_indices=[s.frame_index for s in win],
            timestamp_s=frame.timestamp_s,
            track_id=tracked.track.track_id,
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
                "pair_ms": pair_ms,
                "temporal_ms": temporal_ms,
                "inference_ms": encoder_ms + pair_ms + temporal_ms,
                "total_ms": tracking_ms + encoder_ms + pair_ms + temporal_ms,
            },
            latency_ms=latency_ms,
        )


# --------------------------------------------------------------------------------------------------------
# File analysis (every frame)
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
    thread either way). Raises :class:`SourceError` when the input cannot be opened."""
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
            self._cond.notify_all()
            return item

    def wait_empty(self, timeout: float) -> bool:
        """Wait until the unread item is taken (back-pressure for sources that must not drop frames)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._has, timeout)

    def __len__(self) -> int:
        with self._cond:
            return int(self._has)


@dataclass
class _TrackingFailure:
    """Stage 1 failed on a frame: reported by the inference thread (listeners are called there only)."""

    error: EngineError
    droppable: bool = False

    def absorb(self, dropped) -> None:  # a failure resets everything anyway
        pass


class TrackedMailbox:
    """Hand-over from the tracking thread to the inference thread of a live run.

    Frames with a sample (work for the network) wait in order; a frame without one (it only moves the
    overlay) is replaced by the next frame while it waits (latest wins). Past ``capacity`` waiting frames the
    oldest is dropped, so latency stays bounded when inference falls behind. A dropped frame's resets are
    handed on to the frame after it (:meth:`TrackedFrame.absorb`), so they still happen in order.
    ``dropped`` counts the dropped frames."""

    def __init__(self, capacity: int = 2):
        self._cond = threading.Condition()
        self._items: deque = deque()
        self.capacity = max(1, int(capacity))
        self.dropped = 0

    def put(self, item, keep_all: bool = False) -> int:
        """Queue ``item``; returns how many waiting frames were dropped to make room (none with
        ``keep_all``: the caller waits for room instead, see :meth:`wait_room`)."""
        with self._cond:
            dropped = 0
            if keep_all:
                self._items.append(item)
                self._cond.notify()
                return 0
            if self._items and self._items[-1].droppable:
                item.absorb(self._items.pop())
                dropped += 1
            self._items.append(item)
            while len(self._items) > self.capacity:
                i = next((k for k, x in enumerate(self._items) if not isinstance(x, _TrackingFailure)), None)
                if i is None or i == len(self._items) - 1:
                    break
                old = self._items[i]
                del self._items[i]
                self._items[i].absorb(old)
                dropped += 1
            self.dropped += dropped
            self._cond.notify()
            return dropped

    def get(self, timeout: float | None = None):
        """The oldest waiting item, or None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def wait_room(self, timeout: float) -> bool:
        """Wait until fewer than ``capacity`` frames wait (back-pressure for sources that must not drop)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) < self.capacity, timeout)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


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
                    item = _TrackingFailure(
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
                if isinstance(item, _TrackingFailure):
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


def model_summary(model) -> dict:
    """Small JSON-able description used by the headless commands."""
    return {
        "model": Path(model.path).name,
        "provider": model.provider,
        "threshold": model.meta.threshold,
        "num_frames": model.meta.num_frames,
        "frame_interval": model.meta.frame_interval,
    }
