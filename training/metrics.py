"""Presentation-attack detection metrics of ISO/IEC 30107-3, as the FAS-SGTD paper reports them (Sec. 4.1.2).

Conventions (the whole project): a score is higher for a more live face; a presentation is classified
LIVE (bona fide) when ``score >= threshold``. Labels: 1 live, 0 spoof (attack).

- APCER of one PAI species = the share of that species' attack presentations classified live;
  the reported APCER is the worst (max) over species (as OULU-NPU and SiW report it).
- BPCER = the share of bona fide presentations classified as attacks.
- ACER = (APCER + BPCER) / 2 (Eq. 16). HTER = (FAR + FRR) / 2 (Eq. 17) with FAR = the share of all
  attacks (pooled, not per species) accepted and FRR = BPCER.
- EER: the error rate where the pooled APCER (FAR) equals BPCER (FRR); threshold at EER.
- BPCER@APCER=x: the lowest BPCER over thresholds whose (worst-species) APCER is <= x.

A threshold is chosen on the development set (at EER, or at a target BPCER) and then applied unchanged on
the test set (:func:`dev_test_report`). Candidate thresholds are the midpoints between consecutive distinct
scores plus one below the lowest and one above the highest, so a threshold never sits exactly on a score.
Everything is plain numpy and works on video-level scores (the mean of a video's clip scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = [
    "ErrorRates",
    "apcer_bpcer",
    "bpcer_at_apcer",
    "candidate_thresholds",
    "det_curve",
    "dev_test_report",
    "eer",
    "roc_curve",
    "summary_metrics",
    "threshold_at_bpcer",
    "threshold_at_eer",
    "video_scores",
]


def _arrays(scores, labels, pai=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in length")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 1 (live) or 0 (spoof)")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    if pai is None:
        p = np.where(y == 1, "live", "attack").astype(object)
    else:
        p = np.asarray(list(pai), dtype=object).reshape(-1)
        if p.shape != y.shape:
            raise ValueError("pai must have one entry per score")
    return s, y, p


@dataclass
class ErrorRates:
    """Error rates at one threshold (fractions in [0, 1], not percent)."""

    threshold: float
    apcer: float  # worst PAI species
    bpcer: float
    acer: float
    far: float  # pooled over all attacks (APCER of the union of species)
    frr: float  # = bpcer
    hter: float
    apcer_per_pai: dict[str, float] = field(default_factory=dict)
    worst_pai: str = ""
    num_live: int = 0
    num_attack: int = 0
    num_attack_per_pai: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def apcer_bpcer(scores, labels, threshold: float, pai: Sequence[str] | None = None) -> ErrorRates:
    """APCER (per species and worst), BPCER, ACER, FAR, FRR, HTER at ``threshold`` (live if score >= it).

    ``pai``: the PAI species of every presentation (ignored for live ones); without it all attacks are one
    species, so APCER = FAR. A rate with no presentations to count is NaN.
    """
    s, y, p = _arrays(scores, labels, pai)
    accepted = s >= threshold
    live, attack = y == 1, y == 0
    bpcer = float(np.mean(~accepted[live])) if live.any() else float("nan")
    far = float(np.mean(accepted[attack])) if attack.any() else float("nan")
    per_pai: dict[str, float] = {}
    counts: dict[str, int] = {}
    for species in sorted({str(x) for x in p[attack]}):
        sel = attack & (p.astype(str) == species)
        per_pai[species] = float(np.mean(accepted[sel]))
        counts[species] = int(sel.sum())
    if per_pai:
        worst = max(per_pai, key=lambda k: (per_pai[k], k))
        apcer = per_pai[worst]
    else:
        worst, apcer = "", float("nan")
    return ErrorRates(
        threshold=float(threshold),
        apcer=apcer,
        bpcer=bpcer,
        acer=(apcer + bpcer) / 2.0,
        far=far,
        frr=bpcer,
        hter=(far + bpcer) / 2.0,
        apcer_per_pai=per_pai,
        worst_pai=worst,
        num_live=int(live.sum()),
        num_attack=int(attack.sum()),
        num_attack_per_pai=counts,
    )


def candidate_thresholds(scores) -> np.ndarray:
    """Midpoints between consecutive distinct scores, plus one below the lowest and one above the highest."""
    u = np.unique(np.asarray(scores, dtype=np.float64))
    if u.size == 0:
        return np.array([0.5])
    gap = max(float(np.diff(u).min()) if u.size > 1 else 0.0, 1e-6)
    mids = (u[:-1] + u[1:]) / 2.0
    return np.concatenate([[u[0] - gap], mids, [u[-1] + gap]])


def _rates_on_grid(s: np.ndarray, y: np.ndarray, p: np.ndarray, thresholds: np.ndarray):
    """(pooled APCER, worst-species APCER, BPCER) for every threshold (vectorised)."""
    live = np.sort(s[y == 1])
    bpcer = np.searchsorted(live, thresholds, side="left") / max(len(live), 1)
    attack = y == 0
    pooled_sorted = np.sort(s[attack])
    far = 1.0 - np.searchsorted(pooled_sorted, thresholds, side="left") / max(len(pooled_sorted), 1)
    worst = np.zeros_like(thresholds)
    for species in {str(x) for x in p[attack]}:
        sp = np.sort(s[attack & (p.astype(str) == species)])
        worst = np.maximum(worst, 1.0 - np.searchsorted(sp, thresholds, side="left") / len(sp))
    return far, worst, bpcer


def _trapz(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def has_both(labels) -> bool:
    """Whether ``labels`` hold live (1) and attack (0) presentations: what EER and ROC/DET curves need."""
    y = np.asarray(labels)
    return bool((y == 1).any() and (y == 0).any())


def can_choose_threshold(labels, mode: str = "eer") -> bool:
    """Whether :func:`dev_test_report` can choose a ``mode`` threshold on these labels: the EER point needs
    both classes, a BPCER budget only live presentations."""
    return has_both(labels) if mode == "eer" else bool((np.asarray(labels) == 1).any())


def _need_both(y: np.ndarray) -> None:
    if not has_both(y):
        raise ValueError("need both live and spoof presentations")


def threshold_at_eer(scores, labels) -> tuple[float, float]:
    """``(eer, threshold)``: the candidate threshold where pooled APCER and BPCER are closest (ties: the
    lowest mean error, then the middle one of equally good thresholds); EER = their mean there."""
    s, y, p = _arrays(scores, labels)
    _need_both(y)
    t = candidate_thresholds(s)
    far, _, bpcer = _rates_on_grid(s, y, p, t)
    diff = np.abs(far - bpcer)
    mean = (far + bpcer) / 2.0
    best = np.flatnonzero(np.isclose(diff, diff.min(), atol=1e-12))
    best = best[np.isclose(mean[best], mean[best].min(), atol=1e-12)]
    i = int(best[len(best) // 2])
    return float(mean[i]), float(t[i])


def eer(scores, labels) -> float:
    """Equal error rate (pooled attacks), see :func:`threshold_at_eer`."""
    return threshold_at_eer(scores, labels)[0]


def threshold_at_bpcer(scores, labels, target: float) -> float:
    """The highest threshold whose BPCER is <= ``target`` (the strictest one that keeps BPCER in budget)."""
    s, y, p = _arrays(scores, labels)
    if not (y == 1).any():
        raise ValueError("need live presentations")
    t = candidate_thresholds(s)
    _, _, bpcer = _rates_on_grid(s, y, p, t)
    ok = np.flatnonzero(bpcer <= target + 1e-12)
    return float(t[ok[-1]])  # the lowest candidate always has BPCER 0


def bpcer_at_apcer(scores, labels, target: float, pai: Sequence[str] | None = None) -> tuple[float, float]:
    """``(bpcer, threshold)``: the lowest BPCER among thresholds whose worst-species APCER is <= ``target``."""
    s, y, p = _arrays(scores, labels, pai)
    _need_both(y)
    t = candidate_thresholds(s)
    _, worst, bpcer = _rates_on_grid(s, y, p, t)
    ok = np.flatnonzero(worst <= target + 1e-12)
    i = int(ok[0])  # the highest candidate always has APCER 0; the lowest acceptable one has the least BPCER
    return float(bpcer[i]), float(t[i])


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(far, tpr, thresholds)``: pooled APCER and 1 - BPCER for every candidate threshold (decreasing)."""
    s, y, p = _arrays(scores, labels)
    t = candidate_thresholds(s)[::-1]
    far, _, bpcer = _rates_on_grid(s, y, p, t)
    return far, 1.0 - bpcer, t


