"""Clips of the synthetic data simulator (``training/simulator``): ``root/manifest.jsonl``.

One JSON object per line (contract): ``clip_id``, ``path`` (relative to root), ``label`` live|spoof,
``attack`` none|print|replay, ``pai``, ``identity`` (-> subject), ``scene`` (-> session), ``camera``
(-> device), ``split``, ``protocol`` (normal|motion_only), ... ``protocol=None`` keeps every line, else only
lines of that protocol.
"""

from __future__ import annotations

import json
from pathlib import Path

from .base import VideoSample, require_dir, split_name

NAME = "sim"


def read_simulator(root: str | Path, protocol: str | None = None) -> list[VideoSample]:
    root = require_dir(Path(root), "simulator")
    manifest = root / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"no manifest.jsonl in {root}")
    samples = []
    for n, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        if protocol is not None and rec.get("protocol") != protocol:
            continue
        if rec["label"] not in ("live", "spoof"):
            raise ValueError(f"{manifest}:{n}: label must be live or spoof, got {rec['label']!r}")
        label = int(rec["label"] == "live")
        attack = rec.get("attack") or ("none" if label else "other")
        split = split_name(str(rec.get("split", "train")))
        if split is None:
            raise ValueError(f"{manifest}:{n}: unknown split {rec.get('split')!r}")
        samples.append(
            VideoSample(
                path=root / rec["path"],
                label=label,
                attack=attack,
                pai=str(rec.get("pai") or ("live" if label else attack)),
                subject=str(rec.get("identity", "")),
                session=str(rec.get("scene", "")),
                device=str(rec.get("camera", "")),
                split=split,
                protocol=f"{NAME}:{rec.get('protocol', '')}",
                video_id=str(rec.get("clip_id") or Path(rec["path"]).stem),
            )
        )
    return samples
