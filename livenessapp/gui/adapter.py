"""Adapter between the engine's event dataclasses and what the GUI paints.

The engine (``livenessapp.engine``) emits plain dataclass events from its worker threads. The widgets read
them through :func:`frame_info` / :func:`window_info`, which turn them into the two small records below,
so the widgets depend on one shape only. The field lookup is tolerant (a few aliases per field) so that
renaming a field in the engine degrades to a missing overlay, not a crash.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FrameInfo", "WindowInfo", "frame_info", "window_info"]

_MISSING = object()


def _pick(obj, *names, default=None):
    for name in names:
        if isinstance(obj, dict):
            value = obj.get(name, _MISSING)
        else:
            value = getattr(obj, name, _MISSING)
        if value is not _MISSING and value is not None:
            return value
    return default


def _float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@dataclass
class FrameInfo:
    """One tracked frame: the BGR image and what the tracker found."""

    frame: np.ndarray | None
    index: int = 0
    time: float = field(default_factory=time.monotonic)
    box: tuple[float, float, float, float] | None = None
    landmarks: np.ndarray | None = None
    num_faces: int = 0
    hint: str = ""
    fill: int = 0
    num_frames: int = 0
    fps: float | None = None
    tracking_ms: float | None = None
    dropped: int = 0
    raw: object = None


@dataclass
class WindowInfo:
    """One scored window of Nf frames (Eq. 18) and its depth maps."""

    index: int = 0
    time: float = field(default_factory=time.monotonic)
    crops: list[np.ndarray] = field(default_factory=list)
    depth_single: np.ndarray | None = None  # [Nf, d, d]
    depth_fusion: np.ndarray | None = None  # [Nf-1, d, d]
    masks: np.ndarray | None = None  # [Nf, d, d]
    p_live: float | None = None
    depth_score: float | None = None
    score: float | None = None
    smoothed: float | None = None
    verdict: str | None = None
    live: bool | None = None  # the engine's fused decision (network + parallax cue)
    reason: str = ""  # why (the fusion's explanation)
    threshold: float | None = None
    inference_ms: float | None = None
    raw: object = None


def _maps(value, squeeze_to: int = 3) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float32)
    while arr.ndim > squeeze_to and arr.shape[0] == 1:
        arr = arr[0]
    while arr.ndim > squeeze_to and 1 in arr.shape[1:]:
        arr = np.squeeze(arr, axis=1 + list(arr.shape[1:]).index(1))
    return arr


def frame_info(ev) -> FrameInfo:
    face = _pick(ev, "face", "observation")
    box = _pick(ev, "box", "face_box", default=None)
    landmarks = _pick(ev, "landmarks", default=None)
    if face is not None:
        box = box if box is not None else getattr(face, "box", None)
        landmarks = landmarks if landmarks is not None else getattr(face, "landmarks", None)
    faces = _pick(ev, "num_faces", "faces", "face_count", default=None)
    if isinstance(faces, (list, tuple)):
        faces = len(faces)
    if faces is None:
        faces = 0 if box is None else 1
    code = _pick(ev, "hint_code", default=None)
    if code is not None:  # the engine's Hint.name ("NO_FACE", ...): the GUI's short words
        hint = "" if str(code).upper() == "OK" else str(code).lower()
    else:
        hint = _pick(ev, "hint", default="")
        hint = getattr(hint, "name", hint) if not isinstance(hint, str) else hint
    fill = _pick(ev, "fill", "buffer_fill", "k", default=0)
    num = _pick(ev, "num_frames", "buffer_size", "nf", "Nf", default=0)
    if isinstance(fill, tuple) and len(fill) == 2:
        fill, num = fill
    return FrameInfo(
        frame=_pick(ev, "frame", "image", "frame_bgr"),
        index=int(_pick(ev, "index", "frame_index", default=0)),
        time=float(_pick(ev, "time", "timestamp", "t", default=time.monotonic())),
        box=tuple(float(v) for v in box) if box is not None else None,
        landmarks=None if landmarks is None else np.asarray(landmarks),
        num_faces=int(faces),
        hint=str(hint or ""),
        fill=int(fill or 0),
        num_frames=int(num or 0),
        fps=_float(_pick(ev, "fps", "capture_fps")),
        tracking_ms=_float(_pick(ev, "tracking_ms", "track_ms")),
        dropped=int(_pick(ev, "dropped", "dropped_frames", "drops", default=0) or 0),
        raw=ev,
    )


def window_info(ev) -> WindowInfo:
    timings = _pick(ev, "timings", default={}) or {}
    verdict = _pick(ev, "verdict", default=None)
    verdict = getattr(verdict, "value", verdict)
    crops = _pick(ev, "crops", "face_crops", default=None)
    return WindowInfo(
        index=int(_pick(ev, "index", "window_index", default=0)),
        time=float(_pick(ev, "time", "timestamp", "t", default=time.monotonic())),
        crops=[] if crops is None else [np.asarray(c) for c in crops],
        depth_single=_maps(_pick(ev, "depth_single", "d_single")),
        depth_fusion=_maps(_pick(ev, "depth_fusion", "d_fusion")),
        masks=_maps(_pick(ev, "masks", "mask")),
        p_live=_float(_pick(ev, "p_live")),
        depth_score=_float(_pick(ev, "depth_score", "depth")),
        score=_float(_pick(ev, "score")),
        smoothed=_float(_pick(ev, "smoothed", "smoothed_score", "score_smoothed")),
        verdict=None if verdict is None else str(verdict),
        live=None if _pick(ev, "live", default=None) is None else bool(_pick(ev, "live")),
        reason=str(_pick(_pick(ev, "fusion", default={}) or {}, "reason", default="") or ""),
        threshold=_float(_pick(ev, "threshold")),
        inference_ms=_float(_pick(ev, "inference_ms", default=_pick(timings, "inference_ms", "inference"))),
        raw=ev,
    )
