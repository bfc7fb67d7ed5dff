"""The one sample index every dataset reader produces: :class:`VideoSample`."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SPLITS = ("train", "dev", "test")
ATTACKS = ("none", "print", "replay", "other")
MEDIA = ("video", "images")

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "dev",
    "devel": "dev",
    "development": "dev",
    "val": "dev",
    "valid": "dev",
    "validation": "dev",
    "test": "test",
    "testing": "test",
    "eval": "test",
}


def split_name(name: str) -> str | None:
    """``train``/``dev``/``test`` for a folder or file name such as ``Train``, ``devel``, ``val``; else None."""
    return _SPLIT_ALIASES.get(name.strip().lower())


@dataclass(frozen=True)
class VideoSample:
    """One video (or folder of frames) of a dataset under one protocol.

    ``label``: 1 live (bona fide), 0 spoof. ``attack``: ``none`` | ``print`` | ``replay`` | ``other``.
    ``pai``: the presentation-attack-instrument species (``live`` for bona fide), the unit of APCER's
    "worst species". ``split``: ``train`` | ``dev`` | ``test``. ``protocol``: the protocol (fold) the
    split belongs to, e.g. ``oulu:3_2``.

    Optional fields beyond the contract: ``frame_range`` ``(start, stop)`` restricts the frames a
    protocol may use (SiW protocol 1 trains on the first 60 frames), and ``video_id`` is a readable id,
    unique within a dataset (default: ``<parent folder>/<file stem>``). ``media`` is ``video`` (a video
    file or a folder of its frames) or ``images``: a capture of still images (``frame_files``, in frame
    order) that are not consecutive video frames, so they train the single-frame stage only.
    """

    path: Path
    label: int
    attack: str
    pai: str
    subject: str = ""
    session: str = ""
    device: str = ""
    split: str = "train"
    protocol: str = ""
    frame_range: tuple[int, int] | None = None
    video_id: str = field(default="")
    media: str = "video"
    frame_files: tuple[Path, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "frame_files", tuple(Path(p) for p in self.frame_files))
        if self.media not in MEDIA:
            raise ValueError(f"media must be one of {MEDIA}, got {self.media!r}")
        if (self.media == "images") != bool(self.frame_files):
            raise ValueError(f"{self.path}: media 'images' goes with frame_files, and only it")
        if self.label not in (0, 1):
            raise ValueError(f"label must be 1 (live) or 0 (spoof), got {self.label!r}")
        if self.attack not in ATTACKS:
            raise ValueError(f"attack must be one of {ATTACKS}, got {self.attack!r}")
        if (self.label == 1) != (self.attack == "none"):
            raise ValueError(f"label {self.label} contradicts attack {self.attack!r} for {self.path}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if not self.video_id:
            object.__setattr__(self, "video_id", f"{self.path.parent.name}/{self.path.stem}")

    @property
    def is_still(self) -> bool:
        """A capture of still images (single-frame training only)."""
        return self.media == "images"

    @property
    def is_live(self) -> bool:
        return self.label == 1

    def with_(self, **changes) -> VideoSample:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {
            "path": os.fspath(self.path),
            "label": self.label,
            "attack": self.attack,
            "pai": self.pai,
            "subject": self.subject,
            "session": self.session,
            "device": self.device,
            "split": self.split,
            "protocol": self.protocol,
            "frame_range": list(self.frame_range) if self.frame_range else None,
            "video_id": self.video_id,
            "media": self.media,
            "frame_files": [os.fspath(p) for p in self.frame_files],
        }

    @classmethod
    def from_dict(cls, d: dict) -> VideoSample:
        d = dict(d)
        if d.get("frame_range") is not None:
            d["frame_range"] = tuple(d["frame_range"])
        return cls(**d)


def select(samples: Iterable[VideoSample], split: str | None = None, **equal) -> list[VideoSample]:
    """Samples of one split (and with the given field values), order kept."""
    out = []
    for s in samples:
        if split is not None and s.split != split:
            continue
        if all(getattr(s, k) == v for k, v in equal.items()):
            out.append(s)
    return out


def summarise(samples: Iterable[VideoSample]) -> dict[str, dict[str, int]]:
    """Counts per split and PAI, e.g. ``{"train": {"live": 10, "print1": 5, ...}, ...}``."""
    table: dict[str, Counter] = {}
    for s in samples:
        table.setdefault(s.split, Counter())[s.pai] += 1
    return {split: dict(sorted(c.items())) for split, c in sorted(table.items())}


def iter_files(root: Path, extensions: tuple[str, ...]) -> Iterator[Path]:
    """Files under ``root`` (recursively, sorted, hidden entries skipped) with one of the extensions."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(extensions):
                yield Path(dirpath) / name


def is_frame_folder(path: Path) -> bool:
    """A folder that directly holds image files (one video stored as frames)."""
    return path.is_dir() and any(
        p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") for p in path.iterdir()
    )


def require_dir(root: Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{what} root {root} is not a folder")
    return root
