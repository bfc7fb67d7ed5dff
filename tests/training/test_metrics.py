"""ISO/IEC 30107-3 metrics against hand-computed cases (score higher = more live; live if score >= t)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livenessapp_training import metrics as M

# 4 live, 2 print, 2 replay. Distinct sorted scores .1 .2 .3 .4 .6 .7 .8 .9 -> candidate thresholds
# 0.0 .15 .25 .35 .5 .65 .75 .85 1.0 (midpoints, plus one step beyond each end).
LIVE = [0.9, 0.8, 0.7, 0.4]
PRINT = [0.6, 0.3]
REPLAY = [0.2, 0.1]
SCORES = LIVE + PRINT + REPLAY
LABELS = [1] * 4 + [0] * 4
PAI = ["live"] * 4 + ["print"] * 2 + ["replay"] * 2


def test_candidate_thresholds_are_midpoints():
    t = M.candidate_thresholds(SCORES)
    np.testing.assert_allclose(t, [0.0, 0.15, 0.25, 0.35, 0.5, 0.65, 0.75, 0.85, 1.0], atol=1e-12)


def test_error_rates_at_a_threshold():
    r = M.apcer_bpcer(SCORES, LABELS, 0.5, PAI)
    # print: 0.6 >= 0.5 accepted (1 of 2); replay: none; live: 0.4 rejected (1 of 4)
    assert r.apcer_per_pai == {"print": 0.5, "replay": 0.0}
    assert r.worst_pai == "print"
    assert r.apcer == 0.5
    assert r.bpcer == 0.25
    assert r.acer == pytest.approx(0.375)
    assert r.far == 0.25  # 1 of 4 attacks pooled
    assert r.hter == pytest.approx(0.25)
    assert (r.num_live, r.num_attack, r.num_attack_per_pai) == (4, 4, {"print": 2, "replay": 2})


def test_threshold_is_inclusive():
    r = M.apcer_bpcer([0.5, 0.5], [1, 0], 0.5)
    assert r.bpcer == 0.0 and r.apcer == 1.0  # score == threshold counts as live


def test_eer_and_its_threshold():
    e, t = M.threshold_at_eer(SCORES, LABELS)
    assert e == pytest.approx(0.25)  # at t = 0.5: FAR 1/4 (0.6), BPCER 1/4 (0.4)
    assert t == pytest.approx(0.5)
    assert M.eer(SCORES, LABELS) == pytest.approx(0.25)


def test_eer_separable_sits_in_the_gap():
    e, t = M.threshold_at_eer([0.8, 0.9, 0.1, 0.2], [1, 1, 0, 0])
    assert e == 0.0
    assert t == pytest.approx(0.5)


def test_threshold_at_target_bpcer():
    assert M.threshold_at_bpcer(SCORES, LABELS, 0.0) == pytest.approx(0.35)
    assert M.threshold_at_bpcer(SCORES, LABELS, 0.25) == pytest.approx(0.65)
    assert M.threshold_at_bpcer(SCORES, LABELS, 0.30) == pytest.approx(0.65)


def test_bpcer_at_apcer_uses_the_worst_species():
    # worst-species APCER must be 0 for a 1 % or 5 % budget -> t = 0.65 (print 0.6 rejected), BPCER 1/4
    b, t = M.bpcer_at_apcer(SCORES, LABELS, 0.01, PAI)
    assert (b, t) == (pytest.approx(0.25), pytest.approx(0.65))
    # a 50 % budget allows t = 0.5 (print 1/2) and t = 0.35 (print 1/2, replay 0): BPCER 0
    b, t = M.bpcer_at_apcer(SCORES, LABELS, 0.5, PAI)
    assert (b, t) == (0.0, pytest.approx(0.35))


def test_summary_and_auc():
    s = M.summary_metrics(SCORES, LABELS, PAI)
    assert s["eer"] == pytest.approx(0.25)
    assert s["bpcer_at_apcer_1"] == pytest.approx(0.25)
    assert s["bpcer_at_apcer_5"] == pytest.approx(0.25)
    assert s["auc"] == pytest.approx(15 / 16)  # 15 of 16 live/attack pairs ordered correctly


def test_dev_threshold_applied_unchanged_on_test():
    test = ([0.55, 0.45, 0.52, 0.1], [1, 1, 0, 0], ["live", "live", "print", "replay"])
    rep = M.dev_test_report((SCORES, LABELS, PAI), test, mode="eer")
    assert rep["threshold"] == pytest.approx(0.5)
    assert rep["threshold_source"] == "dev"
    t = rep["test"]
    assert t["bpcer"] == 0.5 and t["apcer"] == 1.0 and t["acer"] == 0.75
    assert t["apcer_per_pai"] == {"print": 1.0, "replay": 0.0}
    assert rep["dev"]["acer"] == pytest.approx(0.375)

    rep = M.dev_test_report((SCORES, LABELS, PAI), test, mode="bpcer", target_bpcer=0.0)
    assert rep["threshold"] == pytest.approx(0.35)
    assert rep["test"]["bpcer"] == 0.0 and rep["test"]["apcer"] == 1.0

    rep = M.dev_test_report(None, test, threshold=0.5)
    assert rep["threshold_source"] == "given" and "dev" not in rep
    assert rep["test"]["acer"] == 0.75


def test_missing_species_and_bad_input():
    r = M.apcer_bpcer([0.9, 0.8], [1, 1], 0.5)
    assert math.isnan(r.apcer) and r.bpcer == 0.0
    with pytest.raises(ValueError):
        M.apcer_bpcer([0.1], [2], 0.5)
    with pytest.raises(ValueError):
        M.threshold_at_eer([0.1, 0.2], [1, 1])


def test_curves_and_video_scores():
    far, tpr, t = M.roc_curve(SCORES, LABELS)
    assert far[0] == 0.0 and tpr[-1] == 1.0 and np.all(np.diff(t) < 0)
    apcer, bpcer, t = M.det_curve(SCORES, LABELS)
    assert apcer[0] == 1.0 and bpcer[0] == 0.0 and apcer[-1] == 0.0 and bpcer[-1] == 1.0
    v = M.video_scores(["a", "a", "b"], [0.2, 0.4, 1.0])
    assert v == {"a": pytest.approx(0.3), "b": 1.0}
