"""OULU-NPU (Boulkenafet et al., FG 2017) with its four official protocols.

Native layout::

    root/Train_files/<Phone>_<Session>_<User>_<File>.avi      (users 1-20)
    root/Dev_files/...                                         (users 21-35)
    root/Test_files/...                                        (users 36-55)
    root/Protocols/Protocol_1/{Train,Dev,Test}.txt
    root/Protocols/Protocol_2/{Train,Dev,Test}.txt
    root/Protocols/Protocol_3/{Train,Dev,Test}_{1..6}.txt     (leave one phone out)
    root/Protocols/Protocol_4/{Train,Dev,Test}_{1..6}.txt     (unseen phone + session + PAI)

Protocol lines read ``+1,1_1_01_1`` (bona fide) or ``-1,1_1_01_2`` / ``-2,...`` (attack). File codes:
1 live, 2 print (printer 1), 3 print (printer 2), 4 replay (display 1), 5 replay (display 2); the PAI
species are named ``print1``, ``print2``, ``replay1``, ``replay2``. The label comes from the file code and
must agree with the sign of the protocol token (a disagreement raises: a mislabeled benchmark is worse
than none). Split = the protocol file's name (Train/Dev/Test).

``protocol``: ``"1"``, ``"2"``, ``"3_1"`` ... ``"3_6"``, ``"4_1"`` ... ``"4_6"`` (``"Protocol_3_2"`` and
``"3-2"`` work too); ``"3"`` / ``"4"`` return all six folds (each sample tagged with its fold, so a video
appears once per fold); ``None`` returns every video on disk with the split of its folder.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from .base import VIDEO_EXTENSIONS, VideoSample, iter_files, require_dir, split_name

NAME = "oulu"
_FILE_CODES = {
    1: ("none", "live"),
    2: ("print", "print1"),
    3: ("print", "print2"),
    4: ("replay", "replay1"),
    5: ("replay", "replay2"),
}
_ID = re.compile(r"^([1-6])_([1-3])_(\d{2})_([1-5])$")


def parse_name(video_id: str) -> dict:
    """``"1_2_03_4"`` -> phone 1, session 2, user "03", file 4 (+ attack, pai, label)."""
    m = _ID.match(video_id)
    if not m:
        raise ValueError(f"not an OULU-NPU video name: {video_id!r}")
    phone, session, user, file = int(m[1]), int(m[2]), m[3], int(m[4])
    attack, pai = _FILE_CODES[file]
    return {
        "phone": phone,
        "session": session,
        "user": user,
        "file": file,
        "attack": attack,
        "pai": pai,
        "label": int(file == 1),
    }


def normalise_protocol(protocol: str | int) -> list[str]:
    """Canonical fold names: ``"3"`` -> ``["3_1", ..., "3_6"]``, ``"Protocol_2"`` -> ``["2"]``."""
    p = str(protocol).strip().lower().replace("protocol", "").strip("_- ").replace("-", "_")
    if p in ("1", "2"):
        return [p]
    if p in ("3", "4"):
        return [f"{p}_{k}" for k in range(1, 7)]
    m = re.fullmatch(r"([34])_([1-6])", p)
    if m:
        return [p]
    raise ValueError(f"unknown OULU-NPU protocol {protocol!r} (1, 2, 3_1..3_6, 4_1..4_6)")


def _protocol_files(root: Path, fold: str) -> dict[str, Path]:
    number, _, k = fold.partition("_")
    folder = root / "Protocols" / f"Protocol_{number}"
    suffix = f"_{k}" if k else ""
    files = {
        split: folder / f"{name}{suffix}.txt"
        for split, name in (("train", "Train"), ("dev", "Dev"), ("test", "Test"))
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"OULU-NPU protocol files missing: {missing}")
    return files


def read_protocol_file(path: Path) -> list[tuple[int, str]]:
    """``[(token, video_id), ...]`` from one protocol file (``+1,1_1_01_1`` lines)."""
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'label,video', got {line!r}")
        try:
            token = int(parts[0])
        except ValueError as e:
            raise ValueError(f"{path}:{n}: bad label {parts[0]!r}") from e
        rows.append((token, parts[1]))
    return rows


def _index_videos(root: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in iter_files(root, VIDEO_EXTENSIONS):
        if "Protocols" in path.relative_to(root).parts:
            continue
        if _ID.match(path.stem):
            index.setdefault(path.stem, path)
    return index


def _sample(path: Path, video_id: str, split: str, protocol: str) -> VideoSample:
    info = parse_name(video_id)
    return VideoSample(
        path=path,
        label=info["label"],
        attack=info["attack"],
        pai=info["pai"],
        subject=info["user"],
        session=str(info["session"]),
        device=f"phone{info['phone']}",
        split=split,
        protocol=protocol,
        video_id=video_id,
    )


def read_oulu(root: str | Path, protocol: str | int | None = None, strict: bool = True) -> list[VideoSample]:
    """OULU-NPU samples of one protocol (see the module docstring). ``strict``: a video named by the
    protocol but missing on disk raises (else it is skipped with a warning)."""
    root = require_dir(Path(root), "OULU-NPU")
    index = _index_videos(root)
    samples: list[VideoSample] = []
    if protocol is None:
        for video_id, path in sorted(index.items()):
            folder = path.parent.name.replace("_files", "")
            split = split_name(folder)
            if split is None:
                continue
            samples.append(_sample(path, video_id, split, f"{NAME}:all"))
        return samples
    missing: list[str] = []
    for fold in normalise_protocol(protocol):
        for split, pfile in _protocol_files(root, fold).items():
            for token, video_id in read_protocol_file(pfile):
                info = parse_name(video_id)
                if (token > 0) != bool(info["label"]):
                    raise ValueError(
                        f"{pfile}: token {token:+d} contradicts file code {info['file']} of {video_id}"
                    )
                path = index.get(video_id)
                if path is None:
                    missing.append(video_id)
                    continue
                samples.append(_sample(path, video_id, split, f"{NAME}:{fold}"))
    if missing:
        msg = f"{len(missing)} OULU-NPU videos named by the protocol are missing under {root}: {missing[:5]}"
        if strict:
            raise FileNotFoundError(msg)
        warnings.warn(msg, stacklevel=2)
    return samples
