"""The manifest reader (``kind="manifest"``) on a tiny tree in the real-pad layout (empty files stand in)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from livenessapp_training.datasets import load_dataset, select
from livenessapp_training.datasets.manifest import read_manifest

HEADER = "file\tlabel\tattack\tmedia\tsize\tsource_repo\tlicence\n"


def _write(root: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    """rows: (file, label, attack, media, source)."""
    for rel, *_ in rows:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    lines = [f"{f}\t{lab}\t{a}\t{m}\t0\t{src}\tCC\n" for f, lab, a, m, src in rows]
    (root / "MANIFEST.tsv").write_text(HEADER + "".join(lines))
    return root


def _corpus(root: Path) -> Path:
    """NUAA-like crops of 6 people (2 captures x 3 frames live, 1 capture print each), 2 video sources."""
    rows = []
    for person in range(1, 7):
        p = f"{person:04d}"
        for cap in (1, 2):
            for frame in (0, 5, 10):
                rows.append(
                    (f"nuaa/ClientFace/{p}/{p}_00_00_0{cap}_{frame}.jpg", "live", "none", "image", "nuaa")
                )
        for frame in (0, 5):
            rows.append(
                (f"nuaa/ImposterFace/{p}/{p}_01_00_01_{frame}.jpg", "spoof", "print", "image", "nuaa")
            )
    for src in ("camA", "camB", "camC"):
        rows.append((f"{src}/live.mp4", "live", "none", "video", src))
        rows.append((f"{src}/replay.mp4", "spoof", "replay", "video", src))
    rows.append(("labels.csv", "spoof", "print", "label_file", "nuaa"))  # non-media rows are skipped
    return _write(root, rows)


def test_captures_labels_and_media(tmp_path):
    samples = read_manifest(_corpus(tmp_path))
    stills = [s for s in samples if s.is_still]
    videos = [s for s in samples if not s.is_still]
    assert len(stills) == 6 * 3 and len(videos) == 6
    live_capture = next(s for s in stills if s.is_live)
    assert [p.stem.rsplit("_", 1)[1] for p in live_capture.frame_files] == ["0", "5", "10"]  # frame order
    assert Counter(s.attack for s in samples) == {"none": 15, "print": 6, "replay": 3}
    # an image's person is its folder: the live and print captures of one NUAA person share a group
    assert {s.subject for s in stills if "0003" in s.video_id} == {"nuaa/0003"}
    # a video's person is unknown: the whole source is one group
    assert {s.subject for s in videos if s.device == "camA"} == {"camA/*"}


def test_groups_protocol_never_splits_a_person_or_video_source(tmp_path):
    samples = load_dataset("manifest", _corpus(tmp_path), protocol="groups")
    split_of_group: dict[str, set[str]] = {}
    for s in samples:
        split_of_group.setdefault(s.subject, set()).add(s.split)
    assert all(len(v) == 1 for v in split_of_group.values())
    for split in ("train", "dev", "test"):  # every split gets people and a video source
        chosen = select(samples, split)
        assert any(s.is_still for s in chosen) and any(not s.is_still for s in chosen), split
        assert {s.label for s in chosen} == {0, 1}, split
    other_seed = load_dataset("manifest", tmp_path, protocol="groups:5")
    assert [s.split for s in other_seed] != [s.split for s in samples]
    assert [s.split for s in load_dataset("manifest", tmp_path, protocol="groups")] == [
        s.split for s in samples
    ]


def test_recaptures_group_with_the_people_of_their_original_source(tmp_path):
    rows = [(f"cam{c}/live.mp4", "live", "none", "video", f"cam{c}") for c in "ABCDE"]
    rows += [(f"re/cam{c}.mp4", "spoof", "replay", "video", f"recapture:cam{c}") for c in "ABCDE"]
    for seed in range(4):
        samples = load_dataset("manifest", _write(tmp_path, rows), protocol=f"groups:{seed}")
        split_of = {s.device: s.split for s in samples}
        assert all(split_of[f"recapture:cam{c}"] == split_of[f"cam{c}"] for c in "ABCDE"), seed
    assert {s.subject for s in samples} == {f"cam{c}/*" for c in "ABCDE"}
    held = load_dataset("manifest", tmp_path, protocol="lso:camB")
    assert {s.device for s in select(held, "test")} == {"camB", "recapture:camB"}


def test_leave_sources_out_and_all(tmp_path):
    samples = load_dataset("manifest", _corpus(tmp_path), protocol="lso:camB+nuaa")
    test = select(samples, "test")
    assert {s.device for s in test} == {"camB", "nuaa"}
    assert {s.device for s in samples if s.split != "test"} == {"camA", "camC"}
    assert {s.split for s in samples if s.split != "test"} == {"train", "dev"}
    assert {s.split for s in load_dataset("manifest", tmp_path, protocol="all")} == {"test"}


def test_split_column_wins_and_errors(tmp_path):
    root = _write(
        tmp_path / "a",
        [
            ("x/live_1.jpg", "live", "none", "image", "s"),
            ("x/print_1.jpg", "attack", "", "image", "s"),
            ("v.mp4", "fake", "", "video", "s"),
        ],
    )
    samples = read_manifest(root, "all")
    assert Counter(s.attack for s in samples) == {"none": 1, "print": 1, "replay": 1}  # defaults by media
    text = (root / "MANIFEST.tsv").read_text().replace("\tsource_repo\t", "\tsource_repo\tsplit\t")
    lines = text.splitlines()
    lines = [lines[0]] + [line.replace("\ts\t", "\ts\ttrain\t") for line in lines[1:]]
    (root / "MANIFEST.tsv").write_text("\n".join(lines) + "\n")
    assert {s.split for s in read_manifest(root, "all")} == {"train"}

    with pytest.raises(ValueError, match="neither live nor spoof"):
        read_manifest(_write(tmp_path / "b", [("a.jpg", "maybe", "", "image", "s")]))
    with pytest.raises(ValueError, match="use groups, lso"):
        read_manifest(root, "kfold")
    with pytest.raises(ValueError, match="no source matches"):
        read_manifest(root, "lso:nowhere")
    (root / "v.mp4").unlink()
    with pytest.raises(FileNotFoundError, match="v.mp4 does not exist"):
        read_manifest(root)
    with pytest.raises(FileNotFoundError, match="no MANIFEST.tsv"):
        read_manifest(tmp_path)


def test_export_live_faces_takes_train_people_only(tmp_path):
    import cv2
    import numpy as np

    root = _corpus(tmp_path / "corpus")
    for s in read_manifest(root):  # real pixels: a grey image per still, a short video per video
        if s.is_still:
            for p in s.frame_files:
                cv2.imwrite(str(p), np.full((8, 8, 3), 128, np.uint8))
        else:
            w = cv2.VideoWriter(str(s.path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (16, 16))
            for _ in range(12):
                w.write(np.zeros((16, 16, 3), np.uint8))
            w.release()
    from livenessapp_training.datasets.manifest import export_live_faces

    files = export_live_faces(root, tmp_path / "faces", per_video=2)
    train_live = [s for s in read_manifest(root) if s.split == "train" and s.is_live]
    expected = sum(1 if s.is_still else 2 for s in train_live)
    assert len(files) == expected and all(f.is_file() for f in files)
    assert export_live_faces(root, tmp_path / "faces", per_video=2) == files  # re-run keeps them
