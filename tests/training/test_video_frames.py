"""Reading samples for the cache (training/video_frames.py): frame folders, image lists, the fingerprint of
the cache key, and the error for what cannot be read."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from livenessapp_training.video_frames import VideoReadError, frame_files, iter_frames, video_fingerprint


@pytest.fixture()
def folder(tmp_path):
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"f{i:02d}.png"), np.full((8, 10, 3), 40 * i, np.uint8))
    (tmp_path / ".hidden.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a frame")
    return tmp_path


def test_frame_folder_in_name_order_every_step_th_frame(folder):
    assert [p.name for p in frame_files(folder)] == [f"f{i:02d}.png" for i in range(5)]
    got = list(iter_frames(folder, step=2))
    assert [i for i, _ in got] == [0, 2, 4] and got[1][1].shape == (8, 10, 3) and got[1][1][0, 0, 0] == 80
    assert [i for i, _ in iter_frames(folder, max_frames=2)] == [0, 1]
    files = [folder / "f03.png", folder / "f01.png"]  # an explicit list keeps its order
    assert [int(f[0, 0, 0]) for _, f in iter_frames(folder, files=files)] == [120, 40]


def test_fingerprint_follows_the_content(folder):
    before = video_fingerprint(folder)
    assert before["count"] == 5
    listed = video_fingerprint(folder, [folder / "f00.png", folder / "f01.png"])
    assert listed["count"] == 2 and "files" in listed
    os.utime(folder / "f04.png", ns=(before["mtime_ns"] + 10**9, before["mtime_ns"] + 10**9))
    assert video_fingerprint(folder) != before


def test_unreadable_samples_raise_video_read_error(tmp_path):
    with pytest.raises(VideoReadError, match="no such video"):
        list(iter_frames(tmp_path / "missing.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoReadError, match="no images"):
        list(iter_frames(tmp_path / "empty"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    with pytest.raises(VideoReadError, match="no readable images"):
        list(iter_frames(tmp_path / "bad"))
