"""The verdict hysteresis (Schmitt trigger) and the score smoother."""

from __future__ import annotations

import math

import pytest

from livenessapp.verdict import HysteresisConfig, Verdict, VerdictHysteresis, raw_verdict


def test_raw_verdict_uses_score_at_or_above_threshold_as_live():
    assert raw_verdict(0.5, 0.5) is Verdict.LIVE
    assert raw_verdict(0.49, 0.5) is Verdict.SPOOF
    assert raw_verdict(None, 0.5) is Verdict.UNKNOWN
    assert raw_verdict(math.nan, 0.5) is Verdict.UNKNOWN


def test_first_score_decides_with_the_plain_threshold():
    assert VerdictHysteresis(0.5, 0.1).update(0.51) is Verdict.LIVE
    assert VerdictHysteresis(0.5, 0.1).update(0.49) is Verdict.SPOOF


def test_jitter_around_the_threshold_does_not_flicker():
    h = VerdictHysteresis(threshold=0.5, margin=0.05, hold=2)
    scores = [0.6] + [0.47, 0.53, 0.46, 0.54, 0.48, 0.52] * 5
    verdicts = [h.update(s) for s in scores]
    assert set(verdicts) == {Verdict.LIVE}
    raw = [raw_verdict(s, 0.5) for s in scores]
    assert len(set(raw)) == 2  # the raw comparison would flicker


def test_flip_needs_hold_consecutive_scores_beyond_the_band():
    h = VerdictHysteresis(threshold=0.5, margin=0.05, hold=3)
    h.update(0.9)
    assert [h.update(s) for s in (0.3, 0.3, 0.6, 0.3, 0.3)] == [Verdict.LIVE] * 5  # streak broken
    assert h.update(0.3) is Verdict.SPOOF
    assert [h.update(s) for s in (0.54, 0.7, 0.7)] == [Verdict.SPOOF, Verdict.SPOOF, Verdict.SPOOF]
    assert h.update(0.7) is Verdict.LIVE


def test_none_keeps_and_reset_clears():
    h = VerdictHysteresis(0.5, 0.05, 1)
    h.update(0.2)
    assert h.update(None) is Verdict.SPOOF
    h.reset()
    assert h.verdict is Verdict.UNKNOWN and not h.verdict.is_decided


def test_threshold_change_applies_to_later_scores():
    h = VerdictHysteresis(0.5, 0.0, 1)
    h.update(0.6)
    h.threshold = 0.7
    assert h.update(0.65) is Verdict.SPOOF


def test_config_validation():
    with pytest.raises(ValueError):
        HysteresisConfig(margin=-0.1)
    with pytest.raises(ValueError):
        HysteresisConfig(hold=0)


def test_fused_decision_can_flip_at_a_high_score_but_not_from_inside_the_band():
    h = VerdictHysteresis(threshold=0.5, margin=0.05, hold=2)
    assert h.update(0.8, live=True) is Verdict.LIVE
    # the parallax cue says spoof while the network score is high: counts, flips after `hold` windows
    assert h.update(0.8, live=False) is Verdict.LIVE
    assert h.update(0.8, live=False) is Verdict.SPOOF
    # a live decision needs the score above the band too
    assert h.update(0.52, live=True) is Verdict.SPOOF
    assert h.update(0.52, live=True) is Verdict.SPOOF
    assert h.update(0.6, live=True) is Verdict.SPOOF
    assert h.update(0.6, live=True) is Verdict.LIVE
    # spoof decisions inside the lower half band do not count
    assert [h.update(0.47, live=False) for _ in range(3)] == [Verdict.LIVE] * 3


def test_first_fused_decision_is_taken_as_is():
    assert VerdictHysteresis(0.5).update(0.9, live=False) is Verdict.SPOOF
