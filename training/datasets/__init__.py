"""Dataset readers: every dataset's native layout and official protocol files -> ``list[VideoSample]``.

>>> samples = load_dataset("oulu", "/data/Oulu_NPU", protocol="3_2")
>>> train = select(samples, "train")

Kinds (aliases in brackets): ``oulu`` (oulu-npu), ``siw``, ``casia`` (casia-mfsd), ``replay``
(replay-attack, idiap), ``folder`` (generic live/print/replay folders), ``manifest`` (a
MANIFEST.tsv of real images and videos, grouped by source and person), ``sim`` (simulator), ``recorded``
(app recordings). See each reader's module for the protocols it knows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .base import SPLITS, VideoSample, select, split_name, summarise
from .casia import read_casia
from .folder import read_folder, read_recorded
from .manifest import read_manifest
from .oulu import read_oulu
from .replay_attack import read_replay_attack
from .simulator import read_simulator
from .siw import read_siw

__all__ = [
    "READERS",
    "SPLITS",
    "VideoSample",
    "load_dataset",
    "read_casia",
    "read_folder",
    "read_manifest",
    "read_oulu",
    "read_recorded",
    "read_replay_attack",
    "read_simulator",
    "read_siw",
    "register_reader",
    "select",
    "split_name",
    "summarise",
]

READERS: dict[str, Callable[..., list[VideoSample]]] = {
    "oulu": read_oulu,
    "siw": read_siw,
    "casia": read_casia,
    "replay": read_replay_attack,
    "folder": read_folder,
    "manifest": read_manifest,
    "sim": read_simulator,
    "recorded": read_recorded,
}
_ALIASES = {
    "oulu-npu": "oulu",
    "oulu_npu": "oulu",
    "oulunpu": "oulu",
    "casia-mfsd": "casia",
    "casia_mfsd": "casia",
    "casia-fasd": "casia",
    "replay-attack": "replay",
    "replay_attack": "replay",
    "replayattack": "replay",
    "idiap": "replay",
    "generic": "folder",
    "simulator": "sim",
    "synthetic": "sim",
    "app": "recorded",
    "recordings": "recorded",
}


def register_reader(kind: str, reader: Callable[..., list[VideoSample]]) -> None:
    """Add a reader ``reader(root, protocol=None, **kwargs) -> list[VideoSample]`` under ``kind``."""
    READERS[kind.lower()] = reader


def load_dataset(
    kind: str, root: str | Path, protocol: str | int | None = None, **kwargs
) -> list[VideoSample]:
    """Samples of dataset ``kind`` stored at ``root`` under ``protocol`` (reader-specific keywords pass on)."""
    key = kind.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in READERS:
        raise ValueError(f"unknown dataset kind {kind!r}; known: {sorted(READERS)}")
    return READERS[key](Path(root), protocol, **kwargs)
