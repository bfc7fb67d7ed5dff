"""CASIA-MFSD (Zhang et al., ICB 2012) with its seven test scenarios.

Native layout: ``root/train_release/<subject>/<name>.avi`` (20 subjects) and
``root/test_release/<subject>/<name>.avi`` (30 subjects); per subject twelve videos::

    1, 2, HR_1   live          (low, normal, high quality)
    3, 4, HR_2   warped print  (pai ``warped_print``)
    5, 6, HR_3   cut print     (pai ``cut_print``, eyes cut out)
    7, 8, HR_4   video replay  (pai ``replay``)

``device`` = the quality (``low``/``normal``/``high``). There is no dev split (train/test only).
``protocol``: ``None``/``"overall"`` (all), ``"low"``/``"normal"``/``"high"`` (one quality, live and
attacks), ``"warped"``/``"cut"``/``"replay"`` (all live + one attack type); the filter applies to train
and test alike, as in the database's scenario definitions.
"""

from __future__ import annotations

from pathlib import Path

from .base import VIDEO_EXTENSIONS, VideoSample, is_frame_folder, iter_files, require_dir

NAME = "casia"
_CODES = {
    "1": ("none", "live", "low"),
    "2": ("none", "live", "normal"),
    "HR_1": ("none", "live", "high"),
    "3": ("print", "warped_print", "low"),
    "4": ("print", "warped_print", "normal"),
    "HR_2": ("print", "warped_print", "high"),
    "5": ("print", "cut_print", "low"),
    "6": ("print", "cut_print", "normal"),
    "HR_3": ("print", "cut_print", "high"),
    "7": ("replay", "replay", "low"),
    "8": ("replay", "replay", "normal"),
    "HR_4": ("replay", "replay", "high"),
}
_SPLITS = {"train_release": "train", "test_release": "test"}
_PROTOCOLS = {
    "overall": lambda pai, q: True,
    "low": lambda pai, q: q == "low",
    "normal": lambda pai, q: q == "normal",
    "high": lambda pai, q: q == "high",
    "warped": lambda pai, q: pai in ("live", "warped_print"),
    "cut": lambda pai, q: pai in ("live", "cut_print"),
    "replay": lambda pai, q: pai in ("live", "replay"),
}


def read_casia(root: str | Path, protocol: str | None = None) -> list[VideoSample]:
    """CASIA-MFSD samples of one scenario (see the module docstring)."""
    root = require_dir(Path(root), "CASIA-MFSD")
    name = "overall" if protocol is None else str(protocol).strip().lower()
    if name not in _PROTOCOLS:
        raise ValueError(f"unknown CASIA-MFSD protocol {protocol!r} ({', '.join(_PROTOCOLS)})")
    keep = _PROTOCOLS[name]
    samples = []
    for folder, split in _SPLITS.items():
        base = root / folder
        if not base.is_dir():
            continue
        for subject_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            items = [p for p in iter_files(subject_dir, VIDEO_EXTENSIONS) if p.parent == subject_dir]
            items += [p for p in sorted(subject_dir.iterdir()) if p.name in _CODES and is_frame_folder(p)]
            for path in items:
                code = path.stem if path.is_file() else path.name
                if code not in _CODES:
                    continue
                attack, pai, quality = _CODES[code]
                if not keep(pai, quality):
                    continue
                samples.append(
                    VideoSample(
                        path=path,
                        label=int(attack == "none"),
                        attack=attack,
                        pai=pai,
                        subject=subject_dir.name,
                        session="",
                        device=quality,
                        split=split,
                        protocol=f"{NAME}:{name}",
                        video_id=f"{split}/{subject_dir.name}/{code}",
                    )
                )
    if not samples and not any((root / f).is_dir() for f in _SPLITS):
        raise FileNotFoundError(f"no train_release/ or test_release/ under {root}")
    return samples
