"""Dataset readers on tiny trees in each dataset's exact native layout (empty files stand in for videos)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from livenessapp_training.datasets import VideoSample, load_dataset, select, summarise


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def _counts(samples, split):
    return Counter(s.label for s in select(samples, split))


# --------------------------------------------------------------------------------------------- OULU-NPU
OULU_USERS = {"Train": ["01", "02"], "Dev": ["21"], "Test": ["36"]}
OULU_TOKEN = {1: "+1", 2: "-1", 3: "-1", 4: "-2", 5: "-2"}


def _oulu_rule(protocol: int, fold: int | None, split: str, phone: int, session: int, file: int) -> bool:
    """The official OULU-NPU protocol rules (for building the fixture's protocol files)."""
    test = split == "Test"
    if protocol == 1:
        return session == 3 if test else session in (1, 2)
    if protocol == 2:
        return file in ((1, 3, 5) if test else (1, 2, 4))
    if protocol == 3:
        return (phone == fold) == test
    return (
        (phone == fold) == test
        and (session == 3 if test else session in (1, 2))
        and (file in ((1, 3, 5) if test else (1, 2, 4)))
    )


@pytest.fixture(scope="module")
def oulu_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("Oulu_NPU")
    ids = {}
    for split, users in OULU_USERS.items():
        ids[split] = [
            f"{p}_{s}_{u}_{f}" for p in range(1, 7) for s in range(1, 4) for u in users for f in range(1, 6)
        ]
        for vid in ids[split]:
            _touch(root / f"{split}_files" / f"{vid}.avi")
    for protocol in (1, 2, 3, 4):
        for fold in (None,) if protocol < 3 else range(1, 7):
            for split in ("Train", "Dev", "Test"):
                lines = []
                for vid in ids[split]:
                    p, s, _, f = (int(x) for x in vid.split("_"))
                    if _oulu_rule(protocol, fold, split, p, s, f):
                        lines.append(f"{OULU_TOKEN[f]},{vid}")
                name = f"{split}.txt" if fold is None else f"{split}_{fold}.txt"
                out = root / "Protocols" / f"Protocol_{protocol}" / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text("\n".join(lines) + "\n")
    return root


def test_oulu_protocol_1(oulu_root):
    samples = load_dataset("oulu", oulu_root, "1")
    # train: 6 phones x sessions 1-2 x 2 users x 5 files; dev: 1 user; test: session 3 only, 1 user
    assert _counts(samples, "train") == {1: 24, 0: 96}
    assert _counts(samples, "dev") == {1: 12, 0: 48}
    assert _counts(samples, "test") == {1: 6, 0: 24}
    assert all(s.session == "3" for s in select(samples, "test"))
    assert {s.protocol for s in samples} == {"oulu:1"}
    s = next(s for s in samples if s.video_id == "2_1_01_4")
    assert (s.label, s.attack, s.pai, s.subject, s.session, s.device, s.split) == (
        0,
        "replay",
        "replay1",
        "01",
        "1",
        "phone2",
        "train",
    )
    assert s.path == oulu_root / "Train_files" / "2_1_01_4.avi"


def test_oulu_protocol_2_unseen_pai(oulu_root):
    samples = load_dataset("oulu-npu", oulu_root, 2)
    assert summarise(samples)["train"] == {"live": 36, "print1": 36, "replay1": 36}
    assert summarise(samples)["test"] == {"live": 18, "print2": 18, "replay2": 18}


@pytest.mark.parametrize("fold", range(1, 7))
def test_oulu_protocol_3_leave_one_camera_out(oulu_root, fold):
    samples = load_dataset("oulu", oulu_root, f"3_{fold}")
    assert {s.device for s in select(samples, "test")} == {f"phone{fold}"}
    assert f"phone{fold}" not in {s.device for s in select(samples, "train") + select(samples, "dev")}
    assert _counts(samples, "train") == {1: 5 * 3 * 2, 0: 5 * 3 * 2 * 4}
    assert _counts(samples, "test") == {1: 3, 0: 12}


def test_oulu_protocol_4_and_fold_union(oulu_root):
    fold = load_dataset("oulu", oulu_root, "Protocol_4_2")
    assert summarise(fold)["test"] == {"live": 1, "print2": 1, "replay2": 1}
    assert summarise(fold)["train"] == {"live": 20, "print1": 20, "replay1": 20}
    every = load_dataset("oulu", oulu_root, "4")
    assert len(every) == 6 * len(fold)
    assert {s.protocol for s in every} == {f"oulu:4_{k}" for k in range(1, 7)}


def test_oulu_counts_match_the_protocol_files(oulu_root):
    for name in ("Train_5", "Dev_5", "Test_5"):
        lines = (oulu_root / "Protocols" / "Protocol_3" / f"{name}.txt").read_text().split()
        split = {"Train": "train", "Dev": "dev", "Test": "test"}[name[:-2]]
        samples = select(load_dataset("oulu", oulu_root, "3_5"), split)
        assert sorted(s.video_id for s in samples) == sorted(line.split(",")[1] for line in lines)
        assert sum(s.label for s in samples) == sum(line.startswith("+1") for line in lines)


def test_oulu_all_and_errors(oulu_root, tmp_path):
    every = load_dataset("oulu", oulu_root)
    assert len(every) == 6 * 3 * 4 * 5
    assert Counter(s.split for s in every) == {"train": 180, "dev": 90, "test": 90}
    with pytest.raises(ValueError):
        load_dataset("oulu", oulu_root, "5")
    # A protocol token contradicting the file code, and a missing video
    bad = tmp_path / "oulu"
    _touch(bad / "Train_files" / "1_1_01_1.avi")
    for split in ("Train", "Dev", "Test"):
        _touch(bad / "Protocols" / "Protocol_1" / f"{split}.txt")
    (bad / "Protocols" / "Protocol_1" / "Train.txt").write_text("-1,1_1_01_1\n")
    with pytest.raises(ValueError, match="contradicts"):
        load_dataset("oulu", bad, "1")
    (bad / "Protocols" / "Protocol_1" / "Train.txt").write_text("+1,1_1_01_1\n-1,1_1_01_2\n")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_dataset("oulu", bad, "1")
    with pytest.warns(UserWarning):
        assert len(load_dataset("oulu", bad, "1", strict=False)) == 1


# --------------------------------------------------------------------------------------------------- SiW
@pytest.fixture(scope="module")
def siw_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("SiW_release")
    for split, subjects in (("Train", ["001", "002"]), ("Test", ["090"])):
        for sub in subjects:
            for sensor in (1, 2):
                for session in (1, 2, 3, 4):
                    _touch(root / split / "live" / sub / f"{sub}-{sensor}-1-1-{session}.mov")
            for medium in (1, 2):
                _touch(root / split / "spoof" / sub / f"{sub}-1-2-{medium}-1.mov")
            for medium in (1, 2, 3, 4):
                _touch(root / split / "spoof" / sub / f"{sub}-1-3-{medium}-1.mov")
    return root


def test_siw_protocol_1(siw_root):
    samples = load_dataset("siw", siw_root, 1)
    assert summarise(samples)["train"] == {
        "live": 16,
        "print1": 2,
        "print2": 2,
        "replay1": 2,
        "replay2": 2,
        "replay3": 2,
        "replay4": 2,
    }
    assert all(s.frame_range == (0, 60) for s in select(samples, "train"))
    assert all(s.frame_range is None for s in select(samples, "test"))
    assert len(select(samples, "test")) == 14 and not select(samples, "dev")
    s = next(s for s in samples if s.video_id == "002-2-1-1-3")
    assert (s.subject, s.device, s.session, s.label, s.attack) == ("002", "sensor2", "3", 1, "none")


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_siw_protocol_2_leave_one_medium_out(siw_root, k):
    samples = load_dataset("siw", siw_root, f"2_{k}")
    train, test = select(samples, "train"), select(samples, "test")
    assert {s.pai for s in train} == {"live"} | {f"replay{m}" for m in range(1, 5) if m != k}
    assert {s.pai for s in test} == {"live", f"replay{k}"}
    assert _counts(samples, "train") == {1: 16, 0: 6} and _counts(samples, "test") == {1: 8, 0: 1}


def test_siw_protocol_3_cross_type(siw_root):
    samples = load_dataset("siw", siw_root, "3")
    p31 = [s for s in samples if s.protocol == "siw:3_1"]
    assert {s.attack for s in select(p31, "train")} == {"none", "print"}
    assert {s.attack for s in select(p31, "test")} == {"none", "replay"}
    p32 = [s for s in samples if s.protocol == "siw:3_2"]
    assert {s.attack for s in select(p32, "train")} == {"none", "replay"}
    assert _counts(p32, "test") == {1: 8, 0: 2}


# --------------------------------------------------------------------------------------------- CASIA
@pytest.fixture(scope="module")
def casia_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("CASIA_faceAntisp")
    names = ["1", "2", "HR_1", "3", "4", "HR_2", "5", "6", "HR_3", "7", "8", "HR_4"]
    for folder, subjects in (("train_release", range(1, 3)), ("test_release", range(1, 4))):
        for sub in subjects:
            for n in names:
                _touch(root / folder / str(sub) / f"{n}.avi")
    return root


def test_casia_overall_and_scenarios(casia_root):
    samples = load_dataset("casia-mfsd", casia_root)
    assert summarise(samples)["train"] == {"live": 6, "warped_print": 6, "cut_print": 6, "replay": 6}
    assert _counts(samples, "test") == {1: 9, 0: 27}
    s = next(s for s in samples if s.video_id == "test/3/HR_2")
    assert (s.label, s.attack, s.pai, s.device, s.subject) == (0, "print", "warped_print", "high", "3")
    high = load_dataset("casia", casia_root, "high")
    assert {s.device for s in high} == {"high"} and len(select(high, "train")) == 8
    cut = load_dataset("casia", casia_root, "cut")
    assert {s.pai for s in cut} == {"live", "cut_print"} and _counts(cut, "test") == {1: 9, 0: 9}


# -------------------------------------------------------------------------------------- Replay-Attack
@pytest.fixture(scope="module")
def replay_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("replayattack")
    for folder, client in (("train", "client001"), ("devel", "client003"), ("test", "client002")):
        for light in ("controlled", "adverse"):
            _touch(root / folder / "real" / f"{client}_session01_webcam_authenticate_{light}_1.mov")
        for support in ("fixed", "hand"):
            for medium, content in (
                ("print", "photo"),
                ("mobile", "photo"),
                ("mobile", "video"),
                ("highdef", "video"),
            ):
                m2 = "highdef" if medium == "print" else medium
                _touch(
                    root
                    / folder
                    / "attack"
                    / support
                    / f"attack_{medium}_{client}_session01_{m2}_{content}_adverse.mov"
                )
    _touch(root / "enroll" / "client001_session01_enroll_controlled_1.mov")
    return root


def test_replay_attack_protocols(replay_root):
    samples = load_dataset("replay-attack", replay_root)
    for split in ("train", "dev", "test"):
        assert _counts(samples, split) == {1: 2, 0: 8}
    s = next(
        s
        for s in samples
        if s.video_id == "devel/hand/attack_print_client003_session01_highdef_photo_adverse"
    )
    assert (s.split, s.attack, s.pai, s.device, s.subject) == (
        "dev",
        "print",
        "print_photo",
        "hand",
        "client003",
    )
    assert {s.attack for s in samples if s.pai.startswith("mobile")} == {"replay"}
    printed = load_dataset("replay", replay_root, "print")
    assert _counts(printed, "test") == {1: 2, 0: 2}
    video = load_dataset("replay", replay_root, "video")
    assert {s.pai for s in video} == {"live", "mobile_video", "highdef_video"}
    digital = load_dataset("replay", replay_root, "digitalphoto")
    assert {s.pai for s in digital} == {"live", "mobile_photo"}


# ------------------------------------------------------------------------------------ generic folders
def test_generic_folder_with_and_without_splits(tmp_path):
    flat = tmp_path / "flat"
    _touch(flat / "live" / "a.mp4")
    _touch(flat / "live" / "bob" / "b.avi")
    _touch(flat / "print" / "c.mov")
    _touch(flat / "replay" / "frames1" / "000.png")
    _touch(flat / "replay" / "frames1" / "001.png")
    _touch(flat / "mask" / "d.mp4")
    _touch(flat / "live" / "notes.txt")
    samples = load_dataset("folder", flat)
    assert len(samples) == 5 and {s.split for s in samples} == {"train"}
    by_id = {s.video_id: s for s in samples}
    assert by_id["live/bob/b"].subject == "bob" and by_id["live/a"].label == 1
    assert by_id["replay/frames1"].path.is_dir() and by_id["replay/frames1"].attack == "replay"
    assert (by_id["mask/d"].attack, by_id["mask/d"].pai, by_id["mask/d"].label) == ("other", "mask", 0)
    assert {s.split for s in load_dataset("folder", flat, default_split="test")} == {"test"}

    split = tmp_path / "split"
    for name in ("train", "val", "test"):
        _touch(split / name / "live" / "x.mp4")
        _touch(split / name / "print" / "y.mp4")
    samples = load_dataset("generic", split)
    assert Counter(s.split for s in samples) == {"train": 2, "dev": 2, "test": 2}


def test_simulator_manifest(tmp_path):
    rows = [
        dict(
            clip_id="c0",
            path="videos/c0.mp4",
            label="live",
            attack="none",
            pai="live",
            identity="id0",
            scene="s0",
            camera="cam0",
            split="train",
            protocol="normal",
        ),
        dict(
            clip_id="c1",
            path="videos/c1.mp4",
            label="spoof",
            attack="print",
            pai="print_bent",
            identity="id0",
            scene="s1",
            camera="cam0",
            split="dev",
            protocol="normal",
        ),
        dict(
            clip_id="c2",
            path="videos/c2.mp4",
            label="spoof",
            attack="replay",
            pai="replay_still",
            identity="id1",
            scene="s1",
            camera="cam1",
            split="test",
            protocol="motion_only",
        ),
    ]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    samples = load_dataset("simulator", tmp_path)
    assert [s.video_id for s in samples] == ["c0", "c1", "c2"]
    assert [s.label for s in samples] == [1, 0, 0] and [s.split for s in samples] == ["train", "dev", "test"]
    c1 = samples[1]
    assert (c1.pai, c1.subject, c1.session, c1.device, c1.protocol) == (
        "print_bent",
        "id0",
        "s1",
        "cam0",
        "sim:normal",
    )
    assert c1.path == tmp_path / "videos" / "c1.mp4"
    assert [s.video_id for s in load_dataset("sim", tmp_path, "motion_only")] == ["c2"]


def test_recorded_clips(tmp_path):
    for name, label in (("2024-01-01_a", "live"), ("2024-01-01_b", "replay"), ("orphan", "print")):
        meta = {"label": label, "camera": "cam0", "time": "2024-01-01T10:00:00", "model_version": "1"}
        (tmp_path / f"{name}.json").write_text(json.dumps(meta))
        if name != "orphan":
            _touch(tmp_path / f"{name}.mp4")
    with pytest.warns(UserWarning, match="no video"):
        samples = load_dataset("recorded", tmp_path)
    assert [(s.video_id, s.label, s.attack, s.device) for s in samples] == [
        ("2024-01-01_a", 1, "none", "cam0"),
        ("2024-01-01_b", 0, "replay", "cam0"),
    ]
    (tmp_path / "bad.json").write_text(json.dumps({"label": "spoofy"}))
    _touch(tmp_path / "bad.mp4")
    with pytest.raises(ValueError, match="label"):
        load_dataset("app", tmp_path)


def test_video_sample_validation_and_roundtrip(tmp_path):
    s = VideoSample(tmp_path / "v.mp4", 0, "print", "print1", split="dev", frame_range=(0, 60))
    assert s.video_id == f"{tmp_path.name}/v" and not s.is_live
    assert VideoSample.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    with pytest.raises(ValueError):
        VideoSample(tmp_path / "v.mp4", 1, "print", "print1")
    with pytest.raises(ValueError):
        VideoSample(tmp_path / "v.mp4", 0, "print", "print1", split="validation")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("nope", tmp_path)
