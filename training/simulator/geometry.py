"""Pinhole camera, rigid poses, textured planes under a full homography, and smooth motion trajectories.

Camera model (the appendix's Eq. 1): a point ``X = (x, y, z)`` in camera coordinates (x right, y down,
z forward, metres) projects to pixel ``u = f x / z + c_x``, ``v = f y / z + c_y``. Pixel centres sit at
integer coordinates (OpenCV's ``warpPerspective`` / ``remap`` / drawing convention).

A planar carrier (print or screen) with corners ``P_i`` projects by the homography that maps its texture
corners to the projected corners, so every point of a print moves by one 3x3 projective map between frames
(the appendix's Eq. 11-12: relative depth 0), while the points of a live 3-D head move by ``f dx / z`` with
their own depth ``z`` (Eq. 2-3: motion parallax).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "PinholeCamera",
    "Pose",
    "euler_matrix",
    "plane_corners",
    "plane_depth",
    "render_plane",
    "smooth_track",
    "composite",
]


def euler_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation ``Rz(roll) @ Rx(pitch) @ Ry(yaw)`` (radians) in camera axes (x right, y down, z forward).

    Yaw turns about the vertical (y) axis, pitch about the horizontal (x) axis, roll about the optical axis.
    """
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


@dataclass
class Pose:
    """Rigid transform object -> camera: ``X_cam = R @ X_obj + t``."""

    R: np.ndarray
    t: np.ndarray

    @classmethod
    def from_euler(cls, yaw=0.0, pitch=0.0, roll=0.0, t=(0.0, 0.0, 0.5)) -> Pose:
        return cls(euler_matrix(yaw, pitch, roll), np.asarray(t, dtype=np.float64))

    @classmethod
    def identity(cls) -> Pose:
        return cls(np.eye(3), np.zeros(3))

    def compose(self, inner: Pose) -> Pose:
        """``self ∘ inner``: apply ``inner`` first (e.g. camera-from-world ∘ world-from-object)."""
        return Pose(self.R @ inner.R, self.R @ inner.t + self.t)

    def apply(self, points: np.ndarray) -> np.ndarray:
        return points @ self.R.T + self.t


