"""Write the MANIFEST.tsv of the `lite-realvid` recipe's real corpus (training/configs/lite-realvid.toml).

The corpus is two folders read from where they lie (nothing is copied): ``real-pad`` (the shared real PAD
folder, split as its ``groups`` protocol splits it, so its test split is the one earlier models were
measured on) and ``real-extra`` (live phone/webcam videos and selfies, fetched from three public
repositories; see its README). Every row gets an explicit ``split``:

- real-pad: the split protocol ``groups`` gives it (train / dev / test, by source and person).
- Trainingdata-datamarket/Anti-Spoofing-Real-Dataset: one person per sample folder. Of the 10 people with a
  live video, 3 (a seeded shuffle, not a choice) go to dev so that the threshold is chosen on live videos
  too, the other 7 to train; the people with only a selfie go to train (single-frame stage).
- Trainingdata-datamarket/Selfies-and-video-dataset and nhtlongcs/liveness-detection: test only.

With ``--screen-sources`` it also lists four more public repositories in ``real-extra``, each one person in
front of their own webcam, live and replayed on a screen (see :data:`SCREEN_SOURCES`; the choice of split per
source was written down before any model was measured on them): one person's face crops train, one
person's crops are the dev split's first real replays, and one person's crops and one person's live / replay
video pair are test. Crops of one folder are grouped into captures of :data:`CROPS_PER_CAPTURE` in file
order (a capture is one sample of the single-frame stage and of the evaluation). Without the flag the
manifest is byte-identical to the one the bundled model was trained on.

``--dev-sources`` adds four more repositories of the same kind (:data:`DEV_SOURCES`), all to dev: the dev
split had one webcam person, too few to tell models apart. At most :data:`MAX_DEV_CAPTURES` captures per
source and label, evenly spaced, so one source does not outweigh the rest.

``--webcam-sources`` adds thirteen more (:data:`WEBCAM_SOURCES`), found after every split above had been
measured on: three to test by a fixed rule and Krzysiek354's crops (his webcam video is in real-pad's test),
the rest to train, at most :data:`MAX_TRAIN_CAPTURES` captures per source and label in train and
:data:`MAX_DEV_CAPTURES` in test.

REAL_EXTRA is first checked against the lock of ``real_extra.py`` (every locked file present, byte for byte,
nothing else): a corpus with files missing would otherwise give a smaller manifest without a word.
``--no-verify`` skips the check (your own data in the same layout).

Usage: python training/configs/build_real_mix.py REAL_PAD REAL_EXTRA OUT_DIR [--screen-sources] [--dev-sources] [--webcam-sources] [--no-verify]
"""

from __future__ import annotations

import csv
import os
import sys
import zlib
from pathlib import Path

from livenessapp_training.datasets.manifest import (
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    read_manifest,
    read_manifest_rows,
)

VIDEO_EXT = {".mp4", ".mov", ".3gp", ".avi", ".mkv"}
IMAGE_EXT = {".jpg", ".jpeg", ".png"}
DEV_PEOPLE = 3
CROPS_PER_CAPTURE = 8
# (folder in real-extra, source repository, split, layout): "crops" = dataset/{real,fake}/*.png face crops
# (PyImageSearch-tutorial layout, the authors' own recordings), "videos" = videos/{real,fake}*.webm
SCREEN_SOURCES = (
    ("VishalkrishnaBlaze+Liveness-detection", "VishalkrishnaBlaze/Liveness-detection", "train", "crops"),
    ("alexcamargoweb+liveness-detection", "alexcamargoweb/liveness-detection", "dev", "crops"),
    ("TrickyF0x+twoFactorLivenessDetection", "TrickyF0x/twoFactorLivenessDetection", "test", "crops"),
    ("Apfol+liveness-detection-opencv", "Apfol/liveness-detection-opencv", "test", "videos"),
)
# ``--dev-sources``: four more of the same kind, all dev (the dev split had one webcam person): at most
# MAX_DEV_CAPTURES captures per source and label, evenly spaced; (folder, source, first crop left out)
DEV_SOURCES = (
    ("ShubhamLala+Liveliness-Detection_CNN", "ShubhamLala/Liveliness-Detection_CNN", None),
    ("jtboing+liveness-web-demo", "jtboing/liveness-web-demo", None),
    # live crops from no. 1434 on are rotated 90 degrees (a phone held sideways)
    ("AksultanMukhanbet+recognize_with_python", "AksultanMukhanbet/recognize_with_python", 1434),
    (
        "BalveerSinghYT+Smart-Facial-Recognition-Attendance-System",
        "BalveerSinghYT/Smart-Facial-Recognition-Attendance-System",
        None,
    ),
)
MAX_DEV_CAPTURES = 24
# ``--webcam-sources``: thirteen more repositories of the same kind, found after every split above had been
# measured on; (folder, source, split). A source whose repository real-pad already holds keeps that split, so
# that no person is in two; the split of the others is fixed by rule, not by choice (webcam_source_splits).
WEBCAM_SOURCES: tuple[tuple[str, str, str | None], ...] = (
    ("Krzysiek354+Python_Face_Detection", "Krzysiek354/Python_Face_Detection", "test"),
    ("WOLF-huo+face_liveness", "WOLF-huo/face_liveness", "train"),
    ("ShivamYadav09+FaceRecogWithLivenessDetection", "ShivamYadav09/FaceRecogWithLivenessDetection", None),
    ("viguardieiro+cnn_liveness", "viguardieiro/cnn_liveness", None),
    ("diogoshiroma+facial-smart-lock", "diogoshiroma/facial-smart-lock", None),
    ("suryaremanan+new4", "suryaremanan/new4", None),
    ("nurcanyardimci+LivenessDetection", "nurcanyardimci/LivenessDetection", None),
    ("tamletan+ComputerVision", "tamletan/ComputerVision", None),
    (
        "draashishjani+face-recognition-with-liveliness",
        "draashishjani/face-recognition-with-liveliness",
        None,
    ),
    ("ydf1014+COMP576ProjectLivenessDetection", "ydf1014/COMP576ProjectLivenessDetection", None),
    ("huynhnguyen2017+LivenessFaceDetection", "huynhnguyen2017/LivenessFaceDetection", None),
    ("sivakumar1982+capstone_group_4", "sivakumar1982/capstone_group_4", None),
    (
        "lakshayyadav99+AI-Web_based_face_recognition_project",
        "lakshayyadav99/AI-Web_based_face_recognition_project",
        None,
    ),
)
WEBCAM_TEST_EVERY = 4
LICENSES = {"ydf1014/COMP576ProjectLivenessDetection": "Apache-2.0"}  # every other source states none
MAX_TRAIN_CAPTURES = (
    64  # per source and label: one source has ~770 live captures, more than the rest together
)


