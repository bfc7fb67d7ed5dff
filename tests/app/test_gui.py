"""The desktop window and the kiosk, driven through their engine interface (pytest-qt, offscreen).

The plumbing tests use ``ScriptedController``: it plays a real video in a worker thread and calls the
bridge like the engine does, with scripted window results, so they check the GUI alone and fast. The
end-to-end tests with the real engine, demo clip and model are in ``test_gui_engine.py``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from livenessapp.gui.app import create_app, create_window  # noqa: E402
from livenessapp.gui.controller import RunInfo  # noqa: E402
from livenessapp.gui.settings import AppSettings  # noqa: E402


@pytest.fixture(scope="module")
def face_video(tmp_path_factory, grace_hopper_bgr) -> str:
    """A 2 s 30 fps clip of Grace Hopper's photo drifting sideways (stand-in camera)."""
    path = tmp_path_factory.mktemp("video") / "hopper.mp4"
    h, w = 360, 480
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    face = cv2.resize(grace_hopper_bgr, (220, 258))
    for i in range(60):
        frame = np.full((h, w, 3), 60, np.uint8)
        x = 120 + int(20 * np.sin(i / 8))
        frame[50 : 50 + 258, x : x + 220] = face
        writer.write(frame)
    writer.release()
    return str(path)


