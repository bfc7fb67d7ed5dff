"""The app's demo clip (live -> print -> replay, with a JSON sidecar of the segments) and a contact sheet."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np

from .head import Identity
from .scene import iter_clip, plan_clip

__all__ = ["DEMO_SEGMENTS", "contact_sheet", "render_demo"]

# (pai, seconds, head motion of the live / recorded head)
DEMO_SEGMENTS = (
    ("live", 6.0, "slow_turn"),
    ("print_flat", 5.0, "natural"),
    ("replay_moving", 5.0, "slow_turn"),
)


def render_demo(out: str | Path = "assets/demo.mp4", seed: int = 3, size=(640, 480)) -> dict:
    """Render the demo video (640x480, 30 fps, 16 s, mp4v) and ``<out>.json`` listing its segments."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    identity = Identity("grace_hopper", False, 10, 1)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, tuple(size))
    segments, t = [], 0.0
    for k, (pai, seconds, style) in enumerate(DEMO_SEGMENTS):
        n = int(round(seconds * 30))
        spec = plan_clip(k, seed, "normal", n, size, pai=pai, split="train")
        spec = dataclasses.replace(
            spec,
            identity=identity,
            camera="cam1",
            scene="brick-L0",
            framing="-" if pai == "live" else "edges",
        )
        for frame in iter_clip(spec, head_style=style):
            writer.write(frame.image)
        segments.append(
            {
                "start": round(t, 3),
                "end": round(t + n / 30, 3),
                "label": spec.label,
                "attack": spec.attack,
                "pai": pai,
            }
        )
        t += n / 30
    writer.release()
    sidecar = {
        "video": out.name,
        "fps": 30,
        "width": size[0],
        "height": size[1],
        "duration": round(t, 3),
        "seed": seed,
        "identity": identity.name,
        "segments": segments,
        "source": "livenessapp_training.simulator (synthetic: real photos re-rendered as 3-D heads)",
    }
    out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    sidecar["bytes"] = out.stat().st_size
    return sidecar


def _colour_depth(depth: np.ndarray, size: int) -> np.ndarray:
    img = cv2.resize(
        (np.clip(depth, 0, 1) * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST
    )
    return cv2.applyColorMap(img, cv2.COLORMAP_INFERNO)


def contact_sheet(out: str | Path = "assets/contact_sheet.png", seed: int = 1, frames: int = 30) -> str:
    """Rows: live, print, replay, motion-only print. Columns: 4 frames, the face-mesh depth label of the
    last frame (:func:`livenessapp.face.depth_label`; the training target of a spoof is all zeros), and the
    rendered geometry's depth in the same crop (face-shaped for live, a plane for attacks)."""
    from livenessapp.face import FaceMeshTracker, crop_face, depth_label, primary_face

    rows = [
        ("live", "normal", "live"),
        ("print_flat", "normal", "print"),
        ("replay_moving", "normal", "replay"),
        ("print_flat", "motion_only", "print (motion only)"),
    ]
    cell = 200
    picks = np.linspace(0, frames - 1, 4).round().astype(int)
    sheet_rows = []
    for r, (pai, protocol, title) in enumerate(rows):
        spec = plan_clip(r, seed, protocol, frames, (320, 240), pai=pai, split="train")
        if pai != "live":
            spec = dataclasses.replace(spec, framing="full" if protocol == "motion_only" else "edges")
        sim = list(iter_clip(spec, with_depth=True))
        tiles = []
        face = None
        with FaceMeshTracker(max_faces=1) as tracker:
            for i, f in enumerate(sim):
                face = primary_face(tracker.process(f.image), f.image.shape)
                if i in picks:
                    tile = cv2.resize(f.image, (cell * 4 // 3, cell))
                    cv2.putText(
                        tile,
                        f"{title} t={i / 30:.2f}s",
                        (6, 18),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.5,
                        (255, 255, 255),
                        1,
                        cv2.LINE_AA,
                    )
                    tiles.append(tile)
        last = sim[-1]
        if face is not None:
            _, affine = crop_face(last.image, face, 256)
            label, _ = depth_label(face, affine, 256, 32)
            dl = _colour_depth(label, cell)
            text = "mesh depth label" + ("" if spec.label == "live" else " (target: 0)")
            # rendered geometry in the same crop: relative depth over the face mask
            z = cv2.warpAffine(
                np.where(np.isfinite(last.depth), last.depth, 0).astype(np.float32),
                affine,
                (256, 256),
                flags=cv2.INTER_NEAREST,
            )
            m = (
                cv2.warpAffine(last.face_mask.astype(np.uint8), affine, (256, 256), flags=cv2.INTER_NEAREST)
                > 0
            )
            m &= z > 0
            g = np.zeros((256, 256), np.float32)
            if m.any():
                zn, zf = np.percentile(z[m], 1), np.percentile(z[m], 99)
                g[m] = np.clip((zf - z[m]) / max(zf - zn, 0.02), 0, 1) * 0.9 + 0.1
            gd = _colour_depth(g, cell)
        else:
            dl = gd = np.zeros((cell, cell, 3), np.uint8)
            text = "no face"
        cv2.putText(dl, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.putText(
            gd,
            "rendered depth (min-max)",
            (4, 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.42,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        sheet_rows.append(np.hstack(tiles + [dl, gd]))
    sheet = np.vstack(sheet_rows)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), sheet)
    return str(out)
