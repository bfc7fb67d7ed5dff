"""Replays of real footage (simulator/recapture.py): a recording shown on a simulated screen and filmed again,
and the manifest folder of such replays made from a manifest corpus's live videos."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from livenessapp_training.datasets.manifest import read_manifest
from livenessapp_training.simulator.recapture import (
    DEFAULT_FACE_FRACTION,
    RecaptureSpec,
    plan_recapture,
    recapture_frames,
    recapture_manifest,
)


def _face_frames(n: int, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """A real face (scikit-image's astronaut) drifting a few pixels per frame, like a hand-held recording."""
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frames = []
    for i in range(n):
        shifted = np.roll(face, 2 * i, axis=1)
        frames.append(cv2.resize(shifted, size, interpolation=cv2.INTER_AREA))
    return frames


def _spec(**kw) -> RecaptureSpec:
    base = dict(
        seed=7, split="train", scene="brick-L0", camera="cam0", still=True, full=False, start=0, frames=4
    )
    return RecaptureSpec(**{**base, **kw})


def _face_width(frame: np.ndarray) -> float:
    """Width of the face MediaPipe's face mesh finds in a frame, over the frame's width (0 if none)."""
    from livenessapp.face import FaceMeshTracker, primary_face

    with FaceMeshTracker(static_image_mode=True) as mesh:
        face = primary_face(mesh.process(frame), frame.shape)
    return 0.0 if face is None else (face.box[2] - face.box[0]) / frame.shape[1]


def test_the_camera_films_the_recorded_face_on_a_screen_about_life_size():
    spec = _spec()
    content = _face_frames(6)
    shown = list(recapture_frames(content, spec, face_fraction=_face_width(content[0])))
    assert len(shown) == spec.frames and shown[0].shape == (spec.height, spec.width, 3)
    assert shown[0].dtype == np.uint8
    again = list(recapture_frames(_face_frames(6), spec, face_fraction=_face_width(content[0])))
    assert all(np.array_equal(a, b) for a, b in zip(shown, again, strict=True))  # deterministic from the seed
    # a live face 0.38-0.62 m from the camera, as the simulator's live clips: 0.15 m over the view's width there
    width = _face_width(shown[0])
    assert 0.12 < width < 0.6
    dark = list(recapture_frames([np.zeros((240, 320, 3), np.uint8)] * 6, spec))
    assert _face_width(dark[0]) == 0.0  # the face is the recording's, not the scene's


def test_full_framing_fills_the_view_and_a_short_recording_ends_the_replay():
    spec = _spec(full=True, still=False, frames=10)
    shown = list(recapture_frames(_face_frames(5), spec))
    assert len(shown) == 5  # the recording ran out
    assert _face_width(shown[2]) > _face_width(_face_frames(1)[0])  # the screen is larger than the view
    assert list(recapture_frames([], spec)) == []


def test_plan_draws_from_the_split_pools_and_spreads_the_played_frames():
    from livenessapp_training.simulator.scene import BACKGROUNDS, CAMERAS

    plans = [plan_recapture(0, "test", i, source_frames=300) for i in range(40)]
    assert all(
        p.scene.rsplit("-L", 1)[0] in BACKGROUNDS["test"] and p.camera in CAMERAS["test"] for p in plans
    )
    assert 0 < sum(p.still for p in plans) < 40 and 0 < sum(p.full for p in plans) < 40
    assert all(0 <= p.start <= 300 - p.frames for p in plans) and len({p.start for p in plans}) > 5
    assert plan_recapture(0, "test", 3, 300) == plans[3]
    assert plan_recapture(0, "dev", 0, source_frames=20).start == 0  # shorter than a replay: play it all


def _write_video(path: Path, frames: list[np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()


def _corpus(root: Path) -> Path:
    """Two live videos (train, dev) of a real face, one replay video and one live image (not recaptured)."""
    _write_video(root / "camA/live.mp4", _face_frames(12))
    _write_video(root / "camB/person2/live.mp4", _face_frames(12))
    _write_video(root / "camA/replay.mp4", _face_frames(12))
    (root / "stills/0001").mkdir(parents=True)
    cv2.imwrite(str(root / "stills/0001/0001_00_00_01_0.jpg"), _face_frames(1)[0])
    rows = [
        ("camA/live.mp4", "live", "none", "video", "owner/camA", "", "train", "CC-BY-4.0"),
        ("camB/person2/live.mp4", "live", "none", "video", "owner/camB", "p2", "dev", "MIT"),
        ("camA/replay.mp4", "spoof", "replay", "video", "owner/camA", "", "train", "CC-BY-4.0"),
        ("stills/0001/0001_00_00_01_0.jpg", "live", "none", "image", "nuaa", "", "train", "x"),
    ]
    header = "file\tlabel\tattack\tmedia\tsource_repo\tsubject\tsplit\tlicense\n"
    (root / "MANIFEST.tsv").write_text(header + "".join("\t".join(r) + "\n" for r in rows))
    return root


def test_recapture_manifest_keeps_split_source_and_person(tmp_path):
    root = _corpus(tmp_path / "corpus")
    out = tmp_path / "replays"
    summary = recapture_manifest(root, out, per_video=2, frames=6, progress=False)
    assert summary["live_videos"] == 2 and summary["replays"] == 4
    assert summary["per_split"] == {"train": 2, "dev": 2}
    samples = read_manifest(out)
    assert len(samples) == 4 and all(s.label == 0 and s.attack == "replay" for s in samples)
    by_source = {s.device: s for s in samples}
    assert set(by_source) == {"recapture:owner/camA", "recapture:owner/camB"}
    assert by_source["recapture:owner/camA"].split == "train"
    assert by_source["recapture:owner/camB"].split == "dev"
    assert by_source["recapture:owner/camB"].subject == "owner/camB/p2"  # grouped with the original person
    with open(out / "MANIFEST.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert {r["license"] for r in rows} == {"CC-BY-4.0", "MIT"}
    plan = json.loads(rows[0]["recapture"])
    assert plan["frames"] == 6 and plan["face_fraction"] != DEFAULT_FACE_FRACTION  # MediaPipe measured it
    for s in samples:
        cap = cv2.VideoCapture(str(s.path))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
        cap.release()
    first = samples[0].path.stat().st_mtime_ns
    recapture_manifest(root, out, per_video=2, frames=6, progress=False)  # re-run: written videos are kept
    assert samples[0].path.stat().st_mtime_ns == first


def test_with_originals_is_a_paired_set_of_recordings_and_their_replays(tmp_path):
    root = _corpus(tmp_path / "corpus")
    out = tmp_path / "paired"
    summary = recapture_manifest(
        root, out, splits=("dev",), per_video=1, frames=4, with_originals=True, progress=False
    )
    assert summary["replays"] == 1
    samples = read_manifest(out)
    live = [s for s in samples if s.label == 1]
    assert len(live) == 1 and live[0].path.resolve() == (root / "camB/person2/live.mp4").resolve()
    assert {s.split for s in samples} == {"dev"}
    assert {s.subject for s in samples} == {"owner/camB/p2"}  # one person, counted once
    assert {s.device for s in samples} == {"owner/camB", "recapture:owner/camB"}


def test_a_video_that_cannot_be_read_is_skipped_with_a_message(tmp_path, capsys):
    root = _corpus(tmp_path / "corpus")
    (root / "camB/person2/live.mp4").write_bytes(b"not a video")
    summary = recapture_manifest(root, tmp_path / "out", per_video=1, frames=4, progress=False)
    assert summary["replays"] == 1
    assert "skipping" in capsys.readouterr().out


def test_an_unknown_split_is_an_error_that_names_the_choices(tmp_path):
    root = _corpus(tmp_path / "corpus")
    with pytest.raises(ValueError, match="holdout.*train, dev, test"):
        recapture_manifest(root, tmp_path / "out", splits=("holdout",), progress=False)


def test_simulate_recapture_command(tmp_path, capsys):
    from livenessapp_training.simulator.cli import main

    root = _corpus(tmp_path / "corpus")
    args = ["recapture", "--manifest", str(root), "--out", str(tmp_path / "out"), "--splits", "dev"]
    assert main([*args, "--per-video", "1", "--frames", "3", "--with-originals", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["replays"] == 1 and summary["with_originals"] is True
    assert len(read_manifest(tmp_path / "out")) == 2
