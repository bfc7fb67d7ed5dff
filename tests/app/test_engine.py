from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from livenessapp.engine import (
    EngineConfig,
    LatestMailbox,
    LivenessEngine,
    Pipeline,
    TrackedMailbox,
    analyze_video,
)
from livenessapp.face import FaceMeshTracker
from livenessapp.sources import Frame, FrameSource
from livenessapp.tracking import PrimaryFaceTracker, TrackerConfig, min_face_px_for_model


class ListSource(FrameSource):
    """Frames from memory as fast as they are asked for (a file source not paced)."""

    def __init__(self, images, fps=30.0, repeat=1, pace_s=0.0):
        super().__init__("list")
        self.images, self.fps, self.repeat, self.pace_s = images, fps, repeat, pace_s

    def read(self):
        if self._index >= len(self.images) * self.repeat:
            return None
        if self.pace_s:
            time.sleep(self.pace_s)
        i = self._index
        self._index += 1
        return Frame(i, i / self.fps, self.images[i % len(self.images)])


class SlowModel:
    """Fault injection: the real model, with an encoder that sleeps."""

    def __init__(self, model, delay_s):
        self._model, self.delay_s = model, delay_s

    def __getattr__(self, name):
        return getattr(self._model, name)

    def encode(self, x):
        time.sleep(self.delay_s)
        return self._model.encode(x)


class NaNModel(SlowModel):
    def temporal(self, *args):
        out = self._model.temporal(*args)
        out.score = out.score * np.nan
        return out


def test_pipeline_samples_every_interval_and_streams(tiny_model, grace_hopper_bgr, moving):
    pipe = Pipeline(tiny_model, EngineConfig())
    frames = moving(grace_hopper_bgr, 13)
    results = [pipe.step(Frame(i, i / 30, f)) for i, f in enumerate(frames)]
    sampled = [r.frame.index for r in results if r.frame.sampled]
    assert sampled == [0, 3, 6, 9, 12]
    assert [r.frame.fill for r in results][:4] == [1, 1, 1, 2]
    windows = [r.window for r in results if r.window is not None]
    assert [w.frame_index for w in windows] == [9, 12]
    w = windows[-1]
    assert w.frame_indices == [3, 6, 9, 12]
    assert (
        w.depth_single.shape == (4, 4, 4) and w.depth_fusion.shape == (3, 4, 4) and w.masks.shape == (4, 4, 4)
    )
    assert len(w.crops) == 4 and w.crops[0].shape == (32, 32, 3)
    assert 0.0 <= w.p_live <= 1.0 and w.threshold == 0.5
    # streaming result == full-window recompute on the same crops and masks
    from livenessapp.face import normalise

    x = np.stack([normalise(c, 127.5, 128.0) for c in w.crops])[None]
    full = tiny_model.full(x, w.masks[None, :, None])
    assert abs(float(full.score[0]) - w.score) <= 1e-4
    np.testing.assert_allclose(full.depth_fusion[0, :, 0], w.depth_fusion, atol=1e-4)
    assert w.parallax is not None and w.fusion.rule == "either_spoof"
    assert set(w.timings) >= {"tracking_ms", "encoder_ms", "temporal_ms"}
    pipe.close()


def test_reset_on_face_change(tiny_model, grace_hopper_bgr, astronaut_bgr, moving):
    pipe = Pipeline(tiny_model, EngineConfig())
    a = np.ascontiguousarray(grace_hopper_bgr[:512, :512])
    b = np.ascontiguousarray(astronaut_bgr[:, ::-1])  # astronaut, face moved to the other side
    frames = [a] * 7 + [b] * 4
    res = [pipe.step(Frame(i, i / 30, f)) for i, f in enumerate(frames)]
    assert res[6].frame.fill == 3
    assert res[7].frame.track_id == res[6].frame.track_id + 1
    assert res[7].frame.sampled and res[7].frame.fill == 1
    pipe.close()


def test_latest_wins_drops_under_slow_model(tiny_model, grace_hopper_bgr, moving):
    images = moving(grace_hopper_bgr, 10)
    src = ListSource(images, repeat=6)  # 60 frames delivered as fast as possible
    src.is_live = True  # like a camera: frames keep coming whether or not the engine keeps up
    engine = LivenessEngine(SlowModel(tiny_model, 0.05), src, EngineConfig(realtime=False))
    seen, depth = [], []
    lock = threading.Lock()

    def on_frame(f):
        with lock:
            seen.append(f.index)
            depth.append(len(engine.mailbox))

    ended = []
    engine.subscribe(on_frame=on_frame, on_end=ended.append)
    engine.start()
    assert engine.wait(30)
    engine.close()
    assert ended == ["eof"]
    assert engine.frames_captured == 60
    assert engine.dropped > 0
    assert len(seen) + engine.dropped == 60  # every frame either processed or dropped, none queued
    assert seen == sorted(seen) and max(depth) <= 1


