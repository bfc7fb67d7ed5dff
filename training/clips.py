"""Clip sampling and augmentation over the preprocessing cache: the ``ClipDataset`` both training stages use.

Clips follow the paper (Sec. 4.2 of arXiv 1811.05118): ``Nf`` frames at an interval of ``frame_interval``
(3) original frames; clips start every ``stride`` (~10) frames of a video. A clip is used only when every
one of its frames has a face in the cache (frames without a face are never given a label); a sample's
``frame_range`` (SiW protocol 1: the first 60 frames) bounds its clips.

Training augmentation, drawn from ``numpy.random.default_rng([seed, epoch, index])`` so that an item is a
pure function of (seed, epoch, index), whatever DataLoader worker makes it:

- start jitter: the clip start moves by a random 0..stride-1 frames when that clip is complete (else the
  grid start is used), so all frames are seen over the epochs;
- face-box scale jitter, one factor per clip in ``scale_range`` (1.1-1.4, the authors' range), cut from the
  cache's larger stored crop; the depth label and mask are *recomputed* from the stored landmarks for the
  jittered box (exact, not a resized label);
- horizontal flip (per clip), applied to the frames, the depth label AND the mask;
- photometric, one draw per clip and the same for every frame (a per-frame flicker would be a fake temporal
  cue for the motion branch): gamma, per-channel gain (white balance / colour of the light), a linear
  shading ramp across the crop (direction of the light), brightness / contrast, defocus blur; only the
  sensor noise is drawn per frame, as a camera's is. Cameras and lights the model has never seen are the
  first thing a deployed model meets; these cover them without touching the labels (depth comes from the
  geometry, not the colours);
- resolution (``downscale_p``, off by default): the crop is shrunk to a fraction of its side and scaled back
  up, as a face that filled few camera pixels looks. Real attack captures are often smaller and softer than
  the live ones of the same source, so a model can learn "soft = spoof"; applied to live and attack clips
  alike it takes that shortcut away (``lite-lowres.toml`` measured it; see its card);
- cutout: one rectangle per clip, at the same place in every frame, filled with the normalisation mean
  (0 after normalising), for the same reason; it hides image content only, labels are unchanged.

Evaluation (``train=False``) uses the grid starts, the cache's 1.3-scale crops and stored labels unchanged.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from livenessapp.face import FaceObservation, crop_affine, depth_label, normalise, warp_image
from livenessapp_training.datasets.base import VideoSample
from livenessapp_training.preprocess import DEFAULT_CROP_SCALE, CachedVideo, PreprocessCache

__all__ = ["AugmentConfig", "ClipDataset", "clip_starts"]


class ClipConfig(Protocol):
    """The fields of the network config (``SGTDConfig``) the clips need."""

    input_size: int
    num_frames: int
    frame_interval: int
    mean: float
    std: float
    crop_scale: float

    @property
    def depth_size(self) -> int: ...


@dataclass
class AugmentConfig:
    """Training augmentation (see the module docstring). ``AugmentConfig.none()`` switches all off."""

    scale_range: tuple[float, float] = (1.1, 1.4)
    shift: float = 0.0  # random box-centre shift, fraction of the box side (0 = centred, as the authors)
    flip_p: float = 0.5
    brightness: float = 0.15  # +- fraction of 255, one draw per clip
    contrast: float = 0.2  # factor in 1 +- contrast, one draw per clip
    gamma: float = 0.3  # exponent log-uniform in [1/(1+gamma), 1+gamma], one draw per clip
    channel_gain: float = 0.12  # per-channel gain in 1 +- channel_gain, one draw per clip
    shading: float = 0.3  # linear light ramp, up to +-shading at the crop's edges, one draw per clip
    blur_p: float = 0.3
    blur_sigma: tuple[float, float] = (0.4, 1.2)  # Gaussian defocus, pixels of the crop
    noise: float = 0.02  # sensor noise std up to this fraction of 255, a new field every frame
    downscale_p: float = 0.0
    downscale_range: tuple[float, float] = (0.25, 0.7)  # side the crop is shrunk to, fraction of its own
    cutout_p: float = 0.5
    cutout_size: tuple[float, float] = (0.1, 0.35)  # side, fraction of the crop side
    random_start: bool = True

    def __post_init__(self):
        lo, hi = self.downscale_range
        if not 0.0 <= self.downscale_p <= 1.0:
            raise ValueError(f"downscale_p = {self.downscale_p}: a probability, between 0 and 1")
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(
                f"downscale_range = {self.downscale_range}: two fractions of the crop side, 0 < low <= high <= 1"
            )

    @classmethod
    def for_crop_scale(cls, crop_scale: float, **overrides) -> AugmentConfig:
        """The default jitter around a model's eval box scale: ``scale_range`` is (1.1, 1.4) x
        ``crop_scale`` / 1.3, so a context-crop model (say 2.0) is trained on the crops it is run on."""
        ratio = float(crop_scale) / DEFAULT_CROP_SCALE
        lo, hi = cls.scale_range
        return cls(scale_range=(lo * ratio, hi * ratio), **overrides)

    @classmethod
    def none(cls, scale: float = 1.3) -> AugmentConfig:
        return cls(
            scale_range=(scale, scale),
            flip_p=0.0,
            brightness=0.0,
            contrast=0.0,
            gamma=0.0,
            channel_gain=0.0,
            shading=0.0,
            blur_p=0.0,
            noise=0.0,
            cutout_p=0.0,
            random_start=False,
        )


def clip_starts(
    frame_indices: np.ndarray,
    num_frames: int,
    interval: int,
    stride: int = 10,
    frame_range: tuple[int, int] | None = None,
) -> list[int]:
    """Start frames ``t`` (every ``stride`` frames from the first face frame) whose frames
    ``t, t + interval, ..., t + (num_frames - 1) * interval`` all have a face (and lie in ``frame_range``)."""
    if len(frame_indices) == 0:
        return []
    present = set(int(f) for f in frame_indices)
    lo, hi = int(frame_indices[0]), int(frame_indices[-1]) + 1
    if frame_range is not None:
        lo, hi = max(lo, frame_range[0]), min(hi, frame_range[1])
    span = (num_frames - 1) * interval
    return [
        t
        for t in range(lo, hi - span, stride)
        if all((t + k * interval) in present for k in range(num_frames))
    ]


def _low_resolution(crops: np.ndarray, fraction: float) -> np.ndarray:
    """[Nf, H, W, 3] crops as a camera that saw the face at ``fraction`` of their side would show them."""
    h, w = crops.shape[1:3]
    small = (max(2, round(w * fraction)), max(2, round(h * fraction)))
    return np.stack(
        [
            cv2.resize(
                cv2.resize(f, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR
            )
            for f in crops
        ]
    )


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Affine ``outer o inner`` (2x3 each)."""
    out = np.empty((2, 3), np.float64)
    out[:, :2] = outer[:, :2] @ inner[:, :2]
    out[:, 2] = outer[:, :2] @ inner[:, 2] + outer[:, 2]
    return out


