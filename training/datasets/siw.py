"""SiW, the Spoof in the Wild database (Liu, Jourabloo & Liu, CVPR 2018), with its three protocols.

Native layout::

    root/Train/live/<subject>/<subject>-<sensor>-<type>-<medium>-<session>.mov
    root/Train/spoof/<subject>/...
    root/Test/live/...   root/Test/spoof/...

Name fields: subject id; sensor 1/2 (two cameras); type 1 live, 2 print, 3 replay; medium: the print
quality (1, 2) or the replay device (1-4); session: the live recording session (distance, pose,
illumination, expression) or the attack session. PAI species: ``print1``, ``print2``, ``replay1`` ...
``replay4``. Frame-folder copies (a folder named like the video) are accepted in place of ``.mov`` files.

Protocols as the SiW paper defines them (no official dev split: SiW samples have no ``dev`` split; choose
the threshold on training data or by cross-validation and say so):

- ``"1"``: all train-subject videos, only the first 60 frames (``frame_range=(0, 60)``: mostly frontal, no
  pose change); test on all frames of all test-subject videos.
- ``"2_k"`` (k = 1..4, cross replay medium, leave one out): train live + replay videos of the three media
  other than k; test live + replay videos of medium k. Print attacks are not used. ``"2"`` = all 4 folds.
- ``"3_1"`` (cross PAI type): train live + print, test live + replay; ``"3_2"``: train live + replay, test
  live + print. ``"3"`` = both folds.
- ``None`` / ``"all"``: every video, split by the Train/Test folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import VIDEO_EXTENSIONS, VideoSample, is_frame_folder, iter_files, require_dir, split_name

NAME = "siw"
PROTOCOL1_FRAMES = 60
_NAME = re.compile(r"^(\d+)-(\d+)-([123])-(\d+)-(\d+)$")


def parse_name(stem: str) -> dict:
    m = _NAME.match(stem)
    if not m:
        raise ValueError(f"not a SiW video name: {stem!r}")
    subject, sensor, kind, medium, session = m.groups()
    kind = int(kind)
    attack = {1: "none", 2: "print", 3: "replay"}[kind]
    pai = "live" if kind == 1 else f"{attack}{int(medium)}"
    return {
        "subject": subject,
        "sensor": int(sensor),
        "type": kind,
        "medium": int(medium),
        "session": int(session),
        "attack": attack,
        "pai": pai,
        "label": int(kind == 1),
    }


def normalise_protocol(protocol: str | int | None) -> list[str]:
    p = "all" if protocol is None else str(protocol).strip().lower().replace("protocol", "").strip("_- ")
    p = p.replace("-", "_")
    if p in ("all", "1"):
        return [p]
    if p == "2":
        return [f"2_{k}" for k in range(1, 5)]
    if p == "3":
        return ["3_1", "3_2"]
    if re.fullmatch(r"2_[1-4]|3_[12]", p):
        return [p]
    raise ValueError(f"unknown SiW protocol {protocol!r} (1, 2_1..2_4, 3_1, 3_2)")


def _scan(root: Path) -> list[tuple[str, Path, dict]]:
    """``(split, path, name fields)`` for every SiW video (or frame folder) under ``root``."""
    found = []
    for top in sorted(root.iterdir()):
        split = split_name(top.name) if top.is_dir() else None
        if split is None:
            continue
        paths = list(iter_files(top, VIDEO_EXTENSIONS))
        paths += [d for d in sorted(top.rglob("*")) if _NAME.match(d.name) and is_frame_folder(d)]
        for path in paths:
            stem = path.stem if path.is_file() else path.name
            if _NAME.match(stem):
                found.append((split, path, parse_name(stem)))
    return found


def _keep(fold: str, split: str, info: dict) -> bool:
    if fold in ("all", "1") or info["attack"] == "none":
        return True
    if fold.startswith("2_"):
        k = int(fold[2:])
        if info["attack"] != "replay":
            return False
        return (info["medium"] == k) == (split == "test")
    train_attack, test_attack = ("print", "replay") if fold == "3_1" else ("replay", "print")
    return info["attack"] == (train_attack if split == "train" else test_attack)


def read_siw(root: str | Path, protocol: str | int | None = None) -> list[VideoSample]:
    """SiW samples of one protocol (see the module docstring)."""
    root = require_dir(Path(root), "SiW")
    videos = _scan(root)
    if not videos:
        raise FileNotFoundError(f"no SiW videos (Train|Test/live|spoof/<subject>/<name>.mov) under {root}")
    samples = []
    for fold in normalise_protocol(protocol):
        for split, path, info in videos:
            if split == "dev" or not _keep(fold, split, info):
                continue
            frame_range = (0, PROTOCOL1_FRAMES) if fold == "1" and split == "train" else None
            samples.append(
                VideoSample(
                    path=path,
                    label=info["label"],
                    attack=info["attack"],
                    pai=info["pai"],
                    subject=info["subject"],
                    session=str(info["session"]),
                    device=f"sensor{info['sensor']}",
                    split=split,
                    protocol=f"{NAME}:{fold}",
                    frame_range=frame_range,
                    video_id=path.stem if path.is_file() else path.name,
                )
            )
    return samples
