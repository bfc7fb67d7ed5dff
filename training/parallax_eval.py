"""Calibration and evaluation of the motion-parallax cue (:mod:`livenessapp.parallax`) and its fusion.

Three sources of windows, each split train/dev/test by seed (threshold picked on dev, applied on test):

1. ``synthetic``: landmark tracks without images. The 3-D face mesh of matplotlib's Grace Hopper photo
   (MediaPipe, static mode; face width 0.15 m, depth 0.095 m as in the simulator) is projected by a pinhole
   camera (f = 600 px, 640x480) for

   - ``live``: a head turning about a pivot 0.10 m behind the nose tip (0-15 deg within the 0.4 s window,
     random yaw/pitch mix) and translating (0-4 cm), 0.35-0.8 m away;
   - ``print_flat``: the frontal projection of the same face on a plane (print face width 0.10-0.18 m)
     that rotates about its centre (0-25 deg) and translates;
   - ``print_bent``: the same sheet bent into a cylinder (vertical or horizontal axis, radius 0.15-0.4 m,
     either sign: sag <= ~2 cm over the face);
   - ``replay``: a screen showing a recorded moving head (the recorded head's parallax is on the screen),
     the screen itself moving a little (reported separately: this cue is not meant to catch it).

   Prints also get the face mesh's *hallucinated parallax*: a fraction 0-0.6 of the parallax a 3-D head
   would show under the carrier's rotation (the mesh fits a 3-D face to a foreshortened print; measured on
   real MediaPipe tracks of rendered prints, scores 0.1-0.35 where live heads give 0.3-0.5).
   MediaPipe-like noise: i.i.d. jitter sigma 0.5-1.0 px per coordinate, a per-frame whole-mesh shift and
   scale wobble, and a per-frame "pose jitter" (the mesh re-fitted with a 0.15 deg random rotation of the
   3-D template, which is parallax-shaped noise, on prints too).
2. ``rendered``: real MediaPipe tracks (video mode) of the Grace Hopper photo warped as a flat print
   (homography) and as a bent print (cylinder remap), for the cue's behaviour on real landmark jitter.
3. ``sim``: clips of the simulator (``training/simulator``; ``--sim-root`` with ``manifest.jsonl``), face
   mesh run on every frame, windows of Nf = 5 frames every 3rd frame, one window every 10 frames.

Per window the cue gives a score or abstains ("insufficient_motion"). The threshold is the largest value
whose dev BPCER (live windows with a verdict scored below it) is <= ``--target-bpcer`` (default 5 %), and
the table gives APCER per PAI / BPCER / abstention rates on the test split. If ``--network-scores`` (JSON
``{clip_id: score}`` plus ``"threshold"``) is given for sim clips, the fusion rules are evaluated too and
the logistic coefficients are fitted on dev (printed; paste them into LOGISTIC_COEFFICIENTS).

The three sources of windows live in :mod:`livenessapp_training.parallax_windows` (importable from here too);
this module scores them, picks the threshold and runs the comparison.

Run: ``python -m livenessapp_training.parallax_eval [--windows 300] [--sim-root data/sim-normal]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from livenessapp.parallax import (
    FUSION_RULES,
    PARALLAX_THRESHOLD,
    ParallaxConfig,
    ParallaxCue,
    estimate_parallax,
    fuse,
)
from livenessapp_training.parallax_windows import (
    SIM_PAIS,
    TrackSpec,
    face_template,
    random_spec,
    rendered_print_windows,
    sim_inline_windows,
    sim_track,
    sim_windows,
    synth_track,
    synthetic_windows,
    windows_from_track,
)

_windows_from_track = windows_from_track  # its name before the split (tests/app/test_parallax.py uses it)

# The window sources are importable from here too (``parallax_eval.synth_track`` etc.).
__all__ = [
    "TrackSpec",
    "face_template",
    "main",
    "random_spec",
    "rendered_print_windows",
    "sim_inline_windows",
    "sim_track",
    "sim_windows",
    "synth_track",
    "synthetic_windows",
    "windows_from_track",
]


# ----------------------------------------------------------------------------------------------------------
# Scoring, threshold, metrics
# ----------------------------------------------------------------------------------------------------------
def score_windows(windows: list[dict], config: ParallaxConfig | None = None) -> None:
    """Adds ``result`` (ParallaxResult) to every window. Windows with a full frame history run the stateful
    :class:`ParallaxCue` (online jitter estimate); synthetic windows use the default jitter prior."""
    cfg = config or ParallaxConfig()
    cues: dict[str, ParallaxCue] = {}
    for w in windows:
        if "full" in w:
            cue = cues.setdefault(w.get("clip", ""), ParallaxCue(cfg))
            cue.reset()
            for lm in w["full"]:
                cue.update(lm)
            w["result"] = cue.evaluate()
        else:
            w["result"] = estimate_parallax(w["frames"], config=cfg)


def pick_threshold(windows: list[dict], target_bpcer: float) -> float:
    """Largest threshold with dev BPCER (over live windows with a verdict) <= target."""
    live = np.sort([w["result"].score for w in windows if w["kind"] == "live" and w["result"].state == "ok"])
    if len(live) == 0:
        return PARALLAX_THRESHOLD
    k = int(math.floor(target_bpcer * len(live)))
    return float(live[min(k, len(live) - 1)])


def metrics(windows: list[dict], threshold: float) -> dict[str, dict[str, float]]:
    """Per kind: n, abstain rate, error rate among verdicts (BPCER for live, APCER for attacks)."""
    by = defaultdict(list)
    for w in windows:
        by[w["kind"]].append(w["result"])
    table = {}
    for kind, res in sorted(by.items()):
        verdicts = [r for r in res if r.state == "ok"]
        if kind == "live":
            err = sum(r.score < threshold for r in verdicts)
        else:
            err = sum(r.score >= threshold for r in verdicts)
        scores = [r.score for r in verdicts]
        table[kind] = {
            "n": len(res),
            "abstain": 1.0 - len(verdicts) / max(len(res), 1),
            "error": err / max(len(verdicts), 1),
            "error_all": err / max(len(res), 1),
            "median_score": float(np.median(scores)) if scores else math.nan,
        }
    return table


def print_table(title: str, table: dict[str, dict[str, float]], threshold: float, file=sys.stdout) -> None:
    print(f"\n{title} (threshold {threshold:.3f})", file=file)
    print(
        f"{'kind':14s} {'n':>5s} {'abstain':>8s} {'err|verdict':>12s} {'err|all':>8s} {'median':>7s}  metric",
        file=file,
    )
    for kind, m in table.items():
        metric = "BPCER" if kind == "live" else "APCER"
        print(
            f"{kind:14s} {m['n']:5d} {m['abstain']:8.1%} {m['error']:12.1%} {m['error_all']:8.1%} "
            f"{m['median_score']:7.3f}  {metric}",
            file=file,
        )


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 200) -> np.ndarray:
    """Newton-IRLS logistic regression; returns [w1, w2, b]."""
    X = np.c_[x, np.ones(len(x))]
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-X @ w))
        g = X.T @ (p - y) + l2 * np.r_[w[:-1], 0]
        Hm = X.T @ (X * (p * (1 - p))[:, None]) + l2 * np.eye(X.shape[1])
        w -= np.linalg.solve(Hm, g)
    return w


def evaluate_fusion(windows: list[dict], net: dict, par_threshold: float) -> None:
    """Fusion rules on sim windows with network clip scores (``net[clip_id]``, ``net['threshold']``)."""
    t_net = float(net["threshold"])
    usable = [w for w in windows if w.get("clip") in net]
    dev = [w for w in usable if w["split"] == "dev" and w["result"].state == "ok"]
    if dev:
        x = np.array([[net[w["clip"]] - t_net, w["result"].score - par_threshold] for w in dev])
        y = np.array([w["kind"] == "live" for w in dev], dtype=np.float64)
        w1, w2, b = fit_logistic(x, y)
        coefs = {"w_net": float(w1), "w_par": float(w2), "bias": float(b)}
        print(f"\nlogistic coefficients fitted on {len(dev)} dev windows: {coefs}")
    else:
        coefs = None
    for rule in FUSION_RULES:
        errs = defaultdict(lambda: [0, 0])
        for w in usable:
            if w["split"] != "test":
                continue
            d = fuse(
                net[w["clip"]], t_net, w["result"], rule, parallax_threshold=par_threshold, coefficients=coefs
            )
            wrong = d.is_live != (w["kind"] == "live")
            errs[w["kind"]][0] += wrong
            errs[w["kind"]][1] += 1
        line = ", ".join(
            f"{k} {'BPCER' if k == 'live' else 'APCER'} {e / max(n, 1):.1%}"
            for k, (e, n) in sorted(errs.items())
        )
        print(f"fusion {rule:13s}: {line}")


def run_source(name: str, windows: list[dict], target_bpcer: float, config: ParallaxConfig) -> float:
    score_windows(windows, config)
    dev = [w for w in windows if w["split"] == "dev"]
    test = [w for w in windows if w["split"] == "test"]
    thr = pick_threshold(dev, target_bpcer)
    print_table(f"[{name}] dev, threshold picked at BPCER <= {target_bpcer:.0%}", metrics(dev, thr), thr)
    print_table(f"[{name}] test", metrics(test, thr), thr)
    if thr != config.threshold:
        print_table(
            f"[{name}] test at the stored PARALLAX_THRESHOLD",
            metrics(test, config.threshold),
            config.threshold,
        )
    return thr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=300, help="synthetic windows per kind")
    ap.add_argument("--rendered-clips", type=int, default=0, help="rendered print clips (real MediaPipe)")
    ap.add_argument(
        "--sim-inline",
        type=int,
        default=0,
        help="render this many simulator clips in memory (live/print_flat/print_bent/live/replay)",
    )
    ap.add_argument("--sim-root", type=Path, default=None, help="simulator output root (manifest.jsonl)")
    ap.add_argument("--sim-limit", type=int, default=None)
    ap.add_argument(
        "--sim-splits", default="", help="only the clips of these splits (comma-separated, e.g. dev,test)"
    )
    ap.add_argument("--network-scores", type=Path, default=None, help="JSON {clip_id: score, threshold: t}")
    ap.add_argument("--target-bpcer", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=None, help="evaluate at this stored threshold")
    args = ap.parse_args(argv)
    config = ParallaxConfig() if args.threshold is None else ParallaxConfig(threshold=args.threshold)

    template = face_template()
    if args.windows:
        run_source(
            "synthetic", synthetic_windows(template, args.windows, args.seed), args.target_bpcer, config
        )
    if args.rendered_clips:
        run_source(
            "rendered prints",
            rendered_print_windows(args.rendered_clips, args.seed + 1),
            args.target_bpcer,
            config,
        )
    if args.sim_inline:
        wins = sim_inline_windows(args.sim_inline, args.seed, pais=list(SIM_PAIS))
        run_source("simulator (in memory)", wins, args.target_bpcer, config)
    if args.sim_root is not None:
        if not (args.sim_root / "manifest.jsonl").exists():
            print(f"\nno simulator output at {args.sim_root} (manifest.jsonl missing); skipped")
        else:
            splits = tuple(x for x in args.sim_splits.split(",") if x) if args.sim_splits else None
            wins = sim_windows(args.sim_root, args.sim_limit, splits)
            thr = run_source(f"simulator {args.sim_root}", wins, args.target_bpcer, config)
            if args.network_scores is not None:
                evaluate_fusion(wins, json.loads(args.network_scores.read_text()), thr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
