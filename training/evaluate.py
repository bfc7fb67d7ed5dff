"""``liveness-train eval``: ISO/IEC 30107-3 evaluation of a checkpoint (or an exported ONNX model).

Per protocol: every evaluation clip of the dev and test splits is scored (Nf frames at the frame interval,
a clip every ~10 frames, 1.3-scale face crops, no augmentation); a video's score is the mean of its clips'
scores (Sec. 4.2.2); the threshold is chosen on dev (at the dev EER, or at a target BPCER) and applied
unchanged on test (:func:`livenessapp_training.metrics.dev_test_report`).

Score variants (all "higher = more live"):

- ``score``: Eq. 18, ``beta * p_live + (1 - beta) * mean_t masked-mean(D_fusion(t))`` (the model's output);
- ``p_live``: the binary head alone, ``softmax(logits)[:, 1]``;
- ``depth``: the depth part of Eq. 18 alone, the masked mean of the fused maps;
- ``depth_single``: the masked mean of the single-frame maps over all Nf frames (the single-frame model).

Writes into the output folder: ``eval.json`` (everything, the exporter reads ``threshold`` from it),
``report.md``, ``scores.csv`` (video-level scores) and PNG plots (ROC, DET, score histograms).

``--photometric`` also re-scores the test split under :data:`LIGHT_SHIFTS` (the crops' pixels times a gain
per channel: darker / brighter exposure, warmer / cooler light, clipped to 0..255 as a camera clips) at the
unchanged threshold: how far the decisions move with the light alone.

``--apply-to train`` applies the dev threshold to the training split instead of the test split (the report,
CSV and plots name it; written to ``RUN/eval-train`` by default): a fit check. A model that misclassifies
its own training videos is held back by its capacity or training budget (under-fitting), not by the test
split's unseen conditions (over-fitting); the two call for different remedies.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from livenessapp_training import breakdown
from livenessapp_training import metrics as M

__all__ = [
    "VARIANTS",
    "ClipScores",
    "OnnxModel",
    "evaluate_dataset",
    "evaluate_protocol",
    "main",
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


# --------------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------------


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
    from livenessapp_training.fit import _collate

    was_training = getattr(model, "training", False)
    model.eval()
    is_torch = isinstance(model, torch.nn.Module)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_collate,
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
    if not np.isfinite(s).all():
        return {"acer": math.nan, "eer": math.nan, "threshold": math.nan}
    if not ((y == 1).any() and (y == 0).any()):
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

    Variants in ``skip`` (untrained parts) and those with non-finite scores are left out."""
    out = {}
    for k in VARIANTS:
        if k in skip or not np.isfinite(test.scores[k]).all():
            continue
        d = dev.split(k) if dev is not None else None
        t = (thresholds or {}).get(k)
        out[k] = M.dev_test_report(d, test.split(k), mode=mode, target_bpcer=target_bpcer, threshold=t)
    return out


# --------------------------------------------------------------------------------------------------------
# Plots and report
# --------------------------------------------------------------------------------------------------------


