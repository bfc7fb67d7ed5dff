"""How often MediaPipe tracks the simulated faces, per scenario: ``liveness-train simulate tracking-rate``.

Each clip is rendered (or, with ``from_dir``, its stored video is read), written as an mp4v video like
:func:`.generate.write_clip` does, decoded again with :func:`livenessapp_training.video_frames.iter_frames`
and tracked exactly like the preprocessing cache does (:class:`livenessapp.face.FaceMeshTracker` in video
mode, one tracker per clip, :class:`~livenessapp_training.preprocess.PreprocessConfig`'s defaults,
:func:`livenessapp.face.primary_face`), so the rates are the ones the training data will have.

**Face in view** (from the simulator's own geometry, the 468 landmarks where the renderer draws them):

- the landmarks' bounding box lies inside the frame (with ``edge_px`` pixels to spare),
- it is at least ``min_face_px`` pixels wide, and
- the face is seen at most ``max_angle`` degrees off frontal: the least-squares affine map from the
  identity's frontal landmark layout (its 3-D head model seen head-on) to the rendered landmarks has singular
  values ``s1 >= s2``, and ``arccos(s2 / s1)`` is the angle (for a planar face under weak perspective it is
  exactly the tilt of the face plane; it composes the head's own turn, the carrier's rotation and the
  recorded head's turn on a replay screen, whatever makes the face edge-on).

**Tracked**: the tracker returns a face for the frame; *off target* counts tracked in-view frames whose
landmarks are not on the rendered face (box centre or width off by more than 15 % of the face width).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .generate import write_video
from .scene import DEFAULT_PHOTOS, PAIS, ClipSpec, iter_clip, plan_clip

__all__ = ["InViewRule", "face_view", "format_table", "measure_clip", "summarise", "tracking_rate"]

OFF_TARGET_FRACTION = 0.15


@dataclass(frozen=True)
class InViewRule:
    """When a rendered face counts as in view (see the module docstring)."""

    max_angle: float = 60.0  # degrees off frontal
    min_face_px: float = 40.0  # landmark box width
    edge_px: float = 0.0  # the landmark box must stay this far inside the frame


def face_view(landmarks: np.ndarray | None, frontal: np.ndarray, size: tuple[int, int]) -> dict:
    """Geometry of one rendered face: ``inside`` (margin of the landmark box to the frame edge in pixels,
    negative when cut off), ``width`` (box width, px) and ``angle`` (degrees off frontal). ``None`` values
    when the face is not rendered at all."""
    if landmarks is None or not np.all(np.isfinite(landmarks)):
        return {"inside": None, "width": None, "angle": None}
    w, h = size
    lo, hi = landmarks.min(0), landmarks.max(0)
    inside = float(min(lo[0], lo[1], (w - 1) - hi[0], (h - 1) - hi[1]))
    src = np.concatenate([frontal - frontal.mean(0), np.ones((len(frontal), 1))], 1)
    coef, *_ = np.linalg.lstsq(src, landmarks.astype(np.float64), rcond=None)
    s = np.linalg.svd(coef[:2].T, compute_uv=False)
    angle = float(np.degrees(np.arccos(np.clip(s[1] / max(s[0], 1e-12), 0.0, 1.0))))
    return {"inside": inside, "width": float(hi[0] - lo[0]), "angle": angle}


def _in_view(view: dict, rule: InViewRule) -> bool:
    return (
        view["inside"] is not None
        and view["inside"] >= rule.edge_px
        and view["width"] >= rule.min_face_px
        and view["angle"] <= rule.max_angle
    )


def _off_target(tracked: np.ndarray, truth: np.ndarray, width: float) -> bool:
    """Tracked landmarks not on the rendered face: centre or box width off by more than 15 % of the face
    width. Compares boxes, not landmark by landmark: a mirrored identity's mesh keeps MediaPipe's indices
    on the mirrored side of the face."""
    centre = np.linalg.norm(tracked.mean(0) - truth.mean(0))
    size = abs(float(np.ptp(tracked[:, 0])) - width)
    return bool(max(centre, size) > OFF_TARGET_FRACTION * width)


def measure_clip(
    spec: ClipSpec,
    rule: InViewRule = InViewRule(),
    video: str | Path | None = None,
    save_failures: str | Path | None = None,
    max_saved: int = 3,
) -> dict:
    """Render ``spec`` (its geometry, and its video unless ``video`` names the stored one), track it like
    the preprocessing cache and return per-frame records plus the clip's manifest fields."""
    from livenessapp.face import primary_face
    from livenessapp_training.preprocess import PreprocessConfig, video_tracker
    from livenessapp_training.video_frames import iter_frames

    from .head import HeadModel

    t0 = time.perf_counter()
    frontal = HeadModel.for_identity(spec.identity).verts[:468, :2].astype(np.float64)
    size = (spec.width, spec.height)
    truth, images = [], []
    for frame in iter_clip(spec):
        truth.append(frame.landmarks)
        if video is None:
            images.append(frame.image)
    render_s = time.perf_counter() - t0
    cfg = PreprocessConfig()
    records = []
    with tempfile.TemporaryDirectory(prefix="simtrack-") as tmp:
        path = Path(video) if video is not None else Path(tmp) / f"{spec.clip_id}.mp4"
        if video is None:
            write_video(path, images, size)
            images.clear()
        saved = 0
        with video_tracker(cfg) as tracker:
            for index, img in iter_frames(path, cfg.frame_step, cfg.max_frames):
                lm = truth[index] if index < len(truth) else None
                view = face_view(lm, frontal, size)
                in_view = _in_view(view, rule)
                face = primary_face(tracker.process(img), img.shape)
                off = False
                if face is not None and lm is not None and view["width"]:
                    off = _off_target(face.landmarks[:, :2], lm, view["width"])
                records.append(
                    {"frame": index, "in_view": in_view, "tracked": face is not None, "off": off, **view}
                )
                if save_failures and in_view and face is None and saved < max_saved:
                    out = Path(save_failures)
                    out.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(out / f"{spec.clip_id}-f{index:03d}.png"), img)
                    saved += 1
    return {
        **spec.manifest(),
        "records": records,
        "render_seconds": round(render_s, 3),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def summarise(results: Sequence[dict]) -> list[dict]:
    """Rows per scenario (``pai``), per (pai, framing) for attacks, then attacks and everything together:
    clips, frames, frames in view, tracked in view, rate (tracked / in view), tracked over all frames,
    off-target tracks."""

    def row(name: str, group: Sequence[dict]) -> dict:
        recs = [r for res in group for r in res["records"]]
        view = [r for r in recs if r["in_view"]]
        tracked_view = sum(r["tracked"] for r in view)
        return {
            "group": name,
            "clips": len(group),
            "frames": len(recs),
            "in_view": len(view),
            "tracked_in_view": tracked_view,
            "rate": tracked_view / len(view) if view else None,
            "tracked_all": sum(r["tracked"] for r in recs),
            "rate_all": sum(r["tracked"] for r in recs) / len(recs) if recs else None,
            "off_target": sum(r["tracked"] and r["off"] for r in view),
            "worst_clip_rate": min(
                (
                    sum(r["tracked"] for r in res["records"] if r["in_view"])
                    / sum(r["in_view"] for r in res["records"])
                    for res in group
                    if any(r["in_view"] for r in res["records"])
                ),
                default=None,
            ),
        }

    rows = []
    for pai in PAIS:
        group = [r for r in results if r["pai"] == pai]
        if not group:
            continue
        rows.append(row(pai, group))
        framings = sorted({r["framing"] for r in group} - {"-"})
        if len(framings) > 1:
            for framing in framings:
                rows.append(row(f"  {pai}/{framing}", [r for r in group if r["framing"] == framing]))
    attacks = [r for r in results if r["label"] == "spoof"]
    if attacks:
        rows.append(row("attacks", attacks))
    rows.append(row("all", list(results)))
    return rows


def format_table(rows: Sequence[dict]) -> str:
    head = f"{'scenario':<22}{'clips':>6}{'frames':>8}{'in view':>9}{'tracked':>9}{'rate':>8}"
    head += f"{'all-frame':>11}{'off':>5}{'worst clip':>12}"
    lines = [head, "-" * len(head)]
    for r in rows:
        rate = "-" if r["rate"] is None else f"{100 * r['rate']:.1f}%"
        rate_all = "-" if r["rate_all"] is None else f"{100 * r['rate_all']:.1f}%"
        worst = "-" if r["worst_clip_rate"] is None else f"{100 * r['worst_clip_rate']:.0f}%"
        lines.append(
            f"{r['group']:<22}{r['clips']:>6}{r['frames']:>8}{r['in_view']:>9}{r['tracked_in_view']:>9}"
            f"{rate:>8}{rate_all:>11}{r['off_target']:>5}{worst:>12}"
        )
    return "\n".join(lines)


def _worker_init() -> None:
    cv2.setNumThreads(1)
    os.environ.setdefault("GLOG_minloglevel", "2")


def _work(task: tuple) -> dict:
    spec, rule, video, save_failures = task
    return measure_clip(spec, rule, video, save_failures)


def _specs_from_dir(root: Path, clips: int | None) -> list[tuple[ClipSpec, str]]:
    """Re-plan the clips of a generated folder (its ``simulator.json`` settings) next to their videos."""
    settings, manifest = root / "simulator.json", root / "manifest.jsonl"
    if not settings.is_file() or not manifest.is_file():
        raise FileNotFoundError(
            f"{root} is not a finished simulator dataset (needs simulator.json and manifest.jsonl): "
            "run `liveness-train simulate generate --out DIR` first, or leave out --from to render in memory"
        )
    cfg = json.loads(settings.read_text())
    entries = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
    out = []
    for e in entries[:clips] if clips else entries:
        index = int(e["clip_id"].split("-")[-2])
        spec = plan_clip(
            index, cfg["seed"], cfg["protocol"], cfg["frames"], tuple(cfg["size"]), tuple(cfg["photos"])
        )
        if spec.clip_id != e["clip_id"] or spec.seed != e["seed"]:
            raise ValueError(
                f"{e['clip_id']} in {manifest} does not match the clip its simulator.json settings plan "
                f"({spec.clip_id}, seed {spec.seed}): the folder was made by another simulator version"
            )
        out.append((spec, str(root / e["path"])))
    return out


def tracking_rate(
    clips: int,
    protocol: str = "normal",
    seed: int = 0,
    frames: int = 90,
    size: tuple[int, int] = (480, 360),
    workers: int = 2,
    photos: Sequence[str] = DEFAULT_PHOTOS,
    pai: str | None = None,
    from_dir: str | Path | None = None,
    rule: InViewRule = InViewRule(),
    save_failures: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Measure clips ``0 .. clips-1`` (all PAIs as planned, or every clip as ``pai``), or the clips of the
    generated folder ``from_dir``: ``{"rows": summary rows, "clips": per-clip results, ...}``."""
    if from_dir is not None:
        tasks = [(s, rule, v, save_failures) for s, v in _specs_from_dir(Path(from_dir), clips)]
    else:
        specs = [plan_clip(i, seed, protocol, frames, size, tuple(photos), pai=pai) for i in range(clips)]
        tasks = [(s, rule, None, save_failures) for s in specs]
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc="tracking-rate", unit="clip")
    results = []
    try:
        if workers > 1 and len(tasks) > 1:
            # a pool that raises (BrokenProcessPool) rather than waits forever if a worker dies
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
                for future in as_completed([pool.submit(_work, task) for task in tasks]):
                    results.append(future.result())
                    if bar:
                        bar.update()
        else:
            for task in tasks:
                results.append(_work(task))
                if bar:
                    bar.update()
    finally:
        if bar:
            bar.close()
    results.sort(key=lambda r: r["clip_id"])
    seconds = time.perf_counter() - t0
    return {
        "protocol": results[0]["protocol"] if results else protocol,
        "source": str(from_dir) if from_dir else "rendered in memory",
        "rule": rule.__dict__,
        "seconds": round(seconds, 1),
        "rows": summarise(results),
        "clips": results,
    }