def det_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(apcer_pooled, bpcer, thresholds)`` for a DET plot (thresholds increasing)."""
    s, y, p = _arrays(scores, labels)
    t = candidate_thresholds(s)
    far, _, bpcer = _rates_on_grid(s, y, p, t)
    return far, bpcer, t


def summary_metrics(scores, labels, pai: Sequence[str] | None = None) -> dict:
    """Threshold-free numbers of one score set: EER (+ threshold), BPCER at APCER = 1 % and 5 %, AUC."""
    s, y, p = _arrays(scores, labels, pai)
    _need_both(y)
    e, t = threshold_at_eer(s, y)
    b1, t1 = bpcer_at_apcer(s, y, 0.01, p)
    b5, t5 = bpcer_at_apcer(s, y, 0.05, p)
    far, tpr, _ = roc_curve(s, y)
    auc = float(_trapz(np.concatenate([[0.0], tpr, [1.0]]), np.concatenate([[0.0], far, [1.0]])))
    return {
        "eer": e,
        "eer_threshold": t,
        "bpcer_at_apcer_1": b1,
        "bpcer_at_apcer_1_threshold": t1,
        "bpcer_at_apcer_5": b5,
        "bpcer_at_apcer_5_threshold": t5,
        "auc": auc,
    }


def dev_test_report(
    dev: tuple | None,
    test: tuple,
    mode: str = "eer",
    target_bpcer: float = 0.01,
    threshold: float | None = None,
) -> dict:
    """Choose the threshold on dev, apply it unchanged on test.

    ``dev``/``test``: ``(scores, labels, pai)`` (pai may be None). ``mode``: ``eer`` (threshold at dev EER)
    or ``bpcer`` (threshold at ``target_bpcer`` on dev). A given ``threshold`` overrides the choice (for
    cross-dataset testing with the training dataset's threshold); with neither dev nor threshold the
    threshold is taken at the test EER and the report says so (``threshold_source``).
    Returns ``{"threshold", "threshold_mode", "threshold_source", "dev": {...}, "test": {...}}`` where
    each split holds the error rates at the threshold plus :func:`summary_metrics`.
    """
    if mode not in ("eer", "bpcer"):
        raise ValueError(f"mode must be eer or bpcer, got {mode!r}")
    source = "given"
    if threshold is None:
        if dev is not None:
            source = "dev"
            thr_from = dev
        else:
            source = "test (no dev split: optimistic)"
            thr_from = test
        s, y = thr_from[0], thr_from[1]
        threshold = threshold_at_eer(s, y)[1] if mode == "eer" else threshold_at_bpcer(s, y, target_bpcer)
    out: dict = {
        "threshold": float(threshold),
        "threshold_mode": mode if source != "given" else "given",
        "target_bpcer": target_bpcer if mode == "bpcer" else None,
        "threshold_source": source,
    }
    for name, split in (("dev", dev), ("test", test)):
        if split is None:
            continue
        s, y, p = split[0], split[1], split[2] if len(split) > 2 else None
        d = apcer_bpcer(s, y, threshold, p).to_dict()
        if has_both(y):
            d.update(summary_metrics(s, y, p))
        out[name] = d
    return out


def video_scores(video_ids: Sequence[str], scores: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Per-video score = the mean of the video's clip scores (Sec. 4.2.2: "video score = mean over clips")."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for v, sc in zip(video_ids, np.asarray(scores, dtype=np.float64).reshape(-1), strict=True):
        sums[v] = sums.get(v, 0.0) + float(sc)
        counts[v] = counts.get(v, 0) + 1
    return {v: sums[v] / counts[v] for v in sums}
