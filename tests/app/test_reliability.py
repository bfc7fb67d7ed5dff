"""Reliability: bad input, faults and long runs; privacy and integrity (issue 10).

Every bad input gets a clear message (what was wrong, what to do) and the app keeps running. Hardware
and disk faults are injected: a fake ``cv2.VideoCapture`` stands in for a camera that is absent, busy or
unplugged mid-run; a fake mesh for faces that come, go, shrink and multiply; a fake video writer, ``open``
and ``os.write`` for a full disk.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from livenessapp import sources as sources_module
from livenessapp.cli import main
from livenessapp.engine import EngineConfig, LivenessEngine, Pipeline, analyze_video
from livenessapp.face import FaceMeshTracker
from livenessapp.integrity import CardStatus, IntegrityError, check_model, verify_model_card
from livenessapp.kiosk import AuditLog, AuditLogError, KioskEvent, KioskOutcome
from livenessapp.paths import DEMO_CLIP
from livenessapp.quality import MAX_SIDE, Quality, check_frame
from livenessapp.recording import ClipRecorder, RecordingError, atomic_write_bytes
from livenessapp.sources import (
    Backoff,
    CameraSource,
    Frame,
    FrameFolderSource,
    FrameSource,
    SourceError,
    SourceLost,
    VideoFileSource,
    open_source,
)
from livenessapp.tracking import PrimaryFaceTracker


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# --------------------------------------------------------------------------------------------------------
# Camera: absent, busy, unplugged mid-run (a fake cv2.VideoCapture)
# --------------------------------------------------------------------------------------------------------
class FakeDevice:
    """A webcam that can be absent, busy (opens, no frames) or unplugged / plugged back at will."""

    def __init__(self, present=True, busy=False):
        self.present, self.busy = present, busy
        self.opens = 0
        self.reads = 0
        self.image = np.full((120, 160, 3), 90, np.uint8)


class FakeCapture:
    device: FakeDevice

    def __init__(self, index, backend=None):
        self.device.opens += 1
        self._open = self.device.present

    def isOpened(self):  # noqa: N802 - OpenCV API
        return self._open

    def read(self):
        d = self.device
        d.reads += 1
        if not self._open or not d.present or d.busy:
            return False, None
        time.sleep(1 / 60)  # a camera delivers in real time
        return True, d.image.copy()

    def set(self, prop, value):
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FPS: 30.0, cv2.CAP_PROP_FRAME_WIDTH: 160, cv2.CAP_PROP_FRAME_HEIGHT: 120}.get(
            prop, 0.0
        )

    def getBackendName(self):  # noqa: N802 - OpenCV API
        return "FAKE"

    def release(self):
        self._open = False


@pytest.fixture
def camera(monkeypatch) -> FakeDevice:
    device = FakeDevice()
    capture = type("BoundFakeCapture", (FakeCapture,), {"device": device})
    monkeypatch.setattr(sources_module.cv2, "VideoCapture", capture)
    return device


class NoFaceMesh:
    """Mesh stand-in that never finds a face (keeps camera tests fast and model-free in the tracker)."""

    def process(self, frame):
        return []

    def close(self):
        pass


def test_camera_absent_says_what_to_do(camera):
    camera.present = False
    with pytest.raises(SourceError, match="livenessapp cameras"):
        open_source("0")


def test_camera_busy_says_another_program_holds_it(camera):
    camera.busy = True
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="used by another program|in use by another program"):
        CameraSource(0, first_frame_timeout_s=0.2)
    assert time.monotonic() - t0 < 5


def test_camera_lost_raises_source_lost_and_reconnect_brings_it_back(camera):
    src = CameraSource(0, lost_after_s=0.1)
    assert src.read() is not None and src.read() is not None
    camera.present = False
    with pytest.raises(SourceLost, match="stopped delivering frames"):
        src.read()
    assert src.reconnect() is False
    camera.present = True
    assert src.reconnect() is True
    frame = src.read()
    assert frame is not None and frame.discontinuity and src.reconnects == 1
    assert not src.read().discontinuity
    src.close()
    assert src.read() is None


def test_backoff_schedule():
    assert list(Backoff(0.5, 2.0, 3.0, attempts=5).delays()) == [0.5, 1.0, 2.0, 3.0, 3.0]
    forever = Backoff().delays()
    assert [next(forever) for _ in range(8)][-1] == 10.0


def test_engine_reconnects_an_unplugged_camera_with_visible_state(camera, tiny_model):
    src = CameraSource(0, lost_after_s=0.1, backoff=Backoff(0.1, 2.0, 0.2))
    engine = LivenessEngine(tiny_model, src, EngineConfig(), tracker=PrimaryFaceTracker(mesh=NoFaceMesh()))
    notices, frames, stats = [], [], []
    engine.subscribe(on_error=notices.append, on_frame=frames.append, on_stats=stats.append)
    engine.start()
    try:
        assert _wait(lambda: len(frames) >= 5)
        camera.present = False  # unplugged
        assert _wait(lambda: sum(n.kind == "reconnecting" for n in notices) >= 2)
        assert engine.state.startswith("reconnecting (attempt")
        assert engine.stats().state == engine.state
        first = next(n for n in notices if n.kind == "reconnecting")
        assert "camera 0" in str(first) and "attempt 1, next in 0.1 s" in str(first) and not first.fatal
        assert engine.running
        camera.present = True  # plugged back
        assert _wait(lambda: any(n.kind == "reconnected" for n in notices))
        seen = len(frames)
        assert _wait(lambda: len(frames) >= seen + 5)
        assert engine.state == "running" and src.reconnects == 1
    finally:
        engine.close()
    assert engine.end_reason == "stopped"
    assert not any(e.fatal for e in engine.errors)


def test_engine_gives_up_after_the_last_attempt(camera, tiny_model):
    src = CameraSource(0, lost_after_s=0.05, backoff=Backoff(0.05, 1.0, 0.05, attempts=2))
    engine = LivenessEngine(tiny_model, src, EngineConfig(), tracker=PrimaryFaceTracker(mesh=NoFaceMesh()))
    errors = []
    engine.subscribe(on_error=errors.append)
    engine.start()
    assert _wait(lambda: src._index >= 2)
    camera.present = False
    assert engine.wait(20)
    engine.close()
    assert engine.end_reason == "error"
    assert [e.kind for e in errors].count("reconnecting") == 2
    assert errors[-1].fatal and "stopped delivering frames" in str(errors[-1])


def test_run_headless_shows_the_reconnect_state(camera, tiny_model_path, capsys):
    def unplug_for_a_while():
        time.sleep(1.0)
        camera.present = False
        time.sleep(2.0)
        camera.present = True

    threading.Thread(target=unplug_for_a_while, daemon=True).start()
    rc = main(["run", "--headless", "--source", "0", "--duration", "6", "--model", str(tiny_model_path)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "reconnecting (attempt 1, next in 0.5 s)" in err
    assert "camera 0 is back" in err


# --------------------------------------------------------------------------------------------------------
# Video files: missing, empty, not a video, truncated, corrupt
# --------------------------------------------------------------------------------------------------------
def _avi(path: Path, n: int = 30, size=(160, 120)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8))
    writer.release()
    return path


@pytest.fixture
def bad_videos(tmp_path) -> dict[str, Path]:
    good = _avi(tmp_path / "good.avi")
    data = good.read_bytes()
    out = {"missing": tmp_path / "missing.mp4", "good": good}
    out["empty"] = tmp_path / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["text"] = tmp_path / "notes.mp4"
    out["text"].write_text("these are notes, not a video\n" * 20)
    out["truncated"] = tmp_path / "truncated.avi"
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["truncated_mp4"] = tmp_path / "truncated.mp4"
    out["truncated_mp4"].write_bytes(DEMO_CLIP.read_bytes()[:200_000])
    damaged = bytearray(DEMO_CLIP.read_bytes())
    damaged[len(damaged) // 3 : len(damaged) // 3 + 200_000] = bytes(200_000)
    out["corrupt"] = tmp_path / "corrupt.mp4"
    out["corrupt"].write_bytes(bytes(damaged))
    return out


def test_bad_video_files_have_clear_messages(bad_videos):
    with pytest.raises(SourceError, match="no such file"):
        open_source(bad_videos["missing"])
    with pytest.raises(SourceError, match=r"empty \(0 bytes\).*again"):
        open_source(bad_videos["empty"])
    for name in ("text", "truncated_mp4"):
        with pytest.raises(SourceError, match="cannot decode.*not a video.*truncated or damaged"):
            open_source(bad_videos[name])


def test_truncated_video_is_read_up_to_the_damage_and_reported(bad_videos):
    src = open_source(bad_videos["truncated"])
    frames = list(src)
    assert 0 < len(frames) < 30
    (problem,) = src.problems
    assert f"ended after {len(frames)} of the 30 frames" in problem and "truncated" in problem


def test_corrupt_stretch_is_skipped_with_a_gap_marker(bad_videos):
    src = open_source(bad_videos["corrupt"])
    frames = list(src)
    assert 300 < len(frames) < src.frame_count
    assert any("undecodable frame(s) skipped" in p for p in src.problems)
    gap = next(i for i, f in enumerate(frames) if f.discontinuity)
    assert frames[gap].timestamp_s - frames[gap - 1].timestamp_s > 1.5 / src.fps  # time jumps the gap
    assert all(b.timestamp_s > a.timestamp_s for a, b in zip(frames, frames[1:], strict=False))


def test_looping_a_truncated_file_reports_once(bad_videos):
    src = VideoFileSource(bad_videos["truncated"], loop=True)
    frames = [src.read() for _ in range(40)]
    assert all(f is not None for f in frames) and len(src.problems) == 1


def test_analyze_reports_each_bad_input_and_processes_the_others(bad_videos, tiny_model_path, capsys):
    names = ["missing", "empty", "text", "good", "truncated"]
    rc = main(["analyze", *(str(bad_videos[n]) for n in names), "--model", str(tiny_model_path)])
    out, err = capsys.readouterr()
    lines = _lines(out)
    assert rc == 1 and [line["path"] for line in lines] == [str(bad_videos[n]) for n in names]
    for n in ("missing", "empty", "text"):
        assert "error" in lines[names.index(n)] and bad_videos[n].name in err
    good, truncated = lines[3], lines[4]
    assert "error" not in good and good["frames"] == 30
    assert "error" not in truncated and "truncated" in truncated["problems"][0]
    assert "truncated" in err  # the warning is on stderr too
    # a uniformly grey clip: no face, and the note says why not (no contrast in the frames)
    assert good["windows"] == 0 and "no face found" in good["note"]


# --------------------------------------------------------------------------------------------------------
# Frame folders: mixed sizes, unreadable files
# --------------------------------------------------------------------------------------------------------
def test_folder_takes_the_common_size_when_the_first_frame_is_odd(tmp_path):
    cv2.imwrite(str(tmp_path / "f0.png"), np.zeros((50, 60, 3), np.uint8))
    for i in range(1, 5):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((40, 80, 3), i * 20, np.uint8))
    (tmp_path / "f5.png").write_bytes(b"\x89PNG broken")
    src = open_source(tmp_path)
    assert src.size == (80, 40)
    frames = list(src)
    assert len(frames) == 4 and all(f.image_bgr.shape == (40, 80, 3) for f in frames)
    assert any("f0.png is 60x50" in p and "one size" in p for p in src.problems)
    assert any("unreadable image skipped: f5.png" in p for p in src.problems)


def test_folder_of_unreadable_files_fails_clearly_and_a_vanished_loop_ends(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(b"no jpeg")
    with pytest.raises(SourceError, match="none of the 3 images.*could be read"):
        list(open_source(tmp_path))
    good = tmp_path / "good"
    good.mkdir()
    for i in range(3):
        cv2.imwrite(str(good / f"{i}.png"), np.zeros((32, 32, 3), np.uint8))
    src = FrameFolderSource(good, loop=True)
    assert src.read() is not None
    shutil.rmtree(good)  # the folder goes away mid-run: the loop ends instead of spinning
    assert all(src.read() is None for _ in range(2))
    assert len(src.problems) == 3


# --------------------------------------------------------------------------------------------------------
# Frame quality: dark, overexposed, blank, tiny, grayscale, huge
# --------------------------------------------------------------------------------------------------------
def test_check_frame_hints(grace_hopper_bgr):
    face = np.ascontiguousarray(grace_hopper_bgr)
    assert check_frame(face).ok and check_frame(face).image is face  # no copy when nothing to do
    assert check_frame(np.zeros((480, 640, 3), np.uint8)).issue is Quality.BLANK
    assert check_frame((face * 0.12).astype(np.uint8)).issue is Quality.TOO_DARK
    bright = np.clip(face.astype(np.int32) * 3 + 60, 0, 255).astype(np.uint8)
    assert check_frame(bright).issue is Quality.OVEREXPOSED
    tiny = check_frame(cv2.resize(face, (48, 56)))
    assert tiny.issue is Quality.FRAME_TOO_SMALL and "320x240" in tiny.issue.value
    assert "dark" in Quality.TOO_DARK.value and "light" in Quality.TOO_DARK.value


@pytest.mark.parametrize(
    "make",
    [
        lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY),
        lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[..., None],
        lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2BGRA),
        lambda f: f.astype(np.uint16) * 257,
        lambda f: f.astype(np.float32) / 255.0,
    ],
    ids=["gray", "gray1", "bgra", "uint16", "float01"],
)
def test_check_frame_converts_to_bgr_uint8(grace_hopper_bgr, make):
    c = check_frame(make(np.ascontiguousarray(grace_hopper_bgr)))
    assert c.image.dtype == np.uint8 and c.image.shape == grace_hopper_bgr.shape and c.notes
    assert abs(c.brightness - check_frame(grace_hopper_bgr).brightness) < 3


def test_check_frame_downscales_huge_and_rejects_non_images():
    huge = np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), np.uint8)
    c = check_frame(huge)
    assert max(c.image.shape[:2]) == MAX_SIDE and c.scale == pytest.approx(MAX_SIDE / 4000)
    assert c.original_size == (4000, 3000) and "downscaled" in c.notes[0]
    for bad in (np.zeros((0, 5, 3), np.uint8), np.zeros((4, 4, 2), np.uint8), np.zeros(5, np.uint8)):
        with pytest.raises(ValueError, match="not an image"):
            check_frame(bad)


class ListSource(FrameSource):
    def __init__(self, images, fps=30.0):
        super().__init__("list")
        self.images, self.fps = images, fps

    def read(self):
        if self._index >= len(self.images):
            return None
        i = self._index
        self._index += 1
        return Frame(i, i / self.fps, self.images[i])


def test_pipeline_tracks_gray_and_huge_frames_and_hints_darkness(tiny_model, grace_hopper_bgr):
    face = np.ascontiguousarray(grace_hopper_bgr)
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    huge = cv2.resize(face, (face.shape[1] * 5, face.shape[0] * 5))
    pipe = Pipeline(tiny_model, EngineConfig())
    try:
        r_gray = pipe.step(Frame(0, 0.0, gray)).frame
        assert r_gray.box is not None and r_gray.frame.shape == face.shape
        pipe.reset()
        r_huge = pipe.step(Frame(1, 0.1, huge)).frame
        assert r_huge.box is not None and max(r_huge.frame.shape[:2]) == MAX_SIDE
        pipe.reset()
        r_dark = pipe.step(Frame(2, 0.2, np.full((480, 640, 3), 8, np.uint8))).frame
        assert r_dark.hint_code == "BLANK" and "lens" in r_dark.hint and r_dark.quality == ("BLANK",)
    finally:
        pipe.close()


# --------------------------------------------------------------------------------------------------------
# Faces: none, several, too small, leaving mid-window
# --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hopper_face(grace_hopper_bgr):
    mesh = FaceMeshTracker(max_faces=1, static_image_mode=True)
    try:
        (face,) = mesh.process(np.ascontiguousarray(grace_hopper_bgr))
    finally:
        mesh.close()
    return face


class ScriptedMesh:
    """Returns the scripted faces per frame: a list of face-list per call."""

    def __init__(self, script):
        self.script = list(script)

    def process(self, frame):
        return self.script.pop(0) if self.script else []

    def close(self):
        pass


def _scaled(face, factor: float, dx: float = 0.0):
    from livenessapp.face import FaceObservation

    lm = face.landmarks.copy()
    cx, cy = face.center
    lm[:, 0] = (lm[:, 0] - cx) * factor + cx + dx
    lm[:, 1] = (lm[:, 1] - cy) * factor + cy
    lm[:, 2] = lm[:, 2] * factor
    return FaceObservation.from_landmarks(lm)


def test_no_several_small_and_leaving_faces(tiny_model, grace_hopper_bgr, hopper_face):
    image = np.ascontiguousarray(grace_hopper_bgr)
    small = _scaled(hopper_face, 0.15)
    other = _scaled(hopper_face, 0.5, dx=-150)
    f = [hopper_face]
    script = [[], f, f, f, f, f, f, [], f, [hopper_face, other], [small], [small]]
    tracker = PrimaryFaceTracker(mesh=ScriptedMesh(script))
    pipe = Pipeline(tiny_model, EngineConfig(interval=1), tracker=tracker)
    try:
        res = [pipe.step(Frame(i, i / 30, image)).frame for i in range(len(script))]
    finally:
        pipe.close()
    codes = [r.hint_code for r in res]
    fills = [r.fill for r in res]
    assert codes[0] == "NO_FACE" and "look into the camera" in res[0].hint
    assert fills[1:7] == [1, 2, 3, 4, 4, 4]  # Nf = 4 (windows scored from the 4th frame on)
    assert codes[7] == "NO_FACE" and fills[7] == 0  # the face left mid-run: the buffer restarts
    assert fills[8] == 1
    assert codes[9] == "SEVERAL_FACES" and res[9].sampled and fills[9] == 2  # the primary one is judged
    assert codes[10] == "TOO_SMALL" and "move closer" in res[10].hint and not res[10].sampled
    assert fills[10] == 0 and fills[11] == 0


# --------------------------------------------------------------------------------------------------------
# Model: bad metadata, CUDA unavailable, NaN output
# --------------------------------------------------------------------------------------------------------
def _copy_group(src: Path, dst_dir: Path, name: str = "m") -> Path:
    from livenessapp.integrity import group_files

    for p in group_files(src):
        if p.is_file():
            shutil.copy(p, dst_dir / p.name.replace(src.name[: -len(".onnx")], name, 1))
    return dst_dir / f"{name}.onnx"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("livenessapp.format", "9", "format"),
        ("livenessapp.normalization", "{not json", "malformed"),
        ("livenessapp.num_frames", "1", "implausible|num_frames"),
    ],
)
def test_wrong_metadata_is_refused_with_a_message(tiny_model_path, tmp_path, key, value, message):
    onnx = pytest.importorskip("onnx")
    from livenessapp.model import LivenessModel, ModelError

    full = _copy_group(tiny_model_path, tmp_path)
    m = onnx.load(str(full))
    for p in m.metadata_props:
        if p.key == key:
            p.value = value
    onnx.save(m, str(full))
    with pytest.raises(ModelError, match=message):
        LivenessModel.load(full)


def test_cuda_unavailable_falls_back_with_the_reason(tiny_model_path, hopper_video, capsys, no_working_cuda):
    rc = main(["analyze", str(hopper_video), "--provider", "cuda", "--model", str(tiny_model_path)])
    out, err = capsys.readouterr()
    assert rc == 0 and _lines(out)[0]["provider"] == "cpu"
    warning = next(line for line in err.splitlines() if "'cuda' is not available" in line)
    assert "running on 'cpu'" in warning
    assert "CUDAExecutionProvider" in warning or "could not be loaded" in warning  # why


class NaNModel:
    """The real model whose every window scores NaN (fault injection)."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def temporal(self, *args, **kwargs):
        out = self._model.temporal(*args, **kwargs)
        out.score = out.score * np.nan
        return out


