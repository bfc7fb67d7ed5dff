"""The engine's settings and the events it emits: plain dataclasses, no threads, no model.

:class:`EngineConfig` configures a :class:`~livenessapp.pipeline.Pipeline` and a
:class:`~livenessapp.engine.LivenessEngine`. Listeners receive :class:`FrameResult` (every processed
frame), :class:`WindowResult` (every scored window), :class:`EngineStats` (about once a second) and
:class:`EngineError`; :class:`StepResult` is what one :meth:`Pipeline.infer
<livenessapp.pipeline.Pipeline.infer>` returns. All are re-exported by :mod:`livenessapp.engine`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from livenessapp.parallax import FusionDecision, ParallaxResult
from livenessapp.tracking import TrackerConfig

__all__ = ["EngineConfig", "EngineError", "EngineStats", "FrameResult", "StepResult", "WindowResult"]


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
    hint_code: str  # Hint.name ("OK", "NO_FACE", "FACE_COVERED", "SEVERAL_FACES", "TOO_SMALL", "AT_EDGE") or a Quality name
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
