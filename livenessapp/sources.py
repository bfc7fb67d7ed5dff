"""Frame sources: webcam, video file, folder of frames, and the bundled demo clip.

Every source yields :class:`Frame` objects ``(index, timestamp_s, image_bgr)``:

- ``index`` counts the frames the source delivered (0, 1, 2, ...);
- ``timestamp_s`` is the frame's time on the source's own clock: a camera's frames are stamped with
  ``time.monotonic()`` at capture (seconds since the source was opened), a file's with ``index / fps``;
- ``captured_at`` is the ``time.monotonic()`` instant the frame was read (for frame-to-verdict latency);
- ``discontinuity`` is True on the first frame after a jump (a looped video restarting).

:func:`open_source` turns a spec (camera index ``0`` / ``"0"``, a video path, a folder path, ``"demo"``)
into a source. Problems raise :class:`SourceError` whose message says what was wrong and what to do.

A camera that stops delivering frames mid-run (unplugged, taken by another program) raises
:class:`SourceLost`; the engine then calls :meth:`FrameSource.reconnect` on the schedule of the source's
:class:`Backoff` (0.5 s, 1 s, 2 s, ... at most 10 s apart) until the camera is back. Files cannot be lost:
damage found while reading a file (undecodable frames skipped, a file that ends before its frame count) is
listed in :attr:`FrameSource.problems`.

Which cameras there are (:func:`list_cameras`, :class:`CameraInfo`) is probed in :mod:`livenessapp.cameras`,
re-exported here. numpy + cv2 only.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from livenessapp.cameras import CameraInfo, list_cameras  # re-exported: probing lives in cameras.py
from livenessapp.paths import DEMO_CLIP

__all__ = [
    "open_video_file",
    "IMAGE_EXTENSIONS",
    "Backoff",
    "CameraInfo",
    "CameraSource",
    "Frame",
    "FrameFolderSource",
    "FrameSource",
    "SourceError",
    "SourceLost",
    "VideoFileSource",
    "list_cameras",
    "open_source",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_FOLDER_FPS = 30.0
MAX_PROBLEMS = 100


class SourceError(RuntimeError):
    """A source could not be opened or read; the message says what was wrong and what to do."""


class SourceLost(SourceError):
    """A live source stopped delivering frames mid-run; :meth:`FrameSource.reconnect` may bring it back."""


@dataclass(frozen=True)
class Backoff:
    """Reconnect schedule: waits of ``initial_s``, then times ``factor`` each attempt, at most ``max_s``;
    ``attempts`` = 0 tries forever (a kiosk camera that comes back after an hour is picked up again)."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 10.0
    attempts: int = 0

    def delays(self) -> Iterator[float]:
        delay, attempt = self.initial_s, 0
        while self.attempts <= 0 or attempt < self.attempts:
            attempt += 1
            yield min(delay, self.max_s)
            delay *= self.factor


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
    #: reconnect schedule after :class:`SourceLost`; None: the source cannot come back
    backoff: Backoff | None = None

    def __init__(self, name: str):
        self.name = name
        self.fps: float = DEFAULT_FOLDER_FPS
        self.frame_count: int | None = None
        self.size: tuple[int, int] | None = None  # (width, height)
        self.problems: list[str] = []  # non-fatal problems met while reading (skipped files, ...)
        self._index = 0

    def read(self) -> Frame | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def report(self, problem: str) -> None:
        """Add a non-fatal problem once (a looping source meets the same damage on every pass); at most
        :data:`MAX_PROBLEMS` are kept so that a long run cannot grow the list without bound."""
        if problem not in self.problems and len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def rewind(self) -> bool:
        """Start again from the first frame (files); False where impossible (cameras)."""
        return False

    def reconnect(self) -> bool:
        """Try once to reopen a lost live source; True when it delivers frames again (the next frame then
        has ``discontinuity=True``)."""
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
    nominal rate until then).

    Opening waits up to ``first_frame_timeout_s`` for a first frame: a camera that opens but delivers
    nothing is almost always busy (another program holds it). When no frame has come for ``lost_after_s``
    mid-run, :meth:`read` raises :class:`SourceLost` and :meth:`reconnect` reopens the device.
    """

    is_live = True

    def __init__(
        self,
        index: int = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        backend: int = cv2.CAP_ANY,
        first_frame_timeout_s: float = 3.0,
        lost_after_s: float = 1.0,
        backoff: Backoff | None = None,
    ):
        super().__init__(f"camera {index}")
        self.index = int(index)
        self._backend = backend
        self._requested = (width, height, fps)
        self.lost_after_s = float(lost_after_s)
        self.first_frame_timeout_s = float(first_frame_timeout_s)
        self.backoff = backoff or Backoff()
        self._cap: cv2.VideoCapture | None = None
        self._pending: np.ndarray | None = None  # a frame read while opening, delivered first
        self._pending_discontinuity = False
        self._closed = False
        self.reconnects = 0
        cap = self._open_capture()
        if cap is None:
            raise SourceError(
                f"camera {index} could not be opened: it does not exist, is used by another program, or access "
                "was denied. Run 'livenessapp cameras' to list the cameras, close other video apps, or pass "
                "a video file / 'demo' as the source."
            )
        first = self._first_frame(cap, self.first_frame_timeout_s)
        if first is None:
            cap.release()
            raise SourceError(
                f"camera {index} opened but delivered no frame in {self.first_frame_timeout_s:g} s: it is "
                "probably in use by another program (close other video apps and try again), or the camera is "
                "covered by a privacy shutter / switched off in the system settings."
            )
        self._cap, self._pending = cap, first
        nominal = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = nominal if 1.0 <= nominal <= 240.0 else 30.0
        self.size = (first.shape[1], first.shape[0])
        self._t0 = time.monotonic()
        self._last: float | None = None

    def _open_capture(self) -> cv2.VideoCapture | None:
        try:
            cap = cv2.VideoCapture(self.index, self._backend)
        except cv2.error:
            return None
        if not cap.isOpened():
            cap.release()
            return None
        width, height, fps = self._requested
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(width))
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(height))
        if fps:
            cap.set(cv2.CAP_PROP_FPS, float(fps))
        return cap

    @staticmethod
    def _first_frame(cap: cv2.VideoCapture, timeout_s: float) -> np.ndarray | None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                ok, image = cap.read()
            except cv2.error:
                ok, image = False, None
            if ok and image is not None and image.size:
                return image
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def read(self) -> Frame | None:
        if self._closed:
            return None
        if self._cap is None and self._pending is None:
            raise SourceLost(f"camera {self.index} is disconnected; plug it back in.")
        if self._pending is not None:
            image, self._pending = self._pending, None
            now = time.monotonic()
        else:
            since = time.monotonic()
            while True:
                try:
                    ok, image = self._cap.read()
                except cv2.error:
                    ok, image = False, None
                now = time.monotonic()
                if ok and image is not None and image.size:
                    break
                if now - since >= self.lost_after_s:
                    raise SourceLost(
                        f"camera {self.index} stopped delivering frames (unplugged, or taken by another "
                        "program); plug it back in or close the other program."
                    )
                time.sleep(0.01)
        if self._last is not None and now > self._last:
            self.fps = 0.9 * self.fps + 0.1 * (1.0 / (now - self._last))  # measured rate (EMA)
        self._last = now
        self.size = (image.shape[1], image.shape[0])
        frame = Frame(
            self._index, now - self._t0, image, captured_at=now, discontinuity=self._pending_discontinuity
        )
        self._pending_discontinuity = False
        self._index += 1
        return frame

    def reconnect(self) -> bool:
        """Release the device and open it again; True when it delivers a frame within ``lost_after_s``."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        cap = self._open_capture()
        if cap is None:
            return False
        first = self._first_frame(cap, self.lost_after_s)
        if first is None:
            cap.release()
            return False
        self._cap, self._pending = cap, first
        self._pending_discontinuity = True
        self._last = None
        self.reconnects += 1
        return True

    def close(self) -> None:
        self._closed = True
        self._pending = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None


