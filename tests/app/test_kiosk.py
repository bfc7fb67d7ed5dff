"""The kiosk state machine (explicit clock, no sleeping) and the audit log."""

from __future__ import annotations

import json

import pytest

from livenessapp.kiosk import (
    INSTRUCTION,
    AuditLog,
    KioskConfig,
    KioskEvent,
    KioskMachine,
    KioskOutcome,
    KioskState,
    confidence,
    file_sha256,
)


def _machine(**kw) -> KioskMachine:
    cfg = dict(threshold=0.5, decision_windows=3, decision_timeout_s=10.0, result_s=5.0, lost_reset_s=2.0)
    cfg.update(kw)
    return KioskMachine(KioskConfig(**cfg))


def test_waiting_shows_the_instruction_and_a_face_starts_collecting():
    m = _machine()
    v = m.view()
    assert v.state is KioskState.WAITING and v.instruction == INSTRUCTION and v.progress == 0
    assert m.on_frame(0.0, False) == []
    assert m.state is KioskState.WAITING
    m.on_frame(0.1, True, fill=0.4)
    assert m.state is KioskState.COLLECTING
    assert 0 < m.view().progress < 1 / 3


def test_n_windows_give_a_pass_with_confidence():
    m = _machine()
    m.on_frame(0.0, True, 1.0)
    progress = []
    events = []
    for i, s in enumerate((0.8, 0.9, 0.7)):
        progress.append(m.progress)
        events += m.on_window(1.0 + i, s)
    assert progress == sorted(progress)
    (ev,) = events
    assert ev.kind == "decision" and ev.outcome is KioskOutcome.PASS and ev.windows == 3
    assert ev.score == pytest.approx(0.8)
    assert ev.confidence == pytest.approx(confidence(0.8, 0.5)) and 0.5 < ev.confidence <= 1
    v = m.view()
    assert v.state is KioskState.RESULT and v.outcome is KioskOutcome.PASS and v.progress == 1.0


def test_low_scores_fail_and_the_result_resets_after_result_s():
    m = _machine()
    m.on_frame(0.0, True, 1.0)
    for i in range(3):
        m.on_window(1.0 + i, 0.1)
    assert m.outcome is KioskOutcome.FAIL
    assert m.on_frame(4.0, True) == []  # face still there, result still showing
    (ev,) = m.tick(3.0 + 5.0)
    assert ev.kind == "reset" and ev.reason == "result_shown"
    assert m.state is KioskState.WAITING and m.outcome is None and m.scores == []


def test_face_lost_for_more_than_two_seconds_resets_collecting():
    m = _machine()
    m.on_frame(0.0, True, 0.5)
    m.on_window(0.5, 0.9)
    assert m.on_frame(1.0, False) == []
    assert m.view().instruction != INSTRUCTION  # "face not found" hint
    assert m.tick(1.9) == []  # last face seen at 0.0
    (ev,) = m.tick(2.1)
    assert ev.reason == "face_lost" and m.state is KioskState.WAITING and m.scores == []


def test_face_lost_during_result_resets_early():
    m = _machine(decision_windows=1)
    m.on_frame(0.0, True, 1.0)
    m.on_window(0.1, 0.9)
    m.on_frame(0.5, False)
    (ev,) = m.tick(2.6)
    assert ev.reason == "face_lost"


def test_timeout_decides_with_what_is_there_or_asks_to_retry():
    m = _machine()
    m.on_frame(0.0, True, 1.0)
    m.on_window(1.0, 0.2)
    m.on_frame(9.0, True)
    (ev,) = m.tick(10.0)
    assert ev.outcome is KioskOutcome.FAIL and ev.windows == 1

    m = _machine()
    m.on_frame(0.0, True, 0.3)
    (ev,) = m.on_frame(10.0, True, 0.3)
    assert ev.outcome is KioskOutcome.RETRY and ev.score is None
    assert m.view().instruction == "Please try again"


def test_windows_during_result_are_ignored_and_next_person_gets_a_fresh_check():
    m = _machine(decision_windows=1)
    m.on_frame(0.0, True, 1.0)
    m.on_window(0.1, 0.9)
    assert m.on_window(0.2, 0.1) == []
    assert m.outcome is KioskOutcome.PASS
    m.tick(5.2)
    m.on_frame(5.3, True, 0.2)
    (ev,) = m.on_window(6.0, 0.1)
    assert ev.outcome is KioskOutcome.FAIL


def test_confidence_is_half_at_the_threshold_and_one_at_the_extremes():
    assert confidence(0.5, 0.5) == pytest.approx(0.5)
    assert confidence(1.0, 0.3) == pytest.approx(1.0)
    assert confidence(0.0, 0.3) == pytest.approx(1.0)
    assert confidence(0.4, 0.3) < confidence(0.6, 0.3)


def test_audit_log_appends_one_fsynced_json_line_per_decision(tmp_path, monkeypatch):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model bytes")
    sha = file_sha256(model)
    assert len(sha) == 64
    synced = []
    import os

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    log = AuditLog(tmp_path / "audit" / "kiosk.jsonl", model_sha256=sha, model_name="m.onnx")
    log.append(KioskEvent("decision", 1.0, KioskOutcome.PASS, 0.81, 0.7, 3), threshold=0.5)
    log.append(KioskEvent("decision", 2.0, KioskOutcome.FAIL, 0.2, 0.8, 3), threshold=0.5, image_bgr=None)
    assert len(synced) == 2
    lines = (tmp_path / "audit" / "kiosk.jsonl").read_text().splitlines()
    assert [json.loads(x)["verdict"] for x in lines] == ["PASS", "FAIL"]
    rec = json.loads(lines[0])
    assert rec["model_sha256"] == sha and rec["score"] == pytest.approx(0.81) and "image" not in rec
    assert {"time", "score", "verdict", "model_sha256"} <= set(rec)
    # reopening appends, never truncates
    AuditLog(tmp_path / "audit" / "kiosk.jsonl").append(KioskEvent("decision", 3.0, KioskOutcome.RETRY))
    assert len(log.read()) == 3


def test_audit_log_saves_images_only_when_enabled(tmp_path):
    import numpy as np

    img = np.zeros((8, 8, 3), np.uint8)
    AuditLog(tmp_path / "a.jsonl").append(KioskEvent("decision", 0.0, KioskOutcome.PASS, 0.9), image_bgr=img)
    assert not (tmp_path / "a-images").exists()
    rec = AuditLog(tmp_path / "a.jsonl", save_images=True).append(
        KioskEvent("decision", 0.0, KioskOutcome.PASS, 0.9), image_bgr=img
    )
    assert (tmp_path / rec["image"]).is_file()


def test_fused_spoof_decisions_turn_a_high_mean_score_into_a_fail():
    m = _machine()
    m.on_frame(0.0, True, 1.0)
    m.on_window(1.0, 0.9, live=False)
    m.on_window(2.0, 0.9, live=False)
    (ev,) = m.on_window(3.0, 0.9, live=True)
    assert ev.outcome is KioskOutcome.FAIL and ev.confidence == pytest.approx(2 / 3)

    m = _machine()
    m.on_frame(0.0, True, 1.0)
    for i, live in enumerate((True, False, True)):
        events = m.on_window(1.0 + i, 0.9, live=live)
    assert events[0].outcome is KioskOutcome.PASS
