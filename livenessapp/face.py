"""Shared face geometry: face-mesh tracking, square face crops and dense depth labels.

One module makes crops and depth labels for the app engine, the preprocessing cache and the simulator, so
that training and inference see faces cut the same way. numpy + cv2 + mediapipe only (no torch, no scipy).

Coordinate conventions
----------------------
- ``FaceObservation.landmarks`` x, y are *continuous* pixel coordinates of the full frame with the origin at
  the top-left *edge* of the image (MediaPipe's normalised x * width, y * height): the centre of pixel
  ``(col, row)`` is at ``(col + 0.5, row + 0.5)``. z is MediaPipe's relative z times the frame width
  (smaller z = nearer the camera; the face's centre of mass is near z = 0).
- The 2x3 affine returned by :func:`crop_face` maps those frame coordinates to the same kind of continuous
  coordinates in the crop (``[0, out_size]`` spans the crop). The half-pixel shift that ``cv2.warpAffine``
  (pixel centres at integers) needs is applied internally, so landmarks mapped by the affine land exactly on
  the crop's pixels.
- What fills a crop outside the frame is the model's ``crop_border`` (:data:`CROP_BORDERS`): ``"black"``
  (``cv2.BORDER_CONSTANT``, value 0; every model trained before the option existed) or ``"reflect"`` (the
  frame mirrored about its edge, ``cv2.BORDER_REFLECT_101``). Replicating the edge row is not offered: it
  smears edge pixels into streaks that look like texture, a spurious cue for a spoof detector. Black fill
  is a cue too: a tight capture (a face crop, a close-up) fills part of the crop with black, and a network
  trained on it reads the black as an attack cue (measured: ``liveness-train depth-probe``, see
  ``training/configs/lite-reflect.card.md``). Reflection fills it with the capture's own content.

Depth label (the paper's Sec. 3 / Eq. 3 target; the authors use PRNet, we use the MediaPipe face mesh)
-----------------------------------------------------------------------------------------------------
:func:`depth_label` rasterises the face-mesh triangles at the label resolution with a per-pixel z-buffer and
interpolates z barycentrically inside each triangle (vectorised: every (triangle, pixel) pair whose pixel
centre falls in the triangle's bounding box is evaluated at once, then the nearest z per pixel is kept).

- Triangles: :data:`MESH_TRIANGLES`, derived once at import from ``FACEMESH_TESSELATION`` (its edges list
  the canonical mesh's triangles' sides): every 3-clique of the edge graph, minus the two "separating"
  3-cycles whose three edges each belong to three cliques (not faces of the mesh), plus fans that close the
  mesh's three holes (both eyes and the mouth) around one virtual centre vertex per hole (the mean of the
  hole's rim landmarks). A fixed list keeps occlusion right under head rotation, which a per-frame 2-D
  Delaunay of the projected landmarks would not (it would join near and far points of a turned face).
- Normalisation: by the z range of the whole mesh, nearest landmark (the nose tip in frontal views) -> 1
  and farthest landmark -> ``floor`` (default :data:`DEPTH_FLOOR` = 0.1), i.e.
  ``depth = floor + (1 - floor) * (z_max - z) / (z_max - z_min)``. Background is exactly 0. The range comes
  from the 468 landmarks, not from the sampled pixels: at 32x32 whether a pixel centre happens to fall on
  the far face border would otherwise shift the whole label by up to ~0.1 from frame to frame (temporal
  flicker the multi-frame model would have to learn). In a turned head the hidden far side holds z_max, so
  the visible face stays above the floor there, which is physically consistent from frame to frame. The floor keeps ``depth > 0`` identical to the face mask (the mask Eq. 18 uses is
  "depth > 0 of the live-style label"), and it makes the live label differ from the all-zero spoof label on
  the *whole* face, the face border included, where print edges and screen bezels show. Pass ``floor=0`` for
  a plain [0, 1] min-max label.
- Mask: the face-mesh silhouette (the union of the triangles, holes closed) at the label resolution, i.e.
  the face hull as the mesh draws it (it follows the nose beyond the cheek line in profile views, which a
  convex hull of the landmarks would not bound as tightly).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections import defaultdict
from dataclasses import dataclass

# MediaPipe's C++ core logs through glog/absl to stderr on every graph start; keep the terminal of the
# headless commands readable (warnings and errors still show). Must be set before mediapipe loads.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import mediapipe as mp  # noqa: E402
import numpy as np  # noqa: E402

__all__ = [
    "CROP_BORDERS",
    "DEPTH_FLOOR",
    "LANDMARK_COUNT",
    "MESH_HOLES",
    "MESH_TRIANGLES",
    "NOSE_TIP",
    "FaceDetector",
    "FaceMeshTracker",
    "FaceObservation",
    "crop_affine",
    "crop_face",
    "crop_face_like_training",
    "depth_label",
    "normalise",
    "primary_face",
    "rasterise_mesh",
    "square_crop_box",
    "warp_crop",
    "warp_image",
]

LANDMARK_COUNT = 468
NOSE_TIP = 1
DEPTH_FLOOR = 0.1
# What fills a face crop outside the frame (module docstring): the first is every older model's.
_BORDER_MODES = {"black": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101}
CROP_BORDERS = tuple(_BORDER_MODES)
_FOREHEAD_TOP = 10  # a landmark on the outer contour of the mesh (FACEMESH_FACE_OVAL)


# ----------------------------------------------------------------------------------------------------------
# Mesh topology (computed once at import)
# ----------------------------------------------------------------------------------------------------------
def _derive_mesh() -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Triangles of the MediaPipe face mesh (holes closed) from the tessellation's edge list.

    Returns ``(triangles (T, 3) int32, holes)``; hole ``k``'s virtual centre vertex has index
    ``LANDMARK_COUNT + k`` in ``triangles`` and ``holes[k]`` lists its rim landmarks in loop order.
    """
    adjacency: dict[int, set[int]] = defaultdict(set)
    for a, b in mp.solutions.face_mesh.FACEMESH_TESSELATION:
        if a != b:
            adjacency[a].add(b)
            adjacency[b].add(a)
    cliques = []
    for a in sorted(adjacency):
        for b in sorted(adjacency[a]):
            if b <= a:
                continue
            for c in sorted(adjacency[a] & adjacency[b]):
                if c > b:
                    cliques.append((a, b, c))
    edge_use: dict[tuple[int, int], int] = defaultdict(int)
    for tri in cliques:
        for edge in itertools.combinations(tri, 2):
            edge_use[edge] += 1
    # A separating 3-cycle (not a face) shares each of its edges with the two faces on either side.
    faces = [t for t in cliques if not all(edge_use[e] >= 3 for e in itertools.combinations(t, 2))]
    face_edge_use: dict[tuple[int, int], int] = defaultdict(int)
    for tri in faces:
        for edge in itertools.combinations(tri, 2):
            face_edge_use[edge] += 1
    rim = defaultdict(list)
    for (a, b), count in face_edge_use.items():
        if count == 1:
            rim[a].append(b)
            rim[b].append(a)
    loops: list[list[int]] = []
    seen: set[int] = set()
    for start in sorted(rim):
        if start in seen:
            continue
        loop, prev, cur = [start], -1, start
        seen.add(start)
        while True:
            nxt = [v for v in rim[cur] if v != prev]
            if not nxt or nxt[0] == start:
                break
            prev, cur = cur, nxt[0]
            if cur in seen:
                break
            loop.append(cur)
            seen.add(cur)
        loops.append(loop)
    holes = [np.asarray(loop, dtype=np.int32) for loop in loops if _FOREHEAD_TOP not in loop]
    fan = []
    for k, loop in enumerate(holes):
        centre = LANDMARK_COUNT + k
        for i in range(len(loop)):
            fan.append((int(loop[i]), int(loop[(i + 1) % len(loop)]), centre))
    triangles = np.asarray(faces + fan, dtype=np.int32)
    triangles.setflags(write=False)
    for loop in holes:
        loop.setflags(write=False)
    return triangles, tuple(holes)


