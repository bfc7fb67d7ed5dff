"""Manifest-described folders of real images and videos (``kind="manifest"``).

Layout: a folder with ``MANIFEST.tsv`` (tab-separated, one header row) beside the files it names::

    file                              label  attack  media  ...  source_repo
    nuaa/ClientFace/0001/0001_00_00_01_0.jpg  live   none    image  ...  nvlong21/face_anti_spoofing
    clips/replay_video.mp4            spoof  replay  video  ...  Trainingdata-datamarket/Anti-...

Columns (any order; unknown columns are ignored):

- ``file`` (required): path relative to the folder.
- ``label`` (required): ``live`` (also real, genuine, bonafide) or ``spoof`` (also attack, fake).
- ``media`` (required): ``image`` or ``video``; rows of any other media (a label CSV, say) are skipped.
- ``attack``: ``none`` for live, ``print``, ``replay``, or any other name (an ``other`` attack species of that
  name); empty = ``print`` for a spoof image, ``replay`` for a spoof video.
- ``source_repo`` or ``source``: where the file came from. With ``subject`` it makes the **grouping key**
  ``source/subject``: splits never put one group in two splits, so no person is in both train and test.
  A source written ``recapture:<source>`` (what ``simulate recapture`` writes) is a re-filming of
  ``<source>``'s recordings: its rows keep that source name in the per-source breakdown, but group with
  ``<source>``'s people, so a person and the replays of their recordings share one split and count once.
- ``subject``: the person. Without it, an image's person is the folder that holds it (NUAA's
  ``ClientFace/0001`` and ``ImposterFace/0001`` are both person ``0001``), and a video's person is unknown, so
  all videos of a source form one group (a source's people never straddle train and test).
- ``sequence``: images of one capture. Without it, images in one folder whose names differ only in a
  trailing ``_<number>`` (``0001_00_00_01_12.jpg``: capture ``0001_00_00_01``, frame 12) are one capture.
- ``split``: ``train`` / ``dev`` / ``test``; where given, it wins over the protocol's split.

Each video is one :class:`VideoSample` (``media="video"``); each image capture is one sample of
``media="images"`` whose ``frame_files`` are its images in frame order. Image captures train the
single-frame stage only (their frames are not consecutive video frames), videos train both stages.

Protocols (``--protocol``):

- ``groups`` (default): the groups are split train/dev/test 60/20/20 by a seeded shuffle, stratified by what a
  group holds (images or videos; with or without live faces), each stratum of 2 or more groups giving at
  least one to test and, where 2 or more groups are left, at least one to dev.
- ``lso:NAME[+NAME...]``: leave sources out — every group of a source whose name contains a NAME goes to
  test; the rest is split train/dev 80/20 the same way (the cross-dataset test, as the paper's
  CASIA -> Replay-Attack).
- ``all``: every sample in test (score a model trained elsewhere on the whole corpus).

A ``:seed`` suffix (``groups:3``) changes the shuffle.
"""

from __future__ import annotations

import csv
import re
import zlib
from collections import defaultdict
from pathlib import Path

from .base import VideoSample, require_dir, split_name

MANIFEST_NAME = "MANIFEST.tsv"
RECAPTURE_PREFIX = "recapture:"  # source of a re-filmed recording: groups with the original source's people
# The columns the project's own manifest writers put first (build_real_mix.py, ``simulate recapture``);
# a reader needs only file, label and media.
MANIFEST_COLUMNS = (
    "file",
    "label",
    "attack",
    "media",
    "source_repo",
    "subject",
    "split",
    "source_path",
    "license",
)
_LIVE = {"live", "real", "genuine", "bonafide", "bona_fide", "bona-fide", "1"}
_SPOOF = {"spoof", "attack", "fake", "0"}
_FRAME_SUFFIX = re.compile(r"^(?P<capture>.+)_(?P<frame>\d+)$")


def _label_of(text: str, where: str) -> int:
    t = (text or "").strip().lower()
    if t in _LIVE:
        return 1
    if t in _SPOOF:
        return 0
    raise ValueError(f"{where}: label {text!r} is neither live nor spoof (use live / spoof)")