def _plots(
    out_dir: Path,
    dev: VideoScores | None,
    test: VideoScores,
    report: dict,
    primary: str,
    test_name: str = "test",
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    files = []
    variants = [k for k in VARIANTS if k in report]
    sets = [(test_name, test)] + ([("dev", dev)] if dev is not None else [])
    # ROC
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, vs in sets:
        for k in variants:
            s, y, _ = vs.split(k)
            if (y == 1).any() and (y == 0).any():
                far, tpr, _ = M.roc_curve(s, y)
                ax.plot(far, tpr, "-" if name == test_name else ":", label=f"{name} {k}")
    ax.plot([0, 1], [0, 1], color="0.8", lw=0.8)
    ax.set(
        xlabel="APCER (all attacks)",
        ylabel="1 - BPCER",
        title="ROC (video level)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "roc.png", dpi=110)
    plt.close(fig)
    files.append("roc.png")
    # DET (probit axes)
    fig, ax = plt.subplots(figsize=(5, 5))
    lo, hi = 1e-3, 0.5
    for name, vs in sets:
        for k in variants:
            s, y, _ = vs.split(k)
            if (y == 1).any() and (y == 0).any():
                a, b, _ = M.det_curve(s, y)
                a, b = np.clip(a, lo, 1 - lo), np.clip(b, lo, 1 - lo)
                ax.plot(norm.ppf(a), norm.ppf(b), "-" if name == test_name else ":", label=f"{name} {k}")
    ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5])
    ax.set_xticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    ax.set(xlabel="APCER", ylabel="BPCER", title="DET (video level)")
    ax.set_xlim(norm.ppf(lo), norm.ppf(hi))
    ax.set_ylim(norm.ppf(lo), norm.ppf(hi))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "det.png", dpi=110)
    plt.close(fig)
    files.append("det.png")
    # histograms
    for k in variants:
        s, y, p = test.split(k)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        bins = np.linspace(min(s.min(), 0.0), max(s.max(), 1.0), 31)
        ax.hist(s[y == 1], bins=bins, alpha=0.6, label="live")
        for species in sorted({x for x, lab in zip(p, y, strict=True) if lab == 0}):
            sel = np.array([x == species and lab == 0 for x, lab in zip(p, y, strict=True)])
            ax.hist(s[sel], bins=bins, alpha=0.5, label=species)
        ax.axvline(report[k]["threshold"], color="k", ls="--", lw=1, label="threshold")
        ax.set(
            xlabel=f"{k} (video level, {test_name})",
            ylabel="videos",
            title=f"{k}" + (" (primary)" if k == primary else ""),
        )
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / f"hist_{k}.png", dpi=110)
        plt.close(fig)
        files.append(f"hist_{k}.png")
    return files


def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def markdown_report(result: dict) -> str:
    lines = [f"# Evaluation: {result['model']}", ""]
    lines += [
        f"- dataset: `{result['dataset']}` at `{result['data_root']}`",
        f"- threshold: {result['threshold_mode']}"
        + (f" (target BPCER {result['target_bpcer']})" if result["threshold_mode"] == "bpcer" else ""),
        f"- primary score: `{result['primary']}`; live if score >= threshold; video score = mean of its clips",
        f"- {result['created']}, {result['seconds']:.1f} s",
        "",
    ]
    scored = result.get("applied_to", "test")
    if scored != "test":
        lines += [
            f"**Fit check: the dev threshold is applied to the {scored} split, not the test split.** Errors "
            "here mean the model does not fit the data it was trained on (capacity or training budget).",
            "",
        ]
    for proto, r in result["protocols"].items():
        lines += [f"## Protocol {proto}", ""]
        lines += [f"Videos: dev {r['counts'].get('dev', {})}, {scored} {r['counts'].get(scored, {})}", ""]
        lines += [
            f"| score | threshold | source | APCER % | BPCER % | ACER % | HTER % | EER % ({scored}) | BPCER@APCER=1% | BPCER@APCER=5% |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for k, v in r["variants"].items():
            t = v["test"]
            lines.append(
                f"| {k}{' *' if k == result['primary'] else ''} | {v['threshold']:.4f} | {v['threshold_source']} | "
                f"{_pct(t['apcer'])} | {_pct(t['bpcer'])} | {_pct(t['acer'])} | {_pct(t['hter'])} | "
                f"{_pct(t.get('eer'))} | {_pct(t.get('bpcer_at_apcer_1'))} | {_pct(t.get('bpcer_at_apcer_5'))} |"
            )
        prim = r["variants"].get(result["primary"])
        if prim:
            lines += ["", f"APCER per PAI species ({scored}, `{result['primary']}`):", ""]
            lines += ["| PAI | videos | APCER % |", "|---|---|---|"]
            for sp, a in prim["test"]["apcer_per_pai"].items():
                lines.append(f"| {sp} | {prim['test']['num_attack_per_pai'][sp]} | {_pct(a)} |")
        if r.get("per_source"):
            lines += ["", *breakdown.markdown(r["population"], r["per_source"], scored)]
        if r.get("photometric"):
            lines += [
                "",
                f"The {scored} split under a shifted light, threshold unchanged (`{result['primary']}`):",
                "",
            ]
            lines += ["| light | RGB gain | APCER % | BPCER % | ACER % |", "|---|---|---|---|---|"]
            for name, m in r["photometric"].items():
                gain = " / ".join(f"{g:g}" for g in m["gain_rgb"])
                lines.append(
                    f"| {name} | {gain} | {_pct(m['apcer'])} | {_pct(m['bpcer'])} | {_pct(m['acer'])} |"
                )
        lines += [
            "",
            *(f"![{f}]({proto}/{f})" if len(result["protocols"]) > 1 else f"![{f}]({f})" for f in r["plots"]),
            "",
        ]
    if len(result["protocols"]) > 1:
        lines += [
            "## Mean ± std over protocols",
            "",
            "| score | APCER % | BPCER % | ACER % |",
            "|---|---|---|---|",
        ]
        for k, m in result["mean_std"].items():
            lines.append(
                f"| {k} | {_pct(m['apcer'][0])} ± {_pct(m['apcer'][1])} | {_pct(m['bpcer'][0])} ± {_pct(m['bpcer'][1])} "
                f"| {_pct(m['acer'][0])} ± {_pct(m['acer'][1])} |"
            )
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, dev: VideoScores | None, test: VideoScores, test_name: str = "test") -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["split", "video_id", "label", "pai", "clips", *VARIANTS])
        for name, vs in (("dev", dev), (test_name, test)):
            if vs is None:
                continue
            for row in vs.rows():
                w.writerow(
                    [
                        name,
                        row["video_id"],
                        row["label"],
                        row["pai"],
                        row["clips"],
                        *(f"{row[k]:.6f}" for k in VARIANTS),
                    ]
                )