@dataclass
class PinholeCamera:
    """Pinhole intrinsics ``K`` for a ``width`` x ``height`` image (Eq. 1: u = f x / z)."""

    width: int
    height: int
    focal: float

    @classmethod
    def from_hfov(cls, width: int, height: int, hfov_deg: float) -> PinholeCamera:
        return cls(width, height, 0.5 * width / np.tan(np.radians(hfov_deg) / 2))

    @property
    def K(self) -> np.ndarray:
        return np.array(
            [[self.focal, 0, (self.width - 1) / 2], [0, self.focal, (self.height - 1) / 2], [0, 0, 1.0]]
        )

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera points -> (N, 2) pixel coordinates (pixel centres at integers)."""
        z = np.maximum(points[:, 2], 1e-6)
        return np.stack(
            [
                self.focal * points[:, 0] / z + (self.width - 1) / 2,
                self.focal * points[:, 1] / z + (self.height - 1) / 2,
            ],
            axis=1,
        )

    def frustum_size(self, depth: float) -> tuple[float, float]:
        """Metric width and height of the field of view at ``depth``."""
        return self.width * depth / self.focal, self.height * depth / self.focal

    def scaled(self, factor: float) -> PinholeCamera:
        """The same field of view at ``factor`` times the resolution."""
        return PinholeCamera(round(self.width * factor), round(self.height * factor), self.focal * factor)

    def enlarged(self, factor: float) -> PinholeCamera:
        """The same focal length with a ``factor`` times larger image (a wider field of view)."""
        return PinholeCamera(round(self.width * factor), round(self.height * factor), self.focal)


def plane_corners(width_m: float, height_m: float, pose: Pose) -> np.ndarray:
    """Camera-space corners (TL, TR, BR, BL) of a ``width_m`` x ``height_m`` rectangle centred on its pose."""
    w, h = width_m / 2, height_m / 2
    local = np.array([[-w, -h, 0], [w, -h, 0], [w, h, 0], [-w, h, 0]], dtype=np.float64)
    return pose.apply(local)


def texture_homography(tex_shape: tuple[int, int], corners_px: np.ndarray) -> np.ndarray:
    """3x3 homography texture pixel -> image pixel for texture corners mapped to ``corners_px`` (TL,TR,BR,BL)."""
    h, w = tex_shape[:2]
    src = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], dtype=np.float32)
    return cv2.getPerspectiveTransform(src, corners_px.astype(np.float32))


def render_plane(
    texture: np.ndarray, corners_cam: np.ndarray, camera: PinholeCamera
) -> tuple[np.ndarray, np.ndarray]:
    """Warp a premultiplied BGRA float32 texture onto a 3-D rectangle (full homography of its pose).

    Returns ``(layer (H, W, 4) premultiplied float32, H texture->image)``.
    """
    H = texture_homography(texture.shape, camera.project(corners_cam))
    layer = cv2.warpPerspective(
        texture,
        H,
        (camera.width, camera.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0, 0),
    )
    return layer, H


def plane_depth(corners_cam: np.ndarray, camera: PinholeCamera, mask: np.ndarray) -> np.ndarray:
    """Camera z of the plane through ``corners_cam`` at the pixels of ``mask`` (inf elsewhere)."""
    n = np.cross(corners_cam[1] - corners_cam[0], corners_cam[3] - corners_cam[0])
    d = float(n @ corners_cam[0])
    ys, xs = np.nonzero(mask)
    rx = (xs - (camera.width - 1) / 2) / camera.focal
    ry = (ys - (camera.height - 1) / 2) / camera.focal
    denom = n[0] * rx + n[1] * ry + n[2]
    out = np.full(mask.shape, np.inf, dtype=np.float32)
    out[ys, xs] = d / np.where(np.abs(denom) < 1e-9, 1e-9, denom)
    return out


def composite(dst: np.ndarray, layer: np.ndarray, gain=None) -> np.ndarray:
    """``dst`` (H, W, 3) float32 over-composited in place by a premultiplied BGRA ``layer`` whose colour is
    first multiplied by ``gain`` (scalar or per-channel; e.g. the light falling on a print)."""
    inv = 1.0 - cv2.extractChannel(layer, 3)
    colour = cv2.cvtColor(layer, cv2.COLOR_BGRA2BGR)
    if gain is not None:
        colour *= np.asarray(gain, dtype=np.float32)
    np.multiply(dst, inv[..., None], out=dst)
    np.add(dst, colour, out=dst)
    return dst


def smooth_track(
    rng: np.random.Generator,
    n: int,
    amplitude: float,
    fps: float = 30.0,
    freq=(0.08, 0.6),
    components: int = 3,
) -> np.ndarray:
    """A smooth random signal of ``n`` samples: a sum of sinusoids (random frequency/phase) scaled so that its
    largest excursion is about ``amplitude``. Natural-looking head / hand motion."""
    t = np.arange(n) / fps
    out = np.zeros(n)
    for _ in range(components):
        f = rng.uniform(*freq)
        out += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    peak = np.abs(out).max() if n > 1 else 1.0
    # the amplitude is a max excursion; keep some variety in the realised peak
    return out / max(peak, 1e-9) * amplitude * rng.uniform(0.6, 1.0)


def ease_turn(n: int, start: int, length: int, angle: float) -> np.ndarray:
    """An occasional larger turn: raised-cosine out to ``angle`` and back over ``length`` samples."""
    out = np.zeros(n)
    i = np.arange(n) - start
    inside = (i >= 0) & (i < length)
    out[inside] = angle * 0.5 * (1 - np.cos(2 * np.pi * i[inside] / max(length, 1)))
    return out