def test_unpaced_file_source_is_processed_frame_by_frame(tiny_model, grace_hopper_bgr, moving):
    """A file read as fast as possible (realtime=False) applies back-pressure instead of dropping."""
    src = ListSource(moving(grace_hopper_bgr, 10), repeat=3)
    engine = LivenessEngine(SlowModel(tiny_model, 0.02), src, EngineConfig(realtime=False))
    seen = []
    engine.subscribe(on_frame=lambda f: seen.append(f.index))
    engine.start()
    assert engine.wait(60)
    engine.close()
    assert engine.dropped == 0
    assert seen == list(range(30))


def test_mailbox_latest_wins():
    box = LatestMailbox()
    for i in range(5):
        box.put(i)
    assert box.get(0.1) == 4 and box.dropped == 4 and box.get(0.01) is None


def test_nan_output_is_an_error_event_not_a_crash(tiny_model, grace_hopper_bgr, moving):
    src = ListSource(moving(grace_hopper_bgr, 13), pace_s=0.05)
    engine = LivenessEngine(NaNModel(tiny_model, 0.0), src, EngineConfig(realtime=False))
    errors, windows = [], []
    engine.subscribe(on_error=errors.append, on_window=windows.append)
    engine.start()
    assert engine.wait(30)
    engine.close()
    assert windows == []
    assert errors and errors[0].kind == "model_output" and "NaN" in str(errors[0])
    assert engine.end_reason == "eof"


def test_engine_events_threshold_and_reset(tiny_model, grace_hopper_bgr, moving):
    src = ListSource(moving(grace_hopper_bgr, 10), repeat=2, pace_s=0.05)
    engine = LivenessEngine(tiny_model, src, EngineConfig(realtime=False, smoothing=0.0))
    engine.set_threshold(-1.0)
    windows = []
    engine.subscribe(on_window=windows.append)
    engine.start()
    assert engine.wait(30)
    engine.close()
    assert windows, "no window scored"
    assert all(w.threshold == -1.0 and w.network_live for w in windows)
    assert all(w.smoothed == pytest.approx(w.score) for w in windows)


def test_analyze_video_deterministic(tiny_model, hopper_video):
    a = analyze_video(tiny_model, hopper_video)
    b = analyze_video(tiny_model, hopper_video)
    assert a.frames == 30 and a.frames_with_face == 30
    assert len(a.windows) == 7  # samples at 0, 3, ..., 27 -> windows from the 4th sample on
    assert [w.score for w in a.windows] == [w.score for w in b.windows]
    assert a.score == pytest.approx(np.mean([w.score for w in a.windows]))


class CountingMesh:
    """The real face mesh, counting the frames it runs on."""

    def __init__(self):
        self.mesh = FaceMeshTracker(max_faces=2)
        self.calls = 0

    def process(self, frame):
        self.calls += 1
        return self.mesh.process(frame)

    def close(self):
        self.mesh.close()


def test_too_small_face_follows_the_models_input_size(tiny_model):
    """A face is judged only if its crop reaches the network's input with at most 2x upsampling."""
    assert min_face_px_for_model(128, 1.3) == pytest.approx(49.2, abs=0.1)
    assert min_face_px_for_model(256, 1.3) == pytest.approx(98.5, abs=0.1)

    class Paper:  # the tiny model's graphs, described as a 256-px model
        meta = dataclasses.replace(tiny_model.meta, input_size=256)

    pipe = Pipeline(Paper(), EngineConfig())
    assert pipe.tracker.config.min_face_px == pytest.approx(98.5, abs=0.1)
    pipe.close()
    pipe = Pipeline(tiny_model, EngineConfig())  # 32 px input: the tracker's own floor (64 px) stays
    assert pipe.tracker.config.min_face_px == 64.0
    pipe.close()


def test_mesh_runs_on_sampled_frames_only(tiny_model, grace_hopper_bgr):
    """Between samples the last face is carried over (flagged), the mesh runs on the sampled frames."""
    mesh = CountingMesh()
    pipe = Pipeline(tiny_model, EngineConfig(), tracker=PrimaryFaceTracker(TrackerConfig(), mesh=mesh))
    image = np.ascontiguousarray(grace_hopper_bgr)
    res = [pipe.step(Frame(i, i / 30, image)).frame for i in range(13)]
    pipe.close()
    assert [r.index for r in res if r.sampled] == [0, 3, 6, 9, 12]
    assert [r.index for r in res if not r.carried] == [0, 3, 6, 9, 12] and mesh.calls == 5
    assert all(r.box == res[r.index - r.index % 3].box for r in res)  # carried from the last meshed frame
    # carrying off: the mesh runs on every frame, the same frames are sampled
    mesh = CountingMesh()
    tracker = PrimaryFaceTracker(TrackerConfig(carry_frames=0), mesh=mesh)
    pipe = Pipeline(tiny_model, EngineConfig(tracker=TrackerConfig(carry_frames=0)), tracker=tracker)
    res = [pipe.step(Frame(i, i / 30, image)).frame for i in range(7)]
    pipe.close()
    assert mesh.calls == 7 and not any(r.carried for r in res)
    assert [r.index for r in res if r.sampled] == [0, 3, 6]


