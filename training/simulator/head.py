"""Textured 3-D heads built from real face photos, and a fast piecewise-affine mesh renderer.

A photo is meshed once with the MediaPipe face mesh (static image mode) through
:class:`livenessapp.face.FaceMeshTracker`; its 468 landmarks (plus the eye / mouth hole centres of
:data:`livenessapp.face.MESH_TRIANGLES`) become metric 3-D vertices (face width 0.15 m, face depth about
0.095 m, MediaPipe's relative z scaled alike). A coarse surround (hair, ears, neck, shoulders) is a grid over
the rest of the photo, Delaunay-joined to the face oval and pushed back in depth with the distance from the
oval, so that turning the head shows a plausible silhouette; MediaPipe's selfie segmentation mattes the
person out of the photo (alpha), so any background can go behind.

:func:`render_mesh` rasterises the projected triangles' ids with ``cv2.fillConvexPoly`` in painter order
(far to near, back faces culled), then maps every covered pixel through its triangle's affine map to the
texture (one batched 3x3 solve per frame) and samples it with a single ``cv2.remap``. Per-vertex Lambert
shading with a moving light and per-pixel camera depth come out of the same affine maps.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from livenessapp.face import LANDMARK_COUNT, MESH_HOLES, MESH_TRIANGLES

from .geometry import PinholeCamera, Pose

__all__ = ["FaceScan", "HeadModel", "Identity", "MeshLayer", "render_mesh", "scan_photo", "load_photo"]

FACE_WIDTH_M = 0.15  # cheek-to-cheek (landmarks 234-454)
FACE_DEPTH_M = 0.095  # nose tip to the farthest face-mesh point
PIVOT_BEHIND_NOSE_M = 0.10  # the head turns about a point this far behind the nose tip
_LEFT_CHEEK, _RIGHT_CHEEK, _NOSE = 234, 454, 1


# ----------------------------------------------------------------------------------------------------------
# Photo -> scan (landmarks, matte); cached per process
# ----------------------------------------------------------------------------------------------------------
@dataclass
class FaceScan:
    """One meshed photo: BGR image, (468, 3) landmarks in edge-origin pixels (face.py convention),
    and a float32 person matte in [0, 1]."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray
    matte: np.ndarray


