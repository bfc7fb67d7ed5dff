"""Smoothing of the per-window scores inside the pipeline (``EngineConfig.smoothing*``).

``smoothed`` is the exponential moving average ``s <- a * s + (1 - a) * score`` of the window scores
(``smoothing = a`` in [0, 1), 0 = off) or the mean of the last ``smoothing_window`` scores
(``mode="window"``); the pipeline restarts it with a new track. The GUI's slider reads the other way, as
the weight of the *newest* window (1 = no smoothing); :func:`alpha_from_newest_weight` converts it.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["MAX_ALPHA", "ScoreSmoother", "alpha_from_newest_weight"]

MAX_ALPHA = 0.95  # the heaviest smoothing a slider may ask for: the score still follows within ~60 windows


def alpha_from_newest_weight(newest_weight: float) -> float:
    """The EMA's ``alpha`` (weight of the previous smoothed score) for a slider's weight of the newest
    window, clamped to ``[0, MAX_ALPHA]``: 1 is no smoothing, 0.05 the heaviest."""
    return min(max(1.0 - float(newest_weight), 0.0), MAX_ALPHA)


class ScoreSmoother:
    """Exponential (``mode="ema"``, ``s <- a s + (1 - a) x``) or windowed mean (``mode="window"``)."""

    def __init__(self, alpha: float = 0.5, mode: str = "ema", window: int = 5):
        if mode not in ("ema", "window"):
            raise ValueError("smoothing mode must be 'ema' or 'window'")
        if not 0.0 <= alpha < 1.0:
            raise ValueError("smoothing must be in [0, 1)")
        self.alpha, self.mode = float(alpha), mode
        self._values: deque[float] = deque(maxlen=max(1, int(window)))
        self.value: float | None = None

    def reset(self) -> None:
        self._values.clear()
        self.value = None

    def update(self, x: float | None) -> float | None:
        """The smoothed score after ``x``; a missing or non-finite ``x`` leaves it unchanged."""
        if x is None or not math.isfinite(x):
            return self.value
        x = float(x)
        if self.mode == "window":
            self._values.append(x)
            self.value = float(np.mean(self._values))
        else:
            self.value = x if self.value is None else self.alpha * self.value + (1.0 - self.alpha) * x
        return self.value
