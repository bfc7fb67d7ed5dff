"""The preprocessing cache: crops, depth labels and masks per video; resumable, versioned, fault tolerant."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from livenessapp import face as F
from livenessapp_training.datasets import VideoSample
from livenessapp_training.preprocess import SUMMARY_NAME, CachedVideo, PreprocessCache, PreprocessConfig
from livenessapp_training.video_frames import iter_frames


def make_video(path: Path, photo_bgr: np.ndarray, frames: int = 20, blank: tuple[int, ...] = ()) -> Path:
    """A 320x240 30-fps clip of the photo sliding slowly to the right; frames in ``blank`` have no face."""
    small = cv2.resize(photo_bgr, (200, 234), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    assert writer.isOpened()
    for t in range(frames):
        canvas = np.full((240, 320, 3), 90, np.uint8)
        if t not in blank:
            x = 30 + 2 * t
            canvas[3:237, x : x + 200] = small
        writer.write(canvas)
    writer.release()
    return path


CFG = PreprocessConfig(input_size=128)  # d = 16, stored crop 148 px


@pytest.fixture(scope="module")
def videos(tmp_path_factory, grace_hopper_bgr):
    root = tmp_path_factory.mktemp("videos")
    good = make_video(root / "hopper.mp4", grace_hopper_bgr, frames=20)
    gaps = make_video(root / "gaps.mp4", grace_hopper_bgr, frames=12, blank=(4, 5, 6))
    corrupt = root / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    return {"good": good, "gaps": gaps, "corrupt": corrupt, "root": root}


def _samples(videos):
    return [
        VideoSample(videos["good"], 1, "none", "live", video_id="hopper-live"),
        VideoSample(videos["good"], 0, "replay", "replay1", video_id="hopper-spoof"),
        VideoSample(videos["corrupt"], 0, "print", "print1", video_id="corrupt"),
        VideoSample(videos["root"] / "missing.mp4", 1, "none", "live", video_id="missing"),
    ]


def test_run_reports_bad_videos_reuses_and_invalidates(tmp_path, videos):
    samples = _samples(videos)
    cache = PreprocessCache(tmp_path / "cache", CFG)
    first = cache.run(samples, workers=1, progress=False)
    assert first["processed"] == 2 and first["cached"] == 0
    assert sorted(f["video_id"] for f in first["failed"]) == ["corrupt", "missing"]
    assert first["frames_decoded"] == 40 and first["frames_with_face"] == 40 and first["frames_no_face"] == 0
    assert first["frames_per_second"] > 0
    written = json.loads((tmp_path / "cache" / SUMMARY_NAME).read_text())
    assert written["processed"] == 2 and len(written["failed"]) == 2
    files = sorted(p.name for p in (tmp_path / "cache").glob("*.npz"))
    assert len(files) == 2 and not list((tmp_path / "cache").glob(".tmp-*"))

    # Second run: nothing good is decoded again (only the failures are retried).
    second = cache.run(samples, workers=1, progress=False)
    assert second["cached"] == 2 and second["processed"] == 0 and second["frames_decoded"] == 0
    assert len(second["failed"]) == 2
    assert sorted(p.name for p in (tmp_path / "cache").glob("*.npz")) == files

    # A changed setting is a new key: everything is recomputed under new file names.
    changed = PreprocessCache(tmp_path / "cache", PreprocessConfig(input_size=128, jpeg_quality=90))
    third = changed.run(samples[:2], workers=1, progress=False)
    assert third["cached"] == 0 and third["processed"] == 2
    assert changed.path_for(samples[0]) != cache.path_for(samples[0])
    # A touched video is re-keyed too.
    st = videos["good"].stat()
    os.utime(videos["good"], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    try:
        assert not PreprocessCache(tmp_path / "cache", CFG).has(samples[0])
    finally:
        os.utime(videos["good"], ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.has(samples[0])
    removed = changed.prune(samples[:2])
    assert sorted(p.name for p in removed) == files


def test_cache_contents_match_the_face_module(tmp_path, videos):
    cfg = PreprocessConfig(input_size=128, crop_format="raw")
    cache = PreprocessCache(tmp_path / "raw", cfg)
    live, spoof = _samples(videos)[:2]
    cache.run([live, spoof], workers=1, progress=False)
    v = cache.load(live)
    assert len(v) == 20 and list(v.frame_indices) == list(range(20))
    assert v.store_size == cfg.store_size == 148 and v.margin == 10
    lm = v.rows("landmarks", [5])[0]
    assert lm.shape == (468, 3) and lm.dtype == np.float32
    # The eval crop is livenessapp.face.crop_face with the stored landmarks (up to OpenCV's fixed-point
    # rounding of the sampling positions: a grey level or so on ~1 % of the pixels).
    frame5 = next(f for i, f in iter_frames(videos["good"]) if i == 5)
    face = F.FaceObservation.from_landmarks(lm)
    crop, affine = F.crop_face(frame5, face, 128, 1.3)
    diff = np.abs(v.eval_crops([5])[0].astype(int) - crop)
    assert diff.max() <= 8 and diff.mean() < 0.1
    depth, mask = F.depth_label(face, affine, 128, 16)
    np.testing.assert_allclose(v.rows("depth", [5])[0], depth, atol=1e-6)
    np.testing.assert_array_equal(v.rows("mask", [5])[0], mask)
    # The live label is face-shaped: nose tip nearer (larger) than both cheeks.
    p = lm[:, :2] @ affine[:, :2].T + affine[:, 2]
    at = lambda i: depth[tuple((p[i, ::-1] * 16 / 128).astype(int))]  # noqa: E731
    assert at(F.NOSE_TIP) > at(234) + 0.2 and at(F.NOSE_TIP) > at(454) + 0.2
    assert depth.max() <= 1 and (depth[mask == 0] == 0).all() and mask.sum() > 40
    # Spoof: all-zero depth, the same face mask (kept for Eq. 18).
    s = cache.load(spoof)
    assert s.rows("depth", np.arange(20)).max() == 0
    np.testing.assert_array_equal(s.rows("mask", np.arange(20)), v.rows("mask", np.arange(20)))
    assert json.loads(json.dumps(v.meta))["label"] == 1 and s.label == 0


@pytest.mark.parametrize(
    "input_size, crop_scale, border", [(128, 1.3, "black"), (128, 2.0, "black"), (128, 2.0, "reflect")]
)
def test_the_app_gives_the_network_the_crops_of_its_training_cache(
    tmp_path, videos, input_size, crop_scale, border
):
    # A texture-reading network learns its training crops' codec: the bundled model (trained on the
    # default JPEG q95 cache) scored a live test video 0.60 on those crops and 0.36 on the app's raw crops.
    # The app cuts and encodes its crop as the cache did (ModelMeta.crop_codec / crop_margin from the
    # model's metadata), which must give the cache's crop.
    from livenessapp.model import TRAINING_JPEG_QUALITY, _crop_codec, _crop_margin

    model = types.SimpleNamespace(input_size=input_size, crop_scale=crop_scale, crop_border=border)
    cfg = PreprocessConfig.from_model(model)  # the store-scale rule of a model with this crop scale
    assert cfg.crop_format == "jpeg" and cfg.jpeg_quality == TRAINING_JPEG_QUALITY
    assert cfg.crop_border == border
    props = {
        "livenessapp.input_size": str(input_size),
        "livenessapp.crop_scale": repr(crop_scale),
        "livenessapp.training_data": json.dumps({"train_config": {"crop_format": "jpeg"}}),
    }

    codec, margin = _crop_codec(props), _crop_margin(props)
    assert margin == cfg.margin
    live = _samples(videos)[0]
    cache = PreprocessCache(tmp_path / "jpeg", cfg)
    cache.run([live], workers=1, progress=False)
    v = cache.load(live)
    assert v.crop_border == border  # what the training clips' scale jitter fills with (clips.py)
    frames = dict(iter_frames(videos["good"]))
    plain, coded = [], []
    for row, index in enumerate(v.frame_indices):
        face = F.FaceObservation.from_landmarks(v.rows("landmarks", [row])[0])
        cached = v.eval_crops([row])[0].astype(int)
        crop, _ = F.crop_face(frames[int(index)], face, input_size, crop_scale, border)
        app, _ = F.crop_face_like_training(
            frames[int(index)], face, input_size, crop_scale, codec, margin, border
        )
        plain.append(np.abs(cached - crop).mean())
        coded.append(np.abs(cached - app).mean())
    assert max(coded) < 0.1 and min(plain) > 1.0


def test_crop_border_enters_the_cache_key_only_when_it_is_not_black(videos):
    # Black is the fill every cache was made with before the option existed: those caches stay valid.
    from livenessapp.face import CROP_BORDERS
    from livenessapp_training.fas_sgtd import CROP_BORDERS as MODEL_CROP_BORDERS

    assert MODEL_CROP_BORDERS == CROP_BORDERS
    sample = VideoSample(videos["good"], 1, "none", "live", video_id="hopper-live")
    black, reflect = PreprocessConfig(), PreprocessConfig(crop_border="reflect")
    assert "crop_border" not in black.key_dict() and reflect.key_dict()["crop_border"] == "reflect"
    assert PreprocessCache("c", black).path_for(sample) != PreprocessCache("c", reflect).path_for(sample)
    with pytest.raises(ValueError, match="crop_border must be one of"):
        PreprocessConfig(crop_border="wrap")


def test_frames_without_face_are_counted_and_skipped(tmp_path, videos):
    sample = VideoSample(videos["gaps"], 1, "none", "live", video_id="gaps")
    summary = PreprocessCache(tmp_path / "c", CFG).run([sample], workers=1, progress=False)
    assert summary["frames_decoded"] == 12 and summary["frames_no_face"] == 3
    v = PreprocessCache(tmp_path / "c", CFG).load(sample)
    assert list(v.frame_indices) == [0, 1, 2, 3, 7, 8, 9, 10, 11]
    assert v.eval_crops(np.arange(len(v))).shape == (9, 128, 128, 3)


def test_frame_folder_and_frame_step(tmp_path, videos):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in iter_frames(videos["good"], max_frames=9):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    sample = VideoSample(folder, 1, "none", "live", video_id="folder")
    cfg = PreprocessConfig(input_size=128, frame_step=3)
    summary = PreprocessCache(tmp_path / "c", cfg).run([sample], workers=1, progress=False)
    assert summary["processed"] == 1 and summary["frames_decoded"] == 3
    assert list(PreprocessCache(tmp_path / "c", cfg).load(sample).frame_indices) == [0, 3, 6]


def test_parallel_run_equals_sequential(tmp_path, videos):
    samples = _samples(videos)[:3]
    seq = PreprocessCache(tmp_path / "seq", CFG)
    par = PreprocessCache(tmp_path / "par", CFG)
    seq.run(samples, workers=1, progress=False)
    summary = par.run(samples, workers=2, progress=False)
    assert summary["workers"] == 2 and summary["processed"] == 2 and len(summary["failed"]) == 1
    for s in samples[:2]:
        a, b = seq.load(s), par.load(s)
        np.testing.assert_array_equal(a.frame_indices, b.frame_indices)
        np.testing.assert_allclose(a.rows("landmarks", [0, 19]), b.rows("landmarks", [0, 19]))
        np.testing.assert_array_equal(a.stored_crops([3]), b.stored_crops([3]))


def test_summary_reports_throughput(tmp_path, videos):
    """The cache run reports its own frames/s (the figure ``preprocess`` prints); speed itself is a benchmark's job."""
    sample = VideoSample(videos["good"], 1, "none", "live", video_id="speed")
    cache = PreprocessCache(tmp_path / "speed", PreprocessConfig())  # the paper's 256 px input
    summary = cache.run([sample], workers=1, progress=False)
    assert summary["frames_decoded"] > 0 and summary["seconds"] > 0
    assert summary["frames_per_second"] == pytest.approx(summary["frames_decoded"] / summary["seconds"])
    v = CachedVideo(cache.path_for(sample))
    assert v.eval_crops([0]).shape == (1, 256, 256, 3) and v.rows("depth", [0]).shape == (1, 32, 32)