# --------------------------------------------------------------------------------------------------------
# Video file
# --------------------------------------------------------------------------------------------------------
def open_video_file(path: str | os.PathLike) -> cv2.VideoCapture:
    """``cv2.VideoCapture`` of a file with its rotation metadata applied: a phone's portrait video is stored
    landscape with a 90/270 degree tag, and OpenCV here decodes it sideways unless asked (a sideways face is
    one MediaPipe does not find)."""
    cap = cv2.VideoCapture(os.fspath(path))
    if cap.isOpened():
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


class VideoFileSource(FrameSource):
    """A video file; ``timestamp_s = position / fps``. ``loop=True`` restarts at the end (index and timestamp
    keep counting; the restart frame has ``discontinuity=True``).

    Damaged files: frames that cannot be decoded are skipped (up to ``max_skip`` in a row; the next good
    frame has ``discontinuity=True`` so that no window spans the gap) and a file that ends before the frame
    count in its header is reported as truncated; both go to :attr:`problems`.
    """

    def __init__(self, path: str | os.PathLike, loop: bool = False, max_skip: int = 60):
        path = Path(path).expanduser()
        super().__init__(path.name)
        self.path = path
        if not path.exists():
            raise SourceError(
                f"video file not found: {path}. Check the path (or use 'demo' for the bundled clip)."
            )
        if path.is_dir():
            raise SourceError(f"{path} is a folder; pass it as a frame folder source")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror}. Check the file's permissions.") from exc
        if size == 0:
            raise SourceError(
                f"{path} is empty (0 bytes): an interrupted copy or recording. Copy or record it again."
            )
        self.loop = loop
        self.max_skip = int(max_skip)
        self._cap = self._open()
        nominal = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = nominal if 1.0 <= nominal <= 1000.0 else DEFAULT_FOLDER_FPS
        if not (1.0 <= nominal <= 1000.0):
            self.report(f"the file reports no frame rate; assuming {self.fps:g} fps")
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self.size = (
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._pending_discontinuity = False
        self._delivered_this_pass = 0
        self._position = 0  # frames of the file passed in this pass (decoded or skipped)
        self._time_offset = 0.0  # timestamp of the first frame of this pass (loops keep counting)
        self._damage_reported = False

    def _open(self) -> cv2.VideoCapture:
        try:
            cap = open_video_file(self.path)
        except cv2.error:
            cap = None
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise SourceError(
                f"cannot decode {self.path}: not a video file OpenCV can read, or the file is truncated or "
                "damaged (an interrupted download or copy). Copy it again, or convert it to MP4 (H.264) or "
                "AVI (MJPEG), or pass a folder of frames."
            )
        return cap

    def _grab(self) -> np.ndarray | None:
        try:
            ok, image = self._cap.read()
        except cv2.error:
            return None
        return image if ok and image is not None and image.size else None

    def _read_skipping_damage(self) -> np.ndarray | None:
        """The next decodable frame; skips a damaged stretch inside the frame count of the header."""
        image = self._grab()
        skipped = 0
        while image is None and self.frame_count is not None and skipped < self.max_skip:
            if self._position + skipped >= self.frame_count - 1:
                break
            skipped += 1
            image = self._grab()
        if image is not None and skipped:
            self._position += skipped
            self._pending_discontinuity = True
            self.report(
                f"{skipped} undecodable frame(s) skipped before frame {self._position} of {self.path.name} "
                "(the file is damaged; re-encode or record it again)"
            )
        return image

    def _report_early_end(self) -> None:
        if self._damage_reported or self.frame_count is None:
            return
        # some containers only estimate their frame count (duration x rate): a small shortfall is not damage
        if self.frame_count - self._position > max(2, 0.01 * self.frame_count):
            self._damage_reported = True
            self.report(
                f"{self.path.name} ended after {self._position} of the {self.frame_count} frames its header "
                f"announces ({self._position / self.fps:.1f} s of {self.frame_count / self.fps:.1f} s): the "
                "file is truncated or damaged, the result covers only the part that could be read. Copy or "
                "record it again."
            )

    def read(self) -> Frame | None:
        if self._cap is None:
            return None
        image = self._read_skipping_damage()
        if image is None:
            if self._index == 0:
                raise SourceError(
                    f"{self.path} contains no decodable frame (empty or damaged file); copy it again or "
                    "re-encode it to MP4."
                )
            self._report_early_end()
            if self.loop and self._delivered_this_pass > 0 and self.rewind():
                self._pending_discontinuity = True
                image = self._read_skipping_damage()
            if image is None:
                return None
        frame = Frame(
            self._index,
            self._time_offset + self._position / self.fps,
            image,
            discontinuity=self._pending_discontinuity,
        )
        self._pending_discontinuity = False
        self._index += 1
        self._position += 1
        self._delivered_this_pass += 1
        return frame

    def rewind(self) -> bool:
        if self._cap is None:
            return False
        if not self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
            self._cap.release()
            self._cap = self._open()
        self._time_offset += self._position / self.fps
        self._position = 0
        self._delivered_this_pass = 0
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

    All frames must have one size (a different size means another camera, which would break tracking):
    the size most of the first few readable images share is the folder's size, frames of another size are
    skipped. Unreadable files (damaged, not images, deleted meanwhile) are skipped too; both are listed in
    :attr:`problems`. A folder in which no image can be read raises :class:`SourceError`.
    """

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FOLDER_FPS, loop: bool = False):
        path = Path(path).expanduser()
        super().__init__(path.name)
        self.path = path
        if not path.is_dir():
            raise SourceError(f"frame folder not found: {path}. Check the path.")
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
        self._read_this_pass = 0
        self.size = self._common_size()

    def _common_size(self, probe: int = 5) -> tuple[int, int] | None:
        """The size most of the first ``probe`` readable images share (None: none readable among them)."""
        sizes: list[tuple[int, int]] = []
        for file in self.files[: 4 * probe]:
            image = cv2.imread(os.fspath(file), cv2.IMREAD_COLOR)
            if image is not None:
                sizes.append((image.shape[1], image.shape[0]))
                if len(sizes) >= probe:
                    break
        return max(sizes, key=sizes.count) if sizes else None

    def read(self) -> Frame | None:
        while True:
            if self._pos >= len(self.files):
                if self._index == 0:
                    raise SourceError(
                        f"none of the {len(self.files)} images in {self.path} could be read (damaged or not "
                        "images); check the files or export the frames again."
                    )
                if not self.loop or self._read_this_pass == 0:
                    return None  # a looping folder whose files all went away ends instead of spinning
                self._pos = 0
                self._read_this_pass = 0
                self._pending_discontinuity = True
            file = self.files[self._pos]
            self._pos += 1
            image = cv2.imread(os.fspath(file), cv2.IMREAD_COLOR)
            if image is None:
                self.report(f"unreadable image skipped: {file.name} (damaged, not an image, or removed)")
                self._pending_discontinuity = True
                continue
            size = (image.shape[1], image.shape[0])
            if self.size is None:
                self.size = size
            elif size != self.size:
                self.report(
                    f"{file.name} is {size[0]}x{size[1]}, not {self.size[0]}x{self.size[1]} like the other "
                    "frames: skipped (keep the frames of one camera, at one size, per folder)"
                )
                self._pending_discontinuity = True  # the frames either side of a gap are not consecutive
                continue
            frame = Frame(
                self._index, self._index / self.fps, image, discontinuity=self._pending_discontinuity
            )
            self._pending_discontinuity = False
            self._index += 1
            self._read_this_pass += 1
            return frame

    def rewind(self) -> bool:
        self._pos = 0
        self._read_this_pass = 0
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
