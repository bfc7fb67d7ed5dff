"""The engine's ring of the last Nf sampled frames of the tracked face (streaming inference).

Every ``interval``-th frame (``livenessapp.frame_interval`` of the model, counted in source frame indices,
so dropped frames do not stretch the spacing) is *sampled*: its face crop is encoded once by the encoder
graph and the result (features F_1..F_3, D_single) is cached here with the frame's mask, crop and
landmarks. When the ring holds Nf entries the temporal graph runs on the cached window; every new sample
slides the window by one (the paper's frames ``t, t+interval, ..., t+(Nf-1) interval``).

The ring is reset when the face changes (new track) or is lost, so that no window mixes two faces.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

__all__ = ["FrameBuffer", "SampledFrame"]


@dataclass
class SampledFrame:
    """One sampled frame with its cached encoder outputs (batch axis removed)."""

    frame_index: int
    timestamp_s: float
    feats: tuple[np.ndarray, ...]  # per level [C, h, w]
    depth_single: np.ndarray  # [1, d, d]
    mask: np.ndarray  # [1, d, d] face-mesh silhouette (Eq. 18's mask)
    crop: np.ndarray  # RGB uint8 [S, S, 3]
    landmarks: np.ndarray  # (468, 3) frame pixels
    box: tuple[float, float, float, float]
    captured_at: float = 0.0  # time.monotonic() when the frame was read


class FrameBuffer:
    """Ring of the last ``num_frames`` :class:`SampledFrame` s, sampled every ``interval`` frames."""

    def __init__(self, num_frames: int, interval: int):
        if num_frames < 1 or interval < 1:
            raise ValueError("num_frames and interval must be >= 1")
        self.num_frames = int(num_frames)
        self.interval = int(interval)
        self._ring: collections.deque[SampledFrame] = collections.deque(maxlen=self.num_frames)
        self._last_index: int | None = None
        self.resets = 0

    def due(self, frame_index: int) -> bool:
        """Should this frame be sampled? True for the first frame after a reset, then whenever at least
        ``interval`` frames have passed since the last sample."""
        return self._last_index is None or frame_index - self._last_index >= self.interval

    def push(self, sample: SampledFrame) -> None:
        self._ring.append(sample)
        self._last_index = sample.frame_index

    def reset(self) -> None:
        if self._ring or self._last_index is not None:
            self.resets += 1
        self._ring.clear()
        self._last_index = None

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

    def stacked(self) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Temporal-graph inputs of the window with batch 1: ``([feat1, feat2, feat3] each [1, Nf, C, h, w],
        depth_single [1, Nf, 1, d, d], masks [1, Nf, 1, d, d])``."""
        win = self.window()
        levels = len(win[0].feats)
        feats = [np.stack([s.feats[i] for s in win])[None] for i in range(levels)]
        depth = np.stack([s.depth_single for s in win])[None]
        masks = np.stack([s.mask for s in win])[None]
        return feats, depth, masks