def test_nan_windows_are_discarded_and_reported_and_the_analysis_goes_on(tiny_model, hopper_video):
    res = analyze_video(NaNModel(tiny_model), hopper_video)
    assert res.frames == 30 and res.windows == [] and res.score is None
    assert res.errors and all(e.kind == "model_output" and "discarded" in str(e) for e in res.errors)


# --------------------------------------------------------------------------------------------------------
# Integrity: SHA-256 against the model card
# --------------------------------------------------------------------------------------------------------
def _write_card(full: Path) -> Path:
    from livenessapp_training.export_cli import model_card

    name = full.name[: -len(".onnx")]
    text = model_card(name, full.parent, {}, {}, {}, None, 0.5, None, [], "ckpt.pt")
    card = full.with_name(f"{name}.md")
    card.write_text(text)
    return card


def test_model_card_verification(tiny_model_path, tmp_path):
    full = _copy_group(tiny_model_path, tmp_path)
    missing = verify_model_card(full)
    assert missing.status is CardStatus.MISSING_CARD and "m.md" in missing.message
    card = _write_card(full)
    ok = verify_model_card(full)
    assert ok.ok and ok.sha256 == sha256_of(full) and set(ok.expected) >= {"m.onnx", "m.encoder.onnx"}
    card.write_text(card.read_text().replace(sha256_of(full.with_name("m.encoder.onnx")), "0" * 64))
    bad = verify_model_card(full)
    assert bad.status is CardStatus.MISMATCH and bad.mismatched == ("m.encoder.onnx",)
    with pytest.raises(IntegrityError, match="m.encoder.onnx.*does not match.*--allow-unverified"):
        check_model(full)
    assert check_model(full, allow_unverified=True).status is CardStatus.MISMATCH
    card.write_text("# a card without the files table\n")
    assert verify_model_card(full).status is CardStatus.INCOMPLETE


