"""Frame sources: webcam, video file, folder of frames, and the bundled demo clip.

Every source yields :class:`Frame` objects ``(index, timestamp_s, image_bgr)``:

- ``index`` counts the frames the source delivered (0, 1, 2, ...);
- ``timestamp_s`` is the frame's time on the source's own clock: a camera's frames are stamped with
  ``time.monotonic()`` at capture (seconds since the source was opened), a file's with ``index / fps``;
- ``captured_at`` is the ``time.monotonic()`` instant the frame was read (for frame-to-verdict latency);
- ``discontinuity`` is True on the first frame after a jump (a looped video restarting).

:func:`open_source` turns a spec (camera index ``0`` / ``"0"``, a video path, a folder path, ``"demo"``)
into a source. Problems raise :class:`SourceError` whose message says what was wrong and what to do.
numpy + cv2 only.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from livenessapp.paths import DEMO_CLIP

__all__ = [
    "IMAGE_EXTENSIONS",
    "CameraInfo",
    "CameraSource",
    "Frame",
    "FrameFolderSource",
    "FrameSource",
    "SourceError",
    "VideoFileSource",
    "list_cameras",
    "open_source",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_FOLDER_FPS = 30.0


class SourceError(RuntimeError):
    """A source could not be opened or read; the message says what was wrong and what to do."""


@dataclass
class Frame:
    """One frame of a source (see the module docstring for the clocks)."""

    index: int
    timestamp_s: float
    image_bgr: np.ndarray
    captured_at: float = field(default_factory=time.monotonic)
    discontinuity: bool = False


class FrameSource:
    """Base class: iterate for :class:`Frame` s, or call :meth:`read` until it returns None."""

    #: True for a camera (frames arrive in real time, the source cannot be fast-forwarded)
    is_live: bool = False

    def __init__(self, name: str):
        self.name = name
        self.fps: float = DEFAULT_FOLDER_FPS
        self.frame_count: int | None = None
        self.size: tuple[int, int] | None = None  # (width, height)
        self.problems: list[str] = []  # non-fatal problems met while reading (skipped files, ...)
        self._index = 0

    def read(self) -> Frame | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def rewind(self) -> bool:
        """Start again from the first frame (files); False where impossible (cameras)."""
        return False

    def close(self) -> None:
        pass

    @property
    def duration_s(self) -> float | None:
        if self.frame_count is None or not self.fps:
            return None
        return self.frame_count / self.fps

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, fps={self.fps:.1f})"


# --------------------------------------------------------------------------------------------------------
# Camera
# --------------------------------------------------------------------------------------------------------
class CameraSource(FrameSource):
    """A webcam through OpenCV. ``fps`` reports the measured frame rate once frames arrive (the driver's
    nominal rate until then)."""

    is_live = True

    def __init__(
        self,
        index: int = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        backend: int = cv2.CAP_ANY,
    ):
        super().__init__(f"camera {index}")
        self.index = int(index)
        cap = cv2.VideoCapture(self.index, backend)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"camera {index} could not be opened: it does not exist, is used by another program, or access "
                "was denied. Run 'livenessapp cameras' to list the cameras, close other video apps, or pass "
                "a video file / 'demo' as the source."
            )
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(width))
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(height))
        if fps:
            cap.set(cv2.CAP_PROP_FPS, float(fps))
        self._cap = cap
        nominal = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = nominal if 1.0 <= nominal <= 240.0 else 30.0
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self._t0 = time.monotonic()
        self._last: float | None = None
        self._failures = 0

    def read(self) -> Frame | None:
        if self._cap is None:
            return None
        while True:
            ok, image = self._cap.read()
            now = time.monotonic()
            if ok and image is not None:
                break
            self._failures += 1
            if self._failures >= 30:
                raise SourceError(
                    f"camera {self.index} stopped delivering frames (unplugged or taken by another program); "
                    "reconnect it and start again."
                )
            time.sleep(0.01)
        self._failures = 0
        if self._last is not None and now > self._last:
            self.fps = 0.9 * self.fps + 0.1 * (1.0 / (now - self._last))  # measured rate (EMA)
        self._last = now
        self.size = (image.shape[1], image.shape[0])
        frame = Frame(self._index, now - self._t0, image, captured_at=now)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


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


# --------------------------------------------------------------------------------------------------------
# Video file
# --------------------------------------------------------------------------------------------------------
class VideoFileSource(FrameSource):
    """A video file; ``timestamp_s = index / fps``. ``loop=True`` restarts at the end (index and timestamp
    keep counting; the restart frame has ``discontinuity=True``)."""

    def __init__(self, path: str | os.PathLike, loop: bool = False):
        path = Path(path).expanduser()
        super().__init__(path.name)
        self.path = path
        if not path.exists():
            raise SourceError(
                f"video file not found: {path}. Check the path (or use 'demo' for the bundled clip)."
            )
        if path.is_dir():
            raise SourceError(f"{path} is a folder; pass it as a frame folder source")
        self.loop = loop
        self._cap = self._open()
        nominal = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = nominal if 1.0 <= nominal <= 1000.0 else DEFAULT_FOLDER_FPS
        if not (1.0 <= nominal <= 1000.0):
            self.problems.append(f"the file reports no frame rate; assuming {self.fps:g} fps")
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self.size = (
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._pending_discontinuity = False
        self._delivered_this_pass = 0

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(os.fspath(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"cannot decode {self.path}: not a video file OpenCV can read, or the file is damaged. "
                "Convert it to MP4 (H.264) or AVI (MJPEG), or pass a folder of frames."
            )
        return cap

    def read(self) -> Frame | None:
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        if not ok or image is None:
            if self._index == 0:
                raise SourceError(
                    f"{self.path} contains no decodable frame (empty or damaged file); re-encode it to MP4."
                )
            if self.loop and self._delivered_this_pass > 0 and self.rewind():
                self._pending_discontinuity = True
                self._delivered_this_pass = 0
                ok, image = self._cap.read()
            if not ok or image is None:
                return None
        frame = Frame(self._index, self._index / self.fps, image, discontinuity=self._pending_discontinuity)
        self._pending_discontinuity = False
        self._index += 1
        self._delivered_this_pass += 1
        return frame

    def rewind(self) -> bool:
        if self._cap is None:
            return False
        if not self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
            self._cap.release()
            self._cap = self._open()
        return True

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


# --------------------------------------------------------------------------------------------------------
# Folder of frames
# --------------------------------------------------------------------------------------------------------
def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class FrameFolderSource(FrameSource):
    """The images of a folder in natural sort order (``frame2`` before ``frame10``) at ``fps``.

    Unreadable files are skipped and frames whose size differs from the first frame's are skipped (a
    different size means a different camera, which would break tracking); both are listed in
    :attr:`problems`.
    """

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FOLDER_FPS, loop: bool = False):
        path = Path(path).expanduser()
        super().__init__(path.name)
        self.path = path
        if not path.is_dir():
            raise SourceError(f"frame folder not found: {path}")
        self.files = sorted(
            (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
            key=lambda p: _natural_key(p.name),
        )
        if not self.files:
            raise SourceError(
                f"{path} holds no image files ({', '.join(IMAGE_EXTENSIONS)}); put the frames there or pass a video"
            )
        self.fps = float(fps)
        self.frame_count = len(self.files)
        self.loop = loop
        self._pos = 0
        self._pending_discontinuity = False

    def read(self) -> Frame | None:
        while True:
            if self._pos >= len(self.files):
                if self._index == 0:
                    raise SourceError(f"none of the {len(self.files)} images in {self.path} could be read")
                if not self.loop:
                    return None
                self._pos = 0
                self._pending_discontinuity = True
            file = self.files[self._pos]
            self._pos += 1
            image = cv2.imread(os.fspath(file), cv2.IMREAD_COLOR)
            if image is None:
                self.problems.append(f"unreadable image skipped: {file.name}")
                continue
            size = (image.shape[1], image.shape[0])
            if self.size is None:
                self.size = size
            elif size != self.size:
                self.problems.append(
                    f"{file.name} is {size[0]}x{size[1]}, not {self.size[0]}x{self.size[1]} like the first frame: skipped"
                )
                continue
            frame = Frame(
                self._index, self._index / self.fps, image, discontinuity=self._pending_discontinuity
            )
            self._pending_discontinuity = False
            self._index += 1
            return frame

    def rewind(self) -> bool:
        self._pos = 0
        return True


# --------------------------------------------------------------------------------------------------------
def open_source(
    spec: str | int | os.PathLike | None,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    loop: bool = False,
) -> FrameSource:
    """``0`` / ``"0"`` -> camera 0 (``width``/``height``/``fps`` requested from the driver); ``"demo"`` (or
    None / "") -> the bundled demo clip; a folder -> its frames (at ``fps``, default 30); a file -> a video."""
    if isinstance(spec, FrameSource):
        return spec
    if isinstance(spec, int):
        return CameraSource(spec, width, height, fps)
    text = "" if spec is None else os.fspath(spec).strip()
    if text.isdigit():
        return CameraSource(int(text), width, height, fps)
    if text == "" or text.lower() == "demo":
        if not DEMO_CLIP.exists():
            raise SourceError(f"the bundled demo clip is missing ({DEMO_CLIP}); reinstall from a full clone")
        return VideoFileSource(DEMO_CLIP, loop=loop)
    path = Path(text).expanduser()
    if path.is_dir():
        return FrameFolderSource(path, fps or DEFAULT_FOLDER_FPS, loop=loop)
    if not path.exists():
        raise SourceError(
            f"no such file or folder: {path}. Pass a camera index (0), a video file, a folder of frames, or 'demo'."
        )
    return VideoFileSource(path, loop=loop)
