"""Replays of real footage: a real live video shown on a simulated screen and filmed again.

The simulator's own replays (:func:`.render.replay_clip`) show a rendered head. A real replay attack shows a
real recording of the victim, so these show the recorded video itself, through the same display and camera
models: the screen's tone curve, colour cast, black level, glare, refresh banding, pixel-grid moiré and
bezel (:class:`.carriers.ScreenLook`), the screen held in the hand or still (``carrier_track``), in one of
the simulator's scenes, filmed by one of its cameras with auto exposure, white balance, blur, noise and JPEG
(:class:`.looks.CameraLook`). Live and replay then share the face, the person and the source recording;
what tells them apart is what the display and the second capture add, which is what a model must learn to
catch a replay of someone it has seen live.

:func:`recapture_manifest` turns every live video of a manifest-described folder
(:mod:`training.datasets.manifest`) into ``per_video`` such replays, written as a manifest-layout folder.
Each replay keeps its original's split, source and person, so a replay never lands in a split other than
the one of the face it shows. The scene, light and camera pools are the simulator's pools for that split.
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .carriers import ScreenLook, apply_moire, apply_screen
from .generate import write_video
from .geometry import composite, plane_corners, render_plane
from .looks import CameraLook, SceneLook
from .motion import FPS, carrier_track
from .render import carrier_geometry
from .scene import BACKGROUNDS, CAMERAS, LIGHTS

__all__ = [
    "RecaptureSpec",
    "plan_recapture",
    "recapture_frames",
    "recapture_manifest",
]

# The longest side of the shown video on the screen, in texels: the display's own pixels are
# ``ScreenLook.native_per_texel`` (2.2-5.5) per texel, 1400-3500 display pixels, a phone's or a monitor's.
SCREEN_TEXELS = 640
# Face width in the recording over its frame width when MediaPipe finds no face to measure.
DEFAULT_FACE_FRACTION = 0.3


@dataclass(frozen=True)
class RecaptureSpec:
    """One replay of a recording: where it is shown and filmed (drawn from ``seed`` in the ``split``'s pools),
    how the screen is held (``still``: parallel and motionless, the Perfect Spoofing Scene; else in the hand),
    whether it fills the view (``full``) or shows its bezel, and which frames of the recording it plays."""

    seed: int
    split: str
    scene: str
    camera: str
    still: bool
    full: bool
    start: int
    frames: int
    width: int = 480
    height: int = 360


def plan_recapture(
    seed: int,
    split: str,
    index: int,
    source_frames: int,
    frames: int = 90,
    size: tuple[int, int] = (480, 360),
) -> RecaptureSpec:
    """The ``index``-th replay of a recording with ``source_frames`` frames: 25 % still, 35 % full framing
    (the simulator's replay mix); the played frames start anywhere in the recording that leaves ``frames``."""
    g = np.random.default_rng([int(seed), int(index)])
    scene = f"{g.choice(BACKGROUNDS[split])}-L{g.choice(LIGHTS[split])}"
    camera = str(g.choice(CAMERAS[split]))
    still = bool(g.random() < 0.25)
    full = bool(g.random() < 0.35)
    spare = max(int(source_frames) - frames, 0)
    start = int(g.integers(0, spare + 1)) if spare else 0
    return RecaptureSpec(int(g.integers(0, 2**31)), split, scene, camera, still, full, start, frames, *size)


def _texture_size(shape: tuple[int, ...]) -> tuple[int, int]:
    h, w = shape[:2]
    s = SCREEN_TEXELS / max(h, w)
    return max(int(round(w * s)), 8), max(int(round(h * s)), 8)


def recapture_frames(
    content: Iterable[np.ndarray], spec: RecaptureSpec, face_fraction: float = DEFAULT_FACE_FRACTION
) -> Iterator[np.ndarray]:
    """The frames (uint8 BGR, ``spec.width`` x ``spec.height``) a camera takes of a screen playing
    ``content`` (uint8 BGR frames of a real recording, any size). ``face_fraction``: the face's width over the
    recording's width, which sizes the screen so the face on it looks about life-size (as in the simulator's
    replays) unless it fills the view."""
    rng = np.random.default_rng(spec.seed)
    n = spec.frames
    look = CameraLook.make(spec.camera, spec.width, spec.height, rng, np.random.default_rng([spec.seed, 7]))
    cam = look.camera
    scene = SceneLook.make(spec.scene, cam, rng, n, ego_motion=not spec.still)
    slook = ScreenLook.random(rng)
    noise_rng = np.random.default_rng([spec.seed, 99])
    bezel = 0.0 if spec.full else slook.bezel
    frames = iter(content)
    first = next(frames, None)
    if first is None:
        return
    tw, th = _texture_size(first.shape)
    border = int(round(bezel * tw))
    texture = np.ones((th + 2 * border, tw + 2 * border, 4), np.float32)
    texture[..., :3] = slook.bezel_value
    active = texture[border : border + th, border : border + tw, :3]
    width, height, distance = carrier_geometry(
        cam, rng, spec.full, face_fraction * tw / (tw + 2 * border), texture.shape[1] / texture.shape[0]
    )
    track = carrier_track(rng, n, distance, "still" if spec.still else "hand", rot=0.45 if spec.full else 1.0)
    frame_u8 = first
    for i in range(n):
        if i:
            nxt = next(frames, None)
            if nxt is None:
                return
            frame_u8 = nxt
        shown = cv2.resize(frame_u8, (tw, th), interpolation=cv2.INTER_AREA)
        active[:] = apply_screen(shown, slook, i / FPS)
        image, _ = scene.background_layer(cam, i)
        corners = plane_corners(width, height, scene.ego[i].compose(track[i]))
        layer, H = render_plane(texture, corners, cam)
        apply_moire(layer, H, slook, border, i / FPS)
        composite(image, layer)
        yield look.capture(image * scene.exposure, noise_rng)


def _face_fraction(frames: list[np.ndarray]) -> float:
    """Median face width over frame width in a few frames of a recording (MediaPipe face mesh)."""
    from livenessapp.face import FaceMeshTracker, primary_face

    widths = []
    with FaceMeshTracker(static_image_mode=True) as mesh:
        for f in frames:
            face = primary_face(mesh.process(f), f.shape)
            if face is not None:
                widths.append((face.box[2] - face.box[0]) / f.shape[1])
    return float(np.median(widths)) if widths else DEFAULT_FACE_FRACTION


def _read_video(path: Path, max_frames: int) -> list[np.ndarray]:
    """Up to ``max_frames`` upright frames of a video, about 30 per second of it (none if it cannot be read)."""
    from ..video_frames import VideoReadError, iter_frames, video_info

    fps = video_info(path)["fps"]
    step = max(int(round(fps / FPS)), 1) if fps > 0 else 1
    try:
        return [frame for _, frame in iter_frames(path, step, max_frames * step)]
    except VideoReadError:
        return []


def recapture_manifest(
    root: str | Path,
    out: str | Path,
    protocol: str | None = "groups",
    splits: Iterable[str] = ("train", "dev", "test"),
    per_video: int = 4,
    frames: int = 90,
    seed: int = 0,
    size: tuple[int, int] = (480, 360),
    max_source_frames: int = 900,
    with_originals: bool = False,
    progress: bool = True,
) -> dict:
    """Write ``per_video`` replays of every live video of ``splits`` of the manifest folder ``root`` to
    ``out/videos`` and their rows to ``out/MANIFEST.tsv`` (label spoof, attack replay, the original's split,
    source and person; ``source_repo`` is ``recapture:<original source>``). ``with_originals`` also lists each
    original live video (its row as in ``root``, the path relative to ``out``): a paired set that asks whether
    a model tells a recording from its replay (for training, leave them out: ``root`` has them already).
    Videos already written are kept (re-running resumes). Returns a summary (replays per split, seconds)."""
    import os
    import time

    from ..datasets.manifest import MANIFEST_COLUMNS, RECAPTURE_PREFIX, read_manifest, read_manifest_rows

    root, out = Path(root), Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    licences = {}
    for row in read_manifest_rows(root):
        licences[(root / (row.get("file") or "").strip()).resolve()] = (row.get("license") or "").strip()
    wanted = set(splits)
    unknown = sorted(wanted - {"train", "dev", "test"})
    if unknown:
        raise ValueError(f"recapture: unknown split(s) {', '.join(unknown)}; choose from train, dev, test")
    sources = [s for s in read_manifest(root, protocol) if s.is_live and not s.is_still and s.split in wanted]
    t0 = time.perf_counter()
    rows: list[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(sources) * per_video, desc="recapture", unit="replay")
    try:
        for sample in sources:
            content = _read_video(sample.path, max_source_frames)
            if len(content) < 2:
                print(f"recapture: skipping {sample.path}: fewer than 2 decodable frames")
                if bar:
                    bar.update(per_video)
                continue
            picks = [content[int(k * (len(content) - 1) / 4)] for k in range(5)]
            face_frac = _face_fraction(picks)
            stem = re.sub(r"[^A-Za-z0-9_-]+", "_", sample.video_id).strip("_")
            source = sample.device  # the manifest reader's source; its group key is "<source>/<person>"
            person = sample.subject.removeprefix(f"{source}/")
            licence = licences.get(sample.path.resolve(), "")
            if with_originals:
                rows.append(
                    {
                        "file": os.path.relpath(sample.path, out),
                        "label": "live",
                        "attack": "none",
                        "media": "video",
                        "source_repo": source,
                        "subject": person,
                        "split": sample.split,
                        "source_path": str(sample.path),
                        "license": licence,
                        "recapture": "",
                    }
                )
            for k in range(per_video):
                index = zlib.crc32(f"{sample.video_id}#{k}".encode())  # stable whatever else is listed
                spec = plan_recapture(seed, sample.split, index, len(content), frames, size)
                rel = f"videos/{stem}_r{k}.mp4"
                final = out / rel
                if not final.exists():
                    write_video(final, recapture_frames(content[spec.start :], spec, face_frac), size)
                rows.append(
                    {
                        "file": rel,
                        "label": "spoof",
                        "attack": "replay",
                        "media": "video",
                        "source_repo": f"{RECAPTURE_PREFIX}{source}",
                        "subject": person,
                        "split": sample.split,
                        "source_path": str(sample.path),
                        "license": licence,
                        "recapture": json.dumps(
                            {**asdict(spec), "face_fraction": round(face_frac, 3)}, sort_keys=True
                        ),
                    }
                )
                if bar:
                    bar.update()
    finally:
        if bar:
            bar.close()
    tmp = out / "MANIFEST.tsv.tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(
            fh, fieldnames=(*MANIFEST_COLUMNS, "recapture"), delimiter="\t", lineterminator="\n"
        )
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out / "MANIFEST.tsv")
    per_split: dict[str, int] = {}
    replays = [r for r in rows if r["label"] == "spoof"]
    for r in replays:
        per_split[r["split"]] = per_split.get(r["split"], 0) + 1
    return {
        "source": str(root),
        "protocol": protocol,
        "live_videos": len(sources),
        "replays": len(replays),
        "with_originals": with_originals,
        "per_split": per_split,
        "seconds": round(time.perf_counter() - t0, 1),
    }
