"""Parts of the simulator's clip rendering on their own: motion tracks (simulator/motion.py), the scene look
(simulator/looks.py) and the live head view (simulator/render.py)."""

from __future__ import annotations

import numpy as np
import pytest

from livenessapp_training.simulator.geometry import PinholeCamera
from livenessapp_training.simulator.head import HeadModel
from livenessapp_training.simulator.looks import SceneLook
from livenessapp_training.simulator.motion import FPS, carrier_track, head_track
from livenessapp_training.simulator.render import HeadView, face_fraction
from livenessapp_training.simulator.scene import plan_clip


def test_head_and_carrier_tracks():
    assert FPS == 30
    rng = np.random.default_rng(0)
    sweep = head_track(rng, 9, "sweep", distance=0.5)
    xs = [p.R[0, 2] for p in sweep]  # sin(yaw) of a pure-yaw sweep, monotone
    assert np.all(np.diff(xs) > 0) and all(p.t[2] == pytest.approx(0.5) for p in sweep)
    still = carrier_track(rng, 4, 0.4, "still")
    assert all(np.array_equal(p.t, (0, 0, 0.4)) and np.allclose(p.R, np.eye(3)) for p in still)
    hand = carrier_track(np.random.default_rng(1), 30, 0.4, "hand")
    assert len({round(float(p.t[0]), 6) for p in hand}) > 1  # a hand moves
    with pytest.raises(ValueError):
        head_track(rng, 3, "dance")


def test_head_view_renders_a_face_in_front_of_the_background():
    spec = plan_clip(0, seed=1, frames=2, pai="live", size=(160, 120))
    cam = PinholeCamera.from_hfov(160, 120, 60.0)
    rng = np.random.default_rng(2)
    scene = SceneLook.make(spec.scene, cam, rng, 2)
    view = HeadView(HeadModel.for_identity(spec.identity), scene, cam, head_track(rng, 2, "still", 0.5))
    frame, depth, mask, landmarks = view.render(1, with_depth=True)
    assert frame.shape == (120, 160, 3) and frame.dtype == np.float32
    assert landmarks.shape == (468, 2) and mask.any() and not mask.all()
    assert np.all(depth[mask] < scene.bg_depth) and np.all(np.isfinite(depth[mask]))
    assert face_fraction(cam, 0.5) == pytest.approx(cam.focal * 0.15 / 0.5 / 160)
