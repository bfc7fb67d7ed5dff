"""Scoring of ``liveness-train eval``: clip scores from a network, video-level scores, and their metrics.

Every evaluation clip is scored (:func:`predict`); a video's score is the mean of its clips' scores
(:func:`video_level`, Sec. 4.2.2); the threshold is chosen on dev and applied unchanged on test
(:func:`evaluate_protocol`, :func:`livenessapp_training.metrics.dev_test_report`). Score variants (all
"higher = more live"):

- ``score``: Eq. 18, ``beta * p_live + (1 - beta) * mean_t masked-mean(D_fusion(t))`` (the model's output);
- ``p_live``: the binary head alone, ``softmax(logits)[:, 1]``;
- ``depth``: the depth part of Eq. 18 alone, the masked mean of the fused maps;
- ``depth_single``: the masked mean of the single-frame maps over all Nf frames (the single-frame model).

:func:`light_shift_report` re-scores a set under :data:`LIGHT_SHIFTS` (``eval --photometric``);
:func:`evaluate_dataset` is the cheap dev check of training (:mod:`livenessapp_training.devcheck`).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from livenessapp_training import metrics as M
from livenessapp_training.batching import collate

__all__ = [
    "LIGHT_SHIFTS",
    "VARIANTS",
    "ClipScores",
    "GainShifted",
    "OnnxModel",
    "VideoScores",
    "clip_scores_from_output",
    "evaluate_dataset",
    "evaluate_protocol",
    "light_shift_report",
    "predict",
    "subset_indices",
    "video_level",
]

VARIANTS = ("score", "p_live", "depth", "depth_single")
# RGB gains of ``--photometric``: exposure a fifth of a stop either way (2 ** -+0.2), and the colour of the
# light about +-5 % along the warm-cool axis (red against blue).
LIGHT_SHIFTS = {
    "exposure x0.87": (0.87, 0.87, 0.87),
    "exposure x1.15": (1.15, 1.15, 1.15),
    "warmer light": (1.054, 1.0, 0.949),
    "cooler light": (0.949, 1.0, 1.054),
}


def _masked_mean(depth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over time of ``sum(D * M) / sum(M)`` per frame: [B, T, 1, d, d] x [B, T, 1, d, d] -> [B]."""
    num = (depth * mask).flatten(2).sum(-1)
    den = mask.flatten(2).sum(-1).clamp_min(1e-6)
    return (num / den).mean(1)


def _get(out, name: str):
    return out[name] if isinstance(out, dict) else getattr(out, name, None)


