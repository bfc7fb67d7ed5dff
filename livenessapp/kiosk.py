"""Kiosk mode without Qt: the state machine of one check per person, and the append-only audit log.

States (:class:`KioskState`)::

    WAITING ──face──▶ COLLECTING ──N windows or T seconds──▶ RESULT (PASS / FAIL, or RETRY)
       ▲                  │ face lost > lost_reset_s                │ shown result_s, or face lost > lost_reset_s
       └──────────────────┴─────────────────────────────────────────┘   (reset: the engine's buffer restarts)

* WAITING: the one large instruction "Look at the camera and turn your head slowly".
* COLLECTING: a progress ring; progress = buffer fill (k / Nf frames) for the first window, then the share
  of the ``decision_windows`` window scores collected.
* RESULT: the decision on the mean of the collected window scores (live if ``mean >= threshold``, as Eq. 18's
  threshold is applied per window), with a *confidence* = how far the mean is from the threshold, mapped to
  [0.5, 1] (0.5 at the threshold, 1 at score 1 for PASS / 0 for FAIL; a margin, not a calibrated
  probability). When the windows come with the engine's fused decision (network + motion-parallax cue,
  ``live``), PASS also needs at least half of them decided live; a FAIL that the other cue forced at a
  high mean score gets the confidence = the share of windows decided spoof. When ``decision_timeout_s`` passes with no window score at all (e.g. the face kept being
  lost by the tracker), the result is RETRY.

The machine is driven by plain calls with an explicit clock (``now`` in seconds, e.g. ``time.monotonic()``),
so it is unit-tested without sleeping: :meth:`KioskMachine.on_frame` per frame, :meth:`KioskMachine.on_window`
per window score, :meth:`KioskMachine.tick` from a timer. Each returns the :class:`KioskEvent` list it caused
(``"decision"`` -> write an audit line, ``"reset"`` -> restart the engine's buffer for the next person).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

from livenessapp.integrity import file_sha256  # the model's identity in the audit log
from livenessapp.recording import atomic_write_bytes, describe_os_error

__all__ = [
    "INSTRUCTION",
    "AuditLog",
    "AuditLogError",
    "KioskConfig",
    "KioskEvent",
    "KioskMachine",
    "KioskOutcome",
    "KioskState",
    "KioskView",
    "confidence",
    "file_sha256",
]

INSTRUCTION = "Look at the camera and turn your head slowly"


class KioskState(str, Enum):
    WAITING = "waiting"
    COLLECTING = "collecting"
    RESULT = "result"


class KioskOutcome(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    RETRY = "RETRY"


@dataclass
class KioskConfig:
    """``decision_windows``: window scores averaged per decision; ``decision_timeout_s``: longest time in
    COLLECTING (decide with what is there, RETRY if nothing); ``result_s``: how long the result shows;
    ``lost_reset_s``: face absence that resets; ``threshold``: live if mean score >= threshold."""

    threshold: float = 0.5
    decision_windows: int = 3
    decision_timeout_s: float = 12.0
    result_s: float = 5.0
    lost_reset_s: float = 2.0

    def __post_init__(self):
        if self.decision_windows < 1:
            raise ValueError("decision_windows must be >= 1")


@dataclass(frozen=True)
class KioskEvent:
    """``kind``: ``"decision"`` (``outcome``, ``score``, ``confidence``, ``windows`` set) or ``"reset"``
    (``reason``: ``"face_lost"`` | ``"result_shown"``)."""

    kind: str
    time: float
    outcome: KioskOutcome | None = None
    score: float | None = None
    confidence: float | None = None
    windows: int = 0
    reason: str = ""


@dataclass(frozen=True)
class KioskView:
    """What the kiosk screen shows now."""

    state: KioskState
    instruction: str
    progress: float  # 0..1 (COLLECTING)
    outcome: KioskOutcome | None
    confidence: float | None
    score: float | None
    face_present: bool


def confidence(score: float, threshold: float) -> float:
    """Margin confidence in [0.5, 1] of the decision ``score >= threshold`` (see the module docstring)."""
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    s = min(max(score, 0.0), 1.0)
    if s >= t:
        return 0.5 + 0.5 * (s - t) / (1 - t)
    return 0.5 + 0.5 * (t - s) / t


class KioskMachine:
    """The kiosk's state machine (see the module docstring)."""

    def __init__(self, config: KioskConfig | None = None):
        self.config = config or KioskConfig()
        self.state = KioskState.WAITING
        self.face_present = False
        self.fill = 0.0
        self.scores: list[float] = []
        self.votes: list[bool] = []  # the engine's fused per-window decisions, when given
        self.outcome: KioskOutcome | None = None
        self.result_score: float | None = None
        self.result_confidence: float | None = None
        self._state_since = 0.0
        self._last_face: float | None = None

    # -- inputs --------------------------------------------------------------------------------------
    def on_frame(self, now: float, face_present: bool, fill: float = 0.0) -> list[KioskEvent]:
        """One tracked frame: is a face there, and how full the engine's frame buffer is (k / Nf)."""
        self.face_present = bool(face_present)
        self.fill = min(max(float(fill), 0.0), 1.0)
        if face_present:
            self._last_face = now
            if self.state is KioskState.WAITING:
                self._enter(KioskState.COLLECTING, now)
        return self.tick(now)

    def on_window(self, now: float, score: float, live: bool | None = None) -> list[KioskEvent]:
        """One window score (Eq. 18; the engine's raw or smoothed score) and, optionally, the engine's fused
        decision for the window."""
        if score is None or not math.isfinite(score):
            return self.tick(now)
        if self.state is KioskState.WAITING:
            self._enter(KioskState.COLLECTING, now)
        if self.state is KioskState.COLLECTING:
            self.scores.append(float(score))
            if live is not None:
                self.votes.append(bool(live))
            if len(self.scores) >= self.config.decision_windows:
                return [self._decide(now)]
        return self.tick(now)

    def tick(self, now: float) -> list[KioskEvent]:
        """Timers: face-lost reset, decision timeout, end of the result display."""
        cfg = self.config
        lost_for = math.inf if self._last_face is None else now - self._last_face
        if self.state is KioskState.COLLECTING:
            if not self.face_present and lost_for > cfg.lost_reset_s:
                return [self._reset(now, "face_lost")]
            if now - self._state_since >= cfg.decision_timeout_s:
                return [self._decide(now)]
        elif self.state is KioskState.RESULT:
            if now - self._state_since >= cfg.result_s:
                return [self._reset(now, "result_shown")]
            if not self.face_present and lost_for > cfg.lost_reset_s:
                return [self._reset(now, "face_lost")]
        return []

    def reset(self, now: float) -> None:
        """Back to WAITING at once (operator action)."""
        self._reset(now, "manual")

    # -- output ---------------------------------------------------------------------------------------
    @property
    def progress(self) -> float:
        if self.state is KioskState.RESULT:
            return 1.0
        if self.state is not KioskState.COLLECTING:
            return 0.0
        n = self.config.decision_windows
        # the first window needs a full buffer: it is worth one share of the ring, each window one more
        return min(1.0, (self.fill if not self.scores else 1.0) / (n + 1) + len(self.scores) / (n + 1))

    def view(self) -> KioskView:
        if self.state is KioskState.RESULT:
            if self.outcome is KioskOutcome.RETRY:
                text = "Please try again"
            else:
                text = "Live face confirmed" if self.outcome is KioskOutcome.PASS else "Not a live face"
        elif self.state is KioskState.COLLECTING and not self.face_present:
            text = "Face not found: look at the camera"
        else:
            text = INSTRUCTION
        return KioskView(
            state=self.state,
            instruction=text,
            progress=self.progress,
            outcome=self.outcome,
            confidence=self.result_confidence,
            score=self.result_score,
            face_present=self.face_present,
        )

    # -- transitions ----------------------------------------------------------------------------------
    def _enter(self, state: KioskState, now: float) -> None:
        self.state = state
        self._state_since = now

    def _decide(self, now: float) -> KioskEvent:
        thr = self.config.threshold
        if self.scores:
            mean = sum(self.scores) / len(self.scores)
            outcome = KioskOutcome.PASS if mean >= thr else KioskOutcome.FAIL
            conf = confidence(mean, thr)
            if outcome is KioskOutcome.PASS and self.votes:
                spoof_share = 1.0 - sum(self.votes) / len(self.votes)
                if spoof_share > 0.5:
                    outcome, conf = KioskOutcome.FAIL, spoof_share
        else:
            mean, outcome, conf = None, KioskOutcome.RETRY, None
        self.outcome, self.result_score, self.result_confidence = outcome, mean, conf
        windows = len(self.scores)
        self._enter(KioskState.RESULT, now)
        return KioskEvent("decision", now, outcome=outcome, score=mean, confidence=conf, windows=windows)

    def _reset(self, now: float, reason: str) -> KioskEvent:
        self._enter(KioskState.WAITING, now)
        self.scores = []
        self.votes = []
        self.fill = 0.0
        self.outcome = None
        self.result_score = None
        self.result_confidence = None
        return KioskEvent("reset", now, reason=reason)