MESH_TRIANGLES, MESH_HOLES = _derive_mesh()


# ----------------------------------------------------------------------------------------------------------
# Tracking
# ----------------------------------------------------------------------------------------------------------
@dataclass
class FaceObservation:
    """One face in one frame.

    ``landmarks``: (468, 3) float32; x, y in pixels of the full frame, z in pixels (MediaPipe z * frame
    width), smaller z = nearer the camera. ``box``: (x0, y0, x1, y1) bounding box of the landmarks.
    ``score``: detection confidence if known, else 1.0.
    """

    landmarks: np.ndarray
    box: tuple[float, float, float, float]
    score: float = 1.0

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray, score: float = 1.0) -> FaceObservation:
        lm = np.asarray(landmarks, dtype=np.float32)
        x0, y0 = lm[:, 0].min(), lm[:, 1].min()
        x1, y1 = lm[:, 0].max(), lm[:, 1].max()
        return cls(lm, (float(x0), float(y0), float(x1), float(y1)), float(score))

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (0.5 * (x0 + x1), 0.5 * (y0 + y1))

    @property
    def size(self) -> float:
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, y1 - y0))

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))

    def flipped(self, frame_width: int) -> FaceObservation:
        """The same face in the horizontally mirrored frame (landmark indices are not swapped)."""
        lm = self.landmarks.copy()
        lm[:, 0] = frame_width - lm[:, 0]
        return FaceObservation.from_landmarks(lm, self.score)