class ScriptedController:
    """Engine stand-in: real frames from a video, scripted per-window results (scores in ``scores``)."""

    def __init__(
        self, video: str, scores=(0.8, 0.85, 0.9), nf: int = 5, fail: str = "", every: int = 6, parallax=None
    ):
        self.video, self.scores, self.nf, self.fail, self.every = video, list(scores), nf, fail, every
        self.parallax = (
            None if parallax is None else list(parallax)
        )  # scripted parallax scores (None: no verdict)
        self.bridge = None
        self.resets = 0
        self.threshold = None
        self.fusion_rule = None
        self.fusion_rule_calls: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.opened = None

    def open(self, options):
        if self.fail:
            raise FileNotFoundError(self.fail)
        self.opened = options
        self.fusion_rule = options.fusion_rule
        return RunInfo(
            provider="cpu", model_threshold=0.6, num_frames=self.nf, model_version="scripted-1", fps=30.0
        )

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        cap = cv2.VideoCapture(self.video)
        i = w = 0
        d = 32
        yy, xx = np.mgrid[:d, :d]
        bump = np.clip(1 - ((xx - 16) ** 2 + (yy - 16) ** 2) / 180, 0, 1).astype(np.float32)
        while not self._stop.is_set():
            ok, frame = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            k = min(i % (self.nf * self.every) // self.every + 1, self.nf) if w == 0 else self.nf
            self.bridge.on_frame(
                {
                    "frame": frame,
                    "index": i,
                    "box": (130, 60, 340, 300),
                    "fill": k,
                    "num_frames": self.nf,
                    "hint": "",
                    "tracking_ms": 3.0,
                }
            )
            if i % self.every == self.every - 1 and k == self.nf:
                s = self.scores[w % len(self.scores)]
                crop = cv2.cvtColor(cv2.resize(frame[60:300, 130:340], (64, 64)), cv2.COLOR_BGR2RGB)
                extra = {}
                if self.parallax is not None:
                    par = self.parallax[w % len(self.parallax)]
                    planar = par is not None and par < 0.29
                    state = "insufficient_motion" if par is None else "ok"
                    extra = {
                        "parallax": {"state": state, "score": par, "threshold": 0.29},
                        "fusion": {"rule": self.fusion_rule, "reason": "planar motion" if planar else "live"},
                        "network_live": s >= 0.6,
                        "live": s >= 0.6 and not planar,
                    }
                self.bridge.on_window(
                    {
                        **extra,
                        "index": w,
                        "crops": [crop] * self.nf,
                        "depth_single": np.stack([bump] * self.nf)[:, None],
                        "depth_fusion": np.stack([bump] * (self.nf - 1))[:, None],
                        "masks": np.stack([bump > 0] * self.nf),
                        "p_live": s,
                        "depth_score": s / 2,
                        "score": s,
                        "inference_ms": 9.0,
                    }
                )
                w += 1
            i += 1
            time.sleep(1 / 120)
        cap.release()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def reset(self):
        self.resets += 1

    def set_threshold(self, t):
        self.threshold = t

    def set_fusion_rule(self, rule):
        self.fusion_rule = rule
        self.fusion_rule_calls.append(rule)

    def close(self):
        self.stop()


@pytest.fixture
def settings(tmp_path, monkeypatch) -> AppSettings:
    monkeypatch.setenv("LIVENESSAPP_SETTINGS", str(tmp_path / "settings.ini"))
    s = AppSettings()
    s.set("captures_dir", str(tmp_path / "captures"))
    s.set("kiosk/audit_log", str(tmp_path / "audit" / "kiosk.jsonl"))
    s.set("kiosk/result_s", 1.0)
    return s


def _show(qtbot, win) -> None:
    """Show, wait until exposed and active (window shortcuts need an active window)."""
    qtbot.addWidget(win)
    with qtbot.waitExposed(win):
        win.show()
    with qtbot.waitActive(win):
        win.activateWindow()


def _args(**kw):
    d = dict(kiosk=False, source=None, model=None, provider="auto", threshold=None)
    d.update(kw)
    return argparse.Namespace(**d)


def test_main_window_shows_video_depth_and_scores(qtbot, settings, face_video, tmp_path):
    create_app()
    ctrl = ScriptedController(face_video)
    win = create_window(_args(source=face_video), settings, ctrl)
    _show(qtbot, win)
    assert win.start() and win.running
    assert ctrl.opened.source == face_video
    assert win.threshold == pytest.approx(0.6)  # the model's calibrated threshold
    qtbot.waitUntil(lambda: win.video.frames_shown > 5 and win.depth.windows_shown >= 2, timeout=10000)
    assert len(win.plot.points) >= 2
    assert win.verdict_label.text() == "LIVE"
    assert win.video.image is not None and win.video.image.width() == 480
    win._update_status()
    assert "tracking 3.0 ms" in win.status_track.text() and "inference 9.0 ms" in win.status_infer.text()
    saved = win.save_depth_panel(tmp_path / "snaps")
    assert {p.name.split("-")[-1] for p in saved} == {"depth.png", "frame.png", "annotated.png"}
    assert all(cv2.imread(str(p)) is not None for p in saved)
    qtbot.keyClick(win, Qt.Key.Key_S)  # S saves into the captures folder
    assert len(list((tmp_path / "captures" / "snapshots").glob("*-depth.png"))) == 1
    qtbot.keyClick(win, Qt.Key.Key_Space)  # Space stops
    assert not win.running and ctrl._stop.is_set()
    win.close()


def test_recording_writes_a_clip_the_training_reader_reads(qtbot, settings, face_video, tmp_path):
    from livenessapp_training.datasets import load_dataset

    ctrl = ScriptedController(face_video)
    win = create_window(_args(source=face_video), settings, ctrl)
    _show(qtbot, win)
    win.label_combo.setCurrentText("replay")
    qtbot.keyClick(win, Qt.Key.Key_R)  # R starts the run and the recording
    assert win.running and win.recorder is not None
    qtbot.waitUntil(lambda: win.recorder.frames >= 20, timeout=10000)
    qtbot.keyClick(win, Qt.Key.Key_R)
    clip = win.last_clip
    assert clip is not None and clip.video.is_file() and clip.sidecar.is_file()
    meta = json.loads(clip.sidecar.read_text())
    assert meta["label"] == "replay" and meta["model_version"] == "scripted-1" and meta["frames"] >= 20
    assert (meta["width"], meta["height"]) == (480, 360) and meta["camera"] == "hopper.mp4"
    (sample,) = load_dataset("recorded", tmp_path / "captures")
    assert sample.attack == "replay" and sample.label == 0 and sample.path == clip.video
    win.close()


def test_settings_persist_between_runs(qtbot, settings, face_video):
    ctrl = ScriptedController(face_video)
    win = create_window(_args(source=face_video), settings, ctrl)
    qtbot.addWidget(win)
    win.start()
    win.threshold_slider.setValue(720)
    win.smoothing_spin.setValue(0.3)
    win.interval_spin.setValue(4)
    win.close()
    win2 = create_window(_args(), AppSettings(), ScriptedController(face_video))
    qtbot.addWidget(win2)
    assert win2.threshold == pytest.approx(0.72)  # remembered for this model
    assert win2.smoothing_spin.value() == pytest.approx(0.3) and win2.interval_spin.value() == 4
    assert win2.current_source == face_video
    assert win2.start() and win2.threshold == pytest.approx(0.72)
    win2.reset_threshold()
    assert win2.threshold == pytest.approx(0.6)
    win2.close()


def test_a_model_that_cannot_be_opened_gives_a_message_and_the_app_stays_up(qtbot, settings, face_video):
    ctrl = ScriptedController(face_video, fail="model not found: /nowhere/missing.onnx")
    win = create_window(_args(source=face_video), settings, ctrl)
    _show(qtbot, win)
    assert win.start() is False
    assert not win.running and win.isVisible()
    boxes = [b for b in win.findChildren(QMessageBox) if b.objectName() == "errorBox"]
    assert boxes and "missing.onnx" in boxes[-1].text()
    ctrl.fail = ""
    assert win.start()  # still usable
    win.close()


def test_kiosk_reaches_a_decision_and_writes_an_audit_line(qtbot, settings, face_video, tmp_path):
    ctrl = ScriptedController(face_video, scores=(0.2, 0.25, 0.3))
    win = create_window(_args(kiosk=True, source=face_video), settings, ctrl)
    qtbot.addWidget(win)
    win.resize(800, 600)
    win.show()
    assert win.start()
    qtbot.waitUntil(lambda: len(win.audit_records) >= 1, timeout=15000)
    rec = win.audit_records[0]
    assert rec["verdict"] == "FAIL" and rec["score"] == pytest.approx(0.25, abs=1e-6)
    lines = (tmp_path / "audit" / "kiosk.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["verdict"] == "FAIL" and "image" not in json.loads(lines[0])
    assert not win.grab().isNull()
    qtbot.waitUntil(
        lambda: ctrl.resets >= 1, timeout=5000
    )  # result shown 1 s, then reset for the next person
    with qtbot.waitActive(win):
        win.activateWindow()
    qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert win.isVisible()  # Esc does not close a kiosk
    qtbot.keyClick(win, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert not win.isVisible() and ctrl._stop.is_set()


def test_parallax_cue_in_the_score_panel_and_the_fusion_rule_selector(qtbot, settings, face_video):
    ctrl = ScriptedController(face_video, scores=(0.8,), parallax=(0.12, None, 0.45))
    win = create_window(_args(source=face_video), settings, ctrl)
    _show(qtbot, win)
    assert win.fusion_rule == "either_spoof" and [win.fusion_combo.itemData(i) for i in range(3)] == [
        "network",
        "either_spoof",
        "logistic",
    ]
    for i in range(win.fusion_combo.count()):  # every rule explains itself in one sentence
        assert win.fusion_combo.itemData(i, Qt.ItemDataRole.ToolTipRole).endswith(".")
    assert "replayed video" in win.fusion_combo.toolTip()
    assert win.start() and ctrl.opened.fusion_rule == "either_spoof"
    qtbot.waitUntil(lambda: win.windows_received >= 3, timeout=10000)
    notes = set()
    qtbot.waitUntil(lambda: notes.add(win.cues.row("parallax").note) or len(notes) >= 3, timeout=10000)
    assert {"planar (print-like)", "not enough motion", "non-planar (3-D)"} <= notes
    assert any(pt[4] == pytest.approx(0.45) for pt in win.plot.points)  # the plot's parallax line
    assert win.plot.parallax_threshold == pytest.approx(0.29)
    assert "rule: either cue says spoof" in win.reason_label.text()

    win.fusion_combo.setCurrentIndex(win.fusion_combo.findData("logistic"))  # as the user picks it
    assert ctrl.fusion_rule_calls == ["logistic"] and settings.get("fusion_rule") == "logistic"
    qtbot.waitUntil(lambda: "logistic fusion" in win.reason_label.text(), timeout=10000)
    win.set_fusion_rule("network")
    assert ctrl.fusion_rule_calls == ["logistic", "network"]
    with pytest.raises(ValueError):
        win.set_fusion_rule("bogus")
    win.close()
    win2 = create_window(_args(source=face_video), AppSettings(), ScriptedController(face_video))
    qtbot.addWidget(win2)
    assert win2.fusion_rule == "network"  # remembered
    assert win2.start() and win2.controller.opened.fusion_rule == "network"
    win2.close()
