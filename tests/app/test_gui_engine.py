"""End to end: the desktop window and the kiosk on the real engine (tracking + streaming ONNX inference in
the engine's threads), the demo clip and a real exported model (the tiny one from ``conftest.py``; the
bundled ``models/sgtd-lite.onnx`` when it exists is not needed here)."""

from __future__ import annotations

import argparse
import json

import cv2
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from livenessapp import paths  # noqa: E402
from livenessapp.gui.app import create_app, create_window  # noqa: E402
from livenessapp.gui.settings import AppSettings  # noqa: E402
from livenessapp.kiosk import file_sha256  # noqa: E402


@pytest.fixture
def source(hopper_video) -> str:
    """The bundled demo clip when it is there, else the conftest's clip of the Grace Hopper photo."""
    return "demo" if paths.DEMO_CLIP.exists() else str(hopper_video)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> AppSettings:
    monkeypatch.setenv("LIVENESSAPP_SETTINGS", str(tmp_path / "settings.ini"))
    s = AppSettings()
    s.set("captures_dir", str(tmp_path / "captures"))
    s.set("kiosk/audit_log", str(tmp_path / "audit.jsonl"))
    s.set("kiosk/decision_windows", 2)
    return s


def _args(**kw):
    d = dict(kiosk=False, source=None, model=None, provider="cpu", threshold=None)
    d.update(kw)
    return argparse.Namespace(**d)


def _show(qtbot, win):
    qtbot.addWidget(win)
    with qtbot.waitExposed(win):
        win.show()


def test_main_window_on_the_real_engine(qtbot, settings, source, tiny_model_path, tmp_path):
    from livenessapp_training.datasets import load_dataset

    create_app()
    win = create_window(_args(source=source, model=str(tiny_model_path)), settings)
    _show(qtbot, win)
    assert win.start(), getattr(win, "last_error", "")
    try:
        assert win.run_info.provider == "cpu" and win.threshold == pytest.approx(0.5)
        assert win.start_recording()
        qtbot.waitUntil(lambda: win.video.frames_shown >= 10, timeout=20000)
        qtbot.waitUntil(lambda: win.depth.windows_shown >= 2 and len(win.plot.points) >= 2, timeout=30000)
        w = win.last_window
        d = w.depth_single.shape[-1]
        assert w.depth_single.shape == (win.run_info.num_frames, d, d)
        assert w.depth_fusion.shape == (win.run_info.num_frames - 1, d, d)
        assert len(w.crops) == win.run_info.num_frames and w.score is not None
        assert win.verdict_label.text() in ("LIVE", "SPOOF")
        win._update_status()
        assert "ms" in win.status_track.text() and "ms" in win.status_infer.text()
        clip = win.stop_recording()
    finally:
        win.stop()
    assert clip is not None and clip.meta.frames >= 10
    meta = json.loads(clip.sidecar.read_text())
    assert meta["label"] == "live" and meta["model_version"] == win.run_info.model_version
    cap = cv2.VideoCapture(str(clip.video))
    ok, frame = cap.read()
    assert ok and frame.shape[:2] == (meta["height"], meta["width"])
    (sample,) = load_dataset("recorded", tmp_path / "captures")
    assert sample.label == 1 and sample.path == clip.video
    win.close()


@pytest.mark.parametrize("what", ["model", "source"])
def test_unopenable_model_or_source_gives_a_message(qtbot, settings, source, tiny_model_path, tmp_path, what):
    model = str(tmp_path / "missing.onnx") if what == "model" else str(tiny_model_path)
    src = str(tmp_path / "missing.mp4") if what == "source" else source
    win = create_window(_args(source=src, model=model), settings)
    _show(qtbot, win)
    assert win.start() is False and not win.running and win.isVisible()
    boxes = [b for b in win.findChildren(QMessageBox) if b.objectName() == "errorBox"]
    assert boxes and "missing" in boxes[-1].text()
    win.close()


def test_kiosk_on_the_real_engine_decides_and_audits(qtbot, settings, source, tiny_model_path, tmp_path):
    win = create_window(_args(kiosk=True, source=source, model=str(tiny_model_path)), settings)
    qtbot.addWidget(win)
    win.resize(800, 600)
    win.show()
    assert win.start(), win.error
    qtbot.waitUntil(lambda: len(win.audit_records) >= 1, timeout=30000)
    win.close()
    (line, *_) = (tmp_path / "audit.jsonl").read_text().splitlines()
    rec = json.loads(line)
    assert rec["verdict"] in ("PASS", "FAIL") and 0.0 <= rec["score"] <= 1.0
    assert rec["model_sha256"] == file_sha256(tiny_model_path) and rec["threshold"] == pytest.approx(0.5)
    assert "image" not in rec


def test_parallax_value_and_fusion_rule_on_the_real_engine(qtbot, settings, tiny_model_path):
    """On the demo clip the head turns in the first seconds: the parallax cue gives a value, shown beside
    the network's score; switching the rule reaches the running engine and is remembered."""
    if not paths.DEMO_CLIP.exists():
        pytest.skip("the bundled demo clip is missing")
    win = create_window(_args(source="demo", model=str(tiny_model_path)), settings)
    _show(qtbot, win)
    assert win.start(), getattr(win, "last_error", "")
    try:
        qtbot.waitUntil(
            lambda: win.last_window is not None and win.last_window.parallax_state == "ok", timeout=40000
        )
        w = win.last_window
        row = win.cues.row("parallax")
        assert row.value == pytest.approx(w.parallax_score) and 0.0 <= row.value <= 1.0
        assert row.threshold == pytest.approx(w.parallax_threshold)
        assert row.note in ("planar (print-like)", "non-planar (3-D)")
        assert any(pt[4] is not None for pt in win.plot.points)
        engine = win.controller.engine
        assert engine.config.fusion_rule == "either_spoof"
        win.set_fusion_rule("logistic")
        assert engine.config.fusion_rule == "logistic" and settings.get("fusion_rule") == "logistic"
        n = win.windows_received
        qtbot.waitUntil(
            lambda: win.windows_received > n + 1 and win.last_window.fusion_rule == "logistic", timeout=30000
        )
        assert win.cues.row("fused") is not None
    finally:
        win.stop()
    win.close()
    assert AppSettings().fusion_rule == "logistic"