# --------------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="liveness-train eval",
        description="Video-level ISO/IEC 30107-3 metrics: threshold on dev, applied on test; report + plots.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("model", help="a run folder (best.pt), a checkpoint .pt, or an exported NAME.onnx")
    p.add_argument("--dataset", help="dataset kind (default: the run's)")
    p.add_argument("--data-root", help="dataset root (default: the run's)")
    p.add_argument("--protocol", action="append", help="protocol(s) to evaluate (repeat; default: the run's)")
    p.add_argument("--cache-dir", help="preprocessing cache (default: the run's)")
    p.add_argument("--out", help="output folder (default: RUN/eval, or next to the .onnx)")
    p.add_argument("--threshold-mode", choices=["eer", "bpcer"], default="eer")
    p.add_argument("--target-bpcer", type=float, default=0.01)
    p.add_argument("--threshold", type=float, help="use this threshold for the primary score (cross-dataset)")
    p.add_argument("--threshold-from", help="an eval.json whose thresholds to apply (cross-dataset testing)")
    p.add_argument(
        "--primary",
        choices=VARIANTS,
        help="the score that decides (default: score; depth_single for a checkpoint that finished stage 1 only)",
    )
    p.add_argument("--max-videos", type=int, default=0, help="per split, 0 = all")
    p.add_argument("--clips-per-video", type=int, default=0, help="0 = all")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--no-preprocess", action="store_true", help="fail instead of preprocessing missing videos"
    )
    p.add_argument(
        "--photometric",
        action="store_true",
        help="also score the test split under darker/brighter exposure and warmer/cooler light",
    )
    p.add_argument(
        "--apply-to",
        choices=["test", "train"],
        default="test",
        help="the split the dev threshold is applied to; train = a fit check (does the model separate the "
        "videos it was trained on?), written to RUN/eval-train",
    )
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


STAGE1_ONLY_UNTRAINED = ("score", "p_live", "depth")  # need the STPM and the binary head (stage 2)


