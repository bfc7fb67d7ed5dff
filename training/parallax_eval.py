"""Calibration and evaluation of the motion-parallax cue (:mod:`livenessapp.parallax`) and its fusion.

Three sources of windows, each split train/dev/test by seed (threshold picked on dev, applied on test):

1. ``synthetic``: landmark tracks without images. The 3-D face mesh of matplotlib's Grace Hopper photo
   (MediaPipe, static mode; face width 0.15 m, depth 0.095 m as in the simulator) is projected by a pinhole
   camera (f = 600 px, 640x480) for

   - ``live``: a head turning about a pivot 0.10 m behind the nose tip (0-15 deg within the 0.4 s window,
     random yaw/pitch mix) and translating (0-4 cm), 0.35-0.8 m away;
   - ``print_flat``: the frontal projection of the same face on a plane (print face width 0.10-0.18 m)
     that rotates about its centre (0-25 deg) and translates;
   - ``print_bent``: the same sheet bent into a cylinder (vertical or horizontal axis, radius 0.15-0.4 m,
     either sign: sag <= ~2 cm over the face);
   - ``replay``: a screen showing a recorded moving head (the recorded head's parallax is on the screen),
     the screen itself moving a little (reported separately: this cue is not meant to catch it).

   Prints also get the face mesh's *hallucinated parallax*: a fraction 0-0.6 of the parallax a 3-D head
   would show under the carrier's rotation (the mesh fits a 3-D face to a foreshortened print; measured on
   real MediaPipe tracks of rendered prints, scores 0.1-0.35 where live heads give 0.3-0.5).
   MediaPipe-like noise: i.i.d. jitter sigma 0.5-1.0 px per coordinate, a per-frame whole-mesh shift and
   scale wobble, and a per-frame "pose jitter" (the mesh re-fitted with a 0.15 deg random rotation of the
   3-D template, which is parallax-shaped noise, on prints too).
2. ``rendered``: real MediaPipe tracks (video mode) of the Grace Hopper photo warped as a flat print
   (homography) and as a bent print (cylinder remap), for the cue's behaviour on real landmark jitter.
3. ``sim``: clips of the simulator (``training/simulator``; ``--sim-root`` with ``manifest.jsonl``), face
   mesh run on every frame, windows of Nf = 5 frames every 3rd frame, one window every 10 frames.

Per window the cue gives a score or abstains ("insufficient_motion"). The threshold is the largest value
whose dev BPCER (live windows with a verdict scored below it) is <= ``--target-bpcer`` (default 5 %), and
the table gives APCER per PAI / BPCER / abstention rates on the test split. If ``--network-scores`` (JSON
``{clip_id: score}`` plus ``"threshold"``) is given for sim clips, the fusion rules are evaluated too and
the logistic coefficients are fitted on dev (printed; paste them into LOGISTIC_COEFFICIENTS).

Run: ``python -m livenessapp_training.parallax_eval [--windows 300] [--sim-root data/sim-normal]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from livenessapp.parallax import (
    FUSION_RULES,
    PARALLAX_THRESHOLD,
    ParallaxConfig,
    ParallaxCue,
    estimate_parallax,
    fuse,
)

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
        out.extend(_windows_from_track(tracks, kind, ("train", "dev", "test")[c % 3], f"r{c}-{kind}"))
    return out


def _windows_from_track(
    track: list, kind: str, split: str, clip_id: str, nf: int = 5, interval: int = 3, stride: int = 10
) -> list[dict]:
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
        out.extend(_windows_from_track(track, kind, spec.split, spec.clip_id))
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
        out.extend(_windows_from_track(track, kind, e["split"], e["clip_id"]))
    return out


# ----------------------------------------------------------------------------------------------------------
# Scoring, threshold, metrics
# ----------------------------------------------------------------------------------------------------------
def score_windows(windows: list[dict], config: ParallaxConfig | None = None) -> None:
    """Adds ``result`` (ParallaxResult) to every window. Windows with a full frame history run the stateful
    :class:`ParallaxCue` (online jitter estimate); synthetic windows use the default jitter prior."""
    cfg = config or ParallaxConfig()
    cues: dict[str, ParallaxCue] = {}
    for w in windows:
        if "full" in w:
            cue = cues.setdefault(w.get("clip", ""), ParallaxCue(cfg))
            cue.reset()
            for lm in w["full"]:
                cue.update(lm)
            w["result"] = cue.evaluate()
        else:
            w["result"] = estimate_parallax(w["frames"], config=cfg)


def pick_threshold(windows: list[dict], target_bpcer: float) -> float:
    """Largest threshold with dev BPCER (over live windows with a verdict) <= target."""
    live = np.sort([w["result"].score for w in windows if w["kind"] == "live" and w["result"].state == "ok"])
    if len(live) == 0:
        return PARALLAX_THRESHOLD
    k = int(math.floor(target_bpcer * len(live)))
    return float(live[min(k, len(live) - 1)])


def metrics(windows: list[dict], threshold: float) -> dict[str, dict[str, float]]:
    """Per kind: n, abstain rate, error rate among verdicts (BPCER for live, APCER for attacks)."""
    by = defaultdict(list)
    for w in windows:
        by[w["kind"]].append(w["result"])
    table = {}
    for kind, res in sorted(by.items()):
        verdicts = [r for r in res if r.state == "ok"]
        if kind == "live":
            err = sum(r.score < threshold for r in verdicts)
        else:
            err = sum(r.score >= threshold for r in verdicts)
        scores = [r.score for r in verdicts]
        table[kind] = {
            "n": len(res),
            "abstain": 1.0 - len(verdicts) / max(len(res), 1),
            "error": err / max(len(verdicts), 1),
            "error_all": err / max(len(res), 1),
            "median_score": float(np.median(scores)) if scores else math.nan,
        }
    return table


def print_table(title: str, table: dict[str, dict[str, float]], threshold: float, file=sys.stdout) -> None:
    print(f"\n{title} (threshold {threshold:.3f})", file=file)
    print(
        f"{'kind':14s} {'n':>5s} {'abstain':>8s} {'err|verdict':>12s} {'err|all':>8s} {'median':>7s}  metric",
        file=file,
    )
    for kind, m in table.items():
        metric = "BPCER" if kind == "live" else "APCER"
        print(
            f"{kind:14s} {m['n']:5d} {m['abstain']:8.1%} {m['error']:12.1%} {m['error_all']:8.1%} "
            f"{m['median_score']:7.3f}  {metric}",
            file=file,
        )


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 200) -> np.ndarray:
    """Newton-IRLS logistic regression; returns [w1, w2, b]."""
    X = np.c_[x, np.ones(len(x))]
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-X @ w))
        g = X.T @ (p - y) + l2 * np.r_[w[:-1], 0]
        Hm = X.T @ (X * (p * (1 - p))[:, None]) + l2 * np.eye(X.shape[1])
        w -= np.linalg.solve(Hm, g)
    return w


def evaluate_fusion(windows: list[dict], net: dict, par_threshold: float) -> None:
    """Fusion rules on sim windows with network clip scores (``net[clip_id]``, ``net['threshold']``)."""
    t_net = float(net["threshold"])
    usable = [w for w in windows if w.get("clip") in net]
    dev = [w for w in usable if w["split"] == "dev" and w["result"].state == "ok"]
    if dev:
        x = np.array([[net[w["clip"]] - t_net, w["result"].score - par_threshold] for w in dev])
        y = np.array([w["kind"] == "live" for w in dev], dtype=np.float64)
        w1, w2, b = fit_logistic(x, y)
        coefs = {"w_net": float(w1), "w_par": float(w2), "bias": float(b)}
        print(f"\nlogistic coefficients fitted on {len(dev)} dev windows: {coefs}")
    else:
        coefs = None
    for rule in FUSION_RULES:
        errs = defaultdict(lambda: [0, 0])
        for w in usable:
            if w["split"] != "test":
                continue
            d = fuse(
                net[w["clip"]], t_net, w["result"], rule, parallax_threshold=par_threshold, coefficients=coefs
            )
            wrong = d.is_live != (w["kind"] == "live")
            errs[w["kind"]][0] += wrong
            errs[w["kind"]][1] += 1
        line = ", ".join(
            f"{k} {'BPCER' if k == 'live' else 'APCER'} {e / max(n, 1):.1%}"
            for k, (e, n) in sorted(errs.items())
        )
        print(f"fusion {rule:13s}: {line}")


def run_source(name: str, windows: list[dict], target_bpcer: float, config: ParallaxConfig) -> float:
    score_windows(windows, config)
    dev = [w for w in windows if w["split"] == "dev"]
    test = [w for w in windows if w["split"] == "test"]
    thr = pick_threshold(dev, target_bpcer)
    print_table(f"[{name}] dev, threshold picked at BPCER <= {target_bpcer:.0%}", metrics(dev, thr), thr)
    print_table(f"[{name}] test", metrics(test, thr), thr)
    if thr != config.threshold:
        print_table(
            f"[{name}] test at the stored PARALLAX_THRESHOLD",
            metrics(test, config.threshold),
            config.threshold,
        )
    return thr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=300, help="synthetic windows per kind")
    ap.add_argument("--rendered-clips", type=int, default=0, help="rendered print clips (real MediaPipe)")
    ap.add_argument(
        "--sim-inline",
        type=int,
        default=0,
        help="render this many simulator clips in memory (live/print_flat/print_bent/live/replay)",
    )
    ap.add_argument("--sim-root", type=Path, default=None, help="simulator output root (manifest.jsonl)")
    ap.add_argument("--sim-limit", type=int, default=None)
    ap.add_argument(
        "--sim-splits", default="", help="only the clips of these splits (comma-separated, e.g. dev,test)"
    )
    ap.add_argument("--network-scores", type=Path, default=None, help="JSON {clip_id: score, threshold: t}")
    ap.add_argument("--target-bpcer", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=None, help="evaluate at this stored threshold")
    args = ap.parse_args(argv)
    config = ParallaxConfig() if args.threshold is None else ParallaxConfig(threshold=args.threshold)

    template = face_template()
    if args.windows:
        run_source(
            "synthetic", synthetic_windows(template, args.windows, args.seed), args.target_bpcer, config
        )
    if args.rendered_clips:
        run_source(
            "rendered prints",
            rendered_print_windows(args.rendered_clips, args.seed + 1),
            args.target_bpcer,
            config,
        )
    if args.sim_inline:
        wins = sim_inline_windows(args.sim_inline, args.seed, pais=list(SIM_PAIS))
        run_source("simulator (in memory)", wins, args.target_bpcer, config)
    if args.sim_root is not None:
        if not (args.sim_root / "manifest.jsonl").exists():
            print(f"\nno simulator output at {args.sim_root} (manifest.jsonl missing); skipped")
        else:
            splits = tuple(x for x in args.sim_splits.split(",") if x) if args.sim_splits else None
            wins = sim_windows(args.sim_root, args.sim_limit, splits)
            thr = run_source(f"simulator {args.sim_root}", wins, args.target_bpcer, config)
            if args.network_scores is not None:
                evaluate_fusion(wins, json.loads(args.network_scores.read_text()), thr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = [
    "TrackSpec",
    "face_template",
    "main",
    "random_spec",
    "rendered_print_windows",
    "sim_inline_windows",
    "sim_track",
    "sim_windows",
    "synth_track",
    "synthetic_windows",
]
