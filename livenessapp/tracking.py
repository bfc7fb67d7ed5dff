"""Primary-face tracking for the engine, on top of :class:`livenessapp.face.FaceMeshTracker`.

Which face is judged: the one :func:`livenessapp.face.primary_face` picks (largest, discounted by its
distance from the frame centre), made *stable*: while the previously tracked face is still present it is
kept unless another face outweighs it by ``switch_ratio``. A new track (``identity_changed``) starts when

- a face appears after frames without one, or
- the primary face's box centre jumps by more than ``jump_center`` x its size between consecutive frames,
  or its size changes by more than a factor ``1 + jump_size`` (a different person stepped in, another face
  became primary, a looped video restarted).

The engine resets its frame buffer on a new track so that no window mixes two faces.

Mesh only where it is needed: the network and the parallax cue use the landmarks of the *sampled* frames
(every ``interval``-th) only; the frames in between need just a box for the overlay. The engine therefore
runs the face mesh on sampled frames and whenever no judgeable face is tracked, and lets
:meth:`PrimaryFaceTracker.process` (``may_carry=True``) carry the last result over the (at most
``TrackerConfig.carry_frames``) frames in between: same face, box and landmarks, ``carried=True``, no
identity change. Carrying needs the face box to still look the same: a 16x16 thumbnail of the box region
is compared with the one taken when the face was meshed, and a mean absolute change above
``carry_max_change`` grey levels (another person stepped in, a fast move, the lights changed) runs the
mesh after all, so a face change is caught at once, as without carrying. On the demo clip this cuts the
tracking cost to about a third (changes there stay below ~11 levels), and the landmarks of the sampled
frames stay within ~1 px RMS of meshing every frame (MediaPipe's video mode tracks from the previous meshed
frame, 3 frames back). ``carry_frames=0`` meshes every frame.

Hints for the user (:class:`Hint`): no face, a face the mesh cannot fit (a mask or a hand over it: the
face detector, run every ``covered_check_every``-th frame without a meshed face, still finds one), several
faces (only one is judged), face too small ("move closer"), face at the edge of the image.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum

import cv2
import numpy as np

from livenessapp.face import FaceDetector, FaceMeshTracker, FaceObservation, primary_face

__all__ = ["Hint", "PrimaryFaceTracker", "TrackResult", "TrackerConfig", "min_face_px_for_model"]


class Hint(str, Enum):
    """What the user should know about the current frame (``value`` is the text to show)."""

    OK = ""
    NO_FACE = "no face - look into the camera"
    FACE_COVERED = "face covered - remove a mask or anything in front of the face"
    SEVERAL_FACES = "several faces - only the largest, most central one is judged"
    TOO_SMALL = "face too small - move closer"
    AT_EDGE = "face at the image edge - move to the centre"


@dataclass(frozen=True)
class TrackerConfig:
    max_faces: int = 2
    min_face_px: float = 64.0  # landmark box size below which the face is too small to judge (the engine
    # raises it to the model's own floor, see min_face_px_for_model)
    jump_center: float = 0.5  # centre jump (in face sizes) between frames that means another face
    jump_size: float = 0.4  # relative size change between frames that means another face
    switch_ratio: float = 1.5  # another face must outweigh the tracked one by this to take over
    edge_margin: float = 0.02  # fraction of the frame: landmarks beyond it are "at the edge"
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    carry_frames: int = 2  # frames the last mesh result may be carried over (0 = mesh every frame)
    carry_max_change: float = 20.0  # mean abs change (grey levels) of the face-box thumbnail that stops it
    covered_check_every: int = 10  # frames without a meshed face between face-detector checks (0 = never)


def min_face_px_for_model(input_size: int, crop_scale: float, max_upsampling: float = 2.0) -> float:
    """Smallest landmark box (pixels) whose crop (``crop_scale`` x the box) reaches the network's
    ``input_size`` with at most ``max_upsampling``: a smaller face has too little detail for the texture
    and depth cues the network was trained on (lite: 128 / 1.3 / 2 = 49 px; paper: 256 / 1.3 / 2 = 98 px)."""
    return float(input_size) / (float(crop_scale) * max_upsampling)


@dataclass
class TrackResult:
    """The tracker's answer for one frame."""

    face: FaceObservation | None
    faces: list[FaceObservation] = field(default_factory=list)
    hint: Hint = Hint.NO_FACE
    track_id: int = 0  # increments with every new track (0 = no face seen yet)
    identity_changed: bool = False  # this frame starts a new track
    judgeable: bool = False  # a face big enough to feed the network
    carried: bool = False  # the face mesh did not run on this frame: the last meshed result, carried over

    @property
    def num_faces(self) -> int:
        return len(self.faces)


