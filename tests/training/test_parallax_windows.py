"""The window sources of the parallax evaluation (training/parallax_windows.py): synthetic tracks and the
cutting of a tracked clip into windows. The template here is a synthetic point cloud, not MediaPipe's."""

from __future__ import annotations

import numpy as np

from livenessapp_training.parallax_windows import (
    KINDS,
    TrackSpec,
    synth_track,
    synthetic_windows,
    windows_from_track,
)


def _template() -> np.ndarray:
    g = np.random.default_rng(0)
    pts = g.uniform(-0.075, 0.075, (468, 3))
    pts[:, 2] = 0.03 * (pts[:, 0] ** 2 + pts[:, 1] ** 2) / 0.075**2  # a bowl: the nose tip nearest
    return pts


def test_synthetic_tracks_project_in_front_of_the_camera():
    frames = synth_track(_template(), TrackSpec(kind="live", rotation_deg=10.0), np.random.default_rng(1))
    assert len(frames) == 5 and all(f.shape == (468, 3) and f.dtype == np.float32 for f in frames)
    centre = np.mean([f[:, :2].mean(0) for f in frames], 0)
    assert 150 < centre[0] < 490 and 100 < centre[1] < 380  # near the 640x480 image centre
    moved = np.abs(frames[-1][:, :2] - frames[0][:, :2]).mean()
    still = synth_track(
        _template(), TrackSpec(kind="live", rotation_deg=0.0, noise_px=0.0), np.random.default_rng(1)
    )
    assert moved > np.abs(still[-1][:, :2] - still[0][:, :2]).mean()


def test_synthetic_windows_cover_every_kind_and_split():
    wins = synthetic_windows(_template(), 3, seed=2)
    assert [w["kind"] for w in wins] == [k for k in KINDS for _ in range(3)]
    assert {w["split"] for w in wins} == {"train", "dev", "test"}


def test_windows_from_track_cut_nf_frames_interval_apart():
    track = [np.full((468, 3), t, np.float32) for t in range(40)]
    wins = windows_from_track(track, "live", "dev", "c1")
    assert [w["id"] for w in wins] == ["c1@0", "c1@10", "c1@20"]  # a window needs (5 - 1) * 3 + 1 frames
    assert [int(f[0, 0]) for f in wins[1]["frames"]] == [10, 13, 16, 19, 22] and len(wins[1]["full"]) == 13
    assert wins[0]["kind"] == "live" and wins[0]["split"] == "dev" and wins[0]["clip"] == "c1"
