"""``liveness-train motion-probe``: is there motion evidence in the data, and does the network see it?

Measurements per PAI species, on a preprocessed dataset (the cache ``fit`` builds):

- **crop change** (no learning): how much the inner half of the face crop changes between frames
  ``interval`` apart once the best global shift is taken out (phase correlation). A live head turns and its
  face deforms in the crop; a print only moves as a whole. Used as a liveness score (higher = live) with the
  threshold at the dev EER, applied on test, it says what a motion statistic alone achieves.
- **background motion** (no learning; ``--background``): how far the background moves in the whole frame
  between frames ``interval`` apart -- the median optical flow of corner features outside the head and
  torso (:func:`background_mask`), in % of the frame width; a video with too little background in view
  has no value and is counted apart. With both measured, also their combination ``z(crop change) -
  z(background motion)``, each standardised on the dev videos (no fitted weights); and the background's
  motion relative to the face (the face's own shift taken off), which is what face-aligned crops see. A
  camera on a desk or a kiosk stays put while a live head moves in front of it; a hand-held screen or print
  carries its whole picture, background included, along with the hand (the screen's own motion, ``Δv`` of
  the arXiv paper's Eq. 14). The network cannot see this: its crops are aligned to the face in every frame.
- with ``--run``: the run's single-frame part on the same clips: the relative change of the features it
  hands to the STPM (``|F_l(t+1) - F_l(t)| / |F_l(t)|``, levels 1-3) -- the motion evidence the STPM gets
  -- and, for a multi-frame run, the spread of ``D_multi`` and of the binary head's logit margin; a ``p_live``
  that does not vary at all is flagged as a dead binary head (``devcheck.dead_binary_head_warning``, the check
  ``fit`` runs on the dev videos; see ``SGTDConfig.binary_activation``).

Prints one table per measurement; ``--json`` writes them too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "background_mask",
    "background_motion",
    "background_motions",
    "crop_change",
    "main",
    "motion_reports",
    "species_table",
]


def crop_change(crops: np.ndarray, interval: int = 3) -> float:
    """Mean absolute grey-level change of the inner half of ``crops`` ``[N, S, S(, 3)]`` between frames
    ``interval`` apart, after the best whole-pixel-or-finer global shift (phase correlation) is removed."""
    grey = crops.astype(np.float32)
    if grey.ndim == 4:
        grey = grey.mean(-1)
    n, size = grey.shape[0], grey.shape[1]
    if n <= interval:
        raise ValueError(f"need more than {interval} frames, got {n}")
    inner = slice(size // 4, 3 * size // 4)
    changes = []
    for i in range(0, n - interval, interval):
        a, b = grey[i], grey[i + interval]
        (dx, dy), _ = cv2.phaseCorrelate(a, b)
        back = cv2.warpAffine(b, np.float32([[1, 0, -dx], [0, 1, -dy]]), (size, size))
        changes.append(float(np.abs(back - a)[inner, inner].mean()))
    return float(np.mean(changes))


def background_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """uint8 mask (255 = background) of a frame ``shape`` (H, W): everything but the head and the torso.
    Head: the face-mesh box widened by 0.35 box widths to each side (ears, hair) and 0.6 box heights above;
    torso: from a quarter box height below the chin down to the frame's bottom, 1.25 box widths to each
    side (shoulders)."""
    h, w = shape
    x0, y0 = landmarks[:, :2].min(0)
    x1, y1 = landmarks[:, :2].max(0)
    bw, bh = x1 - x0, y1 - y0
    mask = np.full((h, w), 255, np.uint8)

    def clear(left: float, top: float, right: float, bottom: float) -> None:
        mask[
            int(max(0, top)) : int(max(0, min(h, bottom))), int(max(0, left)) : int(max(0, min(w, right)))
        ] = 0

    neck = y1 + 0.25 * bh
    clear(x0 - 0.35 * bw, y0 - 0.6 * bh, x1 + 0.35 * bw, neck)
    clear(x0 - 1.25 * bw, neck, x1 + 1.25 * bw, h)
    return mask


def background_motions(
    grey: Sequence[np.ndarray], landmarks: Sequence[np.ndarray], interval: int = 3, min_points: int = 8
) -> tuple[float, float]:
    """Background motion between frames ``interval`` apart, in % of the frame width, averaged over the
    pairs, in one pass of corner detection and optical flow: (the median displacement of the background's
    corner features, the same after the face's own shift -- its median landmark shift -- is taken off, which
    is what a crop aligned to the face in every frame sees). NaN when no pair has ``min_points`` tracked
    features (a face filling the frame leaves no background)."""
    if len(grey) != len(landmarks):
        raise ValueError(f"{len(grey)} frames but {len(landmarks)} landmark sets")
    width = grey[0].shape[1]
    absolute, relative = [], []
    for i in range(0, len(grey) - interval, interval):
        a, b = grey[i], grey[i + interval]
        mask = background_mask(a.shape, landmarks[i])
        pts = cv2.goodFeaturesToTrack(a, maxCorners=150, qualityLevel=0.01, minDistance=6, mask=mask)
        if pts is None or len(pts) < min_points:
            continue
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, None, winSize=(21, 21), maxLevel=3)
        ok = status.ravel() == 1
        if ok.sum() < min_points:
            continue
        flow = (nxt - pts).reshape(-1, 2)[ok]
        face = np.median(landmarks[i + interval][:, :2] - landmarks[i][:, :2], axis=0)
        absolute.append(100.0 * float(np.median(np.linalg.norm(flow, axis=1))) / width)
        relative.append(100.0 * float(np.linalg.norm(np.median(flow, axis=0) - face)) / width)
    if not absolute:
        return math.nan, math.nan
    return float(np.mean(absolute)), float(np.mean(relative))


def background_motion(
    grey: Sequence[np.ndarray],
    landmarks: Sequence[np.ndarray],
    interval: int = 3,
    min_points: int = 8,
    relative_to_face: bool = False,
) -> float:
    """One of :func:`background_motions`: the absolute motion, or with ``relative_to_face`` the motion after
    the face's own shift is taken off."""
    return background_motions(grey, landmarks, interval, min_points)[int(relative_to_face)]


