"""Adapter between the engine's event dataclasses and what the GUI paints.

The engine (``livenessapp.engine``) emits plain dataclass events from its worker threads. The widgets read
them through :func:`frame_info` / :func:`window_info`, which turn them into the two small records below,
so the widgets depend on one shape only. The field lookup is tolerant (a few aliases per field) so that
renaming a field in the engine degrades to a missing overlay, not a crash.

:func:`cue_rows` turns a :class:`WindowInfo` into the rows of the score panel's cue meters (network score,
p_live, depth score, motion-parallax score with its own threshold and state, and the logistic fusion's
probability when that rule is on); :data:`FUSION_RULE_TEXT` holds the label and one-sentence explanation of
each fusion rule of :mod:`livenessapp.parallax` that the rule selector shows. :func:`overlay_detail` and
:func:`depth_title` are the main window's texts for the video's second line and the depth inspector.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from livenessapp.parallax import LOGISTIC_COEFFICIENTS

__all__ = [
    "FUSION_RULE_TEXT",
    "PARALLAX_STATE_TEXT",
    "CueRow",
    "FrameInfo",
    "WindowInfo",
    "cue_rows",
    "depth_title",
    "frame_info",
    "fusion_rule_label",
    "overlay_detail",
    "parallax_state_text",
    "window_info",
]

#: (label, one-sentence tooltip) per rule of ``livenessapp.parallax.FUSION_RULES``, in the selector's order.
FUSION_RULE_TEXT: dict[str, tuple[str, str]] = {
    "network": (
        "network only",
        "The network's score alone decides (live if score >= threshold); the parallax cue is shown but "
        "ignored.",
    ),
    "either_spoof": (
        "either cue says spoof",
        "Spoof if the network says spoof or the parallax cue finds planar (print-like) motion; without "
        "enough head motion the network decides alone. A replayed video of a moving head carries real "
        "parallax, so replays are left to the network.",
    ),
    "logistic": (
        "logistic fusion",
        "Live if sigmoid({w_net:g} (score - threshold) + {w_par:g} (parallax - parallax threshold) + "
        "{bias:g}) >= 0.5, so both cues trade off against each other; without a parallax verdict the "
        "network decides at its own threshold.".format(**LOGISTIC_COEFFICIENTS),
    ),
}

#: The parallax cue's state (``ParallaxResult.state`` / ``is_live``) in the panel's words.
PARALLAX_STATE_TEXT: dict[str, str] = {
    "non_planar": "non-planar (3-D)",
    "planar": "planar (print-like)",
    "insufficient_motion": "not enough motion",
    "no_face": "no face",
    "off": "off",
}

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
    network_live: bool | None = None  # smoothed >= threshold (the network alone)
    parallax_score: float | None = None  # motion-parallax score in [0, 1]; None without a verdict
    parallax_state: str | None = None  # "ok", "insufficient_motion", "no_face"; None = cue off / absent
    parallax_threshold: float | None = None  # the cue's own threshold (live if score >= it)
    fusion_rule: str = ""  # the rule the engine fused with ("network", "either_spoof", "logistic")
    fusion_score: float | None = None  # the score the fused decision was taken on (logistic: p_live)
    fusion_threshold: float | None = None
    fusion_used_parallax: bool | None = None
    inference_ms: float | None = None
    raw: object = None

    @property
    def parallax_live(self) -> bool | None:
        """The cue's own verdict: True (non-planar), False (planar), None (no verdict)."""
        if self.parallax_state != "ok" or self.parallax_score is None or self.parallax_threshold is None:
            return None
        return self.parallax_score >= self.parallax_threshold


@dataclass
class CueRow:
    """One meter of the score panel: ``value`` in [0, 1] (None = no value) against ``threshold``."""

    key: str  # "score", "p_live", "depth", "parallax", "fused"
    label: str
    value: float | None
    threshold: float | None = None
    note: str = ""  # e.g. the parallax state, "raw 0.52"
    passed: bool | None = None  # value on the live side of its threshold (None: no threshold / no value)


def parallax_state_text(state: str | None, score: float | None, threshold: float | None) -> str:
    """``"non-planar (3-D)"``, ``"planar (print-like)"``, ``"not enough motion"``, ``"no face"``, ``"off"``."""
    if state is None:
        return PARALLAX_STATE_TEXT["off"]
    if state == "ok":
        if score is None or threshold is None:
            return PARALLAX_STATE_TEXT["insufficient_motion"]
        return PARALLAX_STATE_TEXT["non_planar" if score >= threshold else "planar"]
    return PARALLAX_STATE_TEXT.get(state, state.replace("_", " "))


