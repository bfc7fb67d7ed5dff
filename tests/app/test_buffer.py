from __future__ import annotations

import numpy as np

from livenessapp.buffer import FrameBuffer, SampleClock, SampledFrame
from livenessapp.face import FaceObservation
from livenessapp.tracking import Hint, PrimaryFaceTracker, TrackerConfig


def _sample(i: int) -> SampledFrame:
    return SampledFrame(
        frame_index=i,
        timestamp_s=i / 30,
        feats=(np.full((2, 4, 4), i, np.float32), np.zeros((3, 2, 2), np.float32)),
        depth_single=np.full((1, 4, 4), i, np.float32),
        mask=np.ones((1, 4, 4), np.float32),
        crop=np.zeros((8, 8, 3), np.uint8),
        landmarks=np.zeros((468, 3), np.float32),
        box=(0, 0, 1, 1),
        pair=None if i == 0 else np.full((2, 4, 4), i, np.float32),
    )


def test_samples_every_interval_and_slides():
    buf, clock = FrameBuffer(num_frames=4), SampleClock(3)
    sampled = []
    for i in range(20):
        if clock.due(i):
            clock.mark(i)
            buf.push(_sample(i))
            sampled.append(i)
    assert sampled == [0, 3, 6, 9, 12, 15, 18]
    assert buf.full and buf.fill == 4
    assert [s.frame_index for s in buf.window()] == [9, 12, 15, 18]
    pairs, ds, masks = buf.stacked()
    assert ds.shape == (1, 4, 1, 4, 4) and masks.shape == ds.shape
    assert ds[0, :, 0, 0, 0].tolist() == [9, 12, 15, 18]
    # the window's Nf-1 cached pairs, (9, 12), (12, 15), (15, 18): each stored with its newer frame
    assert pairs.shape == (1, 3, 2, 4, 4) and pairs[0, :, 0, 0, 0].tolist() == [12, 15, 18]
    assert buf.last.frame_index == 18


def test_interval_counts_source_indices_when_frames_are_dropped():
    clock = SampleClock(3)
    clock.mark(0)
    assert not clock.due(2) and clock.due(4)  # frames 1..3 dropped: 4 is due, not 6


def test_sample_clock():
    clock = SampleClock(3)
    assert clock.due(5)
    clock.mark(5)
    assert not clock.due(7) and clock.due(8)
    clock.reset()
    assert clock.due(6)


def test_reset():
    buf = FrameBuffer(4)
    for i in (0, 3):
        buf.push(_sample(i))
    buf.reset()
    buf.reset()  # an empty ring: nothing to count
    assert buf.fill == 0 and buf.last is None and buf.resets == 1


class _ScriptedMesh:
    def __init__(self, script):
        self.script = list(script)

    def process(self, frame):
        return self.script.pop(0)

    def close(self):
        pass


def _face(cx, cy, size):
    lm = np.zeros((468, 3), np.float32)
    lm[:, 0] = np.linspace(cx - size / 2, cx + size / 2, 468)
    lm[:, 1] = np.linspace(cy - size / 2, cy + size / 2, 468)
    return FaceObservation.from_landmarks(lm)


def test_tracker_identity_change_and_hints():
    frame = np.zeros((480, 640, 3), np.uint8)
    script = [
        [_face(320, 240, 150)],
        [_face(325, 240, 150)],  # same face, small move
        [_face(500, 240, 150)],  # jump: another face
        [],  # lost
        [_face(320, 240, 150)],  # back: new track
        [_face(320, 240, 30)],  # too small
        [_face(320, 240, 150), _face(100, 100, 60)],
    ]
    tr = PrimaryFaceTracker(TrackerConfig(), mesh=_ScriptedMesh(script))
    r = [tr.process(frame) for _ in range(len(script))]
    assert [x.identity_changed for x in r] == [True, False, True, False, True, True, True]
    assert r[1].track_id == r[0].track_id and r[2].track_id == r[0].track_id + 1
    assert r[3].hint is Hint.NO_FACE and r[3].face is None
    assert r[5].hint is Hint.TOO_SMALL and not r[5].judgeable
    assert r[6].hint is Hint.SEVERAL_FACES and r[6].face.size == 150


def test_tracker_carries_only_an_unchanged_judgeable_face():
    frame = np.full((480, 640, 3), 100, np.uint8)
    frame[200:280, 280:360] = 180  # something in the face box
    script = [[_face(320, 240, 150)], [_face(500, 240, 150)], [_face(320, 240, 30)], [_face(320, 240, 30)]]
    mesh = _ScriptedMesh(script)
    tr = PrimaryFaceTracker(TrackerConfig(), mesh=mesh)
    first = tr.process(frame)
    carried = tr.process(frame, may_carry=True)
    assert carried.carried and not carried.identity_changed and len(mesh.script) == 3  # no mesh call
    assert carried.face is first.face and carried.track_id == first.track_id
    assert not tr.process(frame).carried  # not allowed: meshed (the face jumped: a new track)
    changed = frame.copy()
    changed[150:330, 400:600] = 0  # the new face's box region looks different now
    r = tr.process(changed, may_carry=True)
    assert not r.carried and r.hint is Hint.TOO_SMALL  # meshed after all
    assert not tr.process(frame, may_carry=True).carried  # a face too small to judge is never carried
    assert mesh.script == []
