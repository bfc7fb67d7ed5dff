"""The written results of ``liveness-train eval``: ``report.md``, ``scores.csv`` and the PNG plots (ROC, DET,
score histograms) of the video-level scores (:mod:`livenessapp_training.scoring`)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from livenessapp_training import breakdown
from livenessapp_training import metrics as M
from livenessapp_training.scoring import VARIANTS

if TYPE_CHECKING:
    from livenessapp_training.scoring import VideoScores

__all__ = ["markdown_report", "pct", "write_csv", "write_plots"]


def write_plots(
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
            if M.has_both(y):
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
    if ax.get_legend_handles_labels()[0]:
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
            if M.has_both(y):
                a, b, _ = M.det_curve(s, y)
                a, b = np.clip(a, lo, 1 - lo), np.clip(b, lo, 1 - lo)
                ax.plot(norm.ppf(a), norm.ppf(b), "-" if name == test_name else ":", label=f"{name} {k}")
    ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5])
    ax.set_xticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    ax.set(xlabel="APCER", ylabel="BPCER", title="DET (video level)")
    ax.set_xlim(norm.ppf(lo), norm.ppf(hi))
    ax.set_ylim(norm.ppf(lo), norm.ppf(hi))
    if ax.get_legend_handles_labels()[0]:
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


def pct(x) -> str:
    """A fraction as a percentage with two decimals; a dash for None, NaN or anything not a number."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(x) else f"{100 * x:.2f}"


def _threshold_line(result: dict) -> str:
    given = result.get("threshold_given", "")
    if given:
        return f"- threshold of `{result['primary']}`: given ({given}), not chosen on this dev split"
    target = f" (target BPCER {result['target_bpcer']})" if result["threshold_mode"] == "bpcer" else ""
    return f"- threshold: {result['threshold_mode']}{target} point of the dev split"


def markdown_report(result: dict) -> str:
    lines = [f"# Evaluation: {result['model']}", ""]
    lines += [
        f"- dataset: `{result['dataset']}` at `{result['data_root']}`",
        _threshold_line(result),
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
                f"{pct(t['apcer'])} | {pct(t['bpcer'])} | {pct(t['acer'])} | {pct(t['hter'])} | "
                f"{pct(t.get('eer'))} | {pct(t.get('bpcer_at_apcer_1'))} | {pct(t.get('bpcer_at_apcer_5'))} |"
            )
        prim = r["variants"].get(result["primary"])
        if prim:
            lines += ["", f"APCER per PAI species ({scored}, `{result['primary']}`):", ""]
            lines += ["| PAI | videos | APCER % |", "|---|---|---|"]
            for sp, a in prim["test"]["apcer_per_pai"].items():
                lines.append(f"| {sp} | {prim['test']['num_attack_per_pai'][sp]} | {pct(a)} |")
        if r.get("source_spread"):
            lines += ["", *breakdown.bootstrap_markdown(r["source_spread"], scored)]
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
                    f"| {name} | {gain} | {pct(m['apcer'])} | {pct(m['bpcer'])} | {pct(m['acer'])} |"
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
                f"| {k} | {pct(m['apcer'][0])} ± {pct(m['apcer'][1])} | {pct(m['bpcer'][0])} ± {pct(m['bpcer'][1])} "
                f"| {pct(m['acer'][0])} ± {pct(m['acer'][1])} |"
            )
    return "\n".join(lines) + "\n"


def write_csv(path: Path, dev: VideoScores | None, test: VideoScores, test_name: str = "test") -> None:
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
