"""Which cameras there are: probe OpenCV's camera indices without letting a blocking driver hang the caller.

:func:`list_cameras` backs ``livenessapp cameras``; opening one for frames is
:class:`~livenessapp.sources.CameraSource`. Re-exported by :mod:`livenessapp.sources`. cv2 only.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

__all__ = ["CameraInfo", "list_cameras"]


@dataclass(frozen=True)
class CameraInfo:
    index: int
    width: int
    height: int
    fps: float
    backend: str


def _probe_camera(index: int, out: dict) -> None:
    cap = cv2.VideoCapture(index)
    try:
        if cap.isOpened():
            ok, image = cap.read()
            if ok and image is not None:
                out[index] = CameraInfo(
                    index,
                    int(image.shape[1]),
                    int(image.shape[0]),
                    float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                    str(cap.getBackendName()),
                )
    except cv2.error:
        pass
    finally:
        cap.release()


def list_cameras(max_index: int = 4, timeout_s: float = 3.0) -> list[CameraInfo]:
    """Cameras OpenCV can open among indices ``0..max_index-1``.

    Each index is probed in a daemon thread, all at most ``timeout_s`` seconds in total, so that a driver
    that blocks (a busy or half-unplugged device) cannot hang the caller; such an index is left out.
    On Linux only indices with a ``/dev/videoN`` node are probed.
    """
    indices = list(range(max_index))
    if os.name == "posix" and Path("/dev").is_dir() and not Path("/System").exists():
        indices = [i for i in indices if Path(f"/dev/video{i}").exists()]
    found: dict[int, CameraInfo] = {}
    threads = [threading.Thread(target=_probe_camera, args=(i, found), daemon=True) for i in indices]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return [found[i] for i in sorted(found)]