class AuditLogError(RuntimeError):
    """An audit line (or its image) could not be written; nothing partial was left in the log."""


def _lock_file(fd: int) -> None:
    """Serialise writers of one log (several kiosks on a shared file); a no-op where flock is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: O_APPEND alone
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


@dataclass
class AuditLog:
    """Append-only JSONL audit log, one line per decision, ``fsync``'d per line.

    Line: ``{"time": ISO-8601 local with offset, "score", "verdict": "PASS"|"FAIL"|"RETRY", "confidence",
    "windows", "threshold", "model": file name, "model_sha256", ...extra}``. No images unless
    ``save_images`` is set: then a face image is written next to the log (``<log stem>-images/``, atomically:
    temp file + rename) and its file name recorded as ``"image"``.

    Each line is one ``write`` on a descriptor opened with ``O_APPEND`` under an exclusive ``flock``, then
    ``fsync``'d: concurrent kiosks on one file never interleave or overwrite lines. A failed write (a full
    disk: ``ENOSPC``) truncates the log back to its previous length, removes the line's image and raises
    :class:`AuditLogError` with a message for the operator: the log never holds a partial line. A crash
    (power loss) can still tear the last line; :meth:`read` skips such a line.
    """

    path: Path
    model_sha256: str = ""
    model_name: str = ""
    save_images: bool = False
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.path = Path(self.path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.skipped_lines = 0  # torn lines met by read()

    @property
    def image_dir(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-images")

    def append(self, event: KioskEvent, threshold: float | None = None, image_bgr=None, **fields) -> dict:
        """Write one decision line; returns the record. Raises :class:`AuditLogError` when it cannot."""
        when = datetime.now().astimezone()
        record = {
            "time": when.isoformat(timespec="milliseconds"),
            "score": None if event.score is None else round(float(event.score), 6),
            "verdict": event.outcome.value if event.outcome else None,
            "confidence": None if event.confidence is None else round(float(event.confidence), 4),
            "windows": event.windows,
            "threshold": threshold,
            "model": self.model_name,
            "model_sha256": self.model_sha256,
        }
        record.update(self.extra)
        record.update(fields)
        image_path: Path | None = None
        if self.save_images and image_bgr is not None:
            image_path = self._save_image(image_bgr, when)
            record["image"] = f"{self.image_dir.name}/{image_path.name}"
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        try:
            self._append_line(line)
        except OSError as exc:
            if image_path is not None:
                with contextlib.suppress(OSError):
                    image_path.unlink()
            raise AuditLogError(describe_os_error(exc, self.path, "this decision's audit line")) from exc
        return record

    def _append_line(self, line: bytes) -> None:
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                _lock_file(fd)
                size = os.fstat(fd).st_size
                try:
                    written = os.write(fd, line)
                    if written != len(line):  # a short write: the disk filled up mid-line
                        raise OSError(
                            errno.ENOSPC, "No space left on device (short write)", os.fspath(self.path)
                        )
                    os.fsync(fd)
                except OSError:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, size)  # no partial line stays in the log
                        os.fsync(fd)
                    raise
            finally:
                os.close(fd)  # also releases the flock

    def _save_image(self, image_bgr, when: datetime) -> Path:
        import cv2

        name = f"{when:%Y%m%d-%H%M%S}-{when.microsecond // 1000:03d}.png"
        target = self.image_dir / name
        try:
            ok, data = cv2.imencode(".png", image_bgr)
            if not ok:
                raise AuditLogError(
                    f"the decision image could not be encoded (shape {getattr(image_bgr, 'shape', '?')})"
                )
            self.image_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data.tobytes())
        except OSError as exc:
            raise AuditLogError(
                describe_os_error(exc, self.image_dir, "the decision image and its audit line")
            ) from exc
        return target

    def read(self) -> list[dict]:
        """The records; a torn line (a crash mid-write) is skipped and counted in ``skipped_lines``."""
        if not self.path.exists():
            return []
        records, self.skipped_lines = [], 0
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                self.skipped_lines += 1
        return records
