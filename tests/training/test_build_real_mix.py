"""training/configs/build_real_mix.py --screen-sources: the four webcam live / screen-replay sources."""

from __future__ import annotations

import csv
import importlib.util
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from livenessapp_training.datasets.manifest import read_manifest

SCRIPT = Path(__file__).resolve().parents[2] / "training" / "configs" / "build_real_mix.py"


def _script():
    spec = importlib.util.spec_from_file_location("build_real_mix", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((16, 12, 3), 128, np.uint8))


def test_screen_sources_get_their_fixed_splits_and_captures_of_eight(tmp_path):
    build = _script()
    extra, out = tmp_path / "real-extra", tmp_path / "mix"
    out.mkdir()
    for folder, _, _, layout in build.SCREEN_SOURCES:
        if layout == "videos":
            for name in ("real2.webm", "fake2.webm"):
                (extra / folder / "videos").mkdir(parents=True, exist_ok=True)
                (extra / folder / "videos" / name).write_bytes(b"")
        else:
            for k in range(10):  # 10 crops each: captures of 8 + 2, numeric order (10 after 9, not after 1)
                _png(extra / folder / "dataset" / "real" / f"{k}.png")
                _png(extra / folder / "dataset" / "fake" / f"{k}.png")
    rows = build._screen_source_rows(extra, out)
    assert Counter((r["source_repo"].split("/")[0], r["split"]) for r in rows) == {
        ("VishalkrishnaBlaze", "train"): 20,
        ("alexcamargoweb", "dev"): 20,
        ("TrickyF0x", "test"): 20,
        ("Apfol", "test"): 2,
    }
    apfol = {Path(r["file"]).name: r for r in rows if r["source_repo"].startswith("Apfol")}
    assert apfol["fake2.webm"]["label"] == "spoof" and apfol["fake2.webm"]["attack"] == "replay"
    assert apfol["real2.webm"]["label"] == "live" and apfol["real2.webm"]["media"] == "video"
    crops = [r for r in rows if r["media"] == "image" and r["source_repo"].startswith("alex")]
    assert [r["sequence"] for r in crops if r["label"] == "live"] == ["real-000"] * 8 + ["real-001"] * 2
    assert [Path(r["file"]).stem for r in crops if r["label"] == "spoof"] == [str(k) for k in range(10)]

    columns = (*build.MANIFEST_COLUMNS, "sequence")
    with open(out / "MANIFEST.tsv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, delimiter="\t", extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(r for r in rows if r["media"] == "image")
    samples = read_manifest(out)
    assert Counter((s.split, s.label) for s in samples) == {
        (split, label): 2 for split in ("train", "dev", "test") for label in (0, 1)
    }
    assert {len(s.frame_files) for s in samples} == {8, 2}


def test_dev_sources_go_to_dev_capped_and_evenly_spaced(tmp_path):
    build = _script()
    extra, out = tmp_path / "real-extra", tmp_path / "mix"
    out.mkdir()
    many = build.CROPS_PER_CAPTURE * (build.MAX_DEV_CAPTURES + 6)  # 30 captures' worth of crops
    for folder, _, _ in build.DEV_SOURCES:
        for kind in ("real", "fake"):
            for k in range(many if folder.startswith("Aksultan") else 9):
                _png(extra / folder / "dataset" / kind / f"{k}.png")
    build.DEV_SOURCES = tuple(  # a rotation cut-off inside the fixture: live crops from no. 20 on left out
        (f, s, 20 if stop is not None else None) for f, s, stop in build.DEV_SOURCES
    )
    rows = build._dev_source_rows(extra, out)
    assert {r["split"] for r in rows} == {"dev"}
    aks = [r for r in rows if r["source_repo"].startswith("Aksultan")]
    fake_captures = {r["sequence"] for r in aks if r["label"] == "spoof"}
    assert len(fake_captures) == build.MAX_DEV_CAPTURES
    fake_stems = [int(Path(r["file"]).stem) for r in aks if r["label"] == "spoof"]
    assert fake_stems[0] == 0 and fake_stems[-1] == many - 1  # first and last capture kept: evenly spaced
    live_stems = [int(Path(r["file"]).stem) for r in aks if r["label"] == "live"]
    assert live_stems == list(range(20))  # the "rotated" crops are left out
    small = [r for r in rows if r["source_repo"].startswith("Balveer")]
    assert Counter(r["sequence"] for r in small) == {
        "real-000": 8,
        "real-001": 1,
        "fake-000": 8,
        "fake-001": 1,
    }


def test_webcam_sources_split_by_rule_a_quarter_to_test_capped_none_to_dev(tmp_path):
    build = _script()
    extra, out = tmp_path / "real-extra", tmp_path / "mix"
    out.mkdir()
    build.WEBCAM_SOURCES = (
        ("known+test", "known/test", "test"),  # a repository real-pad holds keeps its split
        *((f"owner{k}+repo", f"owner{k}/repo", None) for k in range(8)),
    )
    many = build.CROPS_PER_CAPTURE * (build.MAX_TRAIN_CAPTURES + 6)
    for folder, _, _ in build.WEBCAM_SOURCES:
        for kind in ("real", "fake"):
            for k in range(many):
                _png(extra / folder / "dataset" / kind / f"{k}.png")
    splits = build.webcam_source_splits(build.WEBCAM_SOURCES)
    assert splits["known/test"] == "test"
    assert Counter(splits.values()) == {"test": 3, "train": 6}
    assert splits == build.webcam_source_splits(tuple(reversed(build.WEBCAM_SOURCES)))  # order-free rule
    rows = build._webcam_source_rows(extra, out)
    assert {r["split"] for r in rows} == {"train", "test"}
    for (source, split), n in Counter((r["source_repo"], r["split"]) for r in rows).items():
        assert split == splits[source]
        cap = build.MAX_DEV_CAPTURES if split == "test" else build.MAX_TRAIN_CAPTURES
        assert n == 2 * build.CROPS_PER_CAPTURE * cap
