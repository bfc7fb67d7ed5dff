"""Idiap Replay-Attack (Chingovska, Anjos & Marcel, BIOSIG 2012) with its official protocols.

Native layout::

    root/{train,devel,test}/real/client001_session01_webcam_authenticate_adverse_1.mov
    root/{train,devel,test}/attack/{fixed,hand}/attack_<medium>_client001_session01_<medium>_<photo|video>_<light>.mov

``medium``: ``print`` (hard copy; attack ``print``), ``mobile`` or ``highdef`` (a phone / tablet screen
showing a photo or a video; attack ``replay``). PAI species: ``print_photo``, ``mobile_photo``,
``mobile_video``, ``highdef_photo``, ``highdef_video``. ``session`` = the lighting (controlled/adverse),
``device`` = the attack support (``fixed``/``hand``; ``webcam`` for real accesses). The ``enroll/`` set is
not used. ``protocol``: ``None``/``"grandtest"`` (all attacks), ``"print"``, ``"digitalphoto"`` (photos on
screens), ``"photo"`` (print + digitalphoto), ``"video"``.
"""

from __future__ import annotations

from pathlib import Path

from .base import VIDEO_EXTENSIONS, VideoSample, iter_files, require_dir

NAME = "replay"
_SPLITS = {"train": "train", "devel": "dev", "dev": "dev", "test": "test"}
_PROTOCOLS = {
    "grandtest": lambda medium, content: True,
    "print": lambda medium, content: medium == "print",
    "digitalphoto": lambda medium, content: medium != "print" and content == "photo",
    "photo": lambda medium, content: content == "photo",
    "video": lambda medium, content: content == "video",
}


def _parse_attack(stem: str) -> tuple[str, str, str, str]:
    """``(medium, subject, content, light)`` of an attack file name."""
    parts = stem.split("_")
    if len(parts) < 6 or parts[0] != "attack":
        raise ValueError(f"not a Replay-Attack attack name: {stem!r}")
    medium, subject = parts[1], parts[2]
    content, light = parts[-2], parts[-1]
    if medium not in ("print", "mobile", "highdef") or content not in ("photo", "video"):
        raise ValueError(f"unknown Replay-Attack attack: {stem!r}")
    return medium, subject, content, light


def read_replay_attack(root: str | Path, protocol: str | None = None) -> list[VideoSample]:
    """Replay-Attack samples of one protocol (see the module docstring)."""
    root = require_dir(Path(root), "Replay-Attack")
    name = "grandtest" if protocol is None else str(protocol).strip().lower()
    if name not in _PROTOCOLS:
        raise ValueError(f"unknown Replay-Attack protocol {protocol!r} ({', '.join(_PROTOCOLS)})")
    keep = _PROTOCOLS[name]
    samples = []
    for folder, split in _SPLITS.items():
        base = root / folder
        if not base.is_dir():
            continue
        for path in iter_files(base / "real", VIDEO_EXTENSIONS) if (base / "real").is_dir() else ():
            parts = path.stem.split("_")
            light = next((p for p in parts if p in ("controlled", "adverse")), "")
            samples.append(
                VideoSample(
                    path=path,
                    label=1,
                    attack="none",
                    pai="live",
                    subject=parts[0],
                    session=light,
                    device="webcam",
                    split=split,
                    protocol=f"{NAME}:{name}",
                    video_id=f"{folder}/real/{path.stem}",
                )
            )
        for support in ("fixed", "hand"):
            adir = base / "attack" / support
            if not adir.is_dir():
                continue
            for path in iter_files(adir, VIDEO_EXTENSIONS):
                medium, subject, content, light = _parse_attack(path.stem)
                if not keep(medium, content):
                    continue
                samples.append(
                    VideoSample(
                        path=path,
                        label=0,
                        attack="print" if medium == "print" else "replay",
                        pai=f"{medium}_{content}",
                        subject=subject,
                        session=light,
                        device=support,
                        split=split,
                        protocol=f"{NAME}:{name}",
                        video_id=f"{folder}/{support}/{path.stem}",
                    )
                )
    if not samples and not any((root / f).is_dir() for f in _SPLITS):
        raise FileNotFoundError(f"no train/ devel/ test/ folders under {root}")
    return samples
