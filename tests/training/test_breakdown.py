"""Who is behind a figure: per-source errors and the spread of a figure over resampled sources."""

from __future__ import annotations

import numpy as np

from livenessapp_training.breakdown import bootstrap_markdown, per_source, source_bootstrap
from livenessapp_training.datasets import VideoSample


def _split(sources: dict[str, tuple[list[float], list[float]]]):
    """Samples of several sources from (live scores, replay scores) per source."""
    samples, ids, scores = [], [], []
    for src, (live, replay) in sources.items():
        for kind, values in (("live", live), ("replay", replay)):
            for i, x in enumerate(values):
                vid = f"{src}/{kind}{i}"
                label, attack = (1, "none") if kind == "live" else (0, "replay")
                samples.append(
                    VideoSample(vid, label, attack, kind, subject=f"{src}/p", device=src, video_id=vid)
                )
                ids.append(vid)
                scores.append(x)
    return samples, ids, np.array(scores)


def test_a_split_that_every_source_gets_right_has_no_spread():
    samples, ids, scores = _split({f"s{k}": ([0.9, 0.8], [0.1, 0.2]) for k in range(5)})
    spread = source_bootstrap(samples, ids, scores, 0.5)
    assert spread["sources"] == 5 and spread["rounds"] == 2000
    assert spread["acer"] == [0.0, 0.0] and spread["bpcer"] == [0.0, 0.0] and spread["apcer"] == [0.0, 0.0]


def test_one_failing_source_widens_the_interval_around_the_figure():
    # Four sources right, one whose 4 live samples are all rejected: BPCER 4 / 12 on the whole split.
    parts = {f"s{k}": ([0.9, 0.8], [0.1, 0.2]) for k in range(4)}
    parts["soft-webcam"] = ([0.3, 0.2, 0.1, 0.4], [0.05])
    samples, ids, scores = _split(parts)
    spread = source_bootstrap(samples, ids, scores, 0.5, rounds=500, seed=3)
    low, high = spread["bpcer"]
    assert low == 0.0 and 4 / 12 < high <= 1.0  # the rounds without it, and those that draw it twice
    assert spread["apcer"] == [0.0, 0.0]
    assert source_bootstrap(samples, ids, scores, 0.5, rounds=500, seed=3) == spread  # seeded
    assert per_source(samples, ids, scores, 0.5)["soft-webcam"]["bpcer"] == 1.0
    line = bootstrap_markdown(spread, "test")[0]
    assert "its 5 sources" in line and f"BPCER 0.0-{100 * high:.1f} %" in line


def test_one_source_has_no_spread_to_measure():
    samples, ids, scores = _split({"only": ([0.9], [0.1])})
    assert source_bootstrap(samples, ids, scores, 0.5) is None
