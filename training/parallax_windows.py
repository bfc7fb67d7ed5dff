"""The windows of :mod:`livenessapp_training.parallax_eval`: landmark tracks of live faces and attacks, cut into
Nf-frame windows, from three sources (the module docstring of ``parallax_eval`` describes them):

1. ``synthetic``: a 3-D face template (:func:`face_template`) projected by a pinhole camera for live heads,
   flat and bent prints and replays (:class:`TrackSpec`, :func:`synth_track`, :func:`synthetic_windows`);
2. ``rendered``: real MediaPipe tracks of the template photo rendered as a flat or bent print
   (:func:`rendered_print_windows`);
3. ``sim``: MediaPipe tracks of simulator clips, rendered in memory (:func:`sim_inline_windows`) or read from
   a simulator output folder (:func:`sim_windows`).

A window is a dict: ``kind``, ``split`` (train / dev / test), ``id``, ``frames`` (the Nf landmark arrays)
and, for tracked clips, ``clip`` and ``full`` (every frame of the window's span).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "KINDS",
    "SIM_PAIS",
    "TrackSpec",
    "face_template",
    "random_spec",
    "rendered_print_windows",
    "sim_inline_windows",
    "sim_track",
    "sim_windows",
    "synth_track",
    "synthetic_windows",
    "windows_from_track",
]

FOCAL = 600.0
CENTRE = (320.0, 240.0)
FACE_WIDTH_M = 0.15
FACE_DEPTH_M = 0.095
PIVOT_BEHIND_NOSE_M = 0.10
KINDS = ("live", "print_flat", "print_bent", "replay")
SIM_PAIS = ("live", "print_flat", "print_bent", "live", "replay_moving", "live")


# ----------------------------------------------------------------------------------------------------------
# Template
# ----------------------------------------------------------------------------------------------------------
def grace_hopper_bgr() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return image


def face_template(image_bgr: np.ndarray | None = None) -> np.ndarray:
    """(468, 3) metric face points (nose tip at the origin, x right, y down, z away from the camera)."""
    from livenessapp.face import FaceMeshTracker

    image = grace_hopper_bgr() if image_bgr is None else image_bgr
    with FaceMeshTracker(max_faces=1, static_image_mode=True) as tracker:
        faces = tracker.process(image)
    if not faces:
        raise RuntimeError("no face found in the template photo")
    lm = faces[0].landmarks.astype(np.float64)
    pts = (lm - lm[1]) * (FACE_WIDTH_M / (lm[454, 0] - lm[234, 0]))
    pts[:, 2] *= FACE_DEPTH_M / np.ptp(pts[:, 2])
    return pts


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (np.cos, np.sin))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def project(points: np.ndarray) -> np.ndarray:
    """(N, 3) camera points -> (N, 3) [u, v, z_px]: pixels, and depth relative to the mean in pixels."""
    z = points[:, 2]
    u = FOCAL * points[:, 0] / z + CENTRE[0]
    v = FOCAL * points[:, 1] / z + CENTRE[1]
    zpx = (z - z.mean()) * FOCAL / z.mean()
    return np.stack([u, v, zpx], axis=1)


# ----------------------------------------------------------------------------------------------------------
# Synthetic landmark tracks
# ----------------------------------------------------------------------------------------------------------
@dataclass
class TrackSpec:
    kind: str = "live"
    num_frames: int = 5
    frame_interval: int = 3
    noise_px: float = 0.7
    pose_jitter_deg: float = 0.15
    distance: float = 0.5
    rotation_deg: float = 10.0  # total rotation over the window
    rotation_dir: float = 0.0  # 0 = pure yaw, pi/2 = pure pitch
    translation_m: tuple[float, float, float] = (0.0, 0.0, 0.0)  # total over the window
    bend_radius: float | None = None  # print_bent: signed cylinder radius (m)
    bend_axis: int = 0  # 0: the sheet bends along x (vertical axis), 1: along y
    print_face_width: float = 0.15
    mouth_open_px: float = 0.0  # expression: lower face moves down by up to this (last frame)
    hallucination: float = 0.0  # prints: fraction of a 3-D head's parallax the face mesh adds (see below)


def _carrier_points(template: np.ndarray, spec: TrackSpec) -> np.ndarray:
    flat = template.copy() * (spec.print_face_width / FACE_WIDTH_M)
    flat[:, 2] = 0.0
    flat[:, :2] -= flat[:, :2].mean(0)
    if spec.bend_radius is not None:
        r = spec.bend_radius
        u = flat[:, spec.bend_axis] / r
        flat[:, spec.bend_axis] = r * np.sin(u)
        flat[:, 2] = r * (1.0 - np.cos(u))
    return flat


def _pose_jitter(template: np.ndarray, rng: np.random.Generator, deg: float) -> np.ndarray:
    """Metric displacement of the template under a tiny random rotation (MediaPipe's pose wobble)."""
    if deg <= 0:
        return np.zeros_like(template)
    a = np.radians(rng.normal(0.0, deg, 3))
    pivot = np.array([0.0, 0.0, PIVOT_BEHIND_NOSE_M])
    return (template - pivot) @ rotation(*a).T + pivot - template


def _hallucinated(template: np.ndarray, scale: float, rot: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Image offset between a 3-D head and its flat print under the same pose: the face mesh, which fits a
    3-D face to a foreshortened print, puts part of this parallax into its landmarks (real MediaPipe tracks
    of rendered prints show face-shaped parallax of ~20-70 % of a live head's for the same motion)."""
    head = template * scale
    flat = head * np.array([1.0, 1.0, 0.0])
    pivot = np.array([0.0, 0.0, PIVOT_BEHIND_NOSE_M * scale])
    centre = flat.mean(0)
    head_pts = (head - centre - pivot) @ rot.T + pivot + shift
    flat_pts = (flat - centre) @ rot.T + shift
    return project(head_pts)[:, :2] - project(flat_pts)[:, :2]


def synth_track(template: np.ndarray, spec: TrackSpec, rng: np.random.Generator) -> list[np.ndarray]:
    """The Nf sampled frames of one window: a list of (468, 3) landmark arrays (pixels)."""
    n_total = (spec.num_frames - 1) * spec.frame_interval
    times = np.arange(spec.num_frames) * spec.frame_interval / max(n_total, 1)
    ang = np.radians(spec.rotation_deg)
    yaw_total, pitch_total = ang * math.cos(spec.rotation_dir), ang * math.sin(spec.rotation_dir)
    start = rng.uniform(-0.3, 0.3, 2)  # start pose (rad) so that windows differ
    trans = np.asarray(spec.translation_m, dtype=np.float64)
    offset = np.array([rng.uniform(-0.05, 0.05), rng.uniform(-0.03, 0.03), spec.distance])
    pivot = np.array([0.0, 0.0, PIVOT_BEHIND_NOSE_M])
    if spec.kind in ("print_flat", "print_bent"):
        obj = _carrier_points(template, spec)
        start *= 0.5
    else:
        obj = template
    rec_rot = np.radians(rng.uniform(5, 15)) * rng.choice([-1, 1])  # replay: the recorded head's turn
    frames = []
    for t in times:
        jitter3d = _pose_jitter(template, rng, spec.pose_jitter_deg)
        if spec.kind == "replay":
            # the screen (a plane) shows the recorded head's projection; the screen turns a little
            head = (template - pivot) @ rotation(start[0] + rec_rot * t, start[1], 0).T + pivot
            head = head + jitter3d + np.array([0, 0, 0.5])
            shown = project(head)[:, :2]
            screen = np.c_[(shown - np.array(CENTRE)) * (0.5 / FOCAL), np.zeros(len(shown))]
            pts = screen @ rotation(yaw_total * t * 0.3, pitch_total * t * 0.3, 0).T + offset + trans * t
            out = project(pts)
            out[:, 2] = project(head)[:, 2]
        elif spec.kind in ("print_flat", "print_bent"):
            scale = spec.print_face_width / FACE_WIDTH_M
            rot_t = rotation(start[0] + yaw_total * t, start[1] + pitch_total * t, 0)
            rot_0 = rotation(start[0], start[1], 0)
            pts = obj @ rot_t.T
            pts = pts + jitter3d * scale * np.array([1.0, 1.0, 0.0]) + offset + trans * t
            out = project(pts)
            if spec.hallucination:
                out[:, :2] += spec.hallucination * (
                    _hallucinated(template, scale, rot_t, offset + trans * t)
                    - _hallucinated(template, scale, rot_0, offset)
                )
            out[:, 2] = template[:, 2] * FOCAL / spec.distance * scale  # MediaPipe still sees a face relief
        else:
            rot = rotation(start[0] + yaw_total * t, start[1] + pitch_total * t, 0)
            pts = (template + jitter3d - pivot) @ rot.T + pivot + offset + trans * t
            out = project(pts)
        if spec.mouth_open_px:
            below = np.clip((out[:, 1] - out[0, 1]) / max(np.ptp(out[:, 1]), 1.0), 0.0, None)  # under lip 0
            out[:, 1] += spec.mouth_open_px * t * np.clip(below * 4.0, 0.0, 1.0)
        # whole-mesh shift / scale wobble + i.i.d. jitter
        centre = out[:, :2].mean(0)
        out[:, :2] = (out[:, :2] - centre) * (1 + rng.normal(0, 0.002)) + centre + rng.normal(0, 0.3, 2)
        out[:, :2] += rng.normal(0.0, spec.noise_px, (len(out), 2))
        frames.append(out.astype(np.float32))
    return frames


def random_spec(kind: str, rng: np.random.Generator) -> TrackSpec:
    """A random window of one kind, with the ranges of the module docstring."""
    spec = TrackSpec(
        kind=kind,
        noise_px=float(rng.uniform(0.5, 1.0)),
        distance=float(rng.uniform(0.35, 0.8)),
        rotation_deg=float(rng.uniform(0.0, 15.0 if kind == "live" else 25.0)),
        rotation_dir=float(rng.uniform(0, 2 * math.pi)),
        translation_m=tuple(rng.normal(0.0, 0.015, 3)),
    )
    if kind in ("print_flat", "print_bent"):
        spec.print_face_width = float(rng.uniform(0.10, 0.18))
        spec.hallucination = float(rng.uniform(0.0, 0.6))
    if kind == "print_bent":
        spec.bend_radius = float(rng.uniform(0.15, 0.4) * rng.choice([-1, 1]))
        spec.bend_axis = int(rng.integers(0, 2))
    return spec


def synthetic_windows(template: np.ndarray, n_per_kind: int, seed: int) -> list[dict]:
    """``n_per_kind`` windows per kind; dict(kind, split, frames)."""
    rng = np.random.default_rng(seed)
    out = []
    for kind in KINDS:
        for i in range(n_per_kind):
            spec = random_spec(kind, rng)
            out.append(
                {
                    "kind": kind,
                    "split": ("train", "dev", "test")[i % 3],
                    "id": f"{kind}-{i}",
                    "frames": synth_track(template, spec, rng),
                    "spec": spec,
                }
            )
    return out


# ----------------------------------------------------------------------------------------------------------
# Rendered prints (real MediaPipe tracks)
# ----------------------------------------------------------------------------------------------------------
def _print_frame(
    photo: np.ndarray,
    yaw: float,
    pitch: float,
    shift: np.ndarray,
    bend: float | None,
    size=(640, 480),
    face_m: float = 0.15,
    distance: float = 0.5,
) -> np.ndarray:
    """Render the photo as a (flat or cylinder-bent, vertical axis) sheet by inverse mapping every pixel."""
    h, w = photo.shape[:2]
    sheet_w = face_m * w / 190.0  # Grace Hopper's face spans ~190 px of the 512 px photo
    px_m = sheet_w / w
    W, Hh = size
    R = rotation(yaw, pitch, 0.0)
    centre = np.array([shift[0], shift[1], distance])
    # sample the sheet on a grid, project, and splat by a dense remap (sheet -> image forward map inverted
    # by cv2.remap of the inverse map obtained from a fine forward grid through griddata-free interpolation:
    # we rasterise the projected grid cells as small quads via warpPerspective per strip).
    ys, xs = np.mgrid[0:h:8, 0:w:8].astype(np.float64)
    u = (xs - w / 2) * px_m
    v = (ys - h / 2) * px_m
    z = np.zeros_like(u)
    if bend is not None:
        phi = u / bend
        u, z = bend * np.sin(phi), bend * (1 - np.cos(phi))
    P = np.stack([u, v, z], -1).reshape(-1, 3) @ R.T + centre
    img_pts = project(P)[:, :2].reshape(xs.shape + (2,))
    out = np.full((Hh, W, 3), 90, np.uint8)
    gh, gw = xs.shape
    for i in range(gh - 1):  # strip-wise homographies (exact for a flat sheet, piecewise for a bent one)
        for j in range(0, gw - 1, 8):
            j2 = min(j + 8, gw - 1)
            src = np.float32(
                [
                    [xs[i, j], ys[i, j]],
                    [xs[i, j2], ys[i, j2]],
                    [xs[i + 1, j2], ys[i + 1, j2]],
                    [xs[i + 1, j], ys[i + 1, j]],
                ]
            )
            dst = np.float32([img_pts[i, j], img_pts[i, j2], img_pts[i + 1, j2], img_pts[i + 1, j]])
            M = cv2.getPerspectiveTransform(src, dst)
            x0, y0 = np.floor(dst.min(0)).astype(int) - 1
            x1, y1 = np.ceil(dst.max(0)).astype(int) + 1
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, Hh)
            if x1 <= x0 or y1 <= y0:
                continue
            T = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ M
            patch = cv2.warpPerspective(
                photo, T, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillConvexPoly(mask, np.round(dst - [x0, y0]).astype(np.int32), 255)
            region = out[y0:y1, x0:x1]
            region[mask > 0] = patch[mask > 0]
    return out


def rendered_print_windows(n_clips: int, seed: int, frames_per_clip: int = 31) -> list[dict]:
    """Flat and bent prints of the Grace Hopper photo, tracked by the real face mesh (video mode)."""
    from livenessapp.face import FaceMeshTracker, primary_face

    photo = grace_hopper_bgr()
    rng = np.random.default_rng(seed)
    out = []
    for c in range(n_clips):
        kind = ("print_flat", "print_bent")[c % 2]
        bend = float(rng.uniform(0.15, 0.4) * rng.choice([-1, 1])) if kind == "print_bent" else None
        yaw_rate, pitch_rate = np.radians(rng.uniform(-40, 40, 2))  # deg/s
        start = np.radians(rng.uniform(-10, 10, 2))
        shift_rate = rng.normal(0, 0.03, 2)
        tracks = []
        with FaceMeshTracker(max_faces=1, static_image_mode=False) as tracker:
            for k in range(frames_per_clip):
                t = k / 30.0
                frame = _print_frame(
                    photo, start[0] + yaw_rate * t, start[1] + pitch_rate * t, shift_rate * t, bend
                )
                face = primary_face(tracker.process(frame), frame.shape)
                tracks.append(None if face is None else face.landmarks)
        out.extend(windows_from_track(tracks, kind, ("train", "dev", "test")[c % 3], f"r{c}-{kind}"))
    return out


def windows_from_track(
    track: list, kind: str, split: str, clip_id: str, nf: int = 5, interval: int = 3, stride: int = 10
) -> list[dict]:
    """The windows of one tracked clip: ``nf`` frames ``interval`` apart, one window every ``stride`` frames."""
    span = (nf - 1) * interval
    out = []
    for s in range(0, len(track) - span, stride):
        frames = track[s : s + span + 1 : interval]
        out.append(
            {
                "kind": kind,
                "split": split,
                "id": f"{clip_id}@{s}",
                "clip": clip_id,
                "frames": frames,
                "full": track[s : s + span + 1],
            }
        )
    return out


# ----------------------------------------------------------------------------------------------------------
# Simulator clips
# ----------------------------------------------------------------------------------------------------------
def sim_track(frames_bgr) -> list[np.ndarray | None]:
    """Face-mesh landmarks (video mode) of the primary face of every frame (None where no face)."""
    from livenessapp.face import FaceMeshTracker, primary_face

    track = []
    with FaceMeshTracker(max_faces=1, static_image_mode=False) as tracker:
        for frame in frames_bgr:
            face = primary_face(tracker.process(frame), frame.shape)
            track.append(None if face is None else face.landmarks)
    return track


def sim_inline_windows(
    n_clips: int, seed: int = 0, frames: int = 60, start: int = 0, pais: list[str] | None = None
) -> list[dict]:
    """Render simulator clips in memory (``plan_clip`` + ``iter_clip``, no video files) and track them.
    ``pais`` cycles the PAI of the clips (None = the simulator's own 50 % live mix)."""
    from livenessapp_training.simulator.scene import iter_clip, plan_clip

    out = []
    for i in range(start, start + n_clips):
        pai = pais[i % len(pais)] if pais else None
        spec = plan_clip(i, seed=seed, frames=frames, pai=pai)
        track = sim_track(f.image for f in iter_clip(spec))
        kind = "live" if spec.label == "live" else spec.pai
        out.extend(windows_from_track(track, kind, spec.split, spec.clip_id))
    return out


def sim_windows(root: Path, limit: int | None = None, splits: tuple[str, ...] | None = None) -> list[dict]:
    """Windows of the simulator's clips (face mesh run on every frame), optionally only of ``splits``."""
    from livenessapp.face import FaceMeshTracker, primary_face

    entries = [
        json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines() if line.strip()
    ]
    if splits:
        entries = [e for e in entries if e.get("split") in splits]
    if limit:
        entries = entries[:limit]
    out = []
    for e in entries:
        cap = cv2.VideoCapture(str(root / e["path"]))
        track = []
        with FaceMeshTracker(max_faces=1, static_image_mode=False) as tracker:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                face = primary_face(tracker.process(frame), frame.shape)
                track.append(None if face is None else face.landmarks)
        cap.release()
        kind = "live" if e["label"] == "live" else e.get("pai", e.get("attack", "spoof"))
        out.extend(windows_from_track(track, kind, e["split"], e["clip_id"]))
    return out