class FaceMeshTracker:
    """MediaPipe face mesh (``mp.solutions.face_mesh.FaceMesh``) returning :class:`FaceObservation` s.

    With ``static_image_mode=False`` (video mode) MediaPipe tracks the landmarks from frame to frame and
    runs the face detector only when tracking is lost, which is several times faster on videos: feed the
    frames of one video in order, and use a new tracker (or ``static_image_mode=True``) for unrelated images.
    """

    def __init__(
        self,
        max_faces: int = 2,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        refine_landmarks: bool = False,
    ):
        self.max_faces = max_faces
        self.static_image_mode = static_image_mode
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static_image_mode,
            max_num_faces=max_faces,
            refine_landmarks=refine_landmarks,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def process(self, frame_bgr: np.ndarray) -> list[FaceObservation]:
        """Faces in a BGR uint8 frame, largest first."""
        if self._mesh is None:
            raise RuntimeError("FaceMeshTracker is closed")
        if frame_bgr.ndim == 2:
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2RGB)
        else:
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        rgb.setflags(write=False)
        height, width = rgb.shape[:2]
        result = self._mesh.process(rgb)
        faces: list[FaceObservation] = []
        for face in result.multi_face_landmarks or ():
            lm = np.array([(p.x, p.y, p.z) for p in face.landmark[:LANDMARK_COUNT]], dtype=np.float32)
            lm *= np.array([width, height, width], dtype=np.float32)
            faces.append(FaceObservation.from_landmarks(lm))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> FaceMeshTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()


class FaceDetector:
    """MediaPipe's face detector (``mp.solutions.face_detection``, short range) for one question the mesh
    cannot answer: is there a face the mesh does not find? A mask or a hand over the mouth hides the
    features the mesh fits, while the detector still sees a face (a masked test video: no mesh in 121
    frames, a face detected in 13 of 13 sampled frames)."""

    def __init__(self, min_detection_confidence: float = 0.5):
        self._det = mp.solutions.face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=min_detection_confidence
        )

    def count(self, frame_bgr: np.ndarray) -> int:
        """Number of faces detected in a BGR (or grey) uint8 frame."""
        if self._det is None:
            raise RuntimeError("FaceDetector is closed")
        code = cv2.COLOR_GRAY2RGB if frame_bgr.ndim == 2 else cv2.COLOR_BGR2RGB
        rgb = cv2.cvtColor(frame_bgr, code)
        rgb.setflags(write=False)
        return len(self._det.process(rgb).detections or ())

    def close(self) -> None:
        if self._det is not None:
            self._det.close()
            self._det = None

    def __del__(self):  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()


def primary_face(faces: list[FaceObservation], frame_shape: tuple[int, ...]) -> FaceObservation | None:
    """The face to judge: the largest, discounted by its distance from the frame centre.

    Weight = box area * (1 - 0.5 * d), d = distance of the box centre from the frame centre divided by the
    half-diagonal (0 at the centre, 1 in a corner): a face in a corner must be twice as large to win.
    """
    if not faces:
        return None
    height, width = frame_shape[:2]
    half_diag = 0.5 * float(np.hypot(width, height)) or 1.0

    def weight(face: FaceObservation) -> float:
        cx, cy = face.center
        d = min(float(np.hypot(cx - 0.5 * width, cy - 0.5 * height)) / half_diag, 1.0)
        return face.area * (1.0 - 0.5 * d)

    return max(faces, key=weight)


# ----------------------------------------------------------------------------------------------------------
# Crops
# ----------------------------------------------------------------------------------------------------------
def square_crop_box(face: FaceObservation, scale: float = 1.3) -> tuple[float, float, float]:
    """``(cx, cy, side)``: the landmark box's centre and ``scale`` times its longer side."""
    cx, cy = face.center
    return (cx, cy, max(face.size, 1.0) * scale)