def clip_scores_from_output(out, masks: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four score variants of a batch of clips from the network's output (see the module docstring).
    ``D_fusion(t)`` belongs to pair ``(t, t+1)`` and is aligned with frame ``t``: its masks are ``masks[:, :T]``."""
    score = _get(out, "score").float().reshape(-1)
    p_live = _get(out, "p_live").float().reshape(-1)
    fusion = _get(out, "depth_fusion")
    masks = masks.float()
    if fusion is not None:
        depth = _masked_mean(fusion.float(), masks[:, : fusion.shape[1]])
    else:
        depth = torch.full_like(score, math.nan)
    single = _get(out, "depth_single")
    d_single = _masked_mean(single.float(), masks) if single is not None else torch.full_like(score, math.nan)
    return {"score": score, "p_live": p_live, "depth": depth, "depth_single": d_single}


@dataclass
class ClipScores:
    """Per-clip results of one dataset: ids, labels, PAI species and the score variants."""

    video_id: list[str] = field(default_factory=list)
    label: list[int] = field(default_factory=list)
    pai: list[str] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})

    def __len__(self) -> int:
        return len(self.video_id)


@dataclass
class VideoScores:
    """Video-level scores (the mean of a video's clips)."""

    video_id: list[str]
    label: np.ndarray
    pai: list[str]
    clips: np.ndarray
    scores: dict[str, np.ndarray]

    def split(self, variant: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        return self.scores[variant], self.label, self.pai

    def rows(self) -> list[dict]:
        return [
            {
                "video_id": v,
                "label": int(self.label[i]),
                "pai": self.pai[i],
                "clips": int(self.clips[i]),
                **{k: float(s[i]) for k, s in self.scores.items()},
            }
            for i, v in enumerate(self.video_id)
        ]


def video_level(clips: ClipScores) -> VideoScores:
    order: dict[str, int] = {}
    for v in clips.video_id:
        order.setdefault(v, len(order))
    n = len(order)
    idx = np.array([order[v] for v in clips.video_id], dtype=np.int64)
    counts = np.bincount(idx, minlength=n)
    label = np.zeros(n, np.int64)
    pai = [""] * n
    for i, v in enumerate(clips.video_id):
        label[order[v]] = clips.label[i]
        pai[order[v]] = clips.pai[i]
    scores = {
        k: np.bincount(idx, weights=np.asarray(s, np.float64), minlength=n) / np.maximum(counts, 1)
        for k, s in clips.scores.items()
    }
    return VideoScores(list(order), label, pai, counts, scores)


class OnnxModel:
    """The exported full graph (``NAME.onnx``) behind the same call as the torch model: (frames, masks)."""

    def __init__(self, path: str | Path):
        import onnxruntime as ort

        self.path = Path(path)
        self.session = ort.InferenceSession(os.fspath(self.path), providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = dict(meta)
        self.config = json.loads(meta["livenessapp.config"]) if "livenessapp.config" in meta else {}
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.training = False

    def eval(self) -> OnnxModel:
        return self

    def __call__(self, frames: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        feeds = {
            "frames": frames.cpu().numpy().astype(np.float32),
            "masks": masks.cpu().numpy().astype(np.float32),
        }
        names = {i.name for i in self.session.get_inputs()}
        res = self.session.run(None, {k: v for k, v in feeds.items() if k in names})
        return {k: torch.from_numpy(np.asarray(v)) for k, v in zip(self.outputs, res, strict=True)}


@torch.no_grad()
def predict(
    model,
    dataset: Dataset,
    device: str | torch.device = "cpu",
    batch_size: int = 8,
    num_workers: int = 0,
    progress: bool = False,
) -> ClipScores:
    """Score every clip of ``dataset`` (items as :class:`~livenessapp_training.clips.ClipDataset`'s)."""
    was_training = getattr(model, "training", False)
    model.eval()
    is_torch = isinstance(model, torch.nn.Module)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate,
        generator=torch.Generator(),
    )
    out = ClipScores()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(dataset), desc="eval", unit="clip", dynamic_ncols=True, file=sys.stderr)
    for batch in loader:
        frames, masks = batch["frames"], batch["mask"]
        if is_torch:
            frames, masks = frames.to(device), masks.to(device)
        res = model(frames, masks)
        s = clip_scores_from_output(res, masks)
        for k in VARIANTS:
            out.scores[k] += s[k].cpu().double().tolist()
        out.video_id += list(batch["video_id"])
        out.label += [int(x) for x in batch["label"]]
        out.pai += [
            "live" if int(lab) == 1 else str(p) for p, lab in zip(batch["pai"], batch["label"], strict=True)
        ]
        if bar is not None:
            bar.update(len(batch["video_id"]))
    if bar is not None:
        bar.close()
    if is_torch:
        model.train(was_training)
    return out


class GainShifted(Dataset):
    """Items of a :class:`~livenessapp_training.clips.ClipDataset` with their pixels times an RGB ``gain``
    (undoing and redoing the network's fixed normalisation ``mean`` / ``std``; clipped to 0..255)."""

    def __init__(self, dataset: Dataset, gain: Sequence[float], mean: float, std: float):
        self.dataset, self.mean, self.std = dataset, float(mean), float(std)
        self.gain = torch.tensor(gain, dtype=torch.float32).view(1, 3, 1, 1)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        item = dict(self.dataset[index])
        pixels = (item["frames"] * self.std + self.mean) * self.gain
        item["frames"] = (pixels.clamp(0.0, 255.0) - self.mean) / self.std
        return item


def light_shift_report(
    model,
    test_set: Dataset,
    recorded: VideoScores,
    cfg,
    threshold: float,
    primary: str,
    device="cpu",
    batch_size: int = 8,
    num_workers: int = 0,
) -> dict[str, dict]:
    """``--photometric``: APCER (worst species) / BPCER / ACER on the test set at the unchanged ``threshold``,
    as recorded (``recorded``: its scores, already computed) and under each of :data:`LIGHT_SHIFTS`."""
    out = {}
    for name, gain in {"as recorded": (1.0, 1.0, 1.0), **LIGHT_SHIFTS}.items():
        if name == "as recorded":
            scores = recorded
        else:
            shifted = GainShifted(test_set, gain, cfg.mean, cfg.std)
            scores = video_level(predict(model, shifted, device, batch_size, num_workers))
        s, y, p = scores.split(primary)
        r = M.apcer_bpcer(s, y, threshold, p)
        out[name] = {"gain_rgb": list(gain), "apcer": r.apcer, "bpcer": r.bpcer, "acer": r.acer}
    return out


def subset_indices(dataset, max_videos: int = 0, clips_per_video: int = 0) -> list[int]:
    """A cheap, deterministic subset of a ClipDataset: at most ``max_videos`` videos (live and spoof
    interleaved so both stay represented) and ``clips_per_video`` evenly spaced clips of each (0 = all)."""
    items = getattr(dataset, "items", None)
    samples = getattr(dataset, "samples", None)
    if items is None or samples is None:
        return list(range(len(dataset)))
    per_video: dict[int, list[int]] = {}
    for i, (v, _) in enumerate(items):
        per_video.setdefault(v, []).append(i)
    videos = sorted(per_video, key=lambda v: samples[v].video_id)
    if max_videos and len(videos) > max_videos:
        live = [v for v in videos if samples[v].label == 1]
        spoof = [v for v in videos if samples[v].label == 0]
        mixed = []
        for k in range(max(len(live), len(spoof))):
            mixed += [x[k] for x in (live, spoof) if k < len(x)]
        videos = sorted(mixed[:max_videos])
    out: list[int] = []
    for v in videos:
        idx = per_video[v]
        if clips_per_video and len(idx) > clips_per_video:
            pos = np.linspace(0, len(idx) - 1, clips_per_video).round().astype(int)
            idx = [idx[p] for p in pos]
        out += idx
    return out


def _variant_metrics(scores: VideoScores, variant: str) -> dict:
    s, y, p = scores.split(variant)
    if not np.isfinite(s).all() or not M.has_both(y):
        return {"acer": math.nan, "eer": math.nan, "threshold": math.nan}
    e, t = M.threshold_at_eer(s, y)
    r = M.apcer_bpcer(s, y, t, p)
    return {"eer": e, "threshold": t, "acer": r.acer, "apcer": r.apcer, "bpcer": r.bpcer}


def evaluate_dataset(
    model, dataset: Dataset, device="cpu", batch_size: int = 8, num_workers: int = 0, progress: bool = False
) -> dict:
    """Video-level metrics of one set at its own EER threshold (model selection on dev during training),
    and ``p_live_std``, the spread of the videos' ``p_live`` (0 when the binary head ignores its input)."""
    v = video_level(predict(model, dataset, device, batch_size, num_workers, progress))
    p_live = v.scores["p_live"]
    return {
        "videos": len(v.video_id),
        "variants": {k: _variant_metrics(v, k) for k in VARIANTS},
        "p_live_std": float(np.std(p_live)) if len(p_live) else math.nan,
    }


def evaluate_protocol(
    dev: VideoScores | None,
    test: VideoScores,
    mode: str = "eer",
    target_bpcer: float = 0.01,
    thresholds: dict[str, float] | None = None,
    skip: Sequence[str] = (),
) -> dict[str, dict]:
    """Per variant: the threshold from dev (or given) applied on test (see :func:`metrics.dev_test_report`).

    Variants in ``skip`` (untrained parts) and those with non-finite scores are left out, and so are those
    with no given threshold when the split it would be chosen on cannot give one
    (:func:`metrics.can_choose_threshold`: a folder of live faces only, scored at a given threshold)."""
    out = {}
    for k in VARIANTS:
        if k in skip or not np.isfinite(test.scores[k]).all():
            continue
        d = dev.split(k) if dev is not None else None
        t = (thresholds or {}).get(k)
        chosen_on = (d if d is not None else test.split(k))[1]
        if t is None and not M.can_choose_threshold(chosen_on, mode):
            continue
        out[k] = M.dev_test_report(d, test.split(k), mode=mode, target_bpcer=target_bpcer, threshold=t)
    return out
