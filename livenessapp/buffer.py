"""The engine's ring of the last Nf sampled frames of the tracked face (streaming inference).

Every ``interval``-th frame (``livenessapp.frame_interval`` of the model, counted in source frame indices,
so dropped frames do not stretch the spacing) is *sampled* (:class:`SampleClock` decides which, in the
engine's tracking stage, which then meshes only the sampled frames): its face
crop is encoded once by the encoder graph, and the pair graph runs once on the features of the previous
sample and this one. The results are cached here with the frame's mask, crop and landmarks: D_single, the
features F_1..F_3 (needed for the next pair only) and the pair output (the STSTB output of the pair
(previous sample, this sample), which does not change when the window slides). When the ring holds Nf
entries the temporal graph runs on the window's Nf-1 cached pair outputs; every new sample slides the window
by one (the paper's frames ``t, t+interval, ..., t+(Nf-1) interval``).

The ring is reset when the face changes (new track) or is lost, so that no window (and no pair) mixes two
faces.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

__all__ = ["FrameBuffer", "SampleClock", "SampledFrame"]


class SampleClock:
    """Which frames are sampled: the first frame after a reset, then every frame at least ``interval``
    source frames after the last sample."""

    def __init__(self, interval: int):
        if interval < 1:
            raise ValueError("interval must be >= 1")
        self.interval = int(interval)
        self.last_index: int | None = None

    def due(self, frame_index: int) -> bool:
        return self.last_index is None or frame_index - self.last_index >= self.interval

    def mark(self, frame_index: int) -> None:
        self.last_index = frame_index

    def reset(self) -> None:
        self.last_index = None


@dataclass
class SampledFrame:
    """One sampled frame with its cached encoder / pair outputs (batch axis removed)."""

    frame_index: int
    timestamp_s: float
    feats: tuple[np.ndarray, ...]  # per level [C, h, w]; needed for the pair with the next sample
    depth_single: np.ndarray  # [1, d, d]
    mask: np.ndarray  # [1, d, d] face-mesh silhouette (Eq. 18's mask)
    crop: np.ndarray  # RGB uint8 [S, S, 3]
    landmarks: np.ndarray  # (468, 3) frame pixels
    box: tuple[float, float, float, float]
    captured_at: float = 0.0  # time.monotonic() when the frame was read
    pair: np.ndarray | None = None  # [P, d, d] pair graph output of (previous sample, this one); None first


class FrameBuffer:
    """Ring of the last ``num_frames`` :class:`SampledFrame` s (the inference stage's; which frames are
    sampled is the tracking stage's :class:`SampleClock`'s decision)."""

    def __init__(self, num_frames: int):
        if num_frames < 1:
            raise ValueError("num_frames must be >= 1")
        self.num_frames = int(num_frames)
        self._ring: collections.deque[SampledFrame] = collections.deque(maxlen=self.num_frames)
        self.resets = 0

    def push(self, sample: SampledFrame) -> None:
        self._ring.append(sample)

    def reset(self) -> None:
        if self._ring:
            self.resets += 1
        self._ring.clear()

    @property
    def last(self) -> SampledFrame | None:
        """The newest sample (the partner of the next one's pair), None when empty."""
        return self._ring[-1] if self._ring else None

    @property
    def fill(self) -> int:
        """k of k / Nf."""
        return len(self._ring)

    @property
    def full(self) -> bool:
        return len(self._ring) == self.num_frames

    def __len__(self) -> int:
        return len(self._ring)

    def window(self) -> list[SampledFrame]:
        """The cached frames, oldest first."""
        return list(self._ring)

    def stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Temporal-graph inputs of the (full) window with batch 1: ``(pairs [1, Nf-1, P, d, d],
        depth_single [1, Nf, 1, d, d], masks [1, Nf, 1, d, d])``; pair t is frames (t, t+1) of the window (the
        oldest frame's own pair, with a frame that has left the window, is not used)."""
        win = self.window()
        pairs = np.stack([s.pair for s in win[1:]])[None]
        depth = np.stack([s.depth_single for s in win])[None]
        masks = np.stack([s.mask for s in win])[None]
        return pairs, depth, masks
