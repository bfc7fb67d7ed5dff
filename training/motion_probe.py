"""``liveness-train motion-probe``: is there motion evidence in the data, and does the network see it?

Two measurements per PAI species, on a preprocessed dataset (the cache ``fit`` builds):

- **crop change** (no learning): how much the inner half of the face crop changes between frames
  ``interval`` apart once the best global shift is taken out (phase correlation). A live head turns and its
  face deforms in the crop; a print only moves as a whole. Used as a liveness score (higher = live) with the
  threshold at the dev EER, applied on test, it says what a motion statistic alone achieves.
- with ``--run``: the run's single-frame part on the same clips: the relative change of the features it
  hands to the STPM (``|F_l(t+1) - F_l(t)| / |F_l(t)|``, levels 1-3) -- the motion evidence the STPM gets
  -- and, for a multi-frame run, the spread of ``D_multi`` and of the binary head's logit margin; a ``p_live``
  that does not vary at all is flagged as a dead binary head (``fit.dead_binary_head_warning``, the check
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
from pathlib import Path

import cv2
import numpy as np

__all__ = ["crop_change", "main", "species_table"]


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


def species_table(rows: dict[str, list[list[float]]], columns: Sequence[str]) -> str:
    """A markdown table of per-species mean +- std of each column."""
    head = "| species | n | " + " | ".join(columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 2)]
    for pai in sorted(rows):
        v = np.asarray(rows[pai], np.float64)
        cells = [f"{m:.4f} ± {s:.4f}" for m, s in zip(v.mean(0), v.std(0), strict=True)]
        lines.append(f"| {pai} | {len(v)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _crop_change_report(samples, cache, interval: int) -> tuple[str, dict]:
    from livenessapp_training.metrics import dev_test_report
    from livenessapp_training.preprocess import CachedVideo

    per_species: dict[str, list[list[float]]] = defaultdict(list)
    splits: dict[str, tuple[list, list, list]] = {"dev": ([], [], []), "test": ([], [], [])}
    for s in samples:
        path = cache.path_for(s)
        if not path.is_file() or s.split not in splits:
            continue
        video = CachedVideo(path)
        if len(video) <= interval:
            continue
        value = crop_change(video.eval_crops(np.arange(len(video))), interval)
        scores, labels, pais = splits[s.split]
        scores.append(value)
        labels.append(int(s.label))
        pais.append(s.pai)
        if s.split == "test":
            per_species[s.pai].append([value])
    text = "Crop change (test split, grey levels):\n\n" + species_table(per_species, ["crop change"])
    result: dict = {"per_species": {k: float(np.mean(v)) for k, v in per_species.items()}}
    if all(len(set(splits[k][1])) == 2 for k in splits):
        report = dev_test_report(splits["dev"], splits["test"])
        t = report["test"]
        result["as_score"] = {
            "threshold": report["threshold"],
            **{k: t[k] for k in ("apcer_per_pai", "bpcer", "acer", "eer")},
        }
        per = ", ".join(f"{k} {100 * v:.1f} %" for k, v in sorted(t["apcer_per_pai"].items()))
        text += (
            f"\n\nAs a liveness score (threshold {report['threshold']:.3f} at the dev EER, applied on test): "
            f"APCER {per}; BPCER {100 * t['bpcer']:.1f} %; ACER {100 * t['acer']:.1f} %; "
            f"EER {100 * t['eer']:.1f} %."
        )
    return text, result


def _network_report(model, meta: dict, samples, cache, split: str, max_videos: int) -> tuple[str, dict]:
    import torch

    from livenessapp_training.clips import ClipDataset
    from livenessapp_training.fit import dead_binary_head_warning

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
        from livenessapp_training.fit import load_model

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
    text, result = _crop_change_report(samples, cache, args.interval)
    out = {"crop_change": result}
    if model is not None:
        net_text, out["network"] = _network_report(model, meta, samples, cache, args.split, args.max_videos)
        text += "\n\n" + net_text
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