def test_analyze_concurrent_equals_single_thread(tiny_model, hopper_video):
    """Tracking on a helper thread ahead of inference changes nothing in the results."""
    a = analyze_video(tiny_model, hopper_video, concurrent=True)
    b = analyze_video(tiny_model, hopper_video, concurrent=False)
    assert a.frames == b.frames == 30 and a.frames_with_face == b.frames_with_face
    assert [w.frame_indices for w in a.windows] == [w.frame_indices for w in b.windows]
    assert [w.score for w in a.windows] == [w.score for w in b.windows]
    assert [w.parallax.score for w in a.windows] == [w.parallax.score for w in b.windows]
    assert analyze_video(tiny_model, hopper_video, max_frames=10).frames == 10


class _Item:
    def __init__(self, name, sample=False, reset=False):
        self.name, self.droppable, self.reset_buffer = name, not sample, reset

    def absorb(self, dropped):
        self.reset_buffer |= dropped.reset_buffer


def test_tracked_mailbox_keeps_samples_and_hands_resets_on():
    box = TrackedMailbox(capacity=2)
    box.put(_Item("a", reset=True))  # overlay-only, with a reset
    box.put(_Item("b"))  # replaces a, takes over its reset
    box.put(_Item("s1", sample=True))  # replaces b (and its reset)
    box.put(_Item("c"))
    assert box.dropped == 2 and len(box) == 2
    box.put(_Item("s2", sample=True))  # replaces c; two samples wait
    box.put(_Item("s3", sample=True))  # past capacity: the oldest (s1) goes, its reset handed on to s2
    assert box.dropped == 4
    got = [box.get(0.1) for _ in range(2)]
    assert [g.name for g in got] == ["s2", "s3"] and got[0].reset_buffer and not got[1].reset_buffer
    assert box.get(0.01) is None


def test_dropping_a_sampled_frame_empties_the_ring():
    """The frame after a dropped sample must not pair with the sample before the gap."""
    from livenessapp.engine import TrackedFrame

    def item(sample):
        return TrackedFrame(frame=None, track=None, tracking_ms=0.0, check=None, sample=sample)

    survivor = item(None)
    survivor.absorb(item(None))
    assert not survivor.reset_buffer
    survivor.absorb(item(object()))
    assert survivor.reset_buffer


def test_a_face_the_mesh_cannot_fit_is_reported_as_covered(tiny_model, grace_hopper_bgr):
    """A masked face: the mesh finds nothing, the face detector (asked every covered_check_every-th frame
    without a meshed face) still sees a face, and the hint says so instead of "no face"."""

    class NoMesh:
        def process(self, frame):
            return []

        def close(self):
            pass

    class Detector:
        def __init__(self, faces):
            self.faces, self.calls = faces, 0

        def count(self, frame):
            self.calls += 1
            return self.faces

    image = np.ascontiguousarray(grace_hopper_bgr)
    for faces, code in ((1, "FACE_COVERED"), (0, "NO_FACE")):
        detector = Detector(faces)
        tracker = PrimaryFaceTracker(TrackerConfig(covered_check_every=10), mesh=NoMesh(), detector=detector)
        pipe = Pipeline(tiny_model, EngineConfig(), tracker=tracker)
        res = [pipe.step(Frame(i, i / 30, image)).frame for i in range(25)]
        pipe.close()
        assert {r.hint_code for r in res} == {code} and not any(r.sampled for r in res)
        assert detector.calls == 3  # frames 0, 10 and 20


def test_the_default_face_detector_finds_a_real_face_offline(grace_hopper_bgr):
    from livenessapp.face import FaceDetector

    detector = FaceDetector()
    try:
        assert detector.count(np.ascontiguousarray(grace_hopper_bgr)) == 1
        assert detector.count(np.zeros((240, 320, 3), np.uint8)) == 0
    finally:
        detector.close()


def test_the_pipeline_fills_the_crop_as_the_model_was_trained(tiny_model, grace_hopper_bgr):
    """A model trained on reflect-filled crops (ModelMeta.crop_border) gets reflect-filled crops."""
    from livenessapp.face import crop_face_like_training, primary_face

    with FaceMeshTracker(static_image_mode=True) as mesh:
        hopper_face = primary_face(mesh.process(grace_hopper_bgr), grace_hopper_bgr.shape)
    meta = tiny_model.meta
    for border in ("black", "reflect"):

        class Trained:
            meta = dataclasses.replace(tiny_model.meta, crop_scale=3.0, crop_border=border)

        pipe = Pipeline(Trained(), EngineConfig())
        sample = pipe._prepare(Frame(0, 0.0, grace_hopper_bgr), hopper_face)
        pipe.close()
        expected, _ = crop_face_like_training(
            grace_hopper_bgr, hopper_face, meta.input_size, 3.0, meta.crop_codec, meta.crop_margin, border
        )
        np.testing.assert_array_equal(sample.crop, expected)
        assert ((sample.crop == 0).all(-1).sum() > 0) == (border == "black")  # the 3x box leaves the frame