def _media(path: Path) -> str | None:
    ext = path.suffix.lower()
    return "video" if ext in VIDEO_EXT else "image" if ext in IMAGE_EXT else None


def main(
    real_pad: Path,
    real_extra: Path,
    out: Path,
    screen_sources: bool = False,
    dev_sources: bool = False,
    webcam_sources: bool = False,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []

    split_of_file = {}
    for s in read_manifest(real_pad, "groups"):
        for f in s.frame_files or (s.path,):
            split_of_file[Path(f).resolve()] = s.split
    for row in read_manifest_rows(real_pad):
        path = (real_pad / row["file"]).resolve()
        if path in split_of_file:
            rows.append({**row, "file": os.path.relpath(path, out), "split": split_of_file[path]})

    asr = real_extra / "Trainingdata-datamarket+Anti-Spoofing-Real-Dataset" / "samples"
    people = sorted(p for p in asr.iterdir() if p.is_dir())
    with_video = [p for p in people if any(_media(f) == "video" for f in p.iterdir())]
    shuffled = sorted(with_video, key=lambda p: (zlib.crc32(p.name.encode()), p.name))
    dev_people = set(shuffled[:DEV_PEOPLE])
    for person in people:
        for f in sorted(person.iterdir()):
            if media := _media(f):
                rows.append(
                    _row(
                        f,
                        out,
                        media,
                        "live",
                        "Trainingdata-datamarket/Anti-Spoofing-Real-Dataset",
                        person.name,
                        "dev" if person in dev_people else "train",
                    )
                )

    sv = real_extra / "Trainingdata-datamarket+Selfies-and-video-dataset" / "samples"
    for person in sorted(p for p in sv.iterdir() if p.is_dir()):
        for f in sorted(person.iterdir()):
            if media := _media(f):
                rows.append(
                    _row(
                        f,
                        out,
                        media,
                        "live",
                        "Trainingdata-datamarket/Selfies-and-video-dataset",
                        person.name,
                        "test",
                    )
                )

    zalo = real_extra / "nhtlongcs+liveness-detection" / "data_sample" / "train"
    with open(zalo / "label.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            label = "live" if r["liveness_score"].strip() == "1" else "spoof"
            rows.append(
                _row(
                    zalo / "videos" / r["fname"],
                    out,
                    "video",
                    label,
                    "nhtlongcs/liveness-detection",
                    "",
                    "test",
                )
            )

    if screen_sources:
        rows += _screen_source_rows(real_extra, out)
    if dev_sources:
        rows += _dev_source_rows(real_extra, out)
    if webcam_sources:
        rows += _webcam_source_rows(real_extra, out)

    with open(out / MANIFEST_NAME, "w", newline="") as fh:
        crops = screen_sources or dev_sources or webcam_sources
        columns = (*MANIFEST_COLUMNS, "sequence") if crops else MANIFEST_COLUMNS
        w = csv.DictWriter(fh, fieldnames=columns, delimiter="\t", extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(
        f"{out / MANIFEST_NAME}: {len(rows)} rows; dev people of Anti-Spoofing-Real: "
        + ", ".join(p.name for p in sorted(dev_people))
    )


def _screen_source_rows(real_extra: Path, out: Path) -> list[dict]:
    rows = []
    for folder, source, split, layout in SCREEN_SOURCES:
        root = real_extra / folder
        if layout == "videos":
            for f in sorted((root / "videos").glob("*.webm")):
                label = "spoof" if f.stem.startswith("fake") else "live"
                rows.append(_row(f, out, "video", label, source, "author", split))
        else:
            rows += _crop_rows(root, out, source, "author", split)
    return rows


def _dev_source_rows(real_extra: Path, out: Path) -> list[dict]:
    rows = []
    for folder, source, live_stop in DEV_SOURCES:
        rows += _crop_rows(real_extra / folder, out, source, "authors", "dev", live_stop, MAX_DEV_CAPTURES)
    return rows


def webcam_source_splits(sources: tuple[tuple[str, str, str | None], ...]) -> dict[str, str]:
    """Source -> split. A given split is kept; the others are sorted by the CRC-32 of the repository name and
    every WEBCAM_TEST_EVERY-th from the first goes to test, the rest to train (none to dev, so that dev
    figures stay comparable with models measured before these sources came)."""
    fixed = {source: split for _, source, split in sources if split}
    ranked = sorted((s for _, s, split in sources if not split), key=lambda s: (zlib.crc32(s.encode()), s))
    return {**fixed, **{s: "test" if k % WEBCAM_TEST_EVERY == 0 else "train" for k, s in enumerate(ranked)}}


def _webcam_source_rows(real_extra: Path, out: Path) -> list[dict]:
    rows = []
    splits = webcam_source_splits(WEBCAM_SOURCES)
    for folder, source, _ in WEBCAM_SOURCES:
        split = splits[source]
        cap = MAX_DEV_CAPTURES if split == "test" else MAX_TRAIN_CAPTURES
        rows += _crop_rows(real_extra / folder, out, source, "authors", split, max_captures=cap)
    return rows


def _crop_rows(
    root: Path,
    out: Path,
    source: str,
    subject: str,
    split: str,
    live_stop: int | None = None,
    max_captures: int | None = None,
) -> list[dict]:
    """Rows of ``root/dataset/{real,fake}`` crops in numeric order, in captures of CROPS_PER_CAPTURE; live
    crops numbered ``live_stop`` or more left out; at most ``max_captures`` per label, evenly spaced."""
    rows = []
    for kind, label in (("real", "live"), ("fake", "spoof")):
        crops = [
            c for c in sorted((root / "dataset" / kind).iterdir(), key=_numeric_name) if _media(c) == "image"
        ]
        if kind == "real" and live_stop is not None:
            crops = [c for c in crops if not (c.stem.isdigit() and int(c.stem) >= live_stop)]
        captures = [crops[k : k + CROPS_PER_CAPTURE] for k in range(0, len(crops), CROPS_PER_CAPTURE)]
        if max_captures is not None and len(captures) > max_captures:
            keep = sorted({round(i * (len(captures) - 1) / (max_captures - 1)) for i in range(max_captures)})
            captures = [captures[i] for i in keep]
        for n, capture in enumerate(captures):
            for f in capture:
                row = _row(f, out, "image", label, source, subject, split)
                rows.append({**row, "sequence": f"{kind}-{n:03d}"})
    return rows


def _numeric_name(path: Path) -> tuple:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 60, path.name)


def _row(path: Path, out: Path, media: str, label: str, source: str, subject: str, split: str) -> dict:
    return {
        "file": os.path.relpath(path, out),
        "label": label,
        "attack": "none" if label == "live" else "replay",
        "media": media,
        "source_repo": source,
        "subject": subject,
        "split": split,
        "source_path": path.name,
        "license": LICENSES.get(source, "none stated"),
    }


if __name__ == "__main__":
    flags = {"--screen-sources", "--dev-sources", "--webcam-sources", "--no-verify"}
    args = [a for a in sys.argv[1:] if a not in flags]
    if len(args) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    if "--no-verify" not in sys.argv[1:]:
        sys.path.insert(0, str(Path(__file__).parent))
        from real_extra import verify

        if problem := verify(Path(args[1])):
            sys.exit(f"build_real_mix: {problem} (--no-verify to build from it anyway)")
    main(
        Path(args[0]),
        Path(args[1]),
        Path(args[2]),
        screen_sources="--screen-sources" in sys.argv[1:],
        dev_sources="--dev-sources" in sys.argv[1:],
        webcam_sources="--webcam-sources" in sys.argv[1:],
    )