def load_photo(name: str) -> np.ndarray:
    """``grace_hopper`` / ``astronaut`` (bundled with matplotlib / scikit-image) or a path to an image."""
    if name == "grace_hopper":
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    elif name == "astronaut":
        from skimage import data

        image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    else:
        image = cv2.imread(str(Path(name)), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read face photo {name!r}")
    return image


@functools.lru_cache(maxsize=64)
def scan_photo(name: str) -> FaceScan:
    """Mesh and matte a face photo (MediaPipe face mesh in static image mode + selfie segmentation)."""
    import mediapipe as mp

    from livenessapp.face import FaceMeshTracker

    image = load_photo(name)
    longest = max(image.shape[:2])
    if longest > 1024:  # big user photos: mesh quality does not need more
        s = 1024 / longest
        image = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    with FaceMeshTracker(max_faces=1, static_image_mode=True) as tracker:
        faces = tracker.process(image)
    if not faces:
        raise ValueError(f"no face found in {name!r}")
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        matte = seg.process(rgb).segmentation_mask.astype(np.float32)
    matte = np.clip((matte - 0.25) / 0.5, 0.0, 1.0)
    return FaceScan(name=Path(name).stem, image=image, landmarks=faces[0].landmarks.copy(), matte=matte)


def _outer_loop() -> np.ndarray:
    """The face-mesh outline (landmark loop around the face) from the boundary edges of MESH_TRIANGLES."""
    from collections import Counter, defaultdict

    count: Counter = Counter()
    for tri in MESH_TRIANGLES:
        for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            count[(min(a, b), max(a, b))] += 1
    nbr = defaultdict(list)
    for (a, b), c in count.items():
        if c == 1:
            nbr[a].append(b)
            nbr[b].append(a)
    start = 10
    loop, prev, cur = [start], -1, start
    while True:
        nxt = [v for v in nbr[cur] if v != prev][0]
        if nxt == start:
            break
        loop.append(nxt)
        prev, cur = cur, nxt
    return np.asarray(loop)


FACE_OUTLINE = _outer_loop()


# ----------------------------------------------------------------------------------------------------------
# Identity: (photo, mirror, morph seed, tone)
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """A synthetic identity: one photo, mirrored or not, with a random shape morph and skin/colour tone."""

    photo: str
    mirror: bool
    morph_seed: int
    tone_seed: int

    @property
    def name(self) -> str:
        return f"{Path(self.photo).stem}-{'m' if self.mirror else 'o'}-{self.morph_seed:05d}-t{self.tone_seed:05d}"


@dataclass
class HeadModel:
    """A textured 3-D head: vertices in metres about the turning pivot, texture coordinates, triangles.

    ``verts`` (V, 3) object coordinates (x right, y down, z away from the viewer; the nose tip is at
    z = -PIVOT_BEHIND_NOSE_M), ``uv`` (V, 2) texture pixels (pixel centres at integers), ``tris`` (T, 3)
    counter-clockwise on screen when facing the camera, ``texture`` premultiplied BGRA float32 in [0, 1],
    ``normals`` (V, 3) unit vertex normals, ``face_vertices`` = the first 468 rows are the landmarks.
    """

    verts: np.ndarray
    uv: np.ndarray
    tris: np.ndarray
    texture: np.ndarray
    normals: np.ndarray
    n_face_tris: int

    @classmethod
    def from_scan(cls, scan: FaceScan) -> HeadModel:
        lm = scan.landmarks.astype(np.float64)
        verts_px = np.concatenate([lm, np.array([lm[loop].mean(0) for loop in MESH_HOLES])], 0)
        face_w = float(np.linalg.norm(lm[_RIGHT_CHEEK, :2] - lm[_LEFT_CHEEK, :2]))
        x0, y0 = lm[:, :2].min(0)
        x1, y1 = lm[:, :2].max(0)
        cx, cy, face_h = (x0 + x1) / 2, (y0 + y1) / 2, y1 - y0
        # Texture region: head, hair, ears, neck and shoulders.
        rx0, rx1 = cx - 1.8 * face_w, cx + 1.8 * face_w
        ry0, ry1 = cy - 1.3 * face_h, cy + 2.8 * face_h
        ox, oy = int(np.floor(rx0)), int(np.floor(ry0))
        tw, th = int(np.ceil(rx1)) - ox, int(np.ceil(ry1)) - oy
        texture = _padded_crop(scan.image, scan.matte, ox, oy, tw, th)
        # Make sure the face itself is opaque and the outer rim fades out (mesh border never shows).
        outline = (lm[FACE_OUTLINE, :2] - (ox, oy) - 0.5).astype(np.float32)
        face_mask = np.zeros((th, tw), np.float32)
        cv2.fillPoly(face_mask, [np.round(outline * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
        alpha = np.maximum(texture[..., 3], cv2.GaussianBlur(face_mask, (0, 0), face_w * 0.02))
        step = face_w / 4.0
        ramp = _border_ramp(th, tw, step * 0.9)
        texture[..., 3] = alpha * ramp
        texture[..., :3] *= texture[..., 3:4]

        # Surround grid outside the (dilated) face outline, Delaunay-joined to the outline.
        from scipy.spatial import Delaunay

        gx = np.arange(rx0, rx1 + 1e-6, step)
        gy = np.arange(ry0, ry1 + 1e-6, step)
        grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
        poly = lm[FACE_OUTLINE, :2].astype(np.float32)
        dist = np.array([cv2.pointPolygonTest(poly, (float(p[0]), float(p[1])), True) for p in grid])
        grid = grid[dist < -0.35 * step]  # outside, not too close to the outline
        ring_idx = FACE_OUTLINE
        pts2 = np.concatenate([lm[ring_idx, :2], grid], 0)
        tri = Delaunay(pts2).simplices
        centroid = pts2[tri].mean(1)
        inside = np.array(
            [cv2.pointPolygonTest(poly, (float(c[0]), float(c[1])), False) >= 0 for c in centroid]
        )
        tri = tri[~inside]
        n_face = len(verts_px)
        mapping = np.concatenate([ring_idx, n_face + np.arange(len(grid))])
        sur_tris = mapping[tri]

        # Metric coordinates.
        s = FACE_WIDTH_M / face_w
        z = verts_px[:, 2]
        z_scale = FACE_DEPTH_M / max(float(lm[:, 2].max() - lm[:, 2].min()) * s, 1e-6)
        face_xyz = np.stack(
            [(verts_px[:, 0] - cx) * s, (verts_px[:, 1] - cy) * s, (z - lm[_NOSE, 2]) * s * z_scale], 1
        )
        # Surround depth: the nearest outline point's depth, pushed back with the distance from the face.
        ring_xyz = face_xyz[ring_idx]
        gxy = np.stack([(grid[:, 0] - cx) * s, (grid[:, 1] - cy) * s], 1)
        d2 = ((gxy[:, None, :] - ring_xyz[None, :, :2]) ** 2).sum(-1)
        near = d2.argmin(1)
        d = np.sqrt(d2[np.arange(len(grid)), near])
        gz = np.minimum(ring_xyz[near, 2] + 0.075 * (1 - np.exp(-d / 0.035)), 0.17)
        grid_xyz = np.concatenate([gxy, gz[:, None]], 1)
        verts = np.concatenate([face_xyz, grid_xyz], 0)
        verts[:, 2] -= PIVOT_BEHIND_NOSE_M
        uv = np.concatenate([verts_px[:, :2], grid], 0) - (ox, oy) - 0.5
        # Drop surround triangles that are transparent everywhere (photo background): fewer pixels to map.
        a_dil = cv2.dilate(texture[..., 3], np.ones((3, 3), np.uint8), iterations=max(1, int(step / 3)))
        tri_uv = (np.concatenate([verts_px[:, :2], grid], 0) - (ox, oy))[sur_tris]
        samples = np.concatenate([tri_uv, tri_uv.mean(1, keepdims=True)], 1)
        sx = np.clip(samples[..., 0].astype(int), 0, tw - 1)
        sy = np.clip(samples[..., 1].astype(int), 0, th - 1)
        sur_tris = sur_tris[(a_dil[sy, sx] > 0.02).any(1)]
        tris = np.concatenate([MESH_TRIANGLES, sur_tris], 0).astype(np.int32)
        model = cls(verts, uv.astype(np.float32), tris, texture, np.zeros_like(verts), len(MESH_TRIANGLES))
        model._orient()
        model._update_normals()
        return model

    # -- identity variations ---------------------------------------------------------------------------
    def _orient(self) -> None:
        """Make every triangle counter-clockwise (positive area) in texture space = the frontal view."""
        a, b, c = self.uv[self.tris[:, 0]], self.uv[self.tris[:, 1]], self.uv[self.tris[:, 2]]
        area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        flip = area < 0
        self.tris[flip] = self.tris[flip][:, [0, 2, 1]]

    def _update_normals(self) -> None:
        v = self.verts
        a, b, c = v[self.tris[:, 0]], v[self.tris[:, 1]], v[self.tris[:, 2]]
        fn = np.cross(b - a, c - a)  # area-weighted; points towards -z (the viewer) for frontal triangles
        n = np.zeros_like(v)
        for k in range(3):
            np.add.at(n, self.tris[:, k], fn)
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        n = n / np.maximum(norm, 1e-12)
        n[norm[:, 0] < 1e-12] = (0, 0, -1)
        if n[:LANDMARK_COUNT, 2].mean() > 0:  # make them face the viewer
            n = -n
        self.normals = n

    def mirrored(self) -> HeadModel:
        tex = np.ascontiguousarray(self.texture[:, ::-1])
        uv = self.uv.copy()
        uv[:, 0] = tex.shape[1] - 1 - uv[:, 0]
        verts = self.verts.copy()
        verts[:, 0] *= -1
        out = replace(self, verts=verts, uv=uv, tris=self.tris.copy(), texture=tex)
        out._orient()
        out._update_normals()
        return out

    def morphed(self, seed: int) -> HeadModel:
        """Random smooth shape morph: per-axis scalings, nose and jaw depth/width, low-frequency warps."""
        rng = np.random.default_rng([seed, 7])
        v = self.verts.copy()
        nose = v[_NOSE].copy()
        v *= rng.uniform([0.9, 0.92, 0.85], [1.1, 1.08, 1.15])
        # nose prominence (Gaussian bump along z around the nose tip)
        r2 = ((self.verts - nose) ** 2)[:, :2].sum(1)
        v[:, 2] -= rng.uniform(-0.5, 1.0) * 0.012 * np.exp(-r2 / (2 * 0.022**2))
        # jaw width / chin depth below the mouth line
        mouth_y = self.verts[13, 1]
        below = np.clip((self.verts[:, 1] - mouth_y) / 0.05, 0, 1)
        v[:, 0] *= 1 + rng.uniform(-0.08, 0.08) * below
        v[:, 2] += rng.uniform(-0.01, 0.01) * below
        # smooth random displacement field (a few sinusoids, 2-4 mm)
        for axis in range(3):
            k = rng.normal(size=3) * rng.uniform(15, 35)
            v[:, axis] += rng.uniform(0.002, 0.004) * np.sin(self.verts @ k + rng.uniform(0, 2 * np.pi))
        out = replace(self, verts=v, tris=self.tris.copy())
        out._update_normals()
        return out

    def toned(self, seed: int) -> HeadModel:
        """Skin-tone / colour change of the whole texture (LAB shifts, channel gains, gamma, saturation)."""
        rng = np.random.default_rng([seed, 11])
        alpha = self.texture[..., 3:4]
        rgb = self.texture[..., :3] / np.maximum(alpha, 1e-6)
        lab = cv2.cvtColor(np.clip(rgb, 0, 1).astype(np.float32), cv2.COLOR_BGR2Lab)
        lab[..., 0] = np.clip(lab[..., 0] * rng.uniform(0.75, 1.15) + rng.uniform(-12, 8), 0, 100)
        sat = rng.uniform(0.75, 1.3)
        lab[..., 1] = lab[..., 1] * sat + rng.uniform(-4, 6)
        lab[..., 2] = lab[..., 2] * sat + rng.uniform(-6, 10)
        bgr = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR)
        bgr = np.clip(bgr * rng.uniform(0.92, 1.08, 3), 0, 1) ** rng.uniform(0.85, 1.2)
        tex = np.concatenate([bgr * alpha, alpha], -1).astype(np.float32)
        return replace(self, texture=tex)

    @classmethod
    def for_identity(cls, identity: Identity) -> HeadModel:
        return _identity_model(identity)


@functools.lru_cache(maxsize=8)
def _base_model(photo: str) -> HeadModel:
    return HeadModel.from_scan(scan_photo(photo))


@functools.lru_cache(maxsize=16)
def _identity_model(identity: Identity) -> HeadModel:
    model = _base_model(identity.photo)
    if identity.mirror:
        model = model.mirrored()
    return model.morphed(identity.morph_seed).toned(identity.tone_seed)


def _padded_crop(image: np.ndarray, matte: np.ndarray, ox: int, oy: int, w: int, h: int) -> np.ndarray:
    """BGRA float32 crop [ox, ox+w) x [oy, oy+h) of the photo; below the photo the torso is extended
    (replicated rows), elsewhere outside it is transparent."""
    H, W = image.shape[:2]
    bottom = max(0, oy + h - H)
    img = cv2.copyMakeBorder(image, 0, bottom, 0, 0, cv2.BORDER_REPLICATE)
    mat = cv2.copyMakeBorder(matte, 0, bottom, 0, 0, cv2.BORDER_REPLICATE)
    top, left, right = max(0, -oy), max(0, -ox), max(0, ox + w - W)
    img = cv2.copyMakeBorder(img, top, 0, left, right, cv2.BORDER_REPLICATE)
    mat = cv2.copyMakeBorder(mat, top, 0, left, right, cv2.BORDER_CONSTANT, value=0)
    y, x = oy + top, ox + left
    bgr = img[y : y + h, x : x + w].astype(np.float32) / 255.0
    a = mat[y : y + h, x : x + w].astype(np.float32)
    return np.concatenate([bgr, a[..., None]], -1)


def _border_ramp(h: int, w: int, width: float) -> np.ndarray:
    """1 inside, falling smoothly to 0 within ``width`` pixels of the texture border."""
    ry = np.clip(np.minimum(np.arange(h), h - 1 - np.arange(h)) / width, 0, 1)
    rx = np.clip(np.minimum(np.arange(w), w - 1 - np.arange(w)) / width, 0, 1)
    r = np.minimum(ry[:, None], rx[None, :])
    return (r * r * (3 - 2 * r)).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------
@dataclass
class MeshLayer:
    """A rendered mesh: premultiplied BGRA ``layer`` and camera ``depth`` (inf = empty) of the ROI
    ``[y0:y0+h, x0:x0+w]`` of the frame, and the projected vertices ``points`` (V, 2)."""

    layer: np.ndarray
    depth: np.ndarray | None
    x0: int
    y0: int
    points: np.ndarray

    def paste(self, frame: np.ndarray, gain=None) -> np.ndarray:
        from .geometry import composite

        h, w = self.layer.shape[:2]
        composite(frame[self.y0 : self.y0 + h, self.x0 : self.x0 + w], self.layer, gain)
        return frame

    def full_depth(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.full(shape, np.inf, dtype=np.float32)
        h, w = self.depth.shape
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = self.depth
        return out


def _affine_coefficients(P: np.ndarray, tris: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-triangle plane ``f(x, y) = a x + b y + c`` through the triangle's vertex values: (T, 3, C)."""
    p0, p1, p2 = P[tris[:, 0]], P[tris[:, 1]], P[tris[:, 2]]
    f0, f1, f2 = values[tris[:, 0]], values[tris[:, 1]], values[tris[:, 2]]
    dx1, dy1 = (p1 - p0)[:, 0:1], (p1 - p0)[:, 1:2]
    dx2, dy2 = (p2 - p0)[:, 0:1], (p2 - p0)[:, 1:2]
    den = dx1 * dy2 - dx2 * dy1
    den = np.where(np.abs(den) < 1e-9, 1e-9, den)
    a = ((f1 - f0) * dy2 - (f2 - f0) * dy1) / den
    b = ((f2 - f0) * dx1 - (f1 - f0) * dx2) / den
    c = f0 - a * p0[:, 0:1] - b * p0[:, 1:2]
    return np.stack([a, b, c], 1)


def render_mesh(
    verts_obj: np.ndarray,
    uv: np.ndarray,
    tris: np.ndarray,
    texture: np.ndarray,
    pose: Pose,
    camera: PinholeCamera,
    normals: np.ndarray | None = None,
    light: np.ndarray | None = None,
    ambient: float = 0.6,
    with_depth: bool = False,
) -> MeshLayer | None:
    """Render a textured triangle mesh (piecewise-affine texture map, painter's order, back-face culling).

    ``light``: unit direction towards the light in camera coordinates; per-vertex Lambert shade
    ``ambient + (1 - ambient) / 0.85 * max(0, n . l)`` (1 for a surface 30 degrees off the light),
    interpolated over the triangles. ``with_depth``: also the camera z per pixel (else ``depth`` is None).
    Returns ``None`` if the mesh is off-screen.
    """
    X = pose.apply(verts_obj)
    P = camera.project(X)
    a, b, c = P[tris[:, 0]], P[tris[:, 1]], P[tris[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    keep = (area > 1e-2) & (X[tris, 2].min(1) > 0.02)
    if not keep.any():
        return None
    tris = tris[keep]
    Pt = P[tris].reshape(-1, 2)
    x0 = int(max(np.floor(Pt[:, 0].min()) - 1, 0))
    y0 = int(max(np.floor(Pt[:, 1].min()) - 1, 0))
    x1 = int(min(np.ceil(Pt[:, 0].max()) + 2, camera.width))
    y1 = int(min(np.ceil(Pt[:, 1].max()) + 2, camera.height))
    if x1 <= x0 or y1 <= y0:
        return None
    w, h = x1 - x0, y1 - y0
    tris = tris[np.argsort(-X[tris, 2].mean(1), kind="stable")]  # painter's order: far first
    ids = np.full((h, w), -1, dtype=np.int32)
    Pl = P - (x0, y0)
    tri_pts = np.round(Pl * 16).astype(np.int32)[tris]
    fill = cv2.fillConvexPoly
    for i, pts in enumerate(tri_pts):
        fill(ids, pts, i, cv2.LINE_8, 4)
    covered = ids >= 0
    if not covered.any():
        return None
    shaded = normals is not None and light is not None
    cols = [uv.astype(np.float64)]
    if shaded:
        n_cam = normals @ pose.R.T
        shade = ambient + (1.0 - ambient) / 0.85 * np.clip(
            n_cam @ np.asarray(light, dtype=np.float64), 0, None
        )
        cols.append(np.clip(shade, 0.0, 1.6)[:, None])
    if with_depth:
        cols.append(X[:, 2:3])
    coef = _affine_coefficients(Pl, tris, np.concatenate(cols, 1)).astype(np.float32)  # (T, 3, C)
    idc = np.maximum(ids, 0)
    gx = np.arange(w, dtype=np.float32)[None, :]
    gy = np.arange(h, dtype=np.float32)[:, None]

    def channel(k: int) -> np.ndarray:
        return (
            np.take(coef[:, 0, k], idc) * gx + np.take(coef[:, 1, k], idc) * gy + np.take(coef[:, 2, k], idc)
        )

    map_x = np.where(covered, channel(0), np.float32(-10.0))
    map_y = channel(1)
    layer = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if shaded:
        layer[..., :3] *= channel(2)[..., None]
    depth = None
    if with_depth:
        depth = np.where(covered, channel(coef.shape[2] - 1), np.float32(np.inf))
    return MeshLayer(layer, depth, x0, y0, P)
