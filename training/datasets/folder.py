"""Generic folder datasets and clips recorded by the app.

Generic layout (``kind="folder"``)::

    root/[train|dev|test/]<class>/[<subject>/...]<video file | folder of frames>

``<class>``: ``live`` (also real, genuine, bonafide, bona_fide), ``print``, ``replay`` (also screen,
display, video); any other folder name is an ``other`` attack whose PAI species is the folder name. Items
are video files at any depth, or folders that directly hold image files (one video stored as frames). The
first folder below the class folder, if any, is the subject. Without train/dev/test folders every sample
gets ``default_split`` (``train``).

App recordings (``kind="recorded"``): ``<clip>.mp4`` next to ``<clip>.json`` with at least
``{"label": "live"|"print"|"replay"|"other", "camera", "time", "model_version"}``; optional ``"subject"``,
``"split"``, ``"pai"``, ``"session"``. Searched recursively. A sidecar with a bad label raises (a clip must
never be silently mislabeled); a sidecar without its video is skipped with a warning.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from .base import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VideoSample, require_dir, split_name

_LIVE_NAMES = {"live", "real", "genuine", "bonafide", "bona_fide", "bona-fide"}
_PRINT_NAMES = {"print", "prints", "printed", "paper"}
_REPLAY_NAMES = {"replay", "replays", "screen", "display", "video"}
_LABELS = {"live": (1, "none"), "print": (0, "print"), "replay": (0, "replay"), "other": (0, "other")}


def _class_of(name: str) -> tuple[int, str, str]:
    n = name.strip().lower()
    if n in _LIVE_NAMES:
        return 1, "none", "live"
    if n in _PRINT_NAMES:
        return 0, "print", "print"
    if n in _REPLAY_NAMES:
        return 0, "replay", "replay"
    return 0, "other", name


def _items(class_dir: Path) -> list[Path]:
    """Video files and frame folders under a class folder (a frame folder is not searched further)."""
    items = []
    for dirpath, dirnames, filenames in os.walk(class_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        images = [f for f in filenames if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
        if images and here != class_dir:
            items.append(here)
            dirnames[:] = []
            continue
        items += [
            here / f
            for f in sorted(filenames)
            if f.lower().endswith(VIDEO_EXTENSIONS) and not f.startswith(".")
        ]
    return items


def read_folder(
    root: str | Path, protocol: str | None = None, default_split: str = "train"
) -> list[VideoSample]:
    """Samples of a generic ``live/ print/ replay/ <other>/`` tree (see the module docstring)."""
    root = require_dir(Path(root), "folder dataset")
    tops = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    split_dirs = [(p, split_name(p.name)) for p in tops if split_name(p.name)]
    groups = split_dirs if split_dirs else [(root, default_split)]
    samples = []
    tag = f"folder:{protocol}" if protocol else "folder"
    for base, split in groups:
        for class_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            label, attack, pai = _class_of(class_dir.name)
            for path in _items(class_dir):
                rel = path.relative_to(class_dir)
                subject = rel.parts[0] if len(rel.parts) > 1 else ""
                samples.append(
                    VideoSample(
                        path=path,
                        label=label,
                        attack=attack,
                        pai=pai,
                        subject=subject,
                        split=split,
                        protocol=tag,
                        video_id=str(
                            path.relative_to(root).with_suffix("")
                            if path.is_file()
                            else path.relative_to(root)
                        ),
                    )
                )
    if not samples:
        raise FileNotFoundError(f"no videos or frame folders under class folders of {root}")
    return samples


def read_recorded(
    root: str | Path, protocol: str | None = None, default_split: str = "train"
) -> list[VideoSample]:
    """Clips recorded by the app (``<clip>.mp4`` + ``<clip>.json``, see the module docstring)."""
    root = require_dir(Path(root), "recorded clips")
    samples = []
    for sidecar in sorted(root.rglob("*.json")):
        video = next(
            (sidecar.with_suffix(ext) for ext in VIDEO_EXTENSIONS if sidecar.with_suffix(ext).is_file()), None
        )
        if video is None:
            warnings.warn(f"{sidecar}: no video next to the sidecar, skipped", stacklevel=2)
            continue
        meta = json.loads(sidecar.read_text())
        label_name = str(meta.get("label", "")).strip().lower()
        if label_name not in _LABELS:
            raise ValueError(f"{sidecar}: label must be one of {sorted(_LABELS)}, got {meta.get('label')!r}")
        label, attack = _LABELS[label_name]
        split = split_name(str(meta.get("split", default_split))) or default_split
        samples.append(
            VideoSample(
                path=video,
                label=label,
                attack=attack,
                pai=str(meta.get("pai") or ("live" if label else label_name)),
                subject=str(meta.get("subject", "")),
                session=str(meta.get("session", meta.get("time", ""))),
                device=str(meta.get("camera", "")),
                split=split,
                protocol=f"recorded:{protocol}" if protocol else "recorded",
                video_id=str(video.relative_to(root).with_suffix("")),
            )
        )
    return samples
