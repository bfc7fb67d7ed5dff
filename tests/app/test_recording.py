"""Labelled clip recording: atomic publish, sidecar fields, readable by the training reader, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np
import pytest

from livenessapp.recording import LABELS, ClipRecorder, remove_partials, wait_frames


def _frames(n: int, h: int = 48, w: int = 64):
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, : (i * 4) % w] = (0, 128, 255)
        yield f


@pytest.mark.parametrize("threaded", [True, False])
def test_recording_publishes_video_then_sidecar(tmp_path, threaded):
    with ClipRecorder(tmp_path, "print", camera="0", model_version="v1", fps=25, threaded=threaded) as rec:
        for f in _frames(12):
            rec.write(f)
        assert not rec.video_path.exists() and not rec.sidecar_path.exists()
    clip = rec.result
    assert clip.video.name.endswith(".mp4") and clip.sidecar == clip.video.with_suffix(".json")
    meta = json.loads(clip.sidecar.read_text())
    assert {"label", "camera", "time", "model_version", "fps", "frames", "width", "height"} <= set(meta)
    assert meta["label"] == "print" and meta["camera"] == "0" and meta["model_version"] == "v1"
    assert (meta["fps"], meta["frames"], meta["width"], meta["height"]) == (25.0, 12, 64, 48)
    cap = cv2.VideoCapture(str(clip.video))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 12
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_every_label_is_readable_by_the_training_reader(tmp_path):
    from livenessapp_training.datasets import load_dataset

    for label in LABELS:
        with ClipRecorder(tmp_path, label, camera="cam", model_version="v") as rec:
            for f in _frames(3):
                rec.write(f)
    samples = {s.path.name.split("-")[0]: s for s in load_dataset("recorded", tmp_path)}
    assert set(samples) == set(LABELS)
    assert samples["live"].label == 1 and samples["live"].attack == "none"
    assert samples["print"].label == 0 and samples["print"].attack == "print"
    assert samples["replay"].attack == "replay" and samples["other"].attack == "other"
    assert samples["live"].device == "cam"


def test_bad_label_empty_clip_and_abort(tmp_path):
    with pytest.raises(ValueError):
        ClipRecorder(tmp_path, "mask")
    rec = ClipRecorder(tmp_path, "live")
    with pytest.raises(RuntimeError):
        rec.finish()
    with pytest.raises(KeyError), ClipRecorder(tmp_path, "live", name="aborted") as rec:
        rec.write(next(_frames(1)))
        raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_frames_of_another_size_are_resized(tmp_path):
    with ClipRecorder(tmp_path, "live", threaded=False) as rec:
        rec.write(np.zeros((48, 64, 3), np.uint8))
        rec.write(np.zeros((96, 128, 3), np.uint8))
    assert rec.result.meta.frames == 2 and (rec.result.meta.width, rec.result.meta.height) == (64, 48)


_CHILD = textwrap.dedent(
    """
    import sys, numpy as np
    from livenessapp.recording import ClipRecorder, wait_frames
    rec = ClipRecorder(sys.argv[1], "replay", name="victim", fps=30)
    i = 0
    while True:
        rec.write(np.full((120, 160, 3), i % 255, np.uint8))
        i += 1
        if i == 30:
            wait_frames(rec, 30)
            print("recording", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_mid_recording_leaves_no_final_file(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "recording"
        time.sleep(0.2)  # let it write more frames
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "victim.mp4" not in names and "victim.json" not in names
    assert names and all(n.startswith(".") and ".partial" in n for n in names)
    from livenessapp_training.datasets import load_dataset

    assert load_dataset("recorded", tmp_path) == []
    assert remove_partials(tmp_path) and list(tmp_path.iterdir()) == []


def test_wait_frames_times_out(tmp_path):
    rec = ClipRecorder(tmp_path, "live")
    assert not wait_frames(rec, 1, timeout=0.05)
    rec.abort()
