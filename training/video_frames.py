"""Reading videos and frame folders for the preprocessing cache (:mod:`livenessapp_training.preprocess`).

A sample is a video file (decoded upright: :func:`livenessapp.sources.open_video_file` applies the rotation
tag), a folder of images, or an explicit list of image files (a still capture). :func:`iter_frames` yields
its frames; :func:`video_fingerprint` is the part of the cache key that changes when the video does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from livenessapp.sources import open_video_file
from livenessapp_training.datasets.base import IMAGE_EXTENSIONS

__all__ = ["VideoReadError", "frame_files", "iter_frames", "video_fingerprint", "video_info"]


class VideoReadError(RuntimeError):
    """A video (or frame folder) that cannot be opened or decoded."""


def frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder, in name order (hidden files left out)."""
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def video_fingerprint(path: Path, files: Sequence[Path] = ()) -> dict:
    """Size and modification time of a video file, or summed/maxed over a frame folder's images (or over
    ``files``, an image capture's frames, whose names are part of it)."""
    path = Path(path)
    if files:
        stats = [Path(f).stat() for f in files]
        names = hashlib.sha256("\n".join(os.fspath(f) for f in files).encode()).hexdigest()[:16]
        return {
            "size": sum(s.st_size for s in stats),
            "mtime_ns": max(s.st_mtime_ns for s in stats),
            "count": len(files),
            "files": names,
        }
    if path.is_dir():
        files = frame_files(path)
        stats = [f.stat() for f in files]
        return {
            "size": sum(s.st_size for s in stats),
            "mtime_ns": max((s.st_mtime_ns for s in stats), default=0),
            "count": len(files),
        }
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def iter_frames(
    path: Path, step: int = 1, max_frames: int = 0, files: Sequence[Path] = ()
) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame index, BGR uint8 frame)`` of a video file or folder of images (or of the image files
    ``files``, in their order), every ``step``-th frame.

    Skipped frames of a video are grabbed without decoding. Raises :class:`VideoReadError` when nothing can
    be read.
    """
    path = Path(path)
    if files or path.is_dir():
        files = [Path(f) for f in files] or frame_files(path)
        if not files:
            raise VideoReadError(f"no images in frame folder {path}")
        good = 0
        for i, f in enumerate(files):
            if max_frames and i >= max_frames:
                break
            if i % step:
                continue
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is not None:
                good += 1
                yield i, img
        if not good:
            raise VideoReadError(f"no readable images in {path}")
        return
    if not path.is_file():
        raise VideoReadError(f"no such video: {path}")
    cap = open_video_file(path)
    try:
        if not cap.isOpened():
            raise VideoReadError(f"cannot open video {path}")
        i = good = 0
        while not max_frames or i < max_frames:
            if i % step:
                if not cap.grab():
                    break
            else:
                ok, frame = cap.read()
                if not ok or frame is None:
                    break
                good += 1
                yield i, frame
            i += 1
        if not good:
            raise VideoReadError(f"no decodable frames in {path}")
    finally:
        cap.release()


def video_info(path: Path) -> dict:
    """``{"fps": ...}`` of a video file (0.0 for a frame folder or when the container does not say)."""
    if path.is_dir():
        return {"fps": 0.0}
    cap = cv2.VideoCapture(str(path))
    try:
        return {"fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0)}
    finally:
        cap.release()
