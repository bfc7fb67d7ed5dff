"""Frame checks before tracking: make any image the sources deliver trackable, and say what is wrong with it.

:func:`check_frame` is called by the engine's pipeline on every frame, before face tracking. It

- converts what the tracker and the network cannot take to BGR uint8 with 3 channels: grayscale (2-D or one
  channel), BGRA, 16-bit and float images;
- downscales huge frames to :data:`MAX_SIDE` pixels on the long side (face tracking on a 4000x3000 frame
  costs ~20x more than on 1280x960, and the network only sees a small face crop anyway);
- measures brightness on a thumbnail (about 160 px wide, so a check costs well under a millisecond) and
  reports what would stop a face from being found or judged: :class:`Quality` ``TOO_DARK``,
  ``OVEREXPOSED``, ``BLANK`` (no contrast: lens covered, a black or white frame) and ``FRAME_TOO_SMALL``.

The returned :class:`FrameCheck` carries the prepared image, the issues (worst first) and the conversion
notes. numpy + cv2 only (no Qt, no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

__all__ = ["MAX_SIDE", "MIN_SIDE", "FrameCheck", "Quality", "check_frame"]

#: frames larger than this on their long side are downscaled before tracking
MAX_SIDE = 1920
#: frames smaller than this on their short side are reported (a face in them is below the tracker's minimum)
MIN_SIDE = 96
_THUMB_WIDTH = 160
_DARK_MEAN = 40.0  # mean luminance (0..255) below which a frame is "too dark"
_DARK_P95 = 90.0  # ... unless a part of it is well lit (a lit face in a dark room is fine)
_BRIGHT_SHARE = 0.35  # share of (nearly) saturated pixels above which a frame is "overexposed"
_BLANK_STD = 4.0  # luminance standard deviation below which a frame has no picture in it


class Quality(str, Enum):
    """A problem with the frame itself (``value``: the text for the user, ``name``: the hint code)."""

    FRAME_TOO_SMALL = "frame too small - use a camera resolution of at least 320x240"
    BLANK = "blank image - is the lens covered or the camera off?"
    TOO_DARK = "too dark - add light in front of your face"
    OVEREXPOSED = "overexposed - move away from bright light behind or in front of you"


@dataclass(frozen=True)
class FrameCheck:
    """The result of :func:`check_frame`."""

    image: np.ndarray  # BGR uint8 (H, W, 3), downscaled when huge: what tracking and the network get
    issues: tuple[Quality, ...]  # worst first; empty when the frame is fine
    scale: float  # image size / original size (1.0 = not resized)
    original_size: tuple[int, int]  # (width, height) as delivered
    brightness: float  # mean luminance 0..255
    notes: tuple[str, ...] = ()  # conversions applied ("grayscale converted to BGR", "downscaled ...")

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def issue(self) -> Quality | None:
        """The worst issue, or None."""
        return self.issues[0] if self.issues else None


def _to_bgr_uint8(image: np.ndarray, notes: list[str]) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"a frame must be a numpy image array, got {type(image).__name__}")
    if image.size == 0 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"not an image: array of shape {image.shape} (expected HxW, HxWx1, HxWx3 or HxWx4)")
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        elif np.issubdtype(image.dtype, np.floating):
            finite = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
            peak = float(finite.max()) if finite.size else 0.0
            scale = 255.0 if peak <= 1.0 else 1.0  # [0, 1] floats or [0, 255] floats
            image = np.clip(finite * scale, 0, 255).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
        notes.append("converted to 8 bits per channel")
    if image.ndim == 2 or image.shape[2] == 1:
        notes.append("grayscale converted to BGR")
        return cv2.cvtColor(np.ascontiguousarray(image.reshape(image.shape[:2])), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        notes.append("alpha channel dropped")
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR)
    return image


def check_frame(image: np.ndarray, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> FrameCheck:
    """Prepare ``image`` for tracking and report what is wrong with it (see the module docstring).

    Raises :class:`ValueError` for an array that cannot be an image (empty, wrong number of dimensions or
    channels). A frame that needs no conversion is returned as is (no copy)."""
    notes: list[str] = []
    bgr = _to_bgr_uint8(image, notes)
    h, w = bgr.shape[:2]
    scale = 1.0
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        notes.append(f"{w}x{h} frame downscaled to {size[0]}x{size[1]} for tracking")
    step = max(1, bgr.shape[1] // _THUMB_WIDTH)
    thumb = np.ascontiguousarray(bgr[::step, ::step])
    luma = cv2.cvtColor(thumb, cv2.COLOR_BGR2GRAY)
    brightness = float(luma.mean())
    issues: list[Quality] = []
    if min(h, w) < min_side:
        issues.append(Quality.FRAME_TOO_SMALL)
    if float(luma.std()) < _BLANK_STD:
        issues.append(Quality.BLANK)
    elif brightness < _DARK_MEAN and float(np.percentile(luma, 95)) < _DARK_P95:
        issues.append(Quality.TOO_DARK)
    elif float(np.count_nonzero(luma >= 250)) / luma.size > _BRIGHT_SHARE:
        issues.append(Quality.OVEREXPOSED)
    return FrameCheck(bgr, tuple(issues), scale, (w, h), brightness, tuple(notes))
