"""The simulator's physics, not just its pixels: MediaPipe tracks the rendered faces, a flat print moves by
one homography (appendix Eq. 11-12: relative depth 0) while a turning live head does not (Eq. 2-3:
parallax), the rendered geometry is planar for attacks and face-shaped for live, clips are deterministic,
and the manifest follows the contract."""

from __future__ import annotations

import dataclasses
import json
import platform

import cv2
import numpy as np
import pytest

from livenessapp.face import FaceMeshTracker, primary_face
from livenessapp_training.simulator.cli import main as simulate_main
from livenessapp_training.simulator.generate import generate
from livenessapp_training.simulator.scene import iter_clip, plan_clip
from livenessapp_training.simulator.tracking_rate import face_view

SIZE = (320, 240)
MANIFEST_KEYS = {
    "clip_id",
    "path",
    "label",
    "attack",
    "pai",
    "identity",
    "scene",
    "camera",
    "split",
    "protocol",
    "seed",
    "frames",
    "fps",
    "width",
    "height",
    "face_photo",
}


def _spec(pai, protocol="normal", frames=30, index=1, framing=None):
    spec = plan_clip(index, seed=11, protocol=protocol, frames=frames, size=SIZE, pai=pai, split="train")
    if framing is not None:
        spec = dataclasses.replace(spec, framing=framing)
    return spec


def _track(frames):
    """MediaPipe landmarks (468, 2) per frame (None where no face), video mode like the app."""
    out = []
    with FaceMeshTracker(max_faces=1) as tracker:
        for img in frames:
            face = primary_face(tracker.process(img), img.shape)
            out.append(None if face is None else face.landmarks[:, :2].astype(np.float64))
    return out


def _homography_rms(a, b):
    """RMS residual (pixels) of the best homography a -> b (least squares over all 468 points)."""
    H, _ = cv2.findHomography(a, b, 0)
    proj = cv2.perspectiveTransform(a.reshape(-1, 1, 2), H).reshape(-1, 2)
    return float(np.sqrt(((proj - b) ** 2).sum(1).mean()))


@pytest.fixture(scope="module")
def clips():
    """Short rendered clips (every 3rd of 30 frames kept for tracking) with rendered geometry."""
    out = {}
    for name, spec, style in [
        ("live", _spec("live"), "sweep"),
        ("print", _spec("print_flat", framing="edges"), "natural"),
        ("replay", _spec("replay_moving", framing="edges"), "natural"),
        ("motion_print", _spec("print_flat", "motion_only"), "natural"),
        ("motion_bent", _spec("print_bent", "motion_only"), "natural"),
    ]:
        frames = list(iter_clip(spec, with_depth=True, head_style=style))[::3]
        out[name] = (spec, frames, _track([f.image for f in frames]))
    return out


@pytest.mark.slow
def test_face_tracked_in_live_and_attack_frames(clips):
    for name, (_, frames, tracked) in clips.items():
        rate = np.mean([t is not None for t in tracked])
        assert rate >= 0.95, f"{name}: face tracked in {rate:.0%} of frames"
        for f, t in zip(frames, tracked, strict=True):  # MediaPipe agrees with the rendered geometry
            if t is not None and f.landmarks is not None:
                size = np.ptp(f.landmarks[:, 0])
                assert np.median(np.linalg.norm(t - f.landmarks, axis=1)) < 0.08 * size, name


@pytest.mark.slow
def test_print_motion_is_a_homography_live_is_not(clips):
    """Landmarks of a flat print move by one homography (residual ~ tracker noise); those of a head turning
    by 40 degrees do not (parallax), several times more residual. Same on the rendered ground truth."""

    def worst(name, source):
        _, frames, tracked = clips[name]
        pts = tracked if source == "tracked" else [f.landmarks.astype(np.float64) for f in frames]
        size = np.ptp(pts[0][:, 0])
        return max(_homography_rms(pts[0], p) for p in pts[1:] if p is not None) / size

    live, printed = worst("live", "tracked"), worst("print", "tracked")
    assert live > 3 * printed, (live, printed)
    assert worst("print", "truth") < 1e-3  # exact homography of the carrier plane
    assert worst("motion_print", "truth") < 1e-3
    assert worst("live", "truth") > 0.02


