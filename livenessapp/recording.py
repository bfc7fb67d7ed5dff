"""Record labelled clips for fine-tuning: ``<clip>.mp4`` + ``<clip>.json`` in a captures folder.

The layout is the one the training side reads with ``load_dataset("recorded", folder)``
(``livenessapp_training.datasets.folder.read_recorded``)::

    ~/livenessapp-captures/
        live-20250101-120000-123.mp4
        live-20250101-120000-123.json   {"label": "live", "camera": "0", "time": "2025-01-01T12:00:00+01:00",
                                         "model_version": "...", "fps": 30.0, "frames": 150,
                                         "width": 640, "height": 480, ...}

``label`` is one of :data:`LABELS` (``live`` | ``print`` | ``replay`` | ``other``).

Atomic writes: frames go to a hidden temporary file in the same folder (``.<clip>.partial.mp4``); on
:meth:`ClipRecorder.finish` the file is closed, ``fsync``'d and renamed with :func:`os.replace` to
``<clip>.mp4``; only then is the sidecar written the same way (temp name, fsync, replace) — the sidecar is
the commit record. A process that dies mid-recording leaves at most a hidden ``.partial`` file, never a
final ``<clip>.mp4`` or ``<clip>.json`` (and never a sidecar without its video);
:func:`remove_partials` cleans the leftovers.

Write failures (a full disk, a folder that went away, no permission) are never silent: the encoder checks
the free space every second of video (OpenCV's video writer itself does not report a failed write) and
stops with ``ENOSPC`` below ``min_free_mb``; any ``OSError`` while writing or publishing raises
:class:`RecordingError` whose message says what happened and what to do, and leaves nothing behind (the
temporary file and anything already published of the clip are removed).

Frames are encoded on a background thread (:class:`ClipRecorder` with ``threaded=True``, the default), so a
capture thread that calls :meth:`ClipRecorder.write` is never held up by the encoder; when the encoder falls
more than ``max_queue`` frames behind, frames are dropped and counted.

Qt-free (numpy + cv2 only).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "DEFAULT_CAPTURES_DIR",
    "LABELS",
    "ClipMeta",
    "ClipRecorder",
    "RecordedClip",
    "RecordingError",
    "atomic_write_bytes",
    "describe_os_error",
    "default_clip_name",
    "remove_partials",
]

LABELS = ("live", "print", "replay", "other")
DEFAULT_CAPTURES_DIR = Path.home() / "livenessapp-captures"
PARTIAL_SUFFIX = ".partial"
_FOURCC = "mp4v"  # MPEG-4 Part 2: the encoder every opencv wheel ships (no H.264 encoder in the wheels)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class RecordingError(RuntimeError):
    """A recording could not be written or published; nothing of it was left on disk."""


def describe_os_error(exc: BaseException, folder: str | os.PathLike, what: str = "the recording") -> str:
    """A sentence for the user about a failed write in ``folder``: what happened and what to do."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return (
            f"the disk is full ({folder}): {what} was not saved. Free some space or choose another folder "
            "on a disk with room."
        )
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write in {folder}: {what} was not saved. Choose a folder you can write to."
    if isinstance(exc, OSError):
        return f"writing in {folder} failed ({exc.strerror or exc}): {what} was not saved."
    return f"{what} failed ({exc!r}) and was not saved."


@dataclass
class ClipMeta:
    """The sidecar ``<clip>.json``. The first four fields are what the training reader requires."""

    label: str
    camera: str
    time: str
    model_version: str
    fps: float
    frames: int
    width: int
    height: int
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        extra = d.pop("extra")
        d.update({k: v for k, v in extra.items() if k not in d})
        return d


@dataclass(frozen=True)
class RecordedClip:
    video: Path
    sidecar: Path
    meta: ClipMeta
    dropped: int = 0


