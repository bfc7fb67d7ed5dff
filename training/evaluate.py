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
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from livenessapp_training import breakdown
from livenessapp_training.eval_report import markdown_report, pct, write_csv, write_plots
from livenessapp_training.scoring import (
    LIGHT_SHIFTS,
    VARIANTS,
    ClipScores,
    OnnxModel,
    VideoScores,
    evaluate_dataset,
    evaluate_protocol,
    light_shift_report,
    predict,
    subset_indices,
    video_level,
)

# The scoring names are importable from here too (``livenessapp_training.evaluate.predict`` etc.).
__all__ = [
    "LIGHT_SHIFTS",
    "VARIANTS",
    "ClipScores",
    "OnnxModel",
    "evaluate_dataset",
    "evaluate_protocol",
    "main",
    "predict",
    "resolve_primary",
    "run_eval",
    "subset_indices",
    "video_level",
]


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
    from livenessapp_training.checkpoint import load_model
    from livenessapp_training.fas_sgtd import SGTDConfig

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
    # where the primary score's threshold came from when it was given, not chosen on dev (the report says so)
    threshold_given = (
        f"--threshold {args.threshold}"
        if args.threshold is not None
        else f"--threshold-from {args.threshold_from}"
        if args.primary in given
        else ""
    )
    cache = PreprocessCache(
        cache_dir, PreprocessConfig.from_model(mcfg, crop_format=tcfg.get("crop_format", "jpeg"))
    )
    result: dict = {
        "model": desc,
        "model_config": mcfg.to_dict(),
        "dataset": kind,
        "data_root": os.fspath(root),
        "threshold_mode": args.threshold_mode,
        "threshold_given": threshold_given,
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
        if args.primary not in variants:
            which = "dev" if scored["dev"] is not None else scored_split
            raise SystemExit(
                f"eval: the {which} split of {kind} protocol {proto} holds only live or only attack "
                f"presentations, so no threshold can be chosen on it for `{args.primary}`; to score such a "
                "folder give the model's own threshold (--threshold, or --threshold-from RUN/eval/eval.json)"
            )
        pdir = out_dir / str(proto or "all") if len(protocols) > 1 else out_dir
        pdir.mkdir(parents=True, exist_ok=True)
        write_csv(pdir / "scores.csv", scored["dev"], scored["test"], scored_split)
        plots = (
            []
            if args.no_plots
            else write_plots(pdir, scored["dev"], scored["test"], variants, args.primary, scored_split)
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
        entry["source_spread"] = breakdown.source_bootstrap(
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
        f"APCER {pct(prim['apcer'])}%  "
        f"BPCER {pct(prim['bpcer'])}%  ACER {pct(prim['acer'])}%  EER {pct(prim.get('eer'))}%"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
