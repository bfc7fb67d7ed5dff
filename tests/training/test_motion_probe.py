"""The motion probe's crop-change statistic: zero for a still or rigidly shifted picture, large for one that
deforms inside the crop (what a turning head does and a print does not)."""

import cv2
import numpy as np
import pytest

from livenessapp_training.motion_probe import (
    _Video,
    background_mask,
    background_motion,
    crop_change,
    motion_reports,
    species_table,
)


def _texture(size=64, seed=0):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2.0)


def test_crop_change_ignores_a_still_or_globally_shifted_picture_and_sees_a_deforming_one():
    tex = _texture()
    still = np.stack([tex] * 7)
    shifted = np.stack([np.roll(tex, (k, 2 * k), axis=(0, 1)) for k in range(7)])
    # a deformation: the centre of the picture stretches sideways frame by frame (a turning face)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    frames = []
    for k in range(7):
        bulge = 0.6 * k * np.exp(-(((xx - 32) / 10) ** 2 + ((yy - 32) / 10) ** 2))
        frames.append(cv2.remap(tex, xx + bulge * (xx - 32) / 10, yy, cv2.INTER_LINEAR))
    deforming = np.stack(frames)
    assert crop_change(still) == pytest.approx(0.0, abs=1e-6)
    assert crop_change(shifted) < 0.5
    assert crop_change(deforming) > 5 * max(crop_change(shifted), 0.1)
    # colour crops are averaged to grey first
    assert crop_change(np.repeat(deforming[..., None], 3, -1)) == pytest.approx(
        crop_change(deforming), rel=1e-5
    )
    with pytest.raises(ValueError, match="frames"):
        crop_change(still[:3], interval=3)


def test_species_table_has_one_row_per_species_with_mean_and_std():
    table = species_table({"live": [[1.0, 2.0], [3.0, 2.0]], "print_flat": [[0.5, 0.0]]}, ["a", "b"])
    lines = table.splitlines()
    assert lines[0] == "| species | n | a | b |"
    assert lines[2] == "| live | 2 | 2.0000 ± 1.0000 | 2.0000 ± 0.0000 |"
    assert lines[3].startswith("| print_flat | 1 | 0.5000")


def _scene_frames(background_shift: int, n: int = 7, face_moves: bool = True):
    """A 240x320 textured background (shifted by ``background_shift`` px per frame, as a hand-held screen
    carries it) with a textured face patch that moves on its own."""
    rng = np.random.default_rng(1)
    background = cv2.GaussianBlur(rng.uniform(0, 255, (240, 400)).astype(np.float32), (0, 0), 1.5)
    face = cv2.GaussianBlur(rng.uniform(0, 255, (60, 50)).astype(np.float32), (0, 0), 1.5)
    frames, marks = [], []
    for k in range(n):
        frame = background[:, 40 + k * background_shift : 360 + k * background_shift].copy()
        x0, y0 = 135 + (3 * k if face_moves else 0), 60
        frame[y0 : y0 + 60, x0 : x0 + 50] = face
        frames.append(frame.astype(np.uint8))
        marks.append(np.array([[x0, y0, 0], [x0 + 50, y0 + 60, 0]], np.float32))
    return frames, marks


def test_background_motion_is_zero_for_a_still_camera_and_measures_a_carried_background():
    still, marks = _scene_frames(background_shift=0)
    carried, marks_carried = _scene_frames(background_shift=2)
    assert background_motion(still, marks) == pytest.approx(0.0, abs=0.05)
    # 2 px per frame, 3 frames apart, on a 320 px wide frame: 1.9 % of the width
    assert background_motion(carried, marks_carried) == pytest.approx(100 * 6 / 320, rel=0.1)
    # relative to the face (3 px per frame to the right): the still background moves 9 px per 3 frames
    # against it, the carried one (2 px per frame to the left) 15 px
    assert background_motion(still, marks, relative_to_face=True) == pytest.approx(100 * 9 / 320, rel=0.1)
    assert background_motion(carried, marks_carried, relative_to_face=True) == pytest.approx(
        100 * 15 / 320, rel=0.1
    )


def test_background_mask_leaves_out_the_head_and_torso():
    marks = np.array([[140, 150, 0], [180, 200, 0]], np.float32)  # a 40 x 50 face box
    mask = background_mask((360, 480), marks)
    # head: x 126..194, y 120..212.5; torso: x 90..230 from y 212.5 down
    assert mask[0, 0] == 255 and mask[359, 0] == 255 and mask[0, 479] == 255  # corners
    assert mask[175, 160] == 0 and mask[125, 130] == 0 and mask[359, 160] == 0 and mask[300, 95] == 0
    assert mask[115, 160] == 255 and mask[175, 120] == 255 and mask[175, 200] == 255  # beside the head
    assert mask[300, 85] == 255 and mask[300, 235] == 255  # beside the shoulders


def test_motion_reports_threshold_each_statistic_on_dev_and_combine_them():
    rng = np.random.default_rng(0)
    videos = []
    for split in ("dev", "test"):
        for _ in range(20):
            # live: the face deforms, the background stays; print: neither; replay: both move
            for pai, crop, background in (
                ("live", 10, 0.3),
                ("print_flat", 3, 0.6),
                ("replay_moving", 10, 0.7),
            ):
                values = {
                    "crop change": crop + rng.normal(0, 1),
                    "background motion": background + rng.normal(0, 0.05),
                }
                videos.append(_Video(split, int(pai == "live"), pai, values))
    videos.append(_Video("test", 1, "live", {"crop change": 9.0, "background motion": float("nan")}))
    text, out = motion_reports(videos)
    assert set(out) == {"crop_change", "background_motion", "combined", "background_relative_to_face"}
    assert out["crop_change"]["as_score"]["apcer_per_pai"]["print_flat"] == 0.0
    assert out["crop_change"]["as_score"]["apcer_per_pai"]["replay_moving"] > 0.3  # replays deform too
    assert out["background_motion"]["as_score"]["apcer_per_pai"]["replay_moving"] == 0.0
    assert out["background_motion"]["test_videos_without_a_value"] == {"live": 1}
    assert out["combined"]["as_score"]["acer"] == 0.0
    assert "without a value (left out): live 1" in text
    only_crop, out = motion_reports(
        [_Video(v.split, v.label, v.pai, {"crop change": v.values["crop change"]}) for v in videos]
    )
    assert set(out) == {"crop_change"}