def _load_any(model_arg: str, device: torch.device):
    """(model, SGTDConfig, train config dict or {}, description, untrained score variants).

    A multi-frame checkpoint saved before stage 2 (a stopped run, or ``final.pt`` of a stage-1-only config)
    has an untrained STPM and binary head: its ``score``, ``p_live`` and ``depth`` variants are noise, so
    they are returned as untrained and left out of the report."""
    from livenessapp_training.fas_sgtd import SGTDConfig
    from livenessapp_training.fit import load_model

    path = Path(model_arg)
    if path.suffix.lower() == ".onnx":
        m = OnnxModel(path)
        cfg = SGTDConfig.from_dict(m.config)
        td = {}
        with_data = m.metadata.get("livenessapp.training_data")
        if with_data:
            try:
                td = json.loads(with_data).get("train_config", {}) or {}
            except (ValueError, AttributeError):
                td = {}
        return m, cfg, td, f"onnx:{path}", ()
    model, meta = load_model(path, device)
    cfg = SGTDConfig.from_dict(meta["model_config"])
    untrained: tuple[str, ...] = ()
    if cfg.has_stpm and meta.get("stage") == 1:
        untrained = STAGE1_ONLY_UNTRAINED
        print(
            f"eval: {meta['path']} finished stage 1 only: its STPM and binary head are untrained, so only "
            "depth_single (the single-frame maps) is reported; finish stage 2 (fit --resume) for the rest",
            file=sys.stderr,
        )
    return model, cfg, meta.get("train_config", {}), meta["path"], untrained


def resolve_primary(primary: str | None, untrained: Sequence[str], model_desc: str) -> str:
    """The deciding score: the one asked for, else Eq. 18's ``score`` (``depth_single`` for a model whose
    temporal part is untrained); asking for an untrained one is an error."""
    if primary is None:
        return "depth_single" if untrained else "score"
    if primary in untrained:
        raise SystemExit(
            f"eval: --primary {primary} needs the STPM and binary head, which {model_desc} has not trained "
            "(it finished stage 1 only); use --primary depth_single, or finish stage 2 with fit --resume"
        )
    return primary