def crop_affine(cx: float, cy: float, side: float, out_size: int) -> np.ndarray:
    """2x3 affine (float64) mapping frame coordinates to crop coordinates of the square ``(cx, cy, side)``."""
    s = out_size / side
    return np.array([[s, 0.0, 0.5 * out_size - s * cx], [0.0, s, 0.5 * out_size - s * cy]], dtype=np.float64)


def warp_image(image: np.ndarray, affine: np.ndarray, out_size: int, border: str = "black") -> np.ndarray:
    """``out_size`` x ``out_size`` window of ``image`` (any channel order) under an edge-origin affine.

    Bilinear sampling; outside the image: black, or the image mirrored about its edge (``border``, one of
    :data:`CROP_BORDERS`). The affine maps continuous edge-origin coordinates (as
    :func:`crop_affine` makes them); warpAffine's pixel-centre convention gets the matching half-pixel shift.
    """
    m = np.asarray(affine, dtype=np.float64).copy()
    m[:, 2] += 0.5 * (m[:, 0] + m[:, 1]) - 0.5
    return cv2.warpAffine(
        image,
        m,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR,
        borderMode=_border_mode(border),
        borderValue=0,
    )


def _border_mode(border: str) -> int:
    try:
        return _BORDER_MODES[border]
    except KeyError:
        raise ValueError(f"crop border must be one of {CROP_BORDERS}, got {border!r}") from None


def warp_crop(frame_bgr: np.ndarray, affine: np.ndarray, out_size: int, border: str = "black") -> np.ndarray:
    """RGB uint8 ``out_size`` x ``out_size`` crop of a BGR frame under an affine from :func:`crop_affine`."""
    crop = warp_image(frame_bgr, affine, out_size, border)
    if crop.ndim == 2:
        return cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def crop_face(
    frame_bgr: np.ndarray, face: FaceObservation, out_size: int, scale: float = 1.3, border: str = "black"
) -> tuple[np.ndarray, np.ndarray]:
    """Square face crop: ``(crop RGB uint8 (out_size, out_size, 3), 2x3 affine frame -> crop)``.

    The square is centred on the landmark box with side ``scale`` * its longer side (1.3 at test time, a
    random 1.1-1.4 in training, as in the authors' code). Outside the frame the crop is filled as
    ``border`` says (black, or the frame mirrored about its edge).
    """
    cx, cy, side = square_crop_box(face, scale)
    affine = crop_affine(cx, cy, side, out_size)
    return warp_crop(frame_bgr, affine, out_size, border), affine


def crop_face_like_training(
    frame_bgr: np.ndarray,
    face: FaceObservation,
    out_size: int,
    scale: float,
    codec: str = "",
    margin: int = 0,
    border: str = "black",
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`crop_face` as the model's training cache stored it (``codec`` / ``margin`` from
    ``ModelMeta.crop_codec`` / ``crop_margin``). ``""`` (lossless) is :func:`crop_face` itself. For
    ``"jpeg:<quality>"`` the cache encoded a crop ``margin`` pixels wider on each side (the same mapping,
    shifted) and the network saw its centre: the same window is cut, encoded and decoded with OpenCV at the
    same quality, so the crop is the cache's (its JPEG blocks on the same grid), up to OpenCV's rounding.
    ``border``: ``ModelMeta.crop_border``, what fills the crop outside the frame."""
    if not codec:
        return crop_face(frame_bgr, face, out_size, scale, border)
    affine = crop_affine(*square_crop_box(face, scale), out_size)
    wide = affine.copy()
    wide[:, 2] += margin
    bgr = warp_image(frame_bgr, wide, out_size + 2 * margin, border)
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    quality = int(codec.partition(":")[2])
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError("JPEG encoding of the face crop failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)[margin : margin + out_size, margin : margin + out_size]
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), affine


# ----------------------------------------------------------------------------------------------------------
# Depth label
# ----------------------------------------------------------------------------------------------------------
def _mesh_vertices(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks plus one virtual centre vertex per mesh hole (eyes, mouth): (468 + holes, 3)."""
    lm = np.asarray(landmarks, dtype=np.float64)[:LANDMARK_COUNT]
    centres = [lm[loop].mean(axis=0) for loop in MESH_HOLES]
    return np.concatenate([lm, np.asarray(centres).reshape(-1, 3)], axis=0)