def fusion_rule_label(rule: str) -> str:
    return FUSION_RULE_TEXT.get(rule, (rule.replace("_", " "), ""))[0]


def overlay_detail(w: WindowInfo | None) -> str:
    """The video's second line: why the fused decision differs from the network's, else the parallax
    cue's state ("" before the first window or with the cue off)."""
    if w is None or w.parallax_state is None:
        return ""
    if w.live is not None and w.network_live is not None and w.live != w.network_live and w.reason:
        return w.reason
    state = parallax_state_text(w.parallax_state, w.parallax_score, w.parallax_threshold)
    value = f" {w.parallax_score:.2f}" if w.parallax_state == "ok" and w.parallax_score is not None else ""
    return f"parallax{value}: {state}"


def depth_title(w: WindowInfo) -> str:
    """The depth inspector's title: ``window 12   score 0.81   p_live 0.77   depth 0.64   parallax 0.31``."""
    title = f"window {w.index}"
    if w.score is not None:
        title += f"   score {w.score:.3f}"
    if w.p_live is not None:
        title += f"   p_live {w.p_live:.3f}"
    if w.depth_score is not None:
        title += f"   depth {w.depth_score:.3f}"
    if w.parallax_state == "ok" and w.parallax_score is not None:
        title += f"   parallax {w.parallax_score:.3f}"
    elif w.parallax_state is not None:
        title += "   parallax –"
    return title


def cue_rows(w: WindowInfo, smoothed: float | None = None, threshold: float | None = None) -> list[CueRow]:
    """The score panel's meters for one window. ``smoothed`` / ``threshold``: the values the window
    decides on (default: the window's own)."""
    smoothed = w.smoothed if smoothed is None else smoothed
    threshold = w.threshold if threshold is None else threshold

    def passed(v, t):
        return None if v is None or t is None else v >= t

    rows = [
        CueRow(
            "score",
            "network score",
            smoothed,
            threshold,
            "" if w.score is None else f"raw {w.score:.2f}",
            passed(smoothed, threshold),
        ),
        CueRow("p_live", "p_live", w.p_live),
        CueRow("depth", "depth score", w.depth_score),
        CueRow(
            "parallax",
            "parallax",
            w.parallax_score if w.parallax_state == "ok" else None,
            w.parallax_threshold,
            # a placeholder (no window yet) says nothing; a window without the cue says "off"
            parallax_state_text(w.parallax_state, w.parallax_score, w.parallax_threshold)
            if w.raw is not None or w.parallax_state is not None
            else "",
            w.parallax_live,
        ),
    ]
    if w.fusion_rule == "logistic":
        rows.append(
            CueRow(
                "fused",
                "logistic fusion",
                w.fusion_score,
                w.fusion_threshold,
                "p_live of both cues" if w.fusion_used_parallax else "no parallax verdict: network only",
                passed(w.fusion_score, w.fusion_threshold),
            )
        )
    return rows


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


def _reason_text(reason: str) -> str:
    """The fusion's explanation with the parallax states in the panel's words."""
    for state in ("insufficient_motion", "no_face"):
        reason = reason.replace(state, PARALLAX_STATE_TEXT[state])
    return reason


def window_info(ev) -> WindowInfo:
    timings = _pick(ev, "timings", default={}) or {}
    verdict = _pick(ev, "verdict", default=None)
    verdict = getattr(verdict, "value", verdict)
    crops = _pick(ev, "crops", "face_crops", default=None)
    fusion = _pick(ev, "fusion", default={}) or {}
    parallax = _pick(ev, "parallax", default=None)
    network_live = _pick(ev, "network_live", default=None)
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
        reason=_reason_text(str(_pick(fusion, "reason", default="") or "")),
        threshold=_float(_pick(ev, "threshold")),
        network_live=None if network_live is None else bool(network_live),
        parallax_score=None if parallax is None else _float(_pick(parallax, "score")),
        parallax_state=None if parallax is None else str(_pick(parallax, "state", default="no_face")),
        parallax_threshold=None if parallax is None else _float(_pick(parallax, "threshold")),
        fusion_rule=str(_pick(fusion, "rule", default="") or ""),
        fusion_score=_float(_pick(fusion, "score")),
        fusion_threshold=_float(_pick(fusion, "threshold")),
        fusion_used_parallax=None
        if _pick(fusion, "used_parallax", default=None) is None
        else bool(_pick(fusion, "used_parallax")),
        inference_ms=_float(_pick(ev, "inference_ms", default=_pick(timings, "inference_ms", "inference"))),
        raw=ev,
    )