def sha256_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_headless_refuses_a_mismatching_model_unless_allowed(tiny_model_path, hopper_video, tmp_path, capsys):
    full = _copy_group(tiny_model_path, tmp_path)
    card = _write_card(full)
    assert main(["analyze", str(hopper_video), "--model", str(full)]) == 0
    assert _lines(capsys.readouterr().out)[0]["model_card"] == "ok"
    card.write_text(card.read_text().replace(sha256_of(full), "f" * 64))
    rc = main(["analyze", str(hopper_video), "--model", str(full)])
    out, err = capsys.readouterr()
    assert rc == 2 and "does not match the SHA-256" in err and "--allow-unverified" in err
    rc = main(["analyze", str(hopper_video), "--model", str(full), "--allow-unverified"])
    out, err = capsys.readouterr()
    assert rc == 0 and _lines(out)[0]["model_card"] == "mismatch" and "warning" in err
    card.unlink()
    assert main(["analyze", str(hopper_video), "--model", str(full)]) == 0
    out, err = capsys.readouterr()
    assert _lines(out)[0]["model_card"] == "missing-card" and "no model card m.md" in err


def test_gui_glue_checks_the_card(tiny_model_path, tmp_path):
    from livenessapp.gui import engine_glue

    full = _copy_group(tiny_model_path, tmp_path)
    card = _write_card(full)
    card.write_text(card.read_text().replace(sha256_of(full), "e" * 64))
    with pytest.raises(IntegrityError):
        engine_glue.load_model(full, "cpu")
    model = engine_glue.load_model(full, "cpu", allow_unverified=True)
    assert model.integrity.status is CardStatus.MISMATCH and any("SHA-256" in w for w in model.warnings)
    with pytest.raises(IntegrityError):  # the cached model is not handed out unverified
        engine_glue.load_model(full, "cpu")