def species_table(rows: dict[str, list[list[float]]], columns: Sequence[str]) -> str:
    """A markdown table of per-species mean +- std of each column."""
    head = "| species | n | " + " | ".join(columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 2)]
    for pai in sorted(rows):
        v = np.asarray(rows[pai], np.float64)
        cells = [f"{m:.4f} ± {s:.4f}" for m, s in zip(v.mean(0), v.std(0), strict=True)]
        lines.append(f"| {pai} | {len(v)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class _Video:
    split: str
    label: int
    pai: str
    values: dict[str, float]


def _measure_videos(samples, cache, interval: int, background: bool) -> list[_Video]:
    """Crop change (and background motion) of every cached dev / test video, each video read once."""
    from livenessapp_training.preprocess import CachedVideo

    videos = []
    for s in samples:
        path = cache.path_for(s)
        if not path.is_file() or s.split not in ("dev", "test"):
            continue
        video = CachedVideo(path)
        if len(video) <= interval:
            continue
        values = {"crop change": crop_change(video.eval_crops(np.arange(len(video))), interval)}
        if background:
            absolute, relative = background_motions(*_frames_and_landmarks(s, video), interval)
            values["background motion"] = absolute
            values["background relative to the face"] = relative
        videos.append(_Video(s.split, int(s.label), s.pai, values))
    return videos


def _frames_and_landmarks(sample, video) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Grey frames of the video and their cached face-mesh landmarks, for the frames in the cache."""
    from livenessapp_training.video_frames import iter_frames

    wanted = {int(f): k for k, f in enumerate(video.frame_indices)}
    grey, rows = [], []
    for index, frame in iter_frames(Path(sample.path)):
        row = wanted.get(index)
        if row is not None:
            grey.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            rows.append(row)
    return grey, list(video.rows("landmarks", rows))


def _score_report(
    name: str, unit: str, videos: list[_Video], score, live_high: bool = True
) -> tuple[str, dict]:
    """Per-species table of a statistic ``score(video)`` (NaN = no value: counted apart), and the statistic
    as a liveness score: threshold at the dev EER, applied on test (``live_high``: higher means live)."""
    from livenessapp_training.metrics import dev_test_report

    per_species: dict[str, list[list[float]]] = defaultdict(list)
    missing: dict[str, int] = defaultdict(int)
    splits: dict[str, tuple[list, list, list]] = {"dev": ([], [], []), "test": ([], [], [])}
    for v in videos:
        value = score(v)
        if not math.isfinite(value):
            missing[v.pai] += v.split == "test"
            continue
        for column, item in zip(splits[v.split], (value, v.label, v.pai), strict=True):
            column.append(item)
        if v.split == "test":
            per_species[v.pai].append([value])
    text = f"{name} (test split, {unit}):\n\n" + species_table(per_species, [name])
    result: dict = {"per_species": {k: float(np.mean(v)) for k, v in per_species.items()}}
    if any(missing.values()):
        result["test_videos_without_a_value"] = {k: n for k, n in missing.items() if n}
        text += "\n\nTest videos without a value (left out): " + ", ".join(
            f"{k} {n}" for k, n in sorted(result["test_videos_without_a_value"].items())
        )
    if all(len(set(splits[k][1])) == 2 for k in splits):
        sign = 1.0 if live_high else -1.0
        signed = {k: (sign * np.asarray(v[0], np.float64), v[1], v[2]) for k, v in splits.items()}
        report = dev_test_report(signed["dev"], signed["test"])
        t = report["test"]
        threshold = sign * report["threshold"]
        result["as_score"] = {
            "threshold": threshold,
            **{k: t[k] for k in ("apcer_per_pai", "bpcer", "acer", "eer")},
        }
        per = ", ".join(f"{k} {100 * v:.1f} %" for k, v in sorted(t["apcer_per_pai"].items()))
        live_side = ">=" if live_high else "<="
        text += (
            f"\n\nAs a liveness score (live if {live_side} {threshold:.3f}, the dev EER threshold, applied on "
            f"test): APCER {per}; BPCER {100 * t['bpcer']:.1f} %; ACER {100 * t['acer']:.1f} %; "
            f"EER {100 * t['eer']:.1f} %."
        )
    return text, result


def motion_reports(videos: list[_Video]) -> tuple[str, dict]:
    """The crop-change report, and with background motion measured, its report and the two combined:
    ``z(crop change) - z(background motion)``, each standardised on the dev videos (no fitted weights)."""
    text, result = _score_report("crop change", "grey levels", videos, lambda v: v.values["crop change"])
    out = {"crop_change": result}
    if not any("background motion" in v.values for v in videos):
        return text, out
    bg_text, out["background_motion"] = _score_report(
        "background motion",
        "% of the frame width per interval",
        videos,
        lambda v: v.values["background motion"],
        live_high=False,
    )
    dev = np.array(
        [
            [v.values["crop change"], v.values["background motion"]]
            for v in videos
            if v.split == "dev" and math.isfinite(v.values["background motion"])
        ]
    )
    if len(dev) < 2:
        return text + "\n\n" + bg_text, out
    mean, std = dev.mean(0), np.maximum(dev.std(0), 1e-9)
    both_text, out["combined"] = _score_report(
        "z(crop change) - z(background motion)",
        f"each standardised on dev: crop change {mean[0]:.3f} ± {std[0]:.3f}, background {mean[1]:.3f} ± {std[1]:.3f}",
        videos,
        lambda v: (
            (v.values["crop change"] - mean[0]) / std[0] - (v.values["background motion"] - mean[1]) / std[1]
        ),
    )
    rel_text, out["background_relative_to_face"] = _score_report(
        "background relative to the face",
        "% of the frame width per interval, after the face's own shift: what face-aligned crops see",
        videos,
        lambda v: v.values.get("background relative to the face", math.nan),
    )
    return "\n\n".join((text, bg_text, both_text, rel_text)), out


def _network_report(model, meta: dict, samples, cache, split: str, max_videos: int) -> tuple[str, dict]:
    import torch

    from livenessapp_training.clips import ClipDataset
    from livenessapp_training.devcheck import dead_binary_head_warning

    cfg = model.cfg
    temporal = cfg.has_stpm and meta.get("stage") == 2  # a stage-1 run's STPM and head are untrained
    chosen = [s for s in samples if s.split == split][: max_videos or None]
    ds = ClipDataset(cache, chosen, cfg, False, 0, None, stride=30)
    rows: dict[str, list[list[float]]] = defaultdict(list)
    p_live = []
    with torch.no_grad():
        for k in range(len(ds)):
            item = ds[k]
            frames = torch.as_tensor(item["frames"])
            feats, depth_single = model.encode(frames)
            row = [((f[1:] - f[:-1]).abs().mean() / f.abs().mean().clamp_min(1e-8)).item() for f in feats]
            if temporal:
                mask = torch.as_tensor(item["mask"])[None]
                out = model.temporal(tuple(f[None] for f in feats), depth_single[None], mask)
                row.append(out.depth_multi.mean().item() if out.depth_multi is not None else 0.0)
                row.append((out.logits[0, 1] - out.logits[0, 0]).item())
                p_live.append(out.p_live.item())
            rows[ds.samples[ds.items[k][0]].pai].append(row)
    columns = ["F1 change", "F2 change", "F3 change"]
    if temporal:
        columns += ["D_multi mean", "logit margin (live - spoof)"]
    text = f"Network {meta['path']} on {split} clips (relative feature change between frames {cfg.frame_interval} apart):\n\n"
    text += species_table(rows, columns)
    spread = float(np.std(p_live)) if len(p_live) > 1 else math.nan
    warning = dead_binary_head_warning(cfg, spread, f"{split} clip")
    if warning:
        text += f"\n\nWarning: {warning}"
    return text, {pai: np.asarray(v).mean(0).tolist() for pai, v in rows.items()}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveness-train motion-probe", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="sim")
    p.add_argument("--data-root", required=True)
    p.add_argument("--protocol", default=None)
    p.add_argument("--cache-dir", required=True, help="the preprocessing cache (as fit built it)")
    p.add_argument("--input-size", type=int, default=128, help="the cache's crop size (lite: 128)")
    p.add_argument("--interval", type=int, default=3, help="frames between the compared crops")
    p.add_argument(
        "--background",
        action="store_true",
        help="also measure the background's motion in the whole frame (reads the videos; slower)",
    )
    p.add_argument("--run", default=None, help="also probe this run's network (run folder or checkpoint)")
    p.add_argument("--split", default="train", help="the split whose clips the network is probed on")
    p.add_argument("--max-videos", type=int, default=60, help="network probe: videos (0 = all)")
    p.add_argument("--json", default=None, help="also write the results here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from livenessapp_training.datasets import load_dataset
    from livenessapp_training.preprocess import PreprocessCache, PreprocessConfig

    model = meta = None
    if args.run:
        from livenessapp_training.checkpoint import load_model

        model, meta = load_model(args.run)
        pcfg = PreprocessConfig.from_model(model.cfg)
    else:
        pcfg = PreprocessConfig(input_size=args.input_size)
    samples = load_dataset(args.dataset, args.data_root, args.protocol)
    cache = PreprocessCache(args.cache_dir, pcfg)
    if not any(cache.has(s) for s in samples):
        print(
            f"motion-probe: no video of {args.data_root} is in the cache {args.cache_dir} with these settings; "
            "run 'liveness-train preprocess' (or fit) first, or pass the --input-size the cache was built with",
            file=sys.stderr,
        )
        return 2
    text, out = motion_reports(_measure_videos(samples, cache, args.interval, args.background))
    if model is not None:
        net_text, out["network"] = _network_report(model, meta, samples, cache, args.split, args.max_videos)
        text += "\n\n" + net_text
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
