from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from livenessapp.paths import DEMO_CLIP
from livenessapp.sources import (
    CameraSource,
    FrameFolderSource,
    SourceError,
    VideoFileSource,
    list_cameras,
    open_source,
)


def test_video_file_timestamps_and_fps(hopper_video):
    src = open_source(hopper_video)
    assert isinstance(src, VideoFileSource)
    assert src.fps == pytest.approx(30.0)
    frames = list(src)
    assert len(frames) == 30
    assert [f.index for f in frames] == list(range(30))
    assert frames[3].timestamp_s == pytest.approx(3 / 30)
    assert frames[0].image_bgr.ndim == 3


def test_video_loop_marks_discontinuity(hopper_video):
    src = VideoFileSource(hopper_video, loop=True)
    frames = [src.read() for _ in range(35)]
    assert frames[30].discontinuity and not frames[29].discontinuity
    assert frames[30].index == 30 and frames[30].timestamp_s > frames[29].timestamp_s


def test_demo_spec():
    src = open_source("demo")
    assert src.path == DEMO_CLIP and src.fps == pytest.approx(30.0) and src.size == (640, 480)
    src.close()


def test_folder_sorted_with_problems(tmp_path, grace_hopper_bgr):
    img = np.ascontiguousarray(grace_hopper_bgr)
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), img)
    (tmp_path / "f3.png").write_bytes(b"not an image")
    cv2.imwrite(str(tmp_path / "f4.png"), img[:100, :100])
    src = open_source(tmp_path)
    assert isinstance(src, FrameFolderSource)
    assert [p.name for p in src.files] == ["f1.png", "f2.png", "f3.png", "f4.png", "f10.png"]
    frames = list(src)
    assert len(frames) == 3
    assert frames[2].timestamp_s == pytest.approx(2 / 30)
    assert any("f3.png" in p for p in src.problems)
    assert any("f4.png" in p for p in src.problems)


def test_errors_say_what_to_do(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "missing.mp4")
    with pytest.raises(SourceError, match="no image files"):
        open_source(tmp_path)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError):
        list(open_source(bad))


def test_camera_missing_and_listing_is_quick():
    t0 = time.monotonic()
    cams = list_cameras(max_index=3, timeout_s=2.0)
    assert time.monotonic() - t0 < 5.0
    assert isinstance(cams, list)
    if not cams:
        with pytest.raises(SourceError, match="cameras"):
            CameraSource(0)


def _rotated_mp4(path):
    """A 64x32 MP4 whose left quarter is white, tagged as rotated 90 degrees (the track header's display
    matrix, as a phone writes a portrait video): stored landscape, shown portrait."""
    import struct

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 32))
    for _ in range(5):
        frame = np.zeros((32, 64, 3), np.uint8)
        frame[:, :16] = 255
        w.write(frame)
    w.release()
    data = bytearray(path.read_bytes())
    tkhd = data.find(b"tkhd")
    assert tkhd > 0
    offset = tkhd + 4 + (40 if data[tkhd + 4] == 0 else 52)  # the matrix, after the version-0/1 fields
    data[offset : offset + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path


def test_phone_videos_are_decoded_upright(tmp_path):
    from livenessapp.sources import open_video_file

    path = _rotated_mp4(tmp_path / "portrait.mp4")
    cap = open_video_file(path)
    if cap.get(cv2.CAP_PROP_ORIENTATION_META) != 90:
        pytest.skip("this OpenCV build does not read the rotation tag")
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape[:2] == (64, 32)  # portrait, as shown
    assert frame[:8].mean() > 200 and frame[-8:].mean() < 50  # the white quarter is now on top
    src = open_source(str(path))  # the app's file source, the same way
    try:
        assert src.read().image_bgr.shape[:2] == (64, 32)
    finally:
        src.close()