def _weight(face: FaceObservation, shape) -> float:
    h, w = shape[:2]
    half_diag = 0.5 * math.hypot(w, h) or 1.0
    cx, cy = face.center
    d = min(math.hypot(cx - 0.5 * w, cy - 0.5 * h) / half_diag, 1.0)
    return face.area * (1.0 - 0.5 * d)


def _box_thumbnail(frame: np.ndarray, box, size: int = 16) -> np.ndarray | None:
    """``size`` x ``size`` area-averaged thumbnail of the box region (int16), None if it is off the frame."""
    h, w = frame.shape[:2]
    x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
    x1, y1 = min(int(math.ceil(box[2])), w), min(int(math.ceil(box[3])), h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return cv2.resize(frame[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA).astype(np.int16)


class PrimaryFaceTracker:
    """Face mesh + primary-face selection + identity-change detection (see the module docstring).

    ``mesh`` may be any object with ``process(frame_bgr) -> list[FaceObservation]`` (tests inject one);
    by default a video-mode :class:`FaceMeshTracker` is made. ``detector`` (``count(frame_bgr) -> int``)
    tells a covered face from no face; by default a :class:`FaceDetector` is made on first need when the
    mesh is the default one, and none is used beside an injected mesh. Feed the frames of one source in order.
    """

    def __init__(self, config: TrackerConfig | None = None, mesh=None, detector=None):
        self.config = config or TrackerConfig()
        self._own_detector = detector is None and mesh is None
        self.detector = detector
        self._frames_without_face = 0
        self._covered = False
        self._own_mesh = mesh is None
        self.mesh = mesh or FaceMeshTracker(
            max_faces=self.config.max_faces,
            static_image_mode=False,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        self._last: FaceObservation | None = None
        self.last_result: TrackResult | None = None
        self._thumb: np.ndarray | None = None  # the last meshed face's box thumbnail
        self.track_id = 0

    def reset(self) -> None:
        """Forget the current track (the next face starts a new one)."""
        self._last = None
        self.last_result = None
        self._thumb = None
        self._frames_without_face, self._covered = 0, False

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

    def process(self, frame_bgr: np.ndarray, may_carry: bool = False) -> TrackResult:
        """Detect / track the faces of one frame and update the track. With ``may_carry`` the last result
        is returned instead (``carried=True``) when its face was judgeable and its box region has not
        changed (see the module docstring)."""
        last = self.last_result
        if may_carry and last is not None and last.face is not None and last.judgeable:
            thumb = _box_thumbnail(frame_bgr, last.face.box)
            if (
                thumb is not None
                and self._thumb is not None
                and float(np.mean(np.abs(thumb - self._thumb))) <= self.config.carry_max_change
            ):
                return dataclasses.replace(last, identity_changed=False, carried=True)
        result = self._covered_hint(self.update(self.mesh.process(frame_bgr), frame_bgr.shape), frame_bgr)
        self.last_result = result
        self._thumb = None if result.face is None else _box_thumbnail(frame_bgr, result.face.box)
        return result

    def _covered_hint(self, result: TrackResult, frame_bgr: np.ndarray) -> TrackResult:
        """``result`` with :attr:`Hint.FACE_COVERED` instead of NO_FACE while the face detector (asked on the
        first frame without a meshed face, then every ``covered_check_every``-th) finds a face."""
        every = self.config.covered_check_every
        if result.face is not None or every <= 0:
            self._frames_without_face, self._covered = 0, False
            return result
        if self._frames_without_face % every == 0:
            if self.detector is None and self._own_detector:
                self.detector = FaceDetector(self.config.min_detection_confidence)
            self._covered = self.detector is not None and self.detector.count(frame_bgr) > 0
        self._frames_without_face += 1
        return dataclasses.replace(result, hint=Hint.FACE_COVERED) if self._covered else result

    def close(self) -> None:
        if self._own_mesh and self.mesh is not None:
            self.mesh.close()
        self.mesh = None
        if self._own_detector and self.detector is not None:
            self.detector.close()
        self.detector = None

    def __enter__(self) -> PrimaryFaceTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
