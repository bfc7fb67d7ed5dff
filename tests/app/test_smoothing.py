"""The pipeline's window-score smoother (``EngineConfig.smoothing``, ``smoothing_mode``, ``smoothing_window``)."""

from __future__ import annotations

import pytest

from livenessapp.smoothing import MAX_ALPHA, ScoreSmoother, alpha_from_newest_weight


def test_ema_weighs_the_previous_value_and_zero_is_off():
    s = ScoreSmoother(0.75)
    assert s.update(1.0) == 1.0  # the first score passes through
    assert s.update(0.0) == pytest.approx(0.75)  # s <- a s + (1 - a) x
    assert s.update(0.0) == pytest.approx(0.5625)
    off = ScoreSmoother(0.0)
    assert [off.update(x) for x in (0.2, 0.9, 0.4)] == [0.2, 0.9, 0.4]


def test_window_mode_is_the_mean_of_the_last_scores_and_reset_restarts_it():
    s = ScoreSmoother(mode="window", window=3)
    assert [s.update(x) for x in (0.0, 0.3, 0.6, 0.9)] == pytest.approx([0.0, 0.15, 0.3, 0.6])
    s.reset()
    assert s.value is None and s.update(0.2) == pytest.approx(0.2)


@pytest.mark.parametrize("kwargs", [{"mode": "median"}, {"alpha": 1.0}, {"alpha": -0.1}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        ScoreSmoother(**kwargs)


def test_missing_or_non_finite_scores_leave_the_value_unchanged():
    s = ScoreSmoother(0.5)
    assert s.update(None) is None
    assert s.update(1.0) == 1.0
    assert s.update(None) == 1.0 and s.update(float("nan")) == 1.0
    assert s.update(0.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("newest", "alpha"), [(1.0, 0.0), (0.75, 0.25), (0.05, MAX_ALPHA), (0.0, MAX_ALPHA), (1.5, 0.0)]
)
def test_the_sliders_newest_weight_becomes_the_emas_alpha(newest, alpha):
    assert alpha_from_newest_weight(newest) == pytest.approx(alpha)
    s = ScoreSmoother(alpha_from_newest_weight(newest))
    s.update(0.0)
    assert s.update(1.0) == pytest.approx(1.0 - alpha)  # the newest window gets 1 - alpha
