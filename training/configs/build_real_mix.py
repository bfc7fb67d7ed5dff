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

Usage: python training/configs/build_real_mix.py REAL_PAD REAL_EXTRA OUT_DIR
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


def _media(path: Path) -> str | None:
    ext = path.suffix.lower()
    return "video" if ext in VIDEO_EXT else "image" if ext in IMAGE_EXT else None


def main(real_pad: Path, real_extra: Path, out: Path) -> None:
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

    with open(out / MANIFEST_NAME, "w", newline="") as fh:
        w = csv.DictWriter(
            fh, fieldnames=MANIFEST_COLUMNS, delimiter="\t", extrasaction="ignore", lineterminator="\n"
        )
        w.writeheader()
        w.writerows(rows)
    print(
        f"{out / MANIFEST_NAME}: {len(rows)} rows; dev people of Anti-Spoofing-Real: "
        + ", ".join(p.name for p in sorted(dev_people))
    )


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
        "license": "none stated",
    }


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