# --------------------------------------------------------------------------------------------------------
# Data safety: a full disk while recording or auditing
# --------------------------------------------------------------------------------------------------------
class FullDiskWriter:
    """cv2.VideoWriter stand-in whose disk fills up after ``ok_frames`` frames."""

    ok_frames = 3

    def __init__(self, path, fourcc, fps, size):
        self.path, self.frames = Path(path), 0
        self.path.write_bytes(b"partial")

    def isOpened(self):  # noqa: N802 - OpenCV API
        return True

    def write(self, frame):
        if self.frames >= self.ok_frames:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        self.frames += 1

    def release(self):
        pass


@pytest.mark.parametrize("threaded", [True, False])
def test_full_disk_while_recording_is_reported_and_leaves_nothing(tmp_path, monkeypatch, threaded):
    import livenessapp.recording as recording

    monkeypatch.setattr(recording.cv2, "VideoWriter", FullDiskWriter)
    rec = ClipRecorder(tmp_path, "live", threaded=threaded)
    with pytest.raises(RecordingError, match="disk is full"):  # raised by write() once the encoder failed
        for _ in range(50):
            rec.write(np.zeros((24, 32, 3), np.uint8))
            time.sleep(0.01)
    assert rec.failed and "Free some space" in rec.error_message
    with pytest.raises(RecordingError, match="disk is full"):
        rec.finish()
    assert list(tmp_path.iterdir()) == []


