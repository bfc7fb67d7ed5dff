"""ClipDataset: clip sampling (Nf frames at interval 3, a start every 10 frames) and clip-level augmentation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from livenessapp import face as F
from livenessapp_training.clips import AugmentConfig, ClipDataset, clip_starts
from livenessapp_training.datasets import VideoSample
from livenessapp_training.preprocess import PreprocessCache, PreprocessConfig


@dataclass
class TinyCfg:
    """The clip fields of SGTDConfig at a test size."""

    input_size: int = 64
    num_frames: int = 5
    frame_interval: int = 3
    mean: float = 127.5
    std: float = 128.0
    crop_scale: float = 1.3

    @property
    def depth_size(self) -> int:
        return self.input_size // 8


CFG = TinyCfg()


def _video(path: Path, photo: np.ndarray, frames: int, blank=()) -> Path:
    small = cv2.resize(photo, (200, 234), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for t in range(frames):
        canvas = np.full((240, 320, 3), 90, np.uint8)
        if t not in blank:
            canvas[3:237, 30 + t : 230 + t] = small
        writer.write(canvas)
    writer.release()
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory, grace_hopper_bgr):
    root = tmp_path_factory.mktemp("clips")
    video = _video(root / "hopper.mp4", grace_hopper_bgr, 40, blank=(26,))
    samples = [
        VideoSample(video, 1, "none", "live", video_id="live"),
        VideoSample(video, 0, "print", "print1", video_id="spoof"),
        VideoSample(video, 1, "none", "live", video_id="first60", frame_range=(0, 15)),
    ]
    cache = PreprocessCache(root / "cache", PreprocessConfig(input_size=CFG.input_size))
    summary = cache.run(samples, workers=1, progress=False)
    assert summary["processed"] == 3 and summary["frames_no_face"] == 3
    return cache, samples


def test_clip_starts():
    frames = np.arange(40)
    assert clip_starts(frames, 5, 3, 10) == [0, 10, 20]
    assert clip_starts(np.delete(frames, 26), 5, 3, 10) == [0, 10]  # the clip 20..32 needs frame 26
    assert clip_starts(frames, 5, 3, 10, frame_range=(0, 15)) == [0]
    assert clip_starts(frames[5:], 5, 3, 10) == [5, 15, 25]
    assert clip_starts(np.array([], int), 5, 3) == []


def test_eval_items_follow_the_contract(data):
    cache, samples = data
    ds = ClipDataset(cache, samples, CFG, train=False)
    assert [(ds.samples[v].video_id, t) for v, t in ds.items] == [
        ("live", 0),
        ("live", 10),
        ("spoof", 0),
        ("spoof", 10),
        ("first60", 0),
    ]
    item = ds[1]
    d = CFG.depth_size
    assert item["frames"].shape == (5, 3, 64, 64) and item["frames"].dtype == torch.float32
    assert item["depth"].shape == (5, 1, d, d) and item["mask"].shape == (5, 1, d, d)
    assert item["label"].dtype == torch.int64 and int(item["label"]) == 1
    assert (item["video_id"], item["pai"], item["start"]) == ("live", "live", 10)
    video = cache.load(samples[0])
    rows = video.rows_of_frames([10, 13, 16, 19, 22])
    expected = F.normalise(video.eval_crops(rows), 127.5, 128.0)
    np.testing.assert_array_equal(item["frames"].numpy(), expected)
    np.testing.assert_array_equal(item["depth"][:, 0].numpy(), video.rows("depth", rows))
    assert item["depth"].max() > 0.8
    spoof = ds[3]
    assert int(spoof["label"]) == 0 and spoof["depth"].abs().sum() == 0 and spoof["mask"].sum() > 0
    np.testing.assert_array_equal(spoof["mask"].numpy(), item["mask"].numpy())
    # Default collation batches the dicts.
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["frames"].shape == (2, 5, 3, 64, 64) and batch["label"].tolist() == [1, 1]


def test_train_without_augmentation_reproduces_eval(data):
    cache, samples = data
    ev = ClipDataset(cache, samples[:1], CFG, train=False)
    tr = ClipDataset(cache, samples[:1], CFG, train=True, aug=AugmentConfig.none())
    a, b = ev[0], tr[0]
    np.testing.assert_allclose(a["frames"].numpy(), b["frames"].numpy(), atol=2.5 / 128)
    np.testing.assert_allclose(a["depth"].numpy(), b["depth"].numpy(), atol=1e-4)
    np.testing.assert_array_equal(a["mask"].numpy(), b["mask"].numpy())


def test_flip_flips_frames_depth_and_mask(data):
    cache, samples = data
    # Noise and the light ramp are not mirror-symmetric; everything else must commute with the flip.
    base = dict(scale_range=(1.15, 1.35), brightness=0.1, contrast=0.2, cutout_p=0.0, noise=0.0, shading=0.0)
    plain = ClipDataset(cache, samples, CFG, train=True, seed=3, aug=AugmentConfig(flip_p=0.0, **base))
    flipped = ClipDataset(cache, samples, CFG, train=True, seed=3, aug=AugmentConfig(flip_p=1.0, **base))
    for i in (0, 2):
        a, b = plain[i], flipped[i]
        assert a["start"] == b["start"]
        for key in ("frames", "depth", "mask"):
            np.testing.assert_array_equal(a[key].flip(-1).numpy(), b[key].numpy())
    live = flipped[0]
    assert live["depth"].max() > 0.8 and ((live["depth"] > 0) == (live["mask"] > 0)).all()


def test_augmentation_is_deterministic_and_clip_consistent(data):
    cache, samples = data
    aug = AugmentConfig(cutout_p=1.0, brightness=0.2, contrast=0.3)
    ds1 = ClipDataset(cache, samples, CFG, train=True, seed=7, aug=aug)
    ds2 = ClipDataset(cache, samples, CFG, train=True, seed=7, aug=aug)
    for i in range(len(ds1)):
        a, b = ds1[i], ds2[i]
        for key in ("frames", "depth", "mask"):
            assert torch.equal(a[key], b[key])
    other = ClipDataset(cache, samples, CFG, train=True, seed=8, aug=aug)
    assert not torch.equal(ds1[0]["frames"], other[0]["frames"])
    ds1.set_epoch(1)
    assert not torch.equal(ds1[0]["frames"], ds2[0]["frames"])
    # Cutout: one rectangle at the same place in every frame (filled with the mean grey).
    no_cut = ClipDataset(
        cache, samples, CFG, train=True, seed=7, aug=AugmentConfig(cutout_p=0.0, brightness=0.2, contrast=0.3)
    )
    changed = (ds2[0]["frames"] != no_cut[0]["frames"]).any(dim=1).numpy()  # [Nf, H, W]
    assert (changed == changed[0]).all()
    rows, cols = np.nonzero(changed[0])
    assert len(rows) >= 0.5 * (0.1 * 64) ** 2
    assert changed[0][rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].mean() > 0.8
    assert np.allclose(ds2[0]["frames"].numpy()[:, :, rows, cols], (128 - 127.5) / 128)
    # Scale jitter shows in the mask's area, and spoof clips keep zero depth under augmentation.
    areas = {round(float(ds2[0]["mask"].mean()), 3) for _ in range(1)} | {
        round(float(ClipDataset(cache, samples, CFG, train=True, seed=s, aug=aug)[0]["mask"].mean()), 3)
        for s in range(4)
    }
    assert len(areas) > 1
    assert ds2[2]["depth"].abs().sum() == 0 and ds2[2]["mask"].sum() > 0


def test_photometric_augmentation_is_one_camera_and_light_per_clip():
    rng = np.random.default_rng(0)
    frame = np.full((32, 32, 3), 120, np.uint8)
    frame[:, :, 2] = 160  # a reddish grey
    crops = np.stack([frame] * 3)
    photometric = ClipDataset._photometric
    same = photometric(crops, 1.0, np.ones(3), 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, rng)
    assert same is crops  # identity settings leave the crops alone

    # Gamma, gains, a ramp from left (dark) to right (bright) and blur: every frame changed the same way.
    out = photometric(crops, 1.4, np.array([1.1, 1.0, 0.85]), 0.0, 0.25, 1.0, 0.0, 1.0, 0.0, rng).astype(
        float
    )
    assert (out[0] == out[1]).all() and (out[0] == out[2]).all()
    assert out[0, :, -4:].mean() > out[0, :, :4].mean() + 20  # the light comes from the right
    assert out[0, :, :, 0].mean() > out[0, :, :, 1].mean()  # blue gain up, red gain down: cooler light
    assert out[0, :, :, 2].mean() < 160
    # Sensor noise is the one thing drawn per frame.
    noisy = photometric(crops, 1.0, np.ones(3), 0.0, 0.0, 1.0, 0.0, 0.0, 5.0, rng).astype(float)
    assert not (noisy[0] == noisy[1]).all()
    assert abs(noisy.mean() - crops.mean()) < 1.0 and 3.0 < (noisy - crops).std() < 7.0


def test_frame_range_missing_cache_and_size_mismatch(data, tmp_path):
    cache, samples = data
    ds = ClipDataset(cache, samples[2:], CFG, train=True, seed=0)
    assert len(ds) == 1
    for epoch in range(5):
        ds.set_epoch(epoch)
        assert ds[0]["start"] + 12 < 15
    unknown = VideoSample(tmp_path / "x.mp4", 1, "none", "live")
    (tmp_path / "x.mp4").write_bytes(b"")
    with pytest.warns(UserWarning, match="not preprocessed"):
        ds = ClipDataset(cache, [unknown, samples[0]], CFG, train=False)
    assert ds.missing == [unknown.video_id] and len(ds) == 2
    with pytest.raises(ValueError, match="input/depth"):
        ClipDataset(cache, samples, TinyCfg(input_size=128), train=False)


def test_a_context_crop_model_is_trained_around_its_own_box_scale(tmp_path, grace_hopper_bgr):
    """A model with a wider eval crop (crop_scale 2.0) gets the same relative jitter, (1.1, 1.4) / 1.3 of its
    box, and a stored crop with the same room for it; at no jitter its train crop is its eval crop."""
    assert AugmentConfig.for_crop_scale(1.3).scale_range == pytest.approx((1.1, 1.4))
    assert AugmentConfig.for_crop_scale(2.0).scale_range == pytest.approx((1.1 * 2 / 1.3, 1.4 * 2 / 1.3))
    wide = TinyCfg(crop_scale=2.0)
    pcfg = PreprocessConfig.from_model(wide)
    assert pcfg.store_scale == pytest.approx(1.5 * 2.0 / 1.3, abs=1e-4)
    assert pcfg.margin == PreprocessConfig.from_model(CFG).margin
    assert PreprocessConfig.from_model(CFG).store_scale == 1.5  # the 1.3 caches keep their key
    video = _video(tmp_path / "hopper.mp4", grace_hopper_bgr, 20)
    cache = PreprocessCache(tmp_path / "cache", pcfg)
    sample = VideoSample(video, 1, "none", "live", video_id="live")
    cache.run([sample], workers=1, progress=False)
    ev = ClipDataset(cache, [sample], wide, train=False)[0]
    tr = ClipDataset(cache, [sample], wide, train=True, aug=AugmentConfig.none(2.0))[0]
    np.testing.assert_allclose(ev["frames"].numpy(), tr["frames"].numpy(), atol=2.5 / 128)
    default_train = ClipDataset(cache, [sample], wide, train=True)
    assert default_train.aug.scale_range == pytest.approx(AugmentConfig.for_crop_scale(2.0).scale_range)
    # The wider crop sees more around the face: the live depth label covers less of the map.
    narrow_cache = PreprocessCache(tmp_path / "cache13", PreprocessConfig.from_model(CFG))
    narrow_cache.run([sample], workers=1, progress=False)
    narrow = ClipDataset(narrow_cache, [sample], CFG, train=False)[0]
    assert 0 < ev["mask"].numpy().mean() < narrow["mask"].numpy().mean()


def test_resolution_augmentation_softens_live_and_attack_clips_alike_and_leaves_labels(data):
    cache, samples = data
    base = dict(scale_range=(1.3, 1.3), flip_p=0.0, cutout_p=0.0, noise=0.0, blur_p=0.0)
    sharp = ClipDataset(cache, samples[:2], CFG, train=True, seed=5, aug=AugmentConfig(**base))
    soft = ClipDataset(
        cache,
        samples[:2],
        CFG,
        train=True,
        seed=5,
        aug=AugmentConfig(downscale_p=1.0, downscale_range=(0.3, 0.3), **base),
    )

    def detail(frames: torch.Tensor) -> float:  # mean absolute Laplacian over the frames
        return float(np.mean([np.abs(cv2.Laplacian(f.numpy().mean(0), cv2.CV_32F)).mean() for f in frames]))

    for i in (0, 1):  # the live clip and the print clip
        a, b = sharp[i], soft[i]
        assert detail(b["frames"]) < 0.6 * detail(a["frames"])
        assert abs(float(b["frames"].mean() - a["frames"].mean())) < 0.02  # resolution, not exposure
        for key in ("depth", "mask", "label"):
            assert torch.equal(a[key], b[key])
    # Off by default, and then nothing is drawn: the older recipes' clips are what they always were.
    assert AugmentConfig().downscale_p == 0.0
    again = ClipDataset(
        cache, samples[:2], CFG, train=True, seed=5, aug=AugmentConfig(downscale_range=(0.5, 0.6), **base)
    )
    assert torch.equal(again[0]["frames"], sharp[0]["frames"])
    with pytest.raises(ValueError, match="downscale_range"):
        AugmentConfig(downscale_range=(0.0, 0.5))
    with pytest.raises(ValueError, match="downscale_p"):
        AugmentConfig(downscale_p=1.5)