def _attack_of(label: int, attack: str, media: str) -> tuple[str, str]:
    """``(attack, pai)`` of a row."""
    a = (attack or "").strip().lower()
    if label == 1:
        return "none", "live"
    if a in ("", "none"):
        a = "print" if media == "image" else "replay"
    if a in ("print", "replay"):
        return a, a
    return "other", a


def _stable_shuffle(keys: list[str], seed: int) -> list[str]:
    return sorted(keys, key=lambda k: (zlib.crc32(f"{seed}:{k}".encode()), k))


def _split_counts(n: int, dev: float, test: float) -> tuple[int, int]:
    """``(n_dev, n_test)`` of a stratum of ``n`` groups."""
    n_test = max(1, round(test * n)) if n >= 2 and test > 0 else 0
    n_dev = max(1, round(dev * n)) if n - n_test >= 2 and dev > 0 else 0
    return n_dev, n_test


def assign_groups(strata: dict[tuple, list[str]], seed: int, dev: float, test: float) -> dict[str, str]:
    """group -> split: in each stratum a seeded shuffle, then test, dev, and the rest train."""
    out: dict[str, str] = {}
    for key in sorted(strata):
        groups = _stable_shuffle(sorted(strata[key]), seed)
        n_dev, n_test = _split_counts(len(groups), dev, test)
        for i, g in enumerate(groups):
            out[g] = "test" if i < n_test else ("dev" if i < n_test + n_dev else "train")
    return out


def _parse_protocol(protocol: str | None) -> tuple[str, list[str], int]:
    text = (protocol or "groups").strip()
    seed = 0
    head, _, tail = text.rpartition(":")
    if head and tail.isdigit():
        text, seed = head, int(tail)
    name, _, arg = text.partition(":")
    name = name.lower()
    if name not in ("groups", "lso", "all"):
        raise ValueError(f"manifest protocol {protocol!r}: use groups, lso:SOURCE[+SOURCE], or all")
    held = [a for a in arg.split("+") if a] if name == "lso" else []
    if name == "lso" and not held:
        raise ValueError("manifest protocol lso needs the sources to hold out, e.g. lso:WOLF-huo")
    return name, held, seed


def read_manifest_rows(root: Path) -> list[dict]:
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {MANIFEST_NAME} in {root} (the manifest layout is in training/datasets/manifest.py)"
        )
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if rows:
        missing = {"file", "label", "media"} - set(rows[0])
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    return rows