def default_clip_name(label: str, when: datetime | None = None) -> str:
    """``<label>-YYYYmmdd-HHMMSS-mmm`` (local time), e.g. ``live-20250101-120000-123``."""
    when = when or datetime.now()
    return f"{label}-{when:%Y%m%d-%H%M%S}-{when.microsecond // 1000:03d}"


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: hidden temp file in the same folder, fsync, ``os.replace``.
    On failure (``OSError``, re-raised) the temp file is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}{PARTIAL_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def remove_partials(folder: str | Path) -> list[Path]:
    """Delete the ``.<name>.partial*`` leftovers of interrupted recordings in ``folder``; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in sorted(folder.glob(f".*{PARTIAL_SUFFIX}*")):
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


class ClipRecorder:
    """Records one labelled clip (see the module docstring). Use as a context manager or call
    :meth:`finish` / :meth:`abort` yourself::

        with ClipRecorder(folder, "live", camera="0", model_version=v, fps=30) as rec:
            for frame in frames:
                rec.write(frame)
        rec.result.video, rec.result.sidecar

    An exception inside the ``with`` block aborts (temp file deleted, nothing final written). The frame
    size is taken from the first frame; later frames of another size are resized to it.
    """

    def __init__(
        self,
        folder: str | Path,
        label: str,
        *,
        camera: str = "",
        model_version: str = "",
        fps: float = 30.0,
        name: str | None = None,
        extra: dict | None = None,
        threaded: bool = True,
        max_queue: int = 90,
        min_free_mb: float = 64.0,
    ):
        label = str(label).strip().lower()
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {label!r}")
        if not fps or fps <= 0 or not np.isfinite(fps):
            fps = 30.0
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.label = label
        self.camera = str(camera)
        self.model_version = str(model_version)
        self.fps = float(fps)
        self.extra = dict(extra or {})
        self.started = datetime.now().astimezone()
        self.name = name or default_clip_name(label, self.started)
        if not _SAFE_NAME.match(self.name):
            raise ValueError(f"clip name {self.name!r} must be a plain file name")
        self.video_path = self.folder / f"{self.name}.mp4"
        self.sidecar_path = self.folder / f"{self.name}.json"
        if self.video_path.exists() or self.sidecar_path.exists():
            raise FileExistsError(f"{self.video_path} or its sidecar exists already")
        self.partial_path = self.folder / f".{self.name}{PARTIAL_SUFFIX}.mp4"
        self.min_free_bytes = int(min_free_mb * 1024 * 1024)
        self._space_check_every = max(1, int(round(self.fps)))  # frames: about once a second of video
        self.frames = 0
        self.dropped = 0
        self.size: tuple[int, int] | None = None  # (width, height)
        self.result: RecordedClip | None = None
        self._writer: cv2.VideoWriter | None = None
        self._closed = False
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._queue: queue.Queue | None = queue.Queue(maxsize=max_queue) if threaded else None
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name=f"recorder-{self.name}", daemon=True)
            self._thread.start()

    # -- writing ---------------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds of video written so far (frames / fps)."""
        return self.frames / self.fps

    @property
    def is_open(self) -> bool:
        return not self._closed

    @property
    def failed(self) -> bool:
        """True once writing failed (the next :meth:`write` / :meth:`finish` raises :class:`RecordingError`)."""
        return self._error is not None

    @property
    def error_message(self) -> str:
        return (
            ""
            if self._error is None
            else describe_os_error(self._error, self.folder, f"the clip {self.name}")
        )

    def write(self, frame_bgr: np.ndarray) -> bool:
        """Queue (threaded) or encode one BGR uint8 frame; False when it was dropped or the clip is closed."""
        if self._closed:
            return False
        if self._error is not None:
            raise RecordingError(self.error_message) from self._error
        if self._queue is None:
            try:
                self._encode(frame_bgr)
            except Exception as e:
                self._error = e
                raise RecordingError(self.error_message) from e
            return True
        try:
            self._queue.put_nowait(np.array(frame_bgr, copy=True))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def _check_free_space(self) -> None:
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError:
            return
        if free < self.min_free_bytes:
            raise OSError(
                errno.ENOSPC,
                f"only {free / 1e6:.0f} MB free, less than the {self.min_free_bytes / 1e6:.0f} MB kept free",
                os.fspath(self.folder),
            )

    def _encode(self, frame: np.ndarray) -> None:
        if self.frames % self._space_check_every == 0:
            self._check_free_space()
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
        with self._lock:
            if self._writer is None:
                h, w = frame.shape[:2]
                self.size = (w, h)
                writer = cv2.VideoWriter(
                    str(self.partial_path), cv2.VideoWriter_fourcc(*_FOURCC), self.fps, (w, h)
                )
                if not writer.isOpened():
                    writer.release()
                    raise OSError(errno.EIO, "cannot open a video writer", os.fspath(self.partial_path))
                self._writer = writer
            w, h = self.size
            if frame.shape[1] != w or frame.shape[0] != h:
                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            self._writer.write(frame)
            self.frames += 1

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._error is not None:
                continue
            try:
                self._encode(frame)
            except BaseException as e:  # surfaced by write() / finish()
                self._error = e

    def _stop_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            assert self._queue is not None
            self._queue.put(None)
            self._thread.join()

    # -- finishing -------------------------------------------------------------------------------------
    def finish(self) -> RecordedClip:
        """Flush, close, fsync and publish ``<clip>.mp4`` then ``<clip>.json``. Raises :class:`RecordingError`
        (a ``RuntimeError``) when no frame came or writing failed; then nothing of the clip is left."""
        if self._closed:
            if self.result is None:
                raise RecordingError(f"recording {self.name} was aborted")
            return self.result
        self._closed = True
        self._stop_thread()
        if self._error is not None:
            self._discard()
            raise RecordingError(self.error_message) from self._error
        if self._writer is None or self.frames == 0:
            self._discard()
            raise RecordingError(f"recording {self.name} has no frames: nothing was saved")
        try:
            return self._publish()
        except OSError as e:
            self._error = e
            self._discard()
            for p in (self.video_path, self.sidecar_path):  # roll back what was published already
                with contextlib.suppress(OSError):
                    p.unlink()
            raise RecordingError(self.error_message) from e

    def _publish(self) -> RecordedClip:
        with self._lock:
            self._writer.release()
            self._writer = None
        _fsync_file(self.partial_path)
        os.replace(self.partial_path, self.video_path)
        _fsync_dir(self.folder)
        w, h = self.size or (0, 0)
        meta = ClipMeta(
            label=self.label,
            camera=self.camera,
            time=self.started.isoformat(timespec="seconds"),
            model_version=self.model_version,
            fps=self.fps,
            frames=self.frames,
            width=w,
            height=h,
            extra={**self.extra, "duration_s": round(self.frames / self.fps, 3), "dropped": self.dropped},
        )
        atomic_write_bytes(self.sidecar_path, (json.dumps(meta.to_dict(), indent=2) + "\n").encode())
        self.result = RecordedClip(self.video_path, self.sidecar_path, meta, self.dropped)
        return self.result

    def abort(self) -> None:
        """Stop and delete the temporary file; nothing final is written."""
        if self._closed:
            return
        self._closed = True
        self._stop_thread()
        self._discard()

    def _discard(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.release()
                self._writer = None
        with contextlib.suppress(OSError):
            self.partial_path.unlink()

    def __enter__(self) -> ClipRecorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()

    def __del__(self):  # pragma: no cover - best effort: never leave an encoder thread behind
        with contextlib.suppress(Exception):
            if not self._closed:
                self.abort()


def wait_frames(recorder: ClipRecorder, count: int, timeout: float = 5.0) -> bool:
    """Wait until the background encoder has written ``count`` frames (tests, tools)."""
    deadline = time.monotonic() + timeout
    while recorder.frames < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