class ClipDataset(Dataset):
    """Clips of preprocessed videos as the network eats them.

    ``cache``: a :class:`PreprocessCache` (its settings must match ``cfg``'s input and depth sizes).
    ``cfg``: the network config (``SGTDConfig`` or anything with its clip fields). Each item is a dict:
    ``frames`` float32 [Nf, 3, H, W] normalised RGB, ``depth`` float32 [Nf, 1, d, d] (zeros for spoof),
    ``mask`` float32 [Nf, 1, d, d] (the face-mesh mask, spoof too: Eq. 18), ``label`` int64 (1 live),
    ``video_id`` str, ``pai`` str, ``start`` int (first frame index of the clip).
    Videos not in the cache are skipped with a warning (``self.missing``).

    A still capture (``sample.is_still``: images that are not consecutive frames) gives a clip at every
    image, of consecutive images (interval 1). ``repeat`` (one count per sample, default 1) lists a
    sample's clips that many times, to weigh a small dataset up in a mix; each copy draws its own
    augmentation.
    """

    def __init__(
        self,
        cache: PreprocessCache,
        samples: Sequence[VideoSample],
        cfg: ClipConfig,
        train: bool,
        seed: int = 0,
        aug: AugmentConfig | None = None,
        stride: int = 10,
        max_open_videos: int = 16,
        repeat: Sequence[int] | None = None,
    ):
        self.cache = cache
        self.cfg = cfg
        self.train = train
        self.seed = int(seed)
        self.epoch = 0
        self.aug = (
            aug
            if aug is not None
            else (
                AugmentConfig.for_crop_scale(cfg.crop_scale) if train else AugmentConfig.none(cfg.crop_scale)
            )
        )
        self.stride = int(stride)
        self.num_frames = int(cfg.num_frames)
        self.interval = int(cfg.frame_interval)
        self.input_size = int(cfg.input_size)
        self.depth_size = int(cfg.depth_size)
        pcfg = cache.cfg
        if pcfg.input_size != self.input_size or pcfg.depth_size != self.depth_size:
            raise ValueError(
                f"cache has input/depth size {pcfg.input_size}/{pcfg.depth_size}, "
                f"the model wants {self.input_size}/{self.depth_size}"
            )
        if self.interval % pcfg.frame_step:
            raise ValueError(
                f"frame_step {pcfg.frame_step} of the cache does not divide the interval {self.interval}"
            )
        self.depth_floor = pcfg.depth_floor
        self.samples: list[VideoSample] = []
        self._paths: list = []
        self._frames: list[np.ndarray] = []
        self._spacing: list[tuple[int, int]] = []  # (frame interval, clip stride) per video
        self.items: list[tuple[int, int]] = []  # (video, grid start)
        self.missing: list[str] = []
        repeat = list(repeat) if repeat is not None else [1] * len(samples)
        if len(repeat) != len(samples):
            raise ValueError(f"repeat has {len(repeat)} counts for {len(samples)} samples")
        for s, copies in zip(samples, repeat, strict=True):
            path = cache.path_for(s)
            if not path.is_file():
                self.missing.append(s.video_id)
                continue
            video = CachedVideo(path)
            v = len(self.samples)
            self.samples.append(s)
            self._paths.append(path)
            self._frames.append(video.frame_indices)
            interval, clip_stride = (1, 1) if s.is_still else (self.interval, self.stride)
            self._spacing.append((interval, clip_stride))
            starts = clip_starts(video.frame_indices, self.num_frames, interval, clip_stride, s.frame_range)
            self.items += [(v, t) for t in starts] * int(copies)
        if self.missing:
            warnings.warn(f"{len(self.missing)} videos are not preprocessed and are skipped", stacklevel=2)
        self._open: OrderedDict[int, CachedVideo] = OrderedDict()
        self._max_open = max_open_videos

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """Vary the training augmentation from epoch to epoch (deterministically)."""
        self.epoch = int(epoch)

    def clips_per_video(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for v, _ in self.items:
            vid = self.samples[v].video_id
            counts[vid] = counts.get(vid, 0) + 1
        return counts

    def _video(self, v: int) -> CachedVideo:
        video = self._open.pop(v, None)
        if video is None:
            video = CachedVideo(self._paths[v])
        self._open[v] = video
        while len(self._open) > self._max_open:
            self._open.popitem(last=False)
        return video

    def _start(self, v: int, t: int, rng: np.random.Generator) -> int:
        interval, stride = self._spacing[v]
        offset = int(rng.integers(0, stride)) if stride > 1 else 0
        if not (self.train and self.aug.random_start) or offset == 0:
            return t
        t2 = t + offset
        frames = t2 + interval * np.arange(self.num_frames)
        rng_ = self.samples[v].frame_range
        if rng_ is not None and frames[-1] >= rng_[1]:
            return t
        present = self._frames[v]
        pos = np.searchsorted(present, frames)
        if (pos < len(present)).all() and (present[np.minimum(pos, len(present) - 1)] == frames).all():
            return t2
        return t

    def __getitem__(self, index: int) -> dict:
        v, t = self.items[index]
        sample = self.samples[v]
        video = self._video(v)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        start = self._start(v, t, rng)
        frames = start + self._spacing[v][0] * np.arange(self.num_frames)
        rows = video.rows_of_frames(frames)
        n, d = self.num_frames, self.depth_size
        if not self.train:
            crops = video.eval_crops(rows)
            depth = video.rows("depth", rows).astype(np.float32)
            mask = video.rows("mask", rows).astype(np.float32)
        else:
            crops, depth, mask = self._augment(video, rows, sample.label, rng)
        x = normalise(crops, self.cfg.mean, self.cfg.std)
        return {
            "frames": torch.from_numpy(np.ascontiguousarray(x)),
            "depth": torch.from_numpy(np.ascontiguousarray(depth.reshape(n, 1, d, d))),
            "mask": torch.from_numpy(np.ascontiguousarray(mask.reshape(n, 1, d, d))),
            "label": torch.tensor(sample.label, dtype=torch.int64),
            "video_id": sample.video_id,
            "pai": sample.pai,
            "start": int(start),
        }

    def _augment(
        self, video: CachedVideo, rows: np.ndarray, label: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, n, size, d = self.aug, self.num_frames, self.input_size, self.depth_size
        # All draws happen whatever the probabilities, so switching one augmentation off keeps the others.
        scale = float(rng.uniform(*a.scale_range))
        shift = rng.uniform(-1.0, 1.0, size=2) * a.shift
        flip = rng.random() < a.flip_p
        contrast = 1.0 + float(rng.uniform(-a.contrast, a.contrast))
        brightness = 255.0 * float(rng.uniform(-a.brightness, a.brightness))
        cut = rng.random() < a.cutout_p
        cut_side = int(round(float(rng.uniform(*a.cutout_size)) * size))
        cut_xy = rng.integers(0, max(size - cut_side, 0) + 1, size=2)
        gamma = float(np.exp(rng.uniform(-1.0, 1.0) * np.log1p(a.gamma)))
        gains = 1.0 + rng.uniform(-a.channel_gain, a.channel_gain, size=3)
        ramp_angle, ramp = float(rng.uniform(0.0, 2.0 * np.pi)), float(rng.uniform(-a.shading, a.shading))
        blur = float(rng.uniform(*a.blur_sigma)) if rng.random() < a.blur_p else 0.0
        noise_std = 255.0 * float(rng.uniform(0.0, a.noise))
        # Drawn only when switched on, so the recipes written before it existed draw what they always drew.
        shrink = 1.0
        if a.downscale_p > 0.0:
            shrink = float(rng.uniform(*a.downscale_range)) if rng.random() < a.downscale_p else 1.0

        stored = video.stored_crops(rows)
        s_size = stored.shape[1]
        side = size * scale / self.cfg.crop_scale  # box side in stored-crop pixels (eval box = size)
        sub = crop_affine(0.5 * s_size + shift[0] * side, 0.5 * s_size + shift[1] * side, side, size)
        crops = np.stack([warp_image(img, sub, size, video.crop_border) for img in stored])
        landmarks = video.rows("landmarks", rows)
        affines = video.rows("affines", rows).astype(np.float64)
        depth = np.zeros((n, d, d), np.float32)
        mask = np.zeros((n, d, d), np.float32)
        for k in range(n):
            face = FaceObservation.from_landmarks(landmarks[k])
            dk, mk = depth_label(face, _compose(sub, affines[k]), size, d, floor=self.depth_floor)
            mask[k] = mk
            if label == 1:
                depth[k] = dk
        if shrink < 1.0:
            crops = _low_resolution(crops, shrink)
        if flip:
            crops = crops[:, :, ::-1]
            depth = depth[:, :, ::-1]
            mask = mask[:, :, ::-1]
        crops = self._photometric(
            crops, gamma, gains, ramp_angle, ramp, contrast, brightness, blur, noise_std, rng
        )
        if cut and cut_side > 0:
            crops = crops.copy()
            fill = int(round(float(np.clip(self.cfg.mean, 0, 255))))
            x0, y0 = int(cut_xy[0]), int(cut_xy[1])
            crops[:, y0 : y0 + cut_side, x0 : x0 + cut_side] = fill
        return np.ascontiguousarray(crops), np.ascontiguousarray(depth), np.ascontiguousarray(mask)

    @staticmethod
    def _photometric(
        crops: np.ndarray,
        gamma: float,
        gains: np.ndarray,
        ramp_angle: float,
        ramp: float,
        contrast: float,
        brightness: float,
        blur: float,
        noise_std: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """[Nf, H, W, 3] uint8 crops through one clip's camera and light (all frames alike but the noise)."""
        unchanged = (gamma, ramp, contrast, brightness, blur, noise_std) == (1.0, 0.0, 1.0, 0.0, 0.0, 0.0)
        if unchanged and np.all(gains == 1.0):
            return crops
        x = crops.astype(np.float32) / 255.0
        if gamma != 1.0:
            x = x**gamma
        x = x * gains.astype(np.float32)
        if ramp != 0.0:
            h, w = x.shape[1:3]
            u = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
            v = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
            light = 1.0 + ramp * (np.cos(ramp_angle) * u + np.sin(ramp_angle) * v)
            x = x * light[None, :, :, None]
        x = ((x * 255.0) - 127.5) * contrast + 127.5 + brightness
        if blur > 0.0:
            x = np.stack([cv2.GaussianBlur(f, (0, 0), blur) for f in x])
        if noise_std > 0.0:
            x = x + rng.standard_normal(x.shape, dtype=np.float32) * noise_std
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
