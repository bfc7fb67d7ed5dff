"""Tracking -> sampled buffer -> streaming inference -> decision, one frame at a time, in two stages.

:meth:`Pipeline.track` (stage 1) runs the frame checks (:mod:`livenessapp.quality`), the face tracker
(:mod:`livenessapp.tracking`), the parallax cue's history, picks the sampled frames
(:class:`~livenessapp.buffer.SampleClock`) and prepares their crop, depth mask and network input
(:class:`PreparedSample`); the result is a :class:`TrackedFrame`. :meth:`Pipeline.infer` (stage 2) encodes
each sample once (encoder graph), runs the pair graph on (previous sample, this sample), caches both in the
:class:`~livenessapp.buffer.FrameBuffer` and, once the ring is full, runs the small temporal graph on the
window and decides.

Decision (per window)
---------------------
``score`` is the graph's Eq. 18 score ``beta * p_live + (1 - beta) * depth score``; ``smoothed`` is its
running smooth (:class:`~livenessapp.smoothing.ScoreSmoother`: EMA or windowed mean), restarted with a new
track. ``network_live = smoothed >= threshold`` (the model's calibrated threshold unless overridden). The
parallax cue (:mod:`livenessapp.parallax`) runs on the window's landmarks and is fused with the network
(``fusion_rule``, default ``"either_spoof"``); ``live`` / ``verdict`` are the fused decision.

The live engine (:mod:`livenessapp.engine`) runs the two stages on two threads,
:func:`~livenessapp.analysis.analyze_video` on a helper thread and the caller's; :meth:`Pipeline.step`
runs both on one thread. Either way the results are the same.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from livenessapp.buffer import FrameBuffer, SampleClock, SampledFrame
from livenessapp.face import crop_face_like_training, depth_label, normalise
from livenessapp.parallax import ParallaxConfig, ParallaxCue, estimate_parallax, fuse
from livenessapp.quality import FrameCheck, check_frame
from livenessapp.results import EngineConfig, EngineError, FrameResult, StepResult, WindowResult
from livenessapp.smoothing import ScoreSmoother
from livenessapp.sources import Frame
from livenessapp.tracking import PrimaryFaceTracker, TrackResult, min_face_px_for_model

__all__ = ["ModelOutputError", "Pipeline", "PreparedSample", "TrackedFrame"]


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
        crop, affine = crop_face_like_training(
            frame.image_bgr,
            face,
            meta.input_size,
            meta.crop_scale,
            meta.crop_codec,
            meta.crop_margin,
            meta.crop_border,
        )
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
