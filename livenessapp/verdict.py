"""A verdict that does not flicker: a Schmitt trigger (hysteresis) on the liveness score.

The network scores every window with Eq. 18, ``score = beta * p_live + (1 - beta) * depth_score``, and a
window is live when ``score >= threshold`` (the model's calibrated threshold). Scores near the threshold
jitter from window to window, so a raw comparison makes the verdict flicker between LIVE and SPOOF. The
:class:`VerdictHysteresis` keeps the current verdict until the score has crossed the *far* edge of a band
``[threshold - margin, threshold + margin]`` on ``hold`` consecutive windows:

* ``UNKNOWN`` (no decision yet, or reset because the face was lost) -> the first score decides with the
  plain threshold (no delay for the first verdict);
* ``LIVE`` -> ``SPOOF`` only after ``hold`` consecutive scores ``< threshold - margin``;
* ``SPOOF`` -> ``LIVE`` only after ``hold`` consecutive scores ``>= threshold + margin``.

Qt-free (used by the desktop window, the kiosk and tests alike).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

__all__ = ["HysteresisConfig", "Verdict", "VerdictHysteresis", "raw_verdict"]


class Verdict(str, Enum):
    """The app's three-valued decision (label convention: LIVE = 1, SPOOF = 0)."""

    UNKNOWN = "unknown"
    LIVE = "live"
    SPOOF = "spoof"

    @property
    def is_decided(self) -> bool:
        return self is not Verdict.UNKNOWN


def raw_verdict(score: float | None, threshold: float) -> Verdict:
    """The plain comparison ``score >= threshold`` -> LIVE (no hysteresis); None / NaN -> UNKNOWN."""
    if score is None or not math.isfinite(score):
        return Verdict.UNKNOWN
    return Verdict.LIVE if score >= threshold else Verdict.SPOOF


@dataclass
class HysteresisConfig:
    """``threshold``: live if ``score >= threshold``; ``margin``: half-width of the dead band around it;
    ``hold``: consecutive windows beyond the far edge of the band needed to flip a decided verdict."""

    threshold: float = 0.5
    margin: float = 0.05
    hold: int = 2

    def __post_init__(self):
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        if self.hold < 1:
            raise ValueError(f"hold must be >= 1, got {self.hold}")


class VerdictHysteresis:
    """Schmitt trigger on the window score (see the module docstring).

    >>> h = VerdictHysteresis(threshold=0.5, margin=0.1, hold=2)
    >>> [h.update(s).value for s in (0.7, 0.45, 0.35, 0.35)]
    ['live', 'live', 'live', 'spoof']
    """

    def __init__(
        self,
        threshold: float = 0.5,
        margin: float = 0.05,
        hold: int = 2,
        config: HysteresisConfig | None = None,
    ):
        self.config = config or HysteresisConfig(threshold=threshold, margin=margin, hold=hold)
        self._verdict = Verdict.UNKNOWN
        self._streak = 0

    @property
    def threshold(self) -> float:
        return self.config.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        """A new threshold keeps the verdict; the next scores are compared with the new band."""
        self.config.threshold = float(value)
        self._streak = 0

    @property
    def verdict(self) -> Verdict:
        return self._verdict

    def reset(self) -> None:
        """Back to UNKNOWN (face lost, source changed, new person)."""
        self._verdict = Verdict.UNKNOWN
        self._streak = 0

    def update(self, score: float | None, live: bool | None = None) -> Verdict:
        """Feed one window score; returns the (possibly unchanged) verdict. None / NaN leaves it as it is.

        ``live``: the window's decision when it is not just ``score >= threshold`` (the engine fuses the
        network with the motion-parallax cue, which can say SPOOF at a high score). A window then counts
        towards SPOOF when it is decided spoof and its score is not inside the lower half of the band
        (a score above the threshold means another cue decided: no band applies), and towards LIVE when it
        is decided live with ``score >= threshold + margin``.
        """
        if score is None or not math.isfinite(score):
            return self._verdict
        cfg = self.config
        if live is None:
            live = score >= cfg.threshold
        if self._verdict is Verdict.UNKNOWN:
            self._verdict = Verdict.LIVE if live else Verdict.SPOOF
            self._streak = 0
            return self._verdict
        if self._verdict is Verdict.LIVE:
            crossing = not live and not (cfg.threshold - cfg.margin <= score < cfg.threshold)
            target = Verdict.SPOOF
        else:
            crossing = live and score >= cfg.threshold + cfg.margin
            target = Verdict.LIVE
        self._streak = self._streak + 1 if crossing else 0
        if self._streak >= cfg.hold:
            self._verdict = target
            self._streak = 0
        return self._verdict