def run_eval(args: argparse.Namespace, command: str = "") -> dict:
    from livenessapp_training.clips import ClipDataset
    from livenessapp_training.datasets import load_dataset, select
    from livenessapp_training.preprocess import PreprocessCache, PreprocessConfig

    start = time.perf_counter()
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    model, mcfg, tcfg, desc, untrained = _load_any(args.model, device)
    args.primary = resolve_primary(args.primary, untrained, desc)
    kind = args.dataset or tcfg.get("dataset")
    root = args.data_root or tcfg.get("data_root")
    if not kind or not root:
        raise SystemExit("eval: give --dataset and --data-root (the model carries no training config)")
    protocols = args.protocol or [tcfg.get("protocol") if not args.dataset else None]
    cache_dir = args.cache_dir or tcfg.get("cache_dir") or "cache"
    src = Path(args.model)
    scored_split = args.apply_to
    suffix = "" if scored_split == "test" else f"-{scored_split}"
    if args.out:
        out_dir = Path(args.out)
    elif src.suffix.lower() == ".onnx":
        out_dir = src.with_name(src.stem + "-eval" + suffix)
    else:
        out_dir = (src if src.is_dir() else src.parent) / ("eval" + suffix)
    out_dir.mkdir(parents=True, exist_ok=True)
    given: dict[str, float] = {}
    if args.threshold_from:
        prev = json.loads(Path(args.threshold_from).read_text())
        given = {k: v["threshold"] for k, v in prev.get("variants", {}).items()}
    if args.threshold is not None:
        given[args.primary] = args.threshold
    cache = PreprocessCache(
        cache_dir, PreprocessConfig.from_model(mcfg, crop_format=tcfg.get("crop_format", "jpeg"))
    )
    result: dict = {
        "model": desc,
        "model_config": mcfg.to_dict(),
        "dataset": kind,
        "data_root": os.fspath(root),
        "threshold_mode": args.threshold_mode,
        "target_bpcer": args.target_bpcer,
        "primary": args.primary,
        "applied_to": scored_split,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": command,
        "protocols": {},
    }
    for proto in protocols:
        samples = load_dataset(kind, root, proto)
        # "test" is the role (the split the dev threshold is applied to); --apply-to train fills it with the
        # training split
        splits = {"dev": select(samples, "dev"), "test": select(samples, scored_split)}
        if not splits["test"]:
            raise SystemExit(f"eval: no {scored_split} split in {kind} protocol {proto}")
        need = [s for s in splits["dev"] + splits["test"] if not cache.has(s)]
        if need and args.no_preprocess:
            raise SystemExit(f"eval: {len(need)} videos are not preprocessed in {cache_dir}")
        if need:
            cache.run(need, progress=not args.no_progress)
        scored: dict[str, VideoScores | None] = {}
        sets: dict[str, Dataset] = {}
        counts = {}
        for name, ss in splits.items():
            if not ss:
                scored[name] = None
                continue
            ds = ClipDataset(cache, ss, mcfg, train=False)
            idx = subset_indices(ds, args.max_videos, args.clips_per_video)
            sub = torch.utils.data.Subset(ds, idx) if len(idx) < len(ds) else ds
            sets[name] = sub
            clips = predict(model, sub, device, args.batch_size, args.num_workers, not args.no_progress)
            scored[name] = video_level(clips) if len(clips) else None
            if scored[name] is not None:
                vs = scored[name]
                counts[scored_split if name == "test" else name] = {
                    p: int(sum(1 for x in vs.pai if x == p)) for p in sorted(set(vs.pai))
                }
        if scored["test"] is None:
            raise SystemExit(
                f"eval: no complete clips in the {scored_split} split of {kind} protocol {proto}"
            )
        variants = evaluate_protocol(
            scored["dev"], scored["test"], args.threshold_mode, args.target_bpcer, given, skip=untrained
        )
        pdir = out_dir / str(proto or "all") if len(protocols) > 1 else out_dir
        pdir.mkdir(parents=True, exist_ok=True)
        _write_csv(pdir / "scores.csv", scored["dev"], scored["test"], scored_split)
        plots = (
            []
            if args.no_plots
            else _plots(pdir, scored["dev"], scored["test"], variants, args.primary, scored_split)
        )
        entry = {"counts": counts, "variants": variants, "plots": plots}
        entry["population"] = {
            (scored_split if name == "test" else name): breakdown.population(ss)
            for name, ss in splits.items()
            if ss
        }
        prim_t = variants[args.primary]["threshold"]
        test_scores = scored["test"]
        entry["per_source"] = breakdown.per_source(
            splits["test"], test_scores.video_id, test_scores.scores[args.primary], prim_t
        )
        if args.photometric:
            threshold = variants[args.primary]["threshold"]
            entry["photometric"] = light_shift_report(
                model,
                sets["test"],
                scored["test"],
                mcfg,
                threshold,
                args.primary,
                device,
                args.batch_size,
                args.num_workers,
            )
        result["protocols"][str(proto) if proto is not None else "all"] = entry
    first = next(iter(result["protocols"].values()))
    result["variants"] = first["variants"]
    result["threshold"] = first["variants"][args.primary]["threshold"]
    if len(protocols) > 1:
        result["mean_std"] = {
            k: {
                m: [
                    float(
                        np.mean(vals := [r["variants"][k]["test"][m] for r in result["protocols"].values()])
                    ),
                    float(np.std(vals)),
                ]
                for m in ("apcer", "bpcer", "acer", "hter")
            }
            for k in first["variants"]
        }
    result["seconds"] = time.perf_counter() - start
    (out_dir / "eval.json").write_text(json.dumps(result, indent=2, default=float))
    (out_dir / "report.md").write_text(markdown_report(result))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    result = run_eval(args, command="liveness-train eval " + shlex.join(argv))
    prim = result["variants"][result["primary"]]["test"]
    print(
        f"{result['primary']}: threshold {result['threshold']:.4f}  {result['applied_to']} "
        f"APCER {_pct(prim['apcer'])}%  "
        f"BPCER {_pct(prim['bpcer'])}%  ACER {_pct(prim['acer'])}%  EER {_pct(prim.get('eer'))}%"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