def _plane_fit_rms(frame, camera_focal, size):
    """RMS distance (m) of the back-projected landmark points from their best-fit 3-D plane."""
    lm = frame.landmarks
    w, h = size
    cols = np.clip(np.round(lm[:, 0]).astype(int), 0, w - 1)
    rows = np.clip(np.round(lm[:, 1]).astype(int), 0, h - 1)
    z = frame.depth[rows, cols].astype(np.float64)
    ok = np.isfinite(z)
    X = np.stack(
        [
            (lm[ok, 0] - (w - 1) / 2) * z[ok] / camera_focal,
            (lm[ok, 1] - (h - 1) / 2) * z[ok] / camera_focal,
            z[ok],
        ],
        1,
    )
    X -= X.mean(0)
    return float(np.linalg.svd(X, compute_uv=False)[-1] / np.sqrt(len(X)))


@pytest.mark.slow
def test_geometry_planar_for_attacks_face_shaped_for_live(clips):
    for name in ("live", "print", "replay", "motion_print"):
        spec, frames, _ = clips[name]
        f = frames[len(frames) // 2]
        # the focal length only scales x, y: use the landmark spread to stay independent of it
        rms = _plane_fit_rms(f, 400.0, SIZE)
        if name == "live":
            assert spec.label == "live" and rms > 0.01, rms  # a face is ~10 cm deep
        else:
            assert spec.label == "spoof" and rms < 0.002, (name, rms)  # the carrier is a plane
    # motion-only: the carrier fills the whole view (no edges, no bezel), bent or not
    for name in ("motion_print", "motion_bent"):
        _, frames, _ = clips[name]
        assert all(f.face_mask.all() for f in frames), name
    # a bent print is not a plane, but only mildly curved (a hand-held sheet, not a tube)
    _, frames, _ = clips["motion_bent"]
    rms = _plane_fit_rms(frames[len(frames) // 2], 400.0, SIZE)
    assert 1e-4 < rms < 0.01, rms


def test_same_seed_same_frames():
    spec = _spec("replay_moving", frames=4)
    a = [f.image for f in iter_clip(spec)]
    b = [f.image for f in iter_clip(spec)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    other = dataclasses.replace(spec, seed=spec.seed + 1)
    assert not np.array_equal(a[0], next(iter(iter_clip(other))).image)


def test_splits_are_disjoint():
    specs = [plan_clip(i, seed=0, frames=2) for i in range(400)]
    by = {s: [p for p in specs if p.split == s] for s in ("train", "dev", "test")}
    assert all(by.values())
    for key in ("scene", "camera"):
        seen = [{getattr(p, key) for p in by[s]} for s in by]
        assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2]), key
    ids = [{p.identity.name for p in by[s]} for s in by]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    pais = {p.pai for p in specs}
    assert pais == {"live", "print_flat", "print_bent", "replay_moving", "replay_still"}
    assert abs(np.mean([p.label == "live" for p in specs]) - 0.5) < 1e-9


def test_generate_writes_contract_manifest_and_resumes(tmp_path):
    summary = generate(tmp_path, clips=4, frames=3, size=(160, 120), workers=1, seed=2, progress=False)
    assert summary["rendered"] == 4
    lines = [json.loads(x) for x in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert [e["clip_id"] for e in lines] == sorted(e["clip_id"] for e in lines)
    for e in lines:
        assert set(e) >= MANIFEST_KEYS
        assert e["label"] in ("live", "spoof") and e["attack"] in ("none", "print", "replay")
        assert (e["label"] == "live") == (e["attack"] == "none") == (e["pai"] == "live")
        assert e["split"] in ("train", "dev", "test") and e["protocol"] == "normal" and e["fps"] == 30
        cap = cv2.VideoCapture(str(tmp_path / e["path"]))
        assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == e["frames"] == 3
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 120)
        cap.release()
    again = generate(tmp_path, clips=4, frames=3, size=(160, 120), workers=1, seed=2, progress=False)
    assert again["rendered"] == 0 and again["skipped"] == 4
    # floats differ a little between instruction sets, so the dataset says which machine rendered it
    machine = json.loads((tmp_path / "simulator.json").read_text())["machine"]
    assert machine["cpu"] and machine["numpy"] == np.__version__ and machine["opencv"] == cv2.__version__
    assert "SSE2" in machine["simd"] or platform.machine() not in ("x86_64", "AMD64")


def test_face_view_angle_size_and_frame_margin():
    rng = np.random.default_rng(0)
    frontal = rng.uniform(-0.07, 0.07, (468, 2))
    seen = frontal * 800 + (160, 120)  # 112 px wide, head-on, in the middle of a 320 x 240 frame
    v = face_view(seen, frontal, SIZE)
    assert v["angle"] < 0.5 and 100 < v["width"] <= 112 and v["inside"] > 50
    tilted = (frontal * (800 * np.cos(np.radians(50)), 800)) @ np.array([[0.8, 0.6], [-0.6, 0.8]]) + (
        160,
        120,
    )
    assert abs(face_view(tilted, frontal, SIZE)["angle"] - 50) < 0.5  # seen 50 degrees off, whatever the roll
    assert face_view(seen + (150, 0), frontal, SIZE)["inside"] < 0  # cut off by the right edge
    assert face_view(None, frontal, SIZE)["angle"] is None


def test_tracking_rate_command_in_memory_and_from_a_folder(tmp_path, capsys):
    """``simulate tracking-rate`` renders (or reads) clips, tracks them like the preprocessing cache and
    reports frames / in view / tracked per scenario; a folder made by ``generate`` gives the same figures."""
    args = [
        "--clips",
        "2",
        "--frames",
        "6",
        "--size",
        "320x240",
        "--seed",
        "3",
        "--workers",
        "1",
        "--no-progress",
    ]
    out = tmp_path / "rate.json"
    assert simulate_main(["tracking-rate", *args, "--pai", "print_bent", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "print_bent" in table and "in view" in table
    rows = {r["group"].strip(): r for r in json.loads(out.read_text())["rows"]}
    bent = rows["print_bent"]
    assert bent["clips"] == 2 and bent["frames"] == 12 and bent["in_view"] == 12  # bent prints have landmarks
    assert bent["rate"] >= 0.95 and bent["off_target"] == 0

    generate(tmp_path / "sim", clips=2, frames=6, size=(320, 240), workers=1, seed=3, progress=False)
    from_dir = tmp_path / "from.json"
    assert (
        simulate_main(
            [
                "tracking-rate",
                "--from",
                str(tmp_path / "sim"),
                "--no-progress",
                "--workers",
                "1",
                "--json",
                str(from_dir),
                "--min-rate",
                "0.95",
            ]
        )
        == 0
    )
    result = json.loads(from_dir.read_text())
    assert [c["clip_id"] for c in result["clips"]] == ["normal-000000-live", "normal-000001-print_bent"]
    assert result["rows"][-1]["frames"] == 12 and result["rows"][-1]["rate"] >= 0.95


def _face_colour(frame: np.ndarray, landmarks: np.ndarray) -> tuple[float, float]:
    """(log R/B, log mean level) of the pixels inside the face landmarks' bounding box."""
    x0, y0 = np.maximum(landmarks.min(0).astype(int), 0)
    x1, y1 = landmarks.max(0).astype(int)
    mean = frame[y0:y1, x0:x1].reshape(-1, 3).astype(np.float64).mean(0)
    return float(np.log(mean[2] / mean[0])), float(np.log(mean.mean()))


def test_camera_automatics_cancel_most_of_the_light_colour_and_level():
    """Auto exposure + grey-world auto white balance: the same grey scene under a warm bright light and a
    cool dim one comes out far closer than the light made it; with the automatics off, unchanged."""
    from livenessapp_training.simulator.looks import CameraLook

    scene = np.random.default_rng(0).uniform(0.2, 0.6, (120, 160, 3)).astype(np.float32)
    warm = scene * np.array([0.85, 1.0, 1.2], np.float32) * 1.25  # BGR: red up, blue down, brighter
    cool = scene * np.array([1.15, 1.0, 0.85], np.float32) * 0.75

    def shot(img, auto):
        look = CameraLook.make(
            "cam1", 160, 120, np.random.default_rng(1), np.random.default_rng(2) if auto else None
        )
        look.noise, look.blur, look.jpeg = 0.0, 0.0, 100
        out = look.capture(img, np.random.default_rng(3)).astype(np.float64).reshape(-1, 3).mean(0)
        return np.log(out[2] / out[0]), np.log(out.mean())

    (rb_w, lv_w), (rb_c, lv_c) = shot(warm, False), shot(cool, False)
    (arb_w, alv_w), (arb_c, alv_c) = shot(warm, True), shot(cool, True)
    assert rb_w - rb_c > 0.6 and lv_w - lv_c > 0.4  # the light as the sensor sees it
    assert abs(arb_w - arb_c) < 0.5 * (rb_w - rb_c)  # at least half of the colour cast cancelled
    assert abs(alv_w - alv_c) < 0.5 * (lv_w - lv_c)  # and of the level


def test_live_face_colour_moves_little_with_the_room_light():
    """The dev split's warm lamp and the test split's cool light shift a live face's colour much less than
    a replay differs from a live face (the network must not learn "cool light = screen")."""
    shifts, gaps = [], []
    for index in (0, 4, 8):
        live = plan_clip(index, seed=1, frames=2, size=SIZE, pai="live", split="train")
        replay = plan_clip(index, seed=1, frames=2, size=SIZE, pai="replay_moving", split="train")
        colours = {}
        for name, spec in (("live", live), ("replay", replay)):
            for light in (4, 5):
                lit = dataclasses.replace(spec, scene=spec.scene.rsplit("-L", 1)[0] + f"-L{light}")
                frame = list(iter_clip(lit))[1]
                assert frame.landmarks is not None
                colours[name, light] = _face_colour(frame.image, frame.landmarks)
        shifts.append(abs(colours["live", 4][0] - colours["live", 5][0]))
        gaps.append(abs(colours["live", 5][0] - colours["replay", 5][0]))
    assert np.mean(shifts) < 0.5 * np.mean(gaps), (shifts, gaps)


def test_motion_only_plans_no_perfect_spoofing_scene():
    normal = [plan_clip(i, seed=0, frames=2) for i in range(400)]
    motion = [plan_clip(i, seed=0, frames=2, protocol="motion_only") for i in range(400)]
    assert {p.pai for p in motion} == {"live", "print_flat", "print_bent", "replay_moving"}
    # the same clips otherwise: only the normal protocol's still replays became moving ones
    for a, b in zip(normal, motion, strict=True):
        assert (a.split, a.identity, a.scene, a.camera, a.label) == (
            b.split,
            b.identity,
            b.scene,
            b.camera,
            b.label,
        )
        assert a.pai == b.pai or (a.pai, b.pai) == ("replay_still", "replay_moving")
    # an explicit request still renders one
    assert plan_clip(2, protocol="motion_only", pai="replay_still").pai == "replay_still"


def test_screen_saturation_scales_chroma_about_the_luma():
    from livenessapp_training.simulator.carriers import ScreenLook, apply_screen

    img = np.random.default_rng(0).integers(60, 200, (24, 24, 3)).astype(np.uint8)
    plain, vivid = ScreenLook(glare=0.0), ScreenLook(glare=0.0, saturation=1.5)
    a, b = apply_screen(img, plain, 0.0), apply_screen(img, vivid, 0.0)
    luma = np.array([0.114, 0.587, 0.299], np.float32)
    np.testing.assert_allclose(b @ luma, a @ luma, atol=1e-5)  # mid-tones: no clipping, same brightness
    np.testing.assert_allclose(b - (b @ luma)[..., None], 1.5 * (a - (a @ luma)[..., None]), atol=1e-5)
    assert np.array_equal(apply_screen(img, dataclasses.replace(vivid, saturation=1.0), 0.0), a)


def test_a_screen_saturation_range_changes_the_screen_and_nothing_else():
    spec = _spec("replay_moving", frames=3)
    assert spec.screen_saturation == (1.0, 1.0)
    vivid = plan_clip(
        1, seed=11, frames=3, size=SIZE, pai="replay_moving", split="train", screen_saturation=(1.6, 1.6)
    )
    assert dataclasses.replace(vivid, screen_saturation=(1.0, 1.0)) == spec
    plain_frames, vivid_frames = (
        list(iter_clip(spec, with_depth=True)),
        list(iter_clip(vivid, with_depth=True)),
    )
    for p, v in zip(plain_frames, vivid_frames, strict=True):
        assert np.array_equal(p.depth, v.depth) and np.array_equal(p.landmarks, v.landmarks)  # same geometry

    def chroma(frame):
        return cv2.cvtColor(frame.image, cv2.COLOR_BGR2HSV)[..., 1].mean()

    assert chroma(vivid_frames[1]) > chroma(plain_frames[1]) + 5
    live = _spec("live", frames=2)
    live_vivid = plan_clip(
        1, seed=11, frames=2, size=SIZE, pai="live", split="train", screen_saturation=(1.6, 1.6)
    )
    assert all(
        np.array_equal(a.image, b.image) for a, b in zip(iter_clip(live), iter_clip(live_vivid), strict=True)
    )


@pytest.mark.parametrize("bad", ["1.8", "a,b", "0,1", "1.5,1.2"])
def test_generate_refuses_a_bad_screen_saturation_and_says_why(tmp_path, bad, capsys):
    with pytest.raises(SystemExit):
        simulate_main(["generate", "--out", str(tmp_path), "--clips", "1", "--screen-saturation", bad])
    assert "screen saturation" in capsys.readouterr().err


def test_generate_refuses_to_mix_settings_in_one_folder(tmp_path):
    generate(tmp_path, clips=1, frames=2, size=(160, 120), workers=1, seed=2, progress=False)
    with pytest.raises(ValueError, match=r"screen_saturation \[1.0, 1.0\] -> \[1.0, 2.0\].*new folder"):
        generate(
            tmp_path,
            clips=2,
            frames=2,
            size=(160, 120),
            workers=1,
            seed=2,
            progress=False,
            screen_saturation=(1.0, 2.0),
        )
    with pytest.raises(ValueError, match="seed 2 -> 3"):
        generate(tmp_path, clips=1, frames=2, size=(160, 120), workers=1, seed=3, progress=False)
    more = generate(tmp_path, clips=2, frames=2, size=(160, 120), workers=1, seed=2, progress=False)
    assert more["rendered"] == 1 and more["skipped"] == 1  # same settings: more clips resume


def test_simulate_command_says_what_is_wrong_instead_of_a_traceback(tmp_path, capsys):
    generate(tmp_path, clips=1, frames=2, size=(160, 120), workers=1, seed=0, progress=False)
    argv = ["generate", "--out", str(tmp_path), "--clips", "1", "--frames", "3", "--size", "160x120"]
    assert simulate_main([*argv, "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "liveness-train simulate generate:" in err and "frames 2 -> 3" in err and "Traceback" not in err
