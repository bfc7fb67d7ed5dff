"""Dataset generation: planned clips rendered in parallel to ``videos/<clip_id>.mp4`` + ``manifest.jsonl``.

Resumable: a clip whose video and per-clip manifest line (``manifest.d/<clip_id>.json``) both exist is
skipped; videos are written to a temporary name and renamed when complete. The final ``manifest.jsonl`` is
assembled sorted by clip index from the per-clip lines. Deterministic: clip ``i`` depends only on
(global seed, i, protocol, frames, size, photos) — on one machine. numpy and OpenCV pick their vector code by
the CPU's instruction set, so on another CPU a few pixels come out a few grey levels apart (the demo clip
re-rendered on an AVX2-only machine: 223 of 480 frames differ, by 0.008 grey levels on average); the
machine that rendered a dataset is recorded in its ``simulator.json``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from .scene import DEFAULT_PHOTOS, ClipSpec, iter_clip, plan_clip

__all__ = ["find_photos", "generate", "write_clip", "write_video"]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def render_machine() -> dict:
    """What decides the simulator's float results beyond its inputs: the CPU, its vector instruction sets
    as numpy sees them, and the numpy / OpenCV versions."""
    try:
        from numpy.core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy >= 2 moved it
        from numpy._core._multiarray_umath import __cpu_features__
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "simd": [k for k, on in __cpu_features__.items() if on],
        "numpy": np.__version__,
        "opencv": cv2.__version__,
    }


def find_photos(faces_dir: str | Path | None, include_defaults: bool = True) -> list[str]:
    """The bundled photos (Grace Hopper, the astronaut) plus every image in ``faces_dir`` with a face."""
    photos = list(DEFAULT_PHOTOS) if include_defaults else []
    if faces_dir:
        from .head import scan_photo

        for path in sorted(Path(faces_dir).iterdir()):
            if path.suffix.lower() in PHOTO_SUFFIXES:
                try:
                    scan_photo(str(path))
                except (ValueError, FileNotFoundError) as err:
                    print(f"simulator: skipping {path}: {err}")
                    continue
                photos.append(str(path))
    return photos


def write_video(path: Path, frames: Iterable[np.ndarray], size: tuple[int, int], fps: float = 30.0) -> None:
    """Write uint8 BGR ``frames`` of ``size`` (W, H) to ``path`` (mp4v), under a temporary name that is renamed
    when complete, so an interrupted run never leaves a truncated video under the final name."""
    tmp = path.with_name(path.stem + ".part.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), tuple(size))
    if not writer.isOpened():
        raise RuntimeError(f"cannot open a video writer for {tmp}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    os.replace(tmp, path)


def write_clip(spec: ClipSpec, root: Path) -> dict:
    """Render one clip to ``root/videos`` (mp4v, 30 fps) and its manifest line to ``root/manifest.d``."""
    videos, lines = root / "videos", root / "manifest.d"
    videos.mkdir(parents=True, exist_ok=True)
    lines.mkdir(parents=True, exist_ok=True)
    entry = spec.manifest()
    t0 = time.perf_counter()
    write_video(root / entry["path"], (frame.image for frame in iter_clip(spec)), (spec.width, spec.height))
    line = lines / f"{spec.clip_id}.json"
    line.with_suffix(".tmp").write_text(json.dumps(entry, sort_keys=False))
    os.replace(line.with_suffix(".tmp"), line)
    return {"clip_id": spec.clip_id, "seconds": time.perf_counter() - t0}


def _done(spec: ClipSpec, root: Path) -> bool:
    return (root / "videos" / f"{spec.clip_id}.mp4").exists() and (
        root / "manifest.d" / f"{spec.clip_id}.json"
    ).exists()


def _worker_init() -> None:
    cv2.setNumThreads(1)


def _work(args: tuple[ClipSpec, str]) -> dict:
    spec, root = args
    return write_clip(spec, Path(root))


def _check_same_settings(root: Path, settings: dict) -> None:
    """Refuse to add clips to a folder rendered with other settings: finished clips are kept on a re-run, so
    the folder would silently mix two datasets."""
    summary = root / "simulator.json"
    if not summary.is_file():
        return
    before = json.loads(summary.read_text())
    before.setdefault("screen_saturation", [1.0, 1.0])  # folders written before the option existed

    def same(a, b) -> bool:
        if isinstance(a, str) or isinstance(b, str):
            return a == b
        return np.allclose(np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float)))

    differ = [
        f"{k} {before[k]} -> {v}" for k, v in settings.items() if k in before and not same(before[k], v)
    ]
    if differ:
        raise ValueError(
            f"{root} was rendered with other settings ({'; '.join(differ)}); render into a new folder, or "
            "delete this one to re-render it"
        )


def generate(
    out: str | Path,
    clips: int,
    protocol: str = "normal",
    seed: int = 0,
    frames: int = 90,
    size: tuple[int, int] = (480, 360),
    workers: int = 2,
    photos: Sequence[str] = DEFAULT_PHOTOS,
    progress: bool = True,
    screen_saturation: tuple[float, float] = (1.0, 1.0),
) -> dict:
    """Render clips ``0 .. clips-1`` (skipping finished ones) and assemble ``manifest.jsonl``.
    Returns a summary (clips rendered / skipped, seconds, seconds per 100 clips)."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    _check_same_settings(
        root,
        {
            "protocol": protocol,
            "seed": seed,
            "frames": frames,
            "size": list(size),
            "screen_saturation": list(screen_saturation),
        },
    )
    specs = [
        plan_clip(i, seed, protocol, frames, size, tuple(photos), screen_saturation=screen_saturation)
        for i in range(clips)
    ]
    todo = [s for s in specs if not _done(s, root)]
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"simulate {protocol}", unit="clip")
    try:
        if workers > 1 and len(todo) > 1:
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_worker_init) as pool:
                for _ in pool.imap_unordered(_work, [(s, str(root)) for s in todo]):
                    if bar:
                        bar.update()
        else:
            for s in todo:
                write_clip(s, root)
                if bar:
                    bar.update()
    finally:
        if bar:
            bar.close()
    seconds = time.perf_counter() - t0
    entries = []
    for s in specs:
        entries.append(json.loads((root / "manifest.d" / f"{s.clip_id}.json").read_text()))
    with open(root / "manifest.jsonl.tmp", "w") as fh:
        for e in entries:
            fh.write(json.dumps(e) + "\n")
    os.replace(root / "manifest.jsonl.tmp", root / "manifest.jsonl")
    summary = {
        "protocol": protocol,
        "seed": seed,
        "clips": clips,
        "rendered": len(todo),
        "skipped": clips - len(todo),
        "frames": frames,
        "size": list(size),
        "workers": workers,
        "photos": [str(p) for p in photos],
        "screen_saturation": list(specs[0].screen_saturation) if specs else list(screen_saturation),
        "seconds": round(seconds, 2),
        "seconds_per_100_clips": round(100 * seconds / len(todo), 1) if todo else None,
        "machine": render_machine(),
    }
    (root / "simulator.json").write_text(json.dumps(summary, indent=2))
    return summary
