"""The motion probe's crop-change statistic: zero for a still or rigidly shifted picture, large for one that
deforms inside the crop (what a turning head does and a print does not)."""

import cv2
import numpy as np
import pytest

from livenessapp_training.motion_probe import crop_change, species_table


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