def test_low_free_space_stops_the_recording(tmp_path, monkeypatch):
    import livenessapp.recording as recording

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(recording.shutil, "disk_usage", lambda p: usage._replace(free=10 * 1024 * 1024))
    rec = ClipRecorder(tmp_path, "print", threaded=False, min_free_mb=64)
    with pytest.raises(RecordingError, match="disk is full"):
        rec.write(np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(RecordingError):
        rec.finish()
    assert list(tmp_path.iterdir()) == []


def test_full_disk_on_the_sidecar_rolls_the_clip_back(tmp_path, monkeypatch):
    import builtins

    import livenessapp.recording as recording

    real_open = builtins.open

    class FullFile:
        def __init__(self, f):
            self._f = f

        def write(self, data):
            self._f.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    def fake_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FullFile(f) if str(path).endswith(".json.partial") and "w" in mode else f

    monkeypatch.setattr(recording, "open", fake_open, raising=False)
    rec = ClipRecorder(tmp_path, "replay", threaded=False)
    for _ in range(3):
        rec.write(np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(RecordingError, match="disk is full.*not saved"):
        rec.finish()
    assert list(tmp_path.iterdir()) == []  # no video without its sidecar, no temp file


def test_atomic_write_leaves_no_temp_file_on_failure(tmp_path, monkeypatch):
    import livenessapp.recording as recording

    target = tmp_path / "x.json"
    target.write_text("old")

    def failing_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recording.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.json"]


def _event():
    return KioskEvent("decision", 1.0, KioskOutcome.PASS, 0.8, 0.7, 3)


@pytest.mark.parametrize("mode", ["raise", "short"])
def test_full_disk_on_the_audit_log_leaves_no_partial_line(tmp_path, monkeypatch, mode):
    import livenessapp.kiosk as kiosk

    log = AuditLog(tmp_path / "audit.jsonl", model_sha256="a" * 64)
    log.append(_event(), threshold=0.5)
    before = log.path.read_bytes()
    real_write = os.write

    def full_write(fd, data):
        if mode == "raise":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data[: len(data) // 2])  # the disk filled up mid-line

    monkeypatch.setattr(kiosk.os, "write", full_write)
    with pytest.raises(AuditLogError, match="disk is full.*not saved"):
        log.append(_event(), threshold=0.5)
    assert log.path.read_bytes() == before
    monkeypatch.setattr(kiosk.os, "write", real_write)
    log.append(_event(), threshold=0.5)
    assert len(log.read()) == 2 and log.skipped_lines == 0


def test_audit_image_on_a_full_disk_leaves_neither_image_nor_line(tmp_path, monkeypatch):
    import livenessapp.kiosk as kiosk

    log = AuditLog(tmp_path / "audit.jsonl", save_images=True)
    monkeypatch.setattr(kiosk.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(AuditLogError, match="disk is full"):
        log.append(_event(), image_bgr=np.zeros((8, 8, 3), np.uint8))
    assert not log.path.exists() or log.path.read_bytes() == b""
    assert list(log.image_dir.iterdir()) == []


def test_audit_read_skips_a_torn_last_line(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(_event())
    with open(log.path, "ab") as f:
        f.write(b'{"time": "2025-01-01T00:00:00", "sco')  # power cut mid-line
    assert len(log.read()) == 1 and log.skipped_lines == 1


# --------------------------------------------------------------------------------------------------------
# Privacy: no network, no files unless the user records
# --------------------------------------------------------------------------------------------------------
@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network connection attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_analyze_and_engine_open_no_connection_and_write_no_file(
    no_network, tiny_model_path, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    rc = main(["analyze", "demo", "--model", str(tiny_model_path)])
    assert rc == 0 and _lines(capsys.readouterr().out)[0]["windows"] > 0
    from livenessapp.model import LivenessModel

    model = LivenessModel.load(tiny_model_path, provider="cpu")
    engine = LivenessEngine(model, VideoFileSource(DEMO_CLIP), EngineConfig(realtime=False))
    windows = []
    engine.subscribe(on_window=windows.append)
    engine.start()
    assert _wait(lambda: len(windows) >= 2, 60)
    engine.close()
    assert no_network == []
    assert list(tmp_path.iterdir()) == []  # nothing stored: images only when the user records


# --------------------------------------------------------------------------------------------------------
# Long runs: the soak command (a few seconds here; the 30-minute figures come from the command itself)
# --------------------------------------------------------------------------------------------------------
def test_short_soak_prints_progress_and_bounded_figures(tiny_model_path, capsys):
    rc = main(
        [
            "soak",
            "--minutes",
            "0.1",
            "--report-every",
            "2",
            "--warmup",
            "2",
            "--max-growth-mb",
            "1000",
            "--fast",
            "--model",
            str(tiny_model_path),
        ]
    )
    out, err = capsys.readouterr()
    lines = _lines(out)
    progress = [x for x in lines if x["event"] == "progress"]
    (summary,) = [x for x in lines if x["event"] == "summary"]
    assert rc == 0, err
    assert progress and {"rss_mb", "growth_mb", "dropped", "windows", "errors", "queues"} <= set(progress[0])
    assert summary["duration_s"] >= 5 and summary["windows"] > 0 and summary["frames_processed"] > 0
    for key in ("rss_start_mb", "rss_end_mb", "growth_mb", "growth_after_warmup_mb", "dropped"):
        assert isinstance(summary[key], (int, float))
    q = summary["queues_max"]
    assert q["mailbox"] <= 1 and q["buffer"] <= 4 and q["errors_kept"] <= 200
    assert "RSS growth MB" in err and "max queue sizes" in err


# --------------------------------------------------------------------------------------------------------
# The windows: reconnect state in the status bar, a full disk while recording / auditing
# --------------------------------------------------------------------------------------------------------
class StubController:
    """Engine stand-in for the windows: opens and starts without doing anything."""

    bridge = None

    def open(self, options):
        from livenessapp.gui.controller import RunInfo

        self.options = options
        return RunInfo(provider="cpu", model_threshold=0.5, num_frames=4, fps=30.0)

    def start(self):
        pass

    def stop(self):
        pass

    def reset(self):
        pass

    def set_threshold(self, t):
        pass

    def close(self):
        pass


@pytest.fixture
def gui_settings(tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from livenessapp.gui.settings import AppSettings

    monkeypatch.setenv("LIVENESSAPP_SETTINGS", str(tmp_path / "settings.ini"))
    s = AppSettings()
    s.set("captures_dir", str(tmp_path / "captures"))
    s.set("kiosk/audit_log", str(tmp_path / "audit" / "kiosk.jsonl"))
    return s


def _window(qtbot, settings, kiosk=False, **args):
    import argparse

    from livenessapp.gui.app import create_app, create_window

    create_app()
    ns = argparse.Namespace(kiosk=kiosk, source="demo", model=None, provider="cpu", threshold=None, **args)
    win = create_window(ns, settings, StubController())
    qtbot.addWidget(win)
    return win


def test_main_window_shows_reconnecting_and_stays_up(qtbot, gui_settings):
    from livenessapp.engine import EngineError

    win = _window(qtbot, gui_settings, allow_unverified=True)
    assert win.start() and win.controller.options.allow_unverified
    msg = "camera 0 stopped delivering frames ... camera 0: reconnecting (attempt 2, next in 1.0 s)"
    win._on_error(EngineError(msg, kind="reconnecting"))
    assert "reconnecting (attempt 2, next in 1.0 s)" in win.statusBar().currentMessage()
    assert win.running
    win._on_error(EngineError("camera 0 is back (reconnected)", kind="reconnected"))
    assert "is back" in win.statusBar().currentMessage() and win.running
    win.close()


def test_main_window_full_disk_while_recording_stops_it_with_a_message(qtbot, gui_settings, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    import livenessapp.recording as recording

    monkeypatch.setattr(FullDiskWriter, "ok_frames", 2)
    monkeypatch.setattr(recording.cv2, "VideoWriter", FullDiskWriter)
    win = _window(qtbot, gui_settings)
    assert win.start() and win.start_recording()
    frame = {"frame": np.zeros((24, 32, 3), np.uint8)}
    assert _wait(
        lambda: (win._record_tap(frame), getattr(win, "_recording_failure", None))[1] is not None, 10
    )
    win._update_status()  # the GUI thread's timer
    assert win.recorder is None and win.running
    boxes = [b for b in win.findChildren(QMessageBox) if b.objectName() == "errorBox"]
    assert boxes and "disk is full" in boxes[-1].text() and "Free some space" in boxes[-1].text()
    assert list((Path(gui_settings.get("captures_dir"))).iterdir()) == []
    win.close()


def test_kiosk_shows_an_audit_failure_and_keeps_going(qtbot, gui_settings, monkeypatch):
    win = _window(qtbot, gui_settings, kiosk=True)
    assert win.start() and win.audit is not None

    def full(*args, **kwargs):
        raise AuditLogError("the disk is full (audit): this decision's audit line was not written.")

    real_append = AuditLog.append
    monkeypatch.setattr(AuditLog, "append", full)
    win._handle([_event()])
    assert "Audit log not written" in win.audit_error and win.running
    win.repaint()
    monkeypatch.setattr(AuditLog, "append", real_append)
    win._handle([_event()])
    assert win.audit_error == "" and len(win.audit_records) == 1
    assert win.audit_records[0]["model_card"] == "unchecked"  # the stub has no model card check
    win._on_error(type("E", (), {"kind": "reconnecting", "fatal": False, "__str__": lambda s: "lost"})())
    assert "reconnecting" in win.error
    win._on_error(type("E", (), {"kind": "reconnected", "fatal": False, "__str__": lambda s: "back"})())
    assert win.error == ""
    win.close()


def test_build_engine_reports_the_card_status(tiny_model_path, hopper_video):
    from livenessapp.gui import engine_glue
    from livenessapp.gui.controller import RunOptions

    engine, info = engine_glue.build_engine(
        RunOptions(source=str(hopper_video), model=str(tiny_model_path), provider="cpu"), None
    )
    try:
        assert info.extra["model_card"] == "missing-card"
        assert any("no model card tiny.md" in w for w in info.extra["warnings"])
    finally:
        engine.close()