def rasterise_mesh(
    points: np.ndarray, z: np.ndarray, size: int, triangles: np.ndarray = MESH_TRIANGLES
) -> np.ndarray:
    """Z-buffer of a triangle mesh on a ``size`` x ``size`` grid: nearest (smallest) z per pixel, inf = empty.

    ``points`` (V, 2) are continuous grid coordinates (pixel ``(c, r)`` has its centre at ``(c+.5, r+.5)``).
    A pixel belongs to a triangle when its centre does (edges inclusive, so a closed mesh has no cracks);
    z is interpolated barycentrically. Fully vectorised over (triangle, candidate pixel) pairs.
    """
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    xs = np.stack([a[:, 0], b[:, 0], c[:, 0]], 1)
    ys = np.stack([a[:, 1], b[:, 1], c[:, 1]], 1)
    cx0 = np.clip(np.ceil(xs.min(1) - 0.5), 0, size).astype(np.int64)
    cx1 = np.clip(np.floor(xs.max(1) - 0.5), -1, size - 1).astype(np.int64)
    cy0 = np.clip(np.ceil(ys.min(1) - 0.5), 0, size).astype(np.int64)
    cy1 = np.clip(np.floor(ys.max(1) - 0.5), -1, size - 1).astype(np.int64)
    w = np.maximum(cx1 - cx0 + 1, 0)
    h = np.maximum(cy1 - cy0 + 1, 0)
    # Barycentric denominators; degenerate (zero-area) triangles cover nothing.
    den = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
    n = np.where(np.abs(den) > 1e-12, w * h, 0)
    zbuf = np.full(size * size, np.inf)
    total = int(n.sum())
    if total == 0:
        return zbuf.reshape(size, size)
    tri = np.repeat(np.arange(len(triangles)), n)
    local = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    wt = w[tri]
    col = cx0[tri] + local % wt
    row = cy0[tri] + local // wt
    px, py = col + 0.5, row + 0.5
    ta, tb, tc = a[tri], b[tri], c[tri]
    inv = 1.0 / den[tri]
    l0 = ((tb[:, 1] - tc[:, 1]) * (px - tc[:, 0]) + (tc[:, 0] - tb[:, 0]) * (py - tc[:, 1])) * inv
    l1 = ((tc[:, 1] - ta[:, 1]) * (px - tc[:, 0]) + (ta[:, 0] - tc[:, 0]) * (py - tc[:, 1])) * inv
    l2 = 1.0 - l0 - l1
    eps = -1e-9
    inside = (l0 >= eps) & (l1 >= eps) & (l2 >= eps)
    zt = z[triangles[tri[inside]]]
    zi = l0[inside] * zt[:, 0] + l1[inside] * zt[:, 1] + l2[inside] * zt[:, 2]
    np.minimum.at(zbuf, row[inside] * size + col[inside], zi)
    return zbuf.reshape(size, size)


def depth_label(
    face: FaceObservation,
    affine: np.ndarray,
    crop_size: int,
    map_size: int,
    floor: float = DEPTH_FLOOR,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense live-face depth label and face mask for a crop (the Eq. 3 / Eq. 4 target, Eq. 18's mask).

    ``affine`` maps the frame to the ``crop_size`` crop (from :func:`crop_face`); the label has
    ``map_size`` x ``map_size`` pixels covering the same square. Returns ``(depth, mask)`` float32: depth
    1 at the nearest mesh point (the nose tip in frontal views), ``floor`` at the farthest mesh point, 0 on
    the background; mask 1 on the face-mesh silhouette, else 0 (so ``mask == (depth > 0)`` when
    ``floor > 0``). For a spoof the training label is all zeros and only the mask is used.
    """
    verts = _mesh_vertices(face.landmarks)
    A = np.asarray(affine, dtype=np.float64)
    pts = verts[:, :2] @ A[:, :2].T + A[:, 2]
    pts *= map_size / float(crop_size)
    zbuf = rasterise_mesh(pts, verts[:, 2], map_size)
    mask = np.isfinite(zbuf)
    depth = np.zeros((map_size, map_size), dtype=np.float32)
    if mask.any():
        zv = zbuf[mask]
        z_near, z_far = verts[:, 2].min(), verts[:, 2].max()
        rel = np.clip((z_far - zv) / (z_far - z_near), 0.0, 1.0) if z_far > z_near else np.ones_like(zv)
        depth[mask] = (floor + (1.0 - floor) * rel).astype(np.float32)
    return depth, mask.astype(np.float32)


def normalise(crop_rgb_uint8: np.ndarray, mean: float, std: float) -> np.ndarray:
    """HWC (or NHWC) uint8 RGB -> float32 CHW (NCHW) ``(x - mean) / std``."""
    x = np.asarray(crop_rgb_uint8, dtype=np.float32)
    x = (x - np.float32(mean)) * np.float32(1.0 / std)
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))