def read_manifest(root: str | Path, protocol: str | None = None) -> list[VideoSample]:
    """Samples of a manifest-described folder under ``protocol`` (see the module docstring)."""
    root = require_dir(root, "manifest dataset")
    name, held, seed = _parse_protocol(protocol)
    captures: dict[tuple, list[tuple[int, Path]]] = defaultdict(list)
    meta: dict[tuple, dict] = {}
    for n, row in enumerate(read_manifest_rows(root), start=2):
        media = (row.get("media") or "").strip().lower()
        if media not in ("image", "video"):
            continue
        where = f"{root / MANIFEST_NAME} line {n}"
        rel = (row.get("file") or "").strip()
        path = root / rel
        if not path.is_file():
            raise FileNotFoundError(f"{where}: {rel} does not exist under {root}")
        label = _label_of(row.get("label", ""), where)
        attack, pai = _attack_of(label, row.get("attack", ""), media)
        source = (row.get("source_repo") or row.get("source") or "").strip() or "unknown"
        subject = (row.get("subject") or "").strip()
        if not subject:
            subject = path.parent.name if media == "image" else "*"
        split = split_name(row.get("split") or "") if row.get("split") else None
        if row.get("split") and split is None:
            raise ValueError(f"{where}: split {row['split']!r} is not train, dev or test")
        if media == "video":
            key = ("video", rel)
            frame = 0
        else:
            capture = (row.get("sequence") or "").strip()
            m = _FRAME_SUFFIX.match(path.stem)
            frame = int(m["frame"]) if m else 0
            if not capture:
                capture = m["capture"] if m else path.stem
            key = ("images", f"{Path(rel).parent.as_posix()}/{capture}", label)
        captures[key].append((frame, path))
        meta.setdefault(
            key,
            {
                "label": label,
                "attack": attack,
                "pai": pai,
                "source": source,
                "subject": subject,
                "split": split,
                "media": media,
            },
        )
        if meta[key]["label"] != label:
            raise ValueError(f"{where}: capture {key[1]} mixes live and spoof rows")

    group_of = {k: f"{m['source'].removeprefix(RECAPTURE_PREFIX)}/{m['subject']}" for k, m in meta.items()}
    strata: dict[tuple, set[str]] = defaultdict(set)
    content: dict[str, set] = defaultdict(set)
    for k, m in meta.items():
        content[group_of[k]].add((m["media"], m["label"]))
    if name == "all":
        split_of = {g: "test" for g in content}
    else:
        test_groups = {g for g in content if any(h.lower() in g.split("/")[0].lower() for h in held)}
        if name == "lso" and not test_groups:
            raise ValueError(f"manifest protocol {protocol!r}: no source matches {held}")
        for g, c in content.items():
            if g not in test_groups:
                medias = tuple(sorted({m for m, _ in c}))
                strata[(medias, any(lab for _, lab in c))].add(g)
        dev, test = (0.2, 0.0) if name == "lso" else (0.2, 0.2)
        split_of = assign_groups({k: sorted(v) for k, v in strata.items()}, seed, dev, test)
        split_of.update({g: "test" for g in test_groups})

    tag = f"manifest:{protocol or 'groups'}"
    samples = []
    for k in sorted(meta, key=lambda k: (k[0], k[1])):
        m = meta[k]
        frames = [p for _, p in sorted(captures[k], key=lambda fp: (fp[0], fp[1].name))]
        split = m["split"] or split_of[group_of[k]]
        common = dict(
            label=m["label"],
            attack=m["attack"],
            pai=m["pai"],
            subject=group_of[k],
            device=m["source"],
            split=split,
            protocol=tag,
        )
        if m["media"] == "video":
            samples.append(VideoSample(path=frames[0], video_id=k[1], **common))
        else:
            samples.append(
                VideoSample(
                    path=frames[0].parent,
                    media="images",
                    frame_files=tuple(frames),
                    video_id=f"{k[1]}[{'live' if m['label'] else m['pai']}]",
                    **common,
                )
            )
    return samples


def export_live_faces(
    root: str | Path, out: str | Path, protocol: str | None = None, split: str = "train", per_video: int = 3
) -> list[Path]:
    """Write the live faces of one split as photos for the simulator's ``--faces``: the middle image of each
    live image capture and ``per_video`` evenly spaced frames of each live video. The simulator then makes
    its synthetic prints and replays (and live clips) of the real train people, never of dev or test people.
    Returns the written files; files already there are kept (the command can be re-run)."""
    import shutil

    import cv2

    from livenessapp.sources import open_video_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for s in read_manifest(root, protocol):
        if not s.is_live or s.split != split:
            continue
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", s.video_id.removesuffix("[live]")).strip("_")
        if s.is_still:
            src = s.frame_files[len(s.frame_files) // 2]
            dst = out / f"{stem}{src.suffix.lower()}"
            if not dst.exists():
                shutil.copyfile(src, dst)
            written.append(dst)
            continue
        cap = open_video_file(s.path)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
        picks = [int(n * (i + 1) / (per_video + 1)) for i in range(per_video)] if n > 0 else [0]
        for i, frame_no in enumerate(picks):
            dst = out / f"{stem}_{i}.jpg"
            if dst.exists():
                written.append(dst)
                continue
            cap.set(cv2.CAP_PROP_POS_FRAMES, frame_no)
            ok, frame = cap.read()
            if ok:
                cv2.imwrite(str(dst), frame)
                written.append(dst)
        cap.release()
    if not written:
        raise ValueError(f"{root}: no live {split} samples under protocol {protocol or 'groups'!r}")
    return written
