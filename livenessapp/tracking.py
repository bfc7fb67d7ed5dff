"""Primary-face tracking for the engine, on top of :class:`livenessapp.face.FaceMeshTracker`.

Which face is judged: the one :func:`livenessapp.face.primary_face` picks (largest, discounted by its
distance from the frame centre), made *stable*: while the previously tracked face is still present it is
kept unless another face outweighs it by ``switch_ratio``. A new track (``identity_changed``) starts when

- a face appears after frames without one, or
- the primary face's box centre jumps by more than ``jump_center`` x its size between consecutive frames,
  or its size changes by more than a factor ``1 + jump_size`` (a different person stepped in, another face
  became primary, a looped video restarted).

The engine resets its frame buffer on a new track so that no window mixes two faces.

Hints for the user (:class:`Hint`): no face, several faces (only one is judged), face too small
("move closer"), face at the edge of the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from livenessapp.face import FaceMeshTracker, FaceObservation, primary_face

__all__ = ["Hint", "PrimaryFaceTracker", "TrackResult", "TrackerConfig"]


class Hint(str, Enum):
    """What the user should know about the current frame (``value`` is the text to show)."""

    OK = ""
    NO_FACE = "no face - look into the camera"
    SEVERAL_FACES = "several faces - only the largest, most central one is judged"
    TOO_SMALL = "face too small - move closer"
    AT_EDGE = "face at the image edge - move to the centre"


@dataclass(frozen=True)
class TrackerConfig:
    max_faces: int = 2
    min_face_px: float = 64.0  # landmark box size below which the face is too small to judge
    jump_center: float = 0.5  # centre jump (in face sizes) between frames that means another face
    jump_size: float = 0.4  # relative size change between frames that means another face
    switch_ratio: float = 1.5  # another face must outweigh the tracked one by this to take over
    edge_margin: float = 0.02  # fraction of the frame: landmarks beyond it are "at the edge"
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


@dataclass
class TrackResult:
    """The tracker's answer for one frame."""

    face: FaceObservation | None
    faces: list[FaceObservation] = field(default_factory=list)
    hint: Hint = Hint.NO_FACE
    track_id: int = 0  # increments with every new track (0 = no face seen yet)
    identity_changed: bool = False  # this frame starts a new track
    judgeable: bool = False  # a face big enough to feed the network

    @property
    def num_faces(self) -> int:
        return len(self.faces)


def _weight(face: FaceObservation, shape) -> float:
    h, w = shape[:2]
    half_diag = 0.5 * math.hypot(w, h) or 1.0
    cx, cy = face.center
    d = min(math.hypot(cx - 0.5 * w, cy - 0.5 * h) / half_diag, 1.0)
    return face.area * (1.0 - 0.5 * d)


class PrimaryFaceTracker:
    """Face mesh + primary-face selection + identity-change detection (see the module docstring).

    ``mesh`` may be any object with ``process(frame_bgr) -> list[FaceObservation]`` (tests inject one);
    by default a video-mode :class:`FaceMeshTracker` is made. Feed the frames of one source in order.
    """

    def __init__(self, config: TrackerConfig | None = None, mesh=None):
        self.config = config or TrackerConfig()
        self._own_mesh = mesh is None
        self.mesh = mesh or FaceMeshTracker(
            max_faces=self.config.max_faces,
            static_image_mode=False,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        self._last: FaceObservation | None = None
        self.track_id = 0

    def reset(self) -> None:
        """Forget the current track (the next face starts a new one)."""
        self._last = None

    def _same_face(self, a: FaceObservation, b: FaceObservation) -> bool:
        ax, ay = a.center
        bx, by = b.center
        size = max(a.size, 1.0)
        ratio = max(a.size, b.size) / max(min(a.size, b.size), 1.0)
        return (
            math.hypot(ax - bx, ay - by) <= self.config.jump_center * size
            and ratio <= 1.0 + self.config.jump_size
        )

    def update(self, faces: list[FaceObservation], frame_shape) -> TrackResult:
        """Select the primary face among ``faces`` (already detected) and update the track."""
        cfg = self.config
        chosen = primary_face(faces, frame_shape)
        if chosen is not None and self._last is not None and len(faces) > 1:
            # Stability: keep the tracked face unless another one clearly dominates.
            same = [f for f in faces if self._same_face(self._last, f)]
            if same:
                kept = min(
                    same,
                    key=lambda f: math.hypot(
                        f.center[0] - self._last.center[0], f.center[1] - self._last.center[1]
                    ),
                )
                if _weight(chosen, frame_shape) < cfg.switch_ratio * _weight(kept, frame_shape):
                    chosen = kept
        changed = False
        if chosen is None:
            self._last = None
            return TrackResult(None, list(faces), Hint.NO_FACE, self.track_id, False, False)
        if self._last is None or not self._same_face(self._last, chosen):
            self.track_id += 1
            changed = True
        self._last = chosen
        h, w = frame_shape[:2]
        hint = Hint.OK
        judgeable = True
        if chosen.size < cfg.min_face_px:
            hint, judgeable = Hint.TOO_SMALL, False
        elif len(faces) > 1:
            hint = Hint.SEVERAL_FACES
        else:
            x0, y0, x1, y1 = chosen.box
            m = cfg.edge_margin
            if x0 < m * w or y0 < m * h or x1 > (1 - m) * w or y1 > (1 - m) * h:
                hint = Hint.AT_EDGE
        return TrackResult(chosen, list(faces), hint, self.track_id, changed, judgeable)

    def process(self, frame_bgr: np.ndarray) -> TrackResult:
        """Detect / track the faces of one frame and update the track."""
        return self.update(self.mesh.process(frame_bgr), frame_bgr.shape)

    def close(self) -> None:
        if self._own_mesh and self.mesh is not None:
            self.mesh.close()
        self.mesh = None

    def __enter__(self) -> PrimaryFaceTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
