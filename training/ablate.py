"""``liveness-train ablate``: the paper's ablations (Tables 4 and 5 of arXiv 1811.05118) on one dataset.

Variants (Table 4: modules and supervision; Table 5: the contrastive depth loss)::

    model1        single-frame part, depth supervision (MSE + CDL)         Table 4 Model 1 = Table 5 Model 1
    model1_nocdl  single-frame part, Euclidean (MSE) depth loss only       Table 5 Model 1*
    model2_star   + STSTB (OFF block), depth supervision only              Table 4 Model 2*
    model2        + STSTB, depth + binary supervision                      Table 4 Model 2
    model3_star   + ConvGRU, depth only                                    Table 4 Model 3*
    model3        + ConvGRU, depth + binary                                Table 4 Model 3
    model4_star   + STSTB + ConvGRU, depth only                            Table 4 Model 4*
    model4        + STSTB + ConvGRU, depth + binary (the full FAS-SGTD)    Table 4 Model 4

Stage 1 is the single-frame part and is the same for all Table 4 variants, so it is trained once
(``model1``; ``model1_nocdl`` is a second stage-1 run without the CDL) and every multi-frame variant runs
stage 2 from those weights (``init_from``) with the same step budget. Each variant is evaluated like
``liveness-train eval`` (video level, threshold at the dev EER applied on test) with the score the variant
can produce: single-frame models the masked mean of their depth map (``depth_single``), depth-only (*)
variants the depth part of Eq. 18 (``depth``), binary-supervised variants Eq. 18 (``score``).
Writes ``OUT/ablation.md`` (one table) and ``OUT/ablation.json``; each variant's run is ``OUT/<variant>/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from livenessapp_training.eval_report import pct

__all__ = ["VARIANTS", "Variant", "main", "run_ablation"]


@dataclass(frozen=True)
class Variant:
    name: str
    table: str
    label: str
    overrides: dict
    stage1: str  # the stage-1 run it starts from ("" = it is a stage-1 run itself)
    score: str  # the score variant it is evaluated with
    paper_acer: float | None  # % on OULU-NPU protocol 1, for reference


_MF = {"multi_frame": True}
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("model1", "4/5", "single frame, MSE+CDL", {"use_contrastive": True}, "", "depth_single", 4.4),
        Variant(
            "model1_nocdl", "5", "single frame, MSE only", {"use_contrastive": False}, "", "depth_single", 5.8
        ),
        Variant(
            "model2_star",
            "4",
            "+STSTB, depth only",
            {**_MF, "use_ststb": True, "use_convgru": False, "use_binary": False},
            "model1",
            "depth",
            3.5,
        ),
        Variant(
            "model2",
            "4",
            "+STSTB, depth+binary",
            {**_MF, "use_ststb": True, "use_convgru": False, "use_binary": True},
            "model1",
            "score",
            2.3,
        ),
        Variant(
            "model3_star",
            "4",
            "+ConvGRU, depth only",
            {**_MF, "use_ststb": False, "use_convgru": True, "use_binary": False},
            "model1",
            "depth",
            3.3,
        ),
        Variant(
            "model3",
            "4",
            "+ConvGRU, depth+binary",
            {**_MF, "use_ststb": False, "use_convgru": True, "use_binary": True},
            "model1",
            "score",
            3.1,
        ),
        Variant(
            "model4_star",
            "4",
            "+STSTB+ConvGRU, depth only",
            {**_MF, "use_ststb": True, "use_convgru": True, "use_binary": False},
            "model1",
            "depth",
            1.7,
        ),
        Variant(
            "model4",
            "4",
            "+STSTB+ConvGRU, depth+binary (full)",
            {**_MF, "use_ststb": True, "use_convgru": True, "use_binary": True},
            "model1",
            "score",
            1.3,
        ),
    )
}


def _variant_config(base, v: Variant, out: Path):
    from livenessapp_training.train_config import TrainConfig

    d = base.to_dict()
    d["model_overrides"] = {**base.model_overrides, **v.overrides}
    d["out_dir"] = os.fspath(out / v.name)
    if v.stage1:
        d["stage1_steps"], d["stage1_epochs"] = 0, 0.0
        d["init_from"] = os.fspath(out / v.stage1 / "final.pt")
    else:
        d["stage2_steps"], d["stage2_epochs"] = 0, 0.0
    return TrainConfig.from_dict(d)


def _evaluate(run_dir: Path, v: Variant, args) -> dict:
    import numpy as np
    import torch

    from livenessapp_training.checkpoint import load_model
    from livenessapp_training.clips import ClipDataset
    from livenessapp_training.datasets import load_dataset, select
    from livenessapp_training.metrics import dev_test_report
    from livenessapp_training.preprocess import PreprocessCache, PreprocessConfig
    from livenessapp_training.scoring import predict, subset_indices, video_level
    from livenessapp_training.train_config import TrainConfig

    model, meta = load_model(run_dir / "final.pt", args.eval_device)
    tc = TrainConfig.from_dict(meta["train_config"])
    mc = tc.model_config()
    samples = load_dataset(tc.dataset, tc.data_root, tc.protocol)
    cache = PreprocessCache(tc.cache_dir, PreprocessConfig.from_model(mc, crop_format=tc.crop_format))
    splits = {}
    for name in ("dev", "test"):
        ss = select(samples, name)
        need = [s for s in ss if not cache.has(s)]
        if need:
            cache.run(need, progress=tc.progress)
        if not ss:
            splits[name] = None
            continue
        ds = ClipDataset(cache, ss, mc, train=False)
        idx = subset_indices(ds, args.max_videos, args.clips_per_video)
        clips = predict(model, torch.utils.data.Subset(ds, idx), args.eval_device, tc.eval_batch, 0, False)
        splits[name] = video_level(clips) if len(clips) else None
    if splits["test"] is None:
        raise SystemExit("ablate: no test clips")
    dev = splits["dev"].split(v.score) if splits["dev"] is not None else None
    rep = dev_test_report(dev, splits["test"].split(v.score), mode="eer")
    t = rep["test"]
    ok = np.isfinite(splits["test"].scores[v.score]).all()
    return {
        "score": v.score,
        "threshold": rep["threshold"],
        "threshold_source": rep["threshold_source"],
        "apcer": t["apcer"] if ok else math.nan,
        "bpcer": t["bpcer"] if ok else math.nan,
        "acer": t["acer"] if ok else math.nan,
        "eer": t.get("eer", math.nan),
        "worst_pai": t.get("worst_pai", ""),
        "apcer_per_pai": dict(t.get("apcer_per_pai", {})) if ok else {},
    }


def ablation_table(rows: list[dict], header: str) -> str:
    lines = [
        "# Ablation (Tables 4 and 5 of FAS-SGTD)",
        "",
        header,
        "",
        "| variant | table | modules / loss | score | APCER % | APCER % per PAI | BPCER % | ACER % | EER % "
        "| paper ACER % (OULU P1) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["metrics"]
        per_pai = ", ".join(f"{k} {pct(v)}" for k, v in sorted(m.get("apcer_per_pai", {}).items())) or "—"
        lines.append(
            f"| {r['name']} | {r['table']} | {r['label']} | {m['score']} | {pct(m['apcer'])} | {per_pai} | "
            f"{pct(m['bpcer'])} | {pct(m['acer'])} | {pct(m['eer'])} | "
            f"{r['paper_acer'] if r['paper_acer'] is not None else '—'} |"
        )
    lines += [
        "",
        "Video-level metrics on the test split; threshold at the dev EER (test EER when there is no dev split). "
        "APCER is the worst PAI species (each species in the next column). Stage 1 is shared by the Table 4 variants.",
    ]
    return "\n".join(lines) + "\n"


def run_ablation(base, out: Path, names: Sequence[str], args) -> list[dict]:
    from livenessapp_training.fit import fit

    out.mkdir(parents=True, exist_ok=True)
    todo = list(names)
    for v in list(todo):  # the stage-1 runs a chosen variant needs come first
        dep = VARIANTS[v].stage1
        if dep and dep not in todo:
            todo.insert(0, dep)
    todo = sorted(set(todo), key=lambda n: (VARIANTS[n].stage1 != "", list(VARIANTS).index(n)))
    rows = []
    for name in todo:
        v = VARIANTS[name]
        cfg = _variant_config(base, v, out)
        run_dir = Path(cfg.out_dir)
        t0 = time.perf_counter()
        if not (run_dir / "final.pt").is_file() or args.force:
            print(f"ablate: training {name} ({v.label})", flush=True)
            fit(cfg)
        metrics = _evaluate(run_dir, v, args)
        rows.append(
            {
                "name": name,
                "table": v.table,
                "label": v.label,
                "paper_acer": v.paper_acer,
                "metrics": metrics,
                "seconds": time.perf_counter() - t0,
                "run_dir": os.fspath(run_dir),
            }
        )
        (out / "ablation.json").write_text(json.dumps(rows, indent=2, default=float))
    header = (
        f"Dataset `{base.dataset}` at `{base.data_root}` (protocol {base.protocol}); model preset `{base.model}`; "
        f"stage 1 {base.stage1_steps or base.stage1_epochs} {'steps' if base.stage1_steps else 'epochs'}, "
        f"stage 2 {base.stage2_steps or base.stage2_epochs} {'steps' if base.stage2_steps else 'epochs'}; seed {base.seed}."
    )
    rows = [r for r in rows if r["name"] in names] + [r for r in rows if r["name"] not in names]
    (out / "ablation.md").write_text(ablation_table(rows, header))
    return rows


def build_parser() -> argparse.ArgumentParser:
    from livenessapp_training.train_config import add_config_arguments

    p = argparse.ArgumentParser(
        prog="liveness-train ablate",
        description="Train and evaluate the Table 4 / Table 5 variants on one dataset; one markdown table.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", help="base TrainConfig (JSON/TOML); options below override it")
    p.add_argument("--out", default="runs/ablate", help="output folder (one run per variant inside)")
    p.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}"
    )
    p.add_argument("--force", action="store_true", help="retrain variants that already have final.pt")
    p.add_argument("--max-videos", type=int, default=0, help="evaluation: videos per split (0 = all)")
    p.add_argument("--clips-per-video", type=int, default=0, help="evaluation: clips per video (0 = all)")
    p.add_argument("--eval-device", default="cpu")
    add_config_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from livenessapp_training.train_config import config_from_args

    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"ablate: unknown variants {unknown}; known: {list(VARIANTS)}")
    base = config_from_args(args)
    if args.eval_device == "auto":
        import torch

        args.eval_device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = run_ablation(base, Path(args.out), names, args)
    print((Path(args.out) / "ablation.md").read_text())
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
